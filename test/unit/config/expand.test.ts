// uWSGI's value expansion: magic variables, placeholders, $(ENV), layers and their order.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { environmentLayer, expandConfig, magicVariables, shellQuote, vassalSetLayer } from '../../../src/config/expand';
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

const taint = suite('expandConfig: tenant values in root commands');
const tenantFile = '/srv/jails/web.ini';
const include = '/etc/jailctl/tenants.ini';
// The tenant's file sets vassal_name = VALUE on line 2; the sysadmin's include runs COMMAND.
const run = (value: string, command: string, key = 'exec-as-root', tenant = true) =>
  expandConfig([
    { file: tenantFile, tenant, entries: [e('vassal_name', value, 2)] },
    { file: include, entries: [e(key, command, 5)] },
  ], { vassalFile: tenantFile, env: {} });
const rootValue = (value: string, command: string, key?: string): string => run(value, command, key).entries[1]!.value;
const sh = (command: string): string => spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8' }).stdout;

taint('a tenant\'s value is one quoted word in the sysadmin\'s root command; sh gets it literally', () => {
  for (const hostile of ['$(touch /tmp/PWNED-unit)', '`touch /tmp/PWNED-unit`', 'x; touch /tmp/PWNED-unit', "it's'; touch /tmp/PWNED-unit; '", '"$HOME" \\ *', '']) {
    const command = rootValue(hostile, 'printf %%s %(vassal_name)');
    assert.is(command, `printf %s ${shellQuote(hostile)}`);
    assert.is(sh(command), hostile, 'sh prints the value itself');
  }
  assert.is(rootValue("it's", 'echo %(vassal_name)'), "echo 'it'\\''s'");
});

taint('refused: a line break or NUL, or a placeholder inside $(…), ${…}, backquotes or a here-document; with the file and line', () => {
  const err = configError(() => run('web\ntouch /tmp/PWNED-unit', 'echo %(vassal_name)'));
  assert.is(err.file, include);
  assert.is(err.line, 5);
  assert.match(err.message, `${include}:5: \`exec-as-root\` gets %(vassal_name), which holds a tenant's value (from ${tenantFile}:2), and it has a NUL or line break`);
  for (const command of ['echo `echo %(vassal_name)`', 'echo ${X:-%(vassal_name)}', 'cat <<E %(vassal_name)', 'echo \\%(vassal_name)', 'echo "x\\%(vassal_name)"', 'echo "`%(vassal_name)`"'])
    assert.match(configError(() => run('$(id)', command)).message, 'where no quoting holds; write %(vassal_name) as a word of its own', command);
  // Inside a $(…) that a substitution opened (one the file writes is an unset $(NAME), kept whole).
  assert.match(configError(() => expandConfig([
    { file: tenantFile, tenant: true, entries: [e('vassal_name', '$(id)', 2)] },
    { file: include, entries: [e('open', '$(', 1), e('exec-as-root', 'echo %(open)echo %(vassal_name))', 5)] },
  ], { vassalFile: tenantFile, env: {} })).message, 'where no quoting holds');
  assert.is(rootValue('$(id)', 'echo $(echo %(vassal_name))'), 'echo $(echo %(vassal_name))', 'an unset $(NAME) is kept whole, nothing inserted');
});

taint('inside the sysadmin\'s quotes the value closes and reopens them: still one literal word', () => {
  const hostile = "it's\"; touch /tmp/PWNED-unit; '$(id)`id`";
  for (const [command, printed] of [
    ["printf %%s '/srv/%(vassal_name)/x'", `/srv/${hostile}/x`],
    ['printf %%s "/srv/%(vassal_name)/$HOME"', `/srv/${hostile}/${process.env.HOME ?? ''}`],
    [`printf %%s 'a' "b" $(printf c) %(vassal_name)`, `abc${hostile}`],
  ] as const) {
    const value = rootValue(hostile, command);
    assert.is(sh(value), printed, value);
  }
  assert.is(rootValue('x', "echo 'a %(vassal_name) b'"), "echo 'a ''x'' b'");
  assert.is(rootValue('x', 'echo "a %(vassal_name) b"'), `echo "a "'x'" b"`);
});

taint('privileged-binary-patch-arg gets one word; privileged-binary-patch refuses a tenant\'s path', () => {
  assert.is(rootValue('a b; c', '/usr/sbin/nginx -g %(vassal_name)', 'privileged-binary-patch-arg'), "/usr/sbin/nginx -g 'a b; c'");
  assert.match(configError(() => run('/home/t/evil', '%(vassal_name)', 'privileged-binary-patch')).message,
    'root would run a program the tenant names');
});

taint('refused: a tenant\'s value as the command root runs, as an option, or where $\'…\' or a comment would change its meaning', () => {
  for (const command of ['%(vassal_name) --init', 'true; %(vassal_name)', 'test -d /x && %(vassal_name)', 'if true; then %(vassal_name); fi', 'exec %(vassal_name)'])
    assert.match(configError(() => run('/home/t/evil', command)).message, 'where a command\'s name goes', command);
  assert.match(configError(() => run('--reference=/etc/shadow', 'chown %(vassal_name) /srv/x')).message, 'starts with `-`');
  assert.is(rootValue('--x', 'chown -- %(vassal_name) /srv/x'), "chown -- '--x' /srv/x", 'after -- it is an operand');
  // bash reads $'…' as ANSI-C quoting, where \' does not end the string.
  assert.match(configError(() => run("\\';reboot #", 'echo $%(vassal_name)')).message, 'where no quoting holds');
  assert.match(configError(() => run('x', "echo $'a %(vassal_name) b'")).message, 'where no quoting holds');
  // A comment's quote does not open a quote; a value inside a comment is refused.
  assert.is(rootValue('v', "true # don't\necho %(vassal_name)"), "true # don't\necho 'v'");
  assert.match(configError(() => run('v', 'true # %(vassal_name)')).message, 'where no quoting holds');
});

taint('taint follows values built from tenant values; the sysadmin\'s own values and other options are untouched', () => {
  const r = expandConfig([
    { file: tenantFile, tenant: true, entries: [e('vassal_name', '$(id)', 2)] },
    { file: include, entries: [
      e('admin', 'web-$(hostname)', 1), e('sock', '/run/%(vassal_name).sock', 2), e('env', 'NAME=%(vassal_name)', 3),
      e('exec-as-root', 'mkdir %(admin) && ln -s %(sock) /x', 4),
    ] },
  ], { vassalFile: tenantFile, env: {} });
  assert.equal(r.entries.map((x) => x.value), ['$(id)', 'web-$(hostname)', '/run/$(id).sock', 'NAME=$(id)', "mkdir web-$(hostname) && ln -s '/run/$(id).sock' /x"]);
});

taint('the tenant\'s file name is tainted where a layer borrows it (%n of vassal-set), not in an include (%n is the include\'s)', () => {
  const evil = '/srv/jails/$(reboot).ini';
  const r = expandConfig([
    vassalSetLayer(['exec-as-root = echo %n']),
    { file: evil, tenant: true, entries: [e('uid', '1001', 1)] },
    { file: include, entries: [e('exec-as-root', 'echo %n %x', 1)] },
  ], { vassalFile: evil, env: {} });
  assert.equal(r.entries.map((x) => x.value), ["echo '$(reboot)'", '1001', 'echo tenants tenants.ini']);
});

taint('without a tenant layer (not tyrant mode) nothing changes', () => {
  assert.is(run('$(id)', "echo '%(vassal_name)'", 'exec-as-root', false).entries[1]!.value, "echo '$(id)'");
  assert.is(run('a b', '%(vassal_name)', 'privileged-binary-patch', false).entries[1]!.value, 'a b');
});

taint.run();
