import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJson } from '../../../src/config/json';
import { MAX_ENTRIES_PER_FILE, MAX_NESTING_DEPTH } from '../../../src/config/limits';
import { itemLocator, textLocator } from '../../../src/config/structured';
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

const hostile = suite('parseYaml, parseJson: hostile files');

hostile('deep nesting is a config error of the file, never a stack overflow', () => {
  const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
  for (const text of [`jail:\n  a: ${deep(200_000)}\n`, `jail:\n  a:\n${'- '.repeat(200_000)}x\n`, `jail:\n  a: ${'['.repeat(300_000)}\n`])
    assert.instance(thrown(() => parseYaml(text, 'v.yaml'), ConfigError), ConfigError);
  for (const text of [`{"jail": {"a": ${deep(200_000)}}}`, `{"jail": {"a": ${'['.repeat(300_000)}`, `{"jail": {"a": ${'{"a":'.repeat(100_000)}`]) {
    const e = configError(() => parseJson(text, 'v.json'));
    assert.is(e.line, 1);
  }
  assert.match(configError(() => parseJson(`{"jail": {"a": ${deep(MAX_NESTING_DEPTH + 1)}}}`, 'v.json')).message,
    `v.json:1: nested more than ${MAX_NESTING_DEPTH} levels deep (MAX_NESTING_DEPTH)`);
});

hostile('a 1 MB key is refused by its length, not by the regular expression engine', () => {
  const key = 'k'.repeat(1_000_000);
  assert.match(configError(() => parseYaml(`jail:\n  ${key}: 1\n`, 'v.yaml')).message, /^v\.yaml:2: a key of 1000000 characters/);
  assert.match(configError(() => parseJson(`{"jail": {\n"${key}": 1}}`, 'v.json')).message, /^v\.json:2: a key of 1000000 characters/);
  assert.match(configError(() => parseYaml(`jail:\n  env: ${'v'.repeat(900_000)}\n`, 'v.yaml')).message, /^v\.yaml:2: `env` has a value of 900000 characters/);
});

hostile('a list or mapping longer than MAX_ENTRIES_PER_FILE is refused at the entry past it', () => {
  const items = `jail:\n  env:\n${'    - A=1\n'.repeat(50_000)}`;
  assert.match(configError(() => parseYaml(items, 'v.yaml')).message, `v.yaml:${MAX_ENTRIES_PER_FILE + 3}: more than ${MAX_ENTRIES_PER_FILE} entries`);
  const keys = `{"jail": {\n${Array.from({ length: 20_000 }, (_, i) => `"k${i}": [1]`).join(',\n')}}}`;
  assert.match(configError(() => parseJson(keys, 'v.json')).message, `v.json:${MAX_ENTRIES_PER_FILE + 2}: more than ${MAX_ENTRIES_PER_FILE} entries`);
  // An alias repeats a list without repeating its text: the entries still count.
  const aliases = `jail:\n  env: &l [${Array(1000).fill('A=1').join(', ')}]\n${Array.from({ length: 100 }, (_, i) => `  e${i}: *l\n`).join('')}`;
  assert.match(configError(() => parseYaml(aliases, 'v.yaml')).message, `more than ${MAX_ENTRIES_PER_FILE} entries`);
  // Just under the limit is fine, and every element has its own line.
  const r = parseYaml(`jail:\n  env:\n${'    - A=1\n'.repeat(MAX_ENTRIES_PER_FILE)}`, 'v.yaml');
  assert.is(r.entries.length, MAX_ENTRIES_PER_FILE);
  assert.is(r.entries.at(-1)!.line, MAX_ENTRIES_PER_FILE + 2);
});

hostile('NUL bytes written as escapes are refused too', () => {
  assert.match(configError(() => parseJson('{"jail": {\n"exec-as-root": "echo \\u0000; id"}}', 'v.json')).message, /^v\.json:2: `exec-as-root` contains a NUL byte/);
  assert.match(configError(() => parseYaml('jail:\n  exec-as-root: "echo \\0; id"\n', 'v.yaml')).message, /^v\.yaml:2: `exec-as-root` contains a NUL byte/);
});

hostile.run();

const keys = suite('textLocator');

keys('finds every key in one pass over the lines, whatever the number of keys', () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`);
  let calls = 0;
  const locate = textLocator(lines.join('\n'), (l) => {
    calls++;
    const colon = l.indexOf(':');
    return colon > 0 ? [l.slice(0, colon)] : [];
  });
  for (let i = 0; i < 5000; i++) assert.is(locate(`k${i}`, 0), i + 1);
  assert.is(locate('k1', 1), undefined);
  assert.is(locate('nope', 0), undefined);
  assert.ok(calls <= 5000, `${calls} calls for 5000 lines`);
});

keys.run();

const items = suite('itemLocator');

items('locates every element of long lists in linear work', () => {
  const text = ['env:', ...Array(5000).fill('  - x'), '', 'cap:', '  - a', '  # c', '  - b', 'other: 1'].join('\n');
  let calls = 0;
  const locate = itemLocator(text, (l) => (calls++, /^\s*-(\s|$)/.test(l)), (l) => (calls++, /^\s*(#.*)?$/.test(l)));
  for (let i = 0; i < 5000; i++) assert.is(locate(1, i), i + 2);
  assert.is(locate(1, 5000), undefined, 'the blank line ends nothing, the next key ends the list');
  assert.is(locate(5003, 0), 5004);
  assert.is(locate(5003, 1), 5006);
  assert.is(locate(5003, 2), undefined);
  assert.ok(calls <= 2 * 5010, `${calls} calls for 5010 lines`);
});

items.run();
