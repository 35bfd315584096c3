// uWSGI's value expansion: magic variables, placeholders, $(ENV), layers and their order.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { environmentLayer, expandConfig, magicVariables, vassalSetLayer } from '../../../src/config/expand';
import { MAX_EXPANDED_TOTAL, MAX_PLACEHOLDER_DEPTH, MAX_VALUE_LENGTH, MAX_WARNINGS } from '../../../src/config/limits';
import { ConfigError } from '../../../src/errors';
import { thrown } from '../../helpers/thrown';

const test = suite('config expansion');
const e = (key: string, value: string, line = 1) => ({ key, value, line });

test('magic variables of a file', () => {
  assert.equal(magicVariables('/etc/jails/web.ini', 'box'), {
    n: 'web', p: '/etc/jails/web.ini', d: '/etc/jails/', e: 'ini', x: 'web.ini', s: 'web.ini', c: 'jails', h: 'box',
  });
});

test('%n, %%, unknown letters and $(ENV): set, unset (left alone, so a shell $(cmd) survives)', () => {
  const r = expandConfig([{ file: '/v/web.ini', entries: [
    e('chdir', '/srv/%n'),
    e('env', 'RATE=100%%'),
    e('env', 'ODD=%q'),
    e('env', 'HOME=$(APP_HOME)'),
    e('exec-as-root', 'echo $(id -un)'),
  ] }], { vassalFile: '/v/web.ini', env: { APP_HOME: '/home/web' }, hostname: 'h' });
  assert.equal(r.entries.map((x) => x.value), ['/srv/web', 'RATE=100%', 'ODD=%q', 'HOME=/home/web', 'echo $(id -un)']);
  assert.equal(r.warnings, []);
});

test('%(key) sees what was set before it, across layers; a later include sees the vassal\'s placeholder', () => {
  const r = expandConfig([
    { file: '/v/web.ini', entries: [e('vassal_name', '%n', 2), e('socket', '/run/%(vassal_name).sock', 3)] },
    { file: '/etc/defaults.ini', entries: [e('env', 'SOCK=%(socket) FROM=%n', 1)] },
  ], { vassalFile: '/v/web.ini', env: {} });
  assert.equal(r.entries.map((x) => x.value), ['web', '/run/web.sock', 'SOCK=/run/web.sock FROM=defaults']);
  assert.equal([...r.referenced].sort(), ['socket', 'vassal_name']);
  assert.is(r.entries[2]!.file, '/etc/defaults.ini', 'entries of an include name their own file');
  assert.is(r.entries[0]!.file, undefined, 'the vassal\'s own entries need no file');
});

test('an unresolved %(key) stays and is reported with file and line', () => {
  const r = expandConfig([{ file: '/v/web.ini', entries: [e('socket', '/run/%(nope).sock', 7)] }], { vassalFile: '/v/web.ini', env: {} });
  assert.is(r.entries[0]!.value, '/run/%(nope).sock');
  assert.equal(r.warnings, ['/v/web.ini:7: `%(nope)` is not set before this line; left as it is']);
});

test('vassal-set and JAIL_VASSAL_* / UWSGI_VASSAL_* become options, with the vassal\'s magic variables', () => {
  const layers = [
    ...environmentLayer({ UWSGI_VASSAL_SOCKET: '/tmp/%n.sock', JAIL_VASSAL_NO_NEW_PRIVS: 'false', PATH: '/bin' }),
    vassalSetLayer(['processes=8', 'env = A=%n']),
  ];
  const r = expandConfig(layers, { vassalFile: '/v/shop.ini', env: {} });
  assert.equal(r.entries.map((x) => [x.key, x.value]), [
    ['no-new-privs', 'false'], ['socket', '/tmp/shop.sock'], ['processes', '8'], ['env', 'A=shop'],
  ]);
  assert.is(r.entries[1]!.file, 'environment UWSGI_VASSAL_SOCKET');
  assert.is(r.entries[2]!.file, 'vassal-set');
});

test.run();

const bounds = suite('expandConfig: bounds');
const ctx = { vassalFile: '/v/web.ini', env: {} };
const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

bounds('placeholder doubling stops at MAX_VALUE_LENGTH with the file and line, not a RangeError', () => {
  const entries = [e('a0', 'xxxxxxxx', 1), ...Array.from({ length: 39 }, (_, i) => e(`a${i + 1}`, `%(a${i})%(a${i})`, i + 2))];
  const err = configError(() => expandConfig([{ file: '/v/web.ini', entries }], ctx));
  assert.is(err.line, 14, 'a13 (line 14) is the first over 32768 characters');
  assert.is(err.key, 'a13');
  assert.match(err.message, `/v/web.ini:14: \`a13\` expands to more than ${MAX_VALUE_LENGTH} characters (MAX_VALUE_LENGTH)`);
});

bounds('3,000 lines of wide placeholders stop at MAX_EXPANDED_TOTAL', () => {
  const wide = `%(w)`.repeat(30);
  const entries = [e('w', 'y'.repeat(1000), 1), ...Array.from({ length: 3000 }, (_, i) => e('env', `A=${wide}`, i + 2))];
  const err = configError(() => expandConfig([{ file: '/v/web.ini', entries }], ctx));
  assert.match(err.message, `expands the vassal's values to more than ${MAX_EXPANDED_TOTAL} characters in all (MAX_EXPANDED_TOTAL)`);
  assert.ok(err.line! < 200, `stopped at line ${err.line}`);
});

bounds('a chain of placeholders deeper than MAX_PLACEHOLDER_DEPTH is refused; one at the limit is fine', () => {
  const chain = (n: number) => [e('b0', 'x', 1), ...Array.from({ length: n }, (_, i) => e(`b${i + 1}`, `<%(b${i})>`, i + 2))];
  assert.is(expandConfig([{ file: '/v/web.ini', entries: chain(MAX_PLACEHOLDER_DEPTH) }], ctx).entries.at(-1)!.value,
    `${'<'.repeat(MAX_PLACEHOLDER_DEPTH)}x${'>'.repeat(MAX_PLACEHOLDER_DEPTH)}`);
  const err = configError(() => expandConfig([{ file: '/v/web.ini', entries: chain(40) }], ctx));
  assert.is(err.line, MAX_PLACEHOLDER_DEPTH + 2);
  assert.match(err.message, `placeholders nested more than ${MAX_PLACEHOLDER_DEPTH} deep (MAX_PLACEHOLDER_DEPTH)`);
});

bounds('errors in a layer without a file name its origin', () => {
  const err = configError(() => expandConfig([vassalSetLayer(['a=' + 'z'.repeat(20000)]), vassalSetLayer(['b=%(a)%(a)'])], ctx));
  assert.match(err.message, /^vassal-set:1: `b` expands to more than/);
});

bounds('unresolved placeholders give at most MAX_WARNINGS warnings, and a count of the rest', () => {
  const r = expandConfig([{ file: '/v/web.ini', entries: Array.from({ length: 5000 }, (_, i) => e('env', `A=%(nope${i})`, i + 1)) }], ctx);
  assert.is(r.warnings.length, MAX_WARNINGS + 1);
  assert.is(r.warnings.at(-1), `/v/web.ini: 4950 more unresolved placeholders not shown`);
});

bounds.run();
