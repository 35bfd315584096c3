import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RawVassalConfig } from '../../../src/config/types';
import { parseUserDb } from '../../../src/config/users';
import { PlanError } from '../../../src/errors';
import { compilePlan } from '../../../src/plan/compile';
import { rawIni } from '../../helpers/plan';
import { thrown } from '../../helpers/thrown';

const users = parseUserDb(
  'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nweb:x:1001:1002::/srv/web:/bin/sh\n',
  'root:x:0:\nnogroup:x:65534:\nwebgrp:x:1002:\n',
);
const baseEnv = { PATH: '/usr/bin:/bin' };

// A vassal file as the config readers would produce it: entry i is on line i + 2.
const raw = (...lines: string[]): RawVassalConfig => rawIni('/etc/jails/web.ini', lines);

const planError = (fn: () => unknown): PlanError => thrown(fn, PlanError);

const compile = suite('compilePlan');

compile('compiles a full vassal', () => {
  const { plan, warnings } = compilePlan(raw(
    'unshare = fs,pid', 'unshare = net ipc,uts', 'hostname = web1', 'exec-as-root = hostname probe',
    'exec-as-root = mount -t tmpfs none /tmp', 'uid = web', 'cap = net_bind_service,CAP_SETUID',
    'env = A=1', 'env = B=x=y', 'chdir = /srv/web', 'unprivileged-binary-patch-arg = nginx -g "daemon off;"',
  ), { users, baseEnv });
  assert.equal(warnings, []);
  assert.is(plan.vassal, 'web');
  assert.equal(plan.namespaces, ['mount', 'pid', 'net', 'ipc', 'uts']);
  assert.equal(plan.mounts, [{ kind: 'proc', dst: '/proc', flags: [] }]);
  assert.is(plan.loopback, true);
  assert.is(plan.hostname, 'web1');
  assert.equal(plan.hooks.map((h) => [h.command, h.line]), [['hostname probe', 5], ['mount -t tmpfs none /tmp', 6]]);
  assert.is(plan.uid, 1001);
  assert.is(plan.gid, 1002, "the user's own group when gid is not set");
  assert.equal(plan.caps, ['net_bind_service', 'setuid']);
  assert.is(plan.noNewPrivs, true);
  assert.equal(plan.env, ['PATH=/usr/bin:/bin', 'HOME=/srv/web', 'USER=web', 'LOGNAME=web', 'A=1', 'B=x=y']);
  assert.is(plan.chdir, '/srv/web');
  assert.equal(plan.program, { option: 'unprivileged-binary-patch-arg', line: 12, privileged: false, path: 'nginx', argv: ['nginx', '-g', 'daemon off;'] });
  assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.hooks), 'the plan is read-only');
});

compile('mount is a synonym of fs; unknown namespaces list the valid ones', () => {
  assert.equal(compilePlan(raw('unshare = mount', 'unprivileged-binary-patch-arg = true'), { users, baseEnv }).plan.namespaces, ['mount']);
  const err = planError(() => compilePlan(raw('unprivileged-binary-patch-arg = true', 'unshare = fs,user'), { users, baseEnv }));
  assert.is(err.message, '/etc/jails/web.ini:3: unshare: unknown namespace `user`; valid: fs (or mount), pid, net, ipc, uts');
  assert.is(err.line, 3);
  assert.is(err.field, 'unshare');
});

compile('unknown users and groups name the file and line', () => {
  const err = planError(() => compilePlan(raw('unprivileged-binary-patch-arg = true', 'uid = nosuchuser'), { users, baseEnv }));
  assert.is(err.message, '/etc/jails/web.ini:3: uid: unknown user `nosuchuser` (not in /etc/passwd); use a user name or a number');
  const gerr = planError(() => compilePlan(raw('uid = 1001', 'gid = nogrp', 'unprivileged-binary-patch-arg = true'), { users, baseEnv }));
  assert.is(gerr.line, 3);
  assert.match(gerr.message, 'unknown group `nogrp`');
});

compile('numeric ids work without a passwd entry when both are given', () => {
  const { plan } = compilePlan(raw('uid = 4242', 'gid = 4343', 'unprivileged-binary-patch-arg = true'), { users, baseEnv });
  assert.is(plan.uid, 4242);
  assert.is(plan.gid, 4343);
  assert.ok(plan.env.includes('HOME=/'));
  const err = planError(() => compilePlan(raw('uid = 4242', 'unprivileged-binary-patch-arg = true'), { users, baseEnv }));
  assert.match(err.message, 'uid 4242 has no /etc/passwd entry to take a group from; set gid too');
});

compile('capabilities are checked, with a suggestion', () => {
  const err = planError(() => compilePlan(raw('cap = net_bind', 'unprivileged-binary-patch-arg = true'), { users, baseEnv }));
  assert.match(err.message, 'unknown capability `net_bind` (did you mean `net_bind_service`?)');
});

compile('hostname needs a uts namespace and a valid name', () => {
  assert.match(planError(() => compilePlan(raw('hostname = web', 'unprivileged-binary-patch-arg = true'), { users, baseEnv })).message,
    'needs its own uts namespace, or it would rename the host');
  assert.match(planError(() => compilePlan(raw('unshare = uts', 'hostname = bad_name!', 'unprivileged-binary-patch-arg = true'), { users, baseEnv })).message,
    'is not a valid hostname');
});

compile('a [uwsgi] file without a program says to give one, naming --binary-path', () => {
  const err = planError(() => compilePlan({ ...raw('plugins = psgi'), section: 'uwsgi' }, { users, baseEnv }));
  assert.match(err.message, /binary-path: this is a \[uwsgi\] file, for uWSGI to run: give the program, as the uWSGI Emperor does \(jailctl run --binary-path \/usr\/bin\/uwsgi FILE/);
  assert.match(planError(() => compilePlan(raw('plugins = psgi'), { users, baseEnv })).message, /nothing to run: set unprivileged-binary-patch-arg/, 'a [jail] file: the usual message');
});

compile('tmp = private mounts a fresh /tmp, only in a mount namespace', () => {
  const run = 'unprivileged-binary-patch-arg = true';
  const { plan } = compilePlan(raw('unshare = fs', 'tmp = private', run), { users, baseEnv });
  assert.equal(plan.mounts, [{ kind: 'tmpfs', dst: '/tmp', size: 64 * 1024 * 1024, mode: 0o1777, flags: [], option: 'tmp', line: 3 }], '64 MiB unless told');
  assert.is(compilePlan(raw('unshare = fs', 'tmp = private', 'tmp-size = 1g', run), { users, baseEnv }).plan.mounts[0]!.size, 1024 ** 3);
  assert.match(planError(() => compilePlan(raw('unshare = fs', 'tmp = private', 'tmp-size = lots', run), { users, baseEnv })).message, 'web.ini:4: tmp-size: expected a size of 4k or more');
  assert.equal(compilePlan(raw('unshare = fs', 'tmp = shared', run), { users, baseEnv }).plan.mounts, []);
  const err = planError(() => compilePlan(raw('unshare = pid', 'tmp = private', run), { users, baseEnv }));
  assert.is(err.message, "/etc/jails/web.ini:3: tmp: a private /tmp needs its own mount namespace, or it would hide the host's /tmp: add fs to unshare");
  assert.match(planError(() => compilePlan(raw('unshare = fs', 'tmp = yes', run), { users, baseEnv })).message, /expected `private`/);
});

compile('max-procs is a positive count, and root is told it does not count', () => {
  const run = 'unprivileged-binary-patch-arg = true';
  assert.is(compilePlan(raw('uid = web', 'max-procs = 30', run), { users, baseEnv }).plan.maxProcs, 30);
  assert.match(planError(() => compilePlan(raw('uid = web', 'max-procs = 0', run), { users, baseEnv })).message, /web.ini:3: max-procs: expected a number of processes/);
  assert.match(planError(() => compilePlan(raw('uid = web', 'max-procs = lots', run), { users, baseEnv })).message, /max-procs/);
  const { warnings } = compilePlan(raw('max-procs = 30', run), { users, baseEnv });
  assert.equal(warnings, ["/etc/jails/web.ini:2: max-procs limits the processes of the jail's uid, and root is exempt: set uid for it to count"]);
});

compile('max-fd and oom-score-adj become nofile and oomScoreAdj, checked', () => {
  const run = 'unprivileged-binary-patch-arg = true';
  const plan = compilePlan(raw('max-fd = 4096', 'oom-score-adj = -100', run), { users, baseEnv }).plan;
  assert.equal([plan.nofile, plan.oomScoreAdj], [4096, -100]);
  const none = compilePlan(raw(run), { users, baseEnv }).plan;
  assert.equal([none.nofile, none.oomScoreAdj], [undefined, undefined]);
  assert.match(planError(() => compilePlan(raw('max-fd = 0', run), { users, baseEnv })).message, /web.ini:2: max-fd: expected a number of open files/);
  assert.match(planError(() => compilePlan(raw('oom-score-adj = 1001', run), { users, baseEnv })).message, /web.ini:2: oom-score-adj: expected a number from -1000 to 1000/);
});

compile('nothing to run is a clear error; two programs too', () => {
  assert.match(planError(() => compilePlan(raw('unshare = pid'), { users, baseEnv })).message, 'nothing to run: set unprivileged-binary-patch-arg');
  const two = planError(() => compilePlan(raw('privileged-binary-patch-arg = a', 'unprivileged-binary-patch-arg = b'), { users, baseEnv }));
  assert.match(two.message, 'only one program can run');
});

compile('the plain patch forms get the vassal argv; -arg forms are split', () => {
  const plain = compilePlan(raw('privileged-binary-patch = /usr/sbin/nginx'), { users, baseEnv }).plan.program;
  assert.equal(plain.argv, ['/usr/sbin/nginx', '--ini', '/etc/jails/web.ini']);
  assert.is(plain.privileged, true);
  const err = planError(() => compilePlan(raw("unprivileged-binary-patch-arg = sh -c 'oops"), { users, baseEnv }));
  assert.match(err.message, 'unterminated single quote at column 7');
  assert.match(planError(() => compilePlan(raw('unprivileged-binary-patch-arg = ./run'), { users, baseEnv })).message, 'give an absolute path');
});

compile('no-new-privs can be turned off; booleans are checked', () => {
  assert.is(compilePlan(raw('no-new-privs = false', 'unprivileged-binary-patch-arg = x'), { users, baseEnv }).plan.noNewPrivs, false);
  assert.match(planError(() => compilePlan(raw('no-new-privs = maybe', 'unprivileged-binary-patch-arg = x'), { users, baseEnv })).message,
    'expected true or false, got `maybe`');
});

compile('unknown options and repeated single options are warnings, with a suggestion', () => {
  const { warnings } = compilePlan(raw('exec-as-rot = x', 'uid = 1', 'gid = 1', 'uid = 2', 'unprivileged-binary-patch-arg = x'), { users, baseEnv });
  assert.equal(warnings, [
    '/etc/jails/web.ini:2: unknown option `exec-as-rot` (did you mean `exec-as-root`?); ignored',
    '/etc/jails/web.ini:5: `uid` is set 2 times; the last one counts',
  ]);
});

compile('a file uWSGI reads: its own options pass, a name neither knows gets the nearest of both', () => {
  const uwsgi = { users, baseEnv, foreignOptions: true, defaultProgram: { path: '/usr/bin/uwsgi', argv: ['/usr/bin/uwsgi'] } };
  const ok = compilePlan(raw('processes = 2', 'http-socket = :8080', 'psgi = app.psgi', 'wsgi-file = app.py', 'master = true'), uwsgi);
  assert.equal(ok.warnings, []);
  const { warnings } = compilePlan(raw('procesess = 2', 'exec-as-rot = x', 'zzqqxxyy = 1'), uwsgi);
  assert.equal(warnings, [
    "/etc/jails/web.ini:2: unknown option `procesess`, neither jailctl's nor uWSGI 2.0's (did you mean `processes`?); uWSGI ignores it silently",
    "/etc/jails/web.ini:3: unknown option `exec-as-rot`, neither jailctl's nor uWSGI 2.0's (did you mean `exec-as-root`?); uWSGI ignores it silently",
    "/etc/jails/web.ini:4: unknown option `zzqqxxyy`, neither jailctl's nor uWSGI 2.0's; uWSGI ignores it silently",
  ]);
});

compile('a default the emperor sets for every vassal is overridden without a repeat warning', () => {
  const base = raw('uid = web', 'max-procs = 10', 'unprivileged-binary-patch-arg = x');
  const defaults = [{ key: 'max-procs', value: '64', line: 0, file: 'vassals-max-procs' }, { key: 'max-procs', value: '32', line: 1, file: 'vassal-set' }];
  const { plan, warnings } = compilePlan({ ...base, entries: [...defaults, ...base.entries] }, { users, baseEnv });
  assert.equal([plan.maxProcs, warnings], [10, []]);
});

compile('env entries need KEY=VALUE; chdir is resolved against the file', () => {
  assert.match(planError(() => compilePlan(raw('env = NOEQUALS', 'unprivileged-binary-patch-arg = x'), { users, baseEnv })).message, 'expected KEY=VALUE');
  assert.is(compilePlan(raw('chdir = app', 'unprivileged-binary-patch-arg = x'), { users, baseEnv }).plan.chdir, '/etc/jails/app');
});

compile('root steps get the base environment and the sysadmin\'s env lines, never a tenant\'s', () => {
  const tenant = { uid: 1001, gid: 1002, groups: [] };
  const file = raw('env = LD_PRELOAD=/home/web/evil.so', 'env = PATH=/home/web/bin', 'unprivileged-binary-patch-arg = app');
  const fromInclude = { key: 'env', value: 'SITE=web', line: 3, file: '/etc/jails/include.ini' };
  const hook = { key: 'exec-as-root', value: 'echo hi', line: 4, file: '/etc/jails/include.ini' };
  // A sysadmin's line that took a tenant's value is the tenant's as far as root is concerned.
  const builtFromTenant = { key: 'env', value: 'PYTHONPATH=/srv/../../home/web/lib', line: 5, file: '/etc/jails/include.ini', tainted: true };
  const { plan } = compilePlan({ ...file, entries: [...file.entries, fromInclude, builtFromTenant, hook] },
    { users, baseEnv, credentials: tenant, tenantFile: true, extraEnv: { JAIL_VASSAL: 'web', JAIL_EMPEROR_FD: '3' } });
  assert.equal(plan.rootEnv, ['PATH=/usr/bin:/bin', 'SITE=web', 'JAIL_EMPEROR_FD=3'], 'no tenant line, no tainted line, not the file name');
  assert.ok(plan.env.includes('JAIL_VASSAL=web') && plan.env.includes('PYTHONPATH=/srv/../../home/web/lib'));
  assert.ok(plan.env.includes('LD_PRELOAD=/home/web/evil.so'));
  assert.ok(plan.env.includes('PATH=/home/web/bin'));
  // The sysadmin's own file: every line is theirs, hooks see it all.
  const own = compilePlan(raw('env = A=1', 'exec-as-root = true', 'unprivileged-binary-patch-arg = app'), { users, baseEnv }).plan;
  assert.equal(own.rootEnv, ['PATH=/usr/bin:/bin', 'A=1']);
  // Nothing runs as root: no root environment at all.
  assert.is(compilePlan(raw('unprivileged-binary-patch-arg = app'), { users, baseEnv }).plan.rootEnv, undefined);
});

compile.run();
