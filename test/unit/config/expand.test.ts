// uWSGI's value expansion: magic variables, placeholders, $(ENV), layers and their order.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { environmentLayer, expandConfig, magicVariables, vassalSetLayer } from '../../../src/config/expand';

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
