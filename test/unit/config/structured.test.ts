import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJson } from '../../../src/config/json';
import { parseYaml } from '../../../src/config/yaml';
import { ConfigError } from '../../../src/errors';
import { thrown } from '../../helpers/thrown';

const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

const yaml = suite('parseYaml');

yaml('scalars become strings, lists repeat the key with each element on its line', () => {
  const r = parseYaml('jail:\n  uid: 1001\n  no-new-privs: true\n  hostname: yes\n  chdir:\n  exec-as-root:\n    - a\n    # between\n    - "b: c"\n', 'v.yaml');
  assert.equal(r.entries, [
    { key: 'uid', value: '1001', line: 2 },
    { key: 'no-new-privs', value: 'true', line: 3 },
    { key: 'hostname', value: 'yes', line: 4 },
    { key: 'chdir', value: '', line: 5 },
    { key: 'exec-as-root', value: 'a', line: 7 },
    { key: 'exec-as-root', value: 'b: c', line: 9 },
  ]);
});

yaml('uwsgi: is read when there is no jail:', () => {
  assert.is(parseYaml('uwsgi:\n  socket: ":80"\n', 'v.yaml').section, 'uwsgi');
});

yaml('errors name the file and line', () => {
  assert.is(configError(() => parseYaml('jail:\n  uid: 1\n   bad: [\n', 'v.yaml')).line, 3);
  assert.match(configError(() => parseYaml('jail:\n  uid: 1\n  uid: 2\n', 'v.yaml')).message, /v\.yaml:3: duplicated mapping key/);
  const nested = configError(() => parseYaml('jail:\n  env:\n    A: 1\n', 'v.yaml'));
  assert.is(nested.message, 'v.yaml:2: `env` must be a value or a list of values, not a mapping');
  assert.match(configError(() => parseYaml('other: 1\n', 'v.yaml')).message, 'no top-level `jail:`');
  assert.match(configError(() => parseYaml('jail: 5\n', 'v.yaml')).message, 'v.yaml:1: `jail` must be a mapping');
});

yaml.run();

const json = suite('parseJson');

json('values and arrays, with lines', () => {
  const r = parseJson('{\n  "jail": {\n    "uid": 1001,\n    "exec-as-root": [\n      "a",\n      "b"\n    ],\n    "cap": ["x", "y"]\n  }\n}\n', 'v.json');
  assert.equal(r.entries, [
    { key: 'uid', value: '1001', line: 3 },
    { key: 'exec-as-root', value: 'a', line: 5 },
    { key: 'exec-as-root', value: 'b', line: 6 },
    { key: 'cap', value: 'x', line: 8 },
    { key: 'cap', value: 'y', line: 8 },
  ]);
});

json('syntax errors give the line of the position', () => {
  const e = configError(() => parseJson('{\n  "jail": {\n    "uid": 1,\n  }\n}\n', 'v.json'));
  assert.is(e.line, 4);
  assert.match(e.message, /^v\.json:4: JSON syntax error/);
  assert.match(configError(() => parseJson('{"jail": {"env": [["x"]]}}', 'v.json')).message, 'not a nested list');
});

json.run();
