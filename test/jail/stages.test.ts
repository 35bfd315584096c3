// Every stage of the launch sequence, made to fail, reports that stage and its errno.
// Real causes where root can be refused (a capability taken away with setpriv, a missing
// directory, a bad fd); fault injection for stages the kernel never refuses to root.
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { constants } from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LaunchError } from '../../src/errors';
import { launchJail } from '../../src/jail/launch';
import { binding } from '../../src/native/binding';
import { serializePlan, type FaultInjection } from '../../src/plan/serialize';
import { LAUNCH_STAGES } from '../../src/plan/stages';
import type { LaunchPlan } from '../../src/plan/types';
import { jailctl } from '../helpers/cli';
import { makePlan, PROC, tmpfsOn } from '../helpers/plan';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir } from '../helpers/vassal';

requireRoot();

const { EPERM, ENOENT, EACCES, EBADF, EBUSY, EIO, EINVAL, ENOMEM, ESRCH, EAGAIN, EMFILE, ENOSPC } = constants.errno;

async function failure(plan: LaunchPlan, fault?: FaultInjection): Promise<LaunchError> {
  let jail;
  try {
    jail = launchJail(plan, fault ? { fault } : {});
  } catch (err: unknown) {
    if (err instanceof LaunchError) return err; // refused before the clone
    throw err;
  }
  try {
    await jail.started;
  } catch (err: unknown) {
    await jail.exited;
    if (err instanceof LaunchError) return err;
    throw err;
  }
  await jail.exited;
  throw new Error('the launch did not fail');
}

const ALL_NS = { namespaces: ['mount', 'pid', 'net', 'ipc', 'uts'] as const, mounts: [PROC], loopback: true };
const api = suite('stage failures through the API');

api('hook: a non-zero exit names the hook and its status', async () => {
  const err = await failure(makePlan(['true'], {
    hooks: [{ option: 'exec-as-root', command: 'true' }, { option: 'exec-as-root', command: 'exit 32' }],
  }));
  assert.is(err.stage, 'hook');
  assert.is(err.item, 1);
  assert.is(err.errno, 0);
  assert.is(err.message, 'test: exec-as-root[2] "exit 32" exited with status 32');
});

api('hook: a hook killed by a signal says so', async () => {
  const err = await failure(makePlan(['true'], { hooks: [{ option: 'exec-as-root', command: 'kill -9 $$' }] }));
  assert.is(err.stage, 'hook');
  assert.is(err.message, 'test: exec-as-root[1] "kill -9 $$" was killed by SIGKILL');
});

api('fds: a source fd that is not open is EBADF, refused before the launcher opens its own', () => {
  // Thrown by launchJail(): the number could otherwise be the status pipe's by then.
  const err = thrownBy(() => launchJail(makePlan(['true'], { fds: [{ src: 1, dst: 4 }, { src: 987, dst: 3 }] })));
  assert.is(err.stage, 'fds');
  assert.is(err.item, 1);
  assert.is(err.errnoCode, 'EBADF');
  assert.is(err.errno, EBADF);
  assert.is(err.message, 'test: passing fd 987 as 3: Bad file descriptor');
});

api('join: a pidfd that is not open is EBADF before the clone', () => {
  const err = thrownBy(() => launchJail(makePlan(['true'], { namespaces: ['mount'], join: { pidfd: 986 } })));
  assert.is(err.stage, 'join');
  assert.is(err.errno, EBADF);
});

api('cgroup: a directory that is no cgroup2 one is EBADF from clone3, reported as stage cgroup', () => {
  const notCgroup = openSync('/tmp', fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    const err = thrownBy(() => launchJail(makePlan(['true'], { cgroup: { dirFd: notCgroup, procsFds: [] } })));
    assert.is(err.stage, 'cgroup');
    assert.is(err.item, -1);
    assert.is(err.errno, EBADF);
    assert.is(err.message, 'test: placing the jail in its cgroup (its directory on the unified hierarchy): Bad file descriptor');
  } finally {
    closeSync(notCgroup);
  }
});

api('cgroup: a v1 cgroup.procs the clone child cannot write names its index', async () => {
  const readOnly = openSync('/dev/null', 'r');
  try {
    const err = await failure(makePlan(['true'], { cgroup: { procsFds: [1, readOnly] } }));
    assert.is(err.stage, 'cgroup');
    assert.is(err.item, 1);
    assert.is(err.errno, EBADF);
    assert.is(err.message, 'test: placing the jail in its cgroup (cgroup.procs #2 of its cgroups): Bad file descriptor');
  } finally {
    closeSync(readOnly);
  }
});

api('seccomp: an unknown system call name fails the launch, naming the entry', async () => {
  const deny = await failure(makePlan(['true'], { seccomp: { mode: 'default', deny: ['mkdir', 'no_such_call'], allow: [] } }));
  assert.is(deny.stage, 'seccomp');
  assert.is(deny.item, 1);
  assert.is(deny.errno, EINVAL);
  assert.is(deny.message, 'test: seccomp-deny[2] "no_such_call": no such system call');
  const allow = await failure(makePlan(['true'], { seccomp: { mode: 'default', deny: [], allow: ['nor_this'] } }));
  assert.is(allow.stage, 'seccomp');
  assert.is(allow.message, 'test: seccomp-allow[1] "nor_this": no such system call');
});

api('seccomp: without no_new_privs or CAP_SYS_ADMIN the filter cannot be loaded, and the launch fails', async () => {
  const err = await failure(makePlan(['true'], { uid: 1001, gid: 1001, noNewPrivs: false }));
  assert.is(err.stage, 'seccomp');
  assert.is(err.errno, EACCES);
  assert.is(err.message, 'test: loading the seccomp filter: Permission denied (the jail has neither no-new-privs nor CAP_SYS_ADMIN)');
});

function thrownBy(f: () => unknown): LaunchError {
  try {
    f();
  } catch (err: unknown) {
    if (err instanceof LaunchError) return err;
    throw err;
  }
  throw new Error('nothing was thrown');
}

api('chdir: a missing directory is ENOENT', async () => {
  const err = await failure(makePlan(['true'], { chdir: '/nonexistent/jailctl' }));
  assert.is(err.stage, 'chdir');
  assert.is(err.errnoCode, 'ENOENT');
  assert.is(err.message, 'test: chdir("/nonexistent/jailctl"): No such file or directory');
});

api('chdir: a directory the vassal user may not enter is EACCES', async () => {
  const err = await failure(makePlan(['true'], { uid: 1001, gid: 1001, chdir: '/root' }));
  assert.is(err.stage, 'chdir');
  assert.is(err.errno, EACCES);
});

api('exec: a missing program is ENOENT, a non-executable file EACCES', async () => {
  const missing = await failure(makePlan(['no-such-program-jailctl']));
  assert.is(missing.stage, 'exec');
  assert.is(missing.errno, ENOENT);
  const notExec = await failure(makePlan(['/etc/passwd']));
  assert.is(notExec.stage, 'exec');
  assert.is(notExec.errno, EACCES);
});

// Stages root is never refused: the fault reaches the report through the same path.
const INJECTED: ReadonlyArray<[string, number, Partial<LaunchPlan>]> = [
  ['mount', EINVAL, ALL_NS],
  ['proc', EBUSY, ALL_NS],
  ['tmpfs', ENOSPC, { ...ALL_NS, mounts: [PROC, tmpfsOn('/tmp', 1 << 20)] }],
  ['hostname', EINVAL, { ...ALL_NS, hostname: 'probe' }],
  // The host's own root as the jail's (bound onto itself): the switch is what fails.
  ['pivot_root', EINVAL, { namespaces: ['mount'], mounts: [{ kind: 'root', src: '/', flags: [] }] }],
  ['loopback', ENOMEM, ALL_NS],
  ['init', EAGAIN, ALL_NS],
  ['rlimit', EPERM, { maxProcs: 10 }],
  ['oom_score_adj', EACCES, {}],
  ['bounding', EPERM, {}],
  ['groups', EPERM, {}],
  ['gid', EPERM, { gid: 1001 }],
  ['uid', EAGAIN, { uid: 1001, gid: 1001 }],
  ['caps', EPERM, { caps: ['net_bind_service'] }],
  ['no_new_privs', EINVAL, {}],
  ['dumpable', EINVAL, { uid: 1001, gid: 1001 }],
  ['pdeathsig', EINVAL, {}],
  ['fds', EMFILE, {}],
  ['tty', EPERM, { ctty: true }],
  ['chdir', EIO, { chdir: '/' }],
  ['seccomp', ENOMEM, {}],
  ['exec', EACCES, {}],
];

for (const [stage, errno, overrides] of INJECTED) {
  api(`${stage}: an injected failure is reported with its stage and errno`, async () => {
    // A pty at fd 0 for the tty stage (ctty).
    const pty = overrides.ctty ? binding.openPty() : undefined;
    const fds = pty ? [{ src: pty.slave, dst: 0 }] : [];
    const err = await failure(makePlan(['true'], { ...overrides, fds }), { stage, errno }).finally(() => {
      if (pty) [pty.master, pty.slave].forEach((fd) => closeSync(fd));
    });
    assert.is(err.stage, stage);
    assert.is(err.errno, errno);
    assert.ok(err.message.startsWith('test: '), err.message);
  });
}

api('every stage but the parent-side ones has an injected or real failure here', () => {
  const covered = new Set([...INJECTED.map(([s]) => s), 'hook', 'fds', 'join', 'chdir', 'exec', 'cgroup', 'seccomp']);
  const parentSide = new Set(['prepare', 'clone', 'helper', 'plan']);
  assert.equal(LAUNCH_STAGES.filter((s) => !covered.has(s) && !parentSide.has(s)), []);
});

api('the production addon has no fault injection: a `fault` key is an unknown key', () => {
  const bytes = serializePlan(makePlan(['true']), { stage: 'gid', errno: EPERM });
  try {
    binding.launch(bytes);
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException & { stage: string; item: number };
    assert.is(e.code, 'EINVAL');
    assert.is(e.stage, 'plan');
  }
});

api('pdeathsig: ESRCH reads as the launcher having died', async () => {
  const err = await failure(makePlan(['true']), { stage: 'pdeathsig', errno: ESRCH });
  assert.is(err.message, 'test: the launcher died during the launch');
});

api.run();

// Real refusals: jailctl run under setpriv, with one capability taken from the bounding
// set (root's capabilities after exec are the bounding set).
const real = suite('stage failures through jailctl run, with real causes');

function runWithout(cap: string, lines: string[]): { status: number | null; stderr: string } {
  const dir = vassalDir();
  try {
    const file = dir.write('web.ini', ini(...lines));
    const r = jailctl(['run', file], { wrap: ['setpriv', `--bounding-set=-${cap}`, '--inh-caps=-all'] });
    return { status: r.status, stderr: r.stderr.trim() };
  } finally {
    dir.remove();
  }
}

real('clone: no CAP_SYS_ADMIN, no namespaces', () => {
  const r = runWithout('sys_admin', ['unshare = fs,pid', 'unprivileged-binary-patch-arg = true']);
  assert.is(r.stderr, 'jailctl: web: clone(mount,pid): Operation not permitted');
  assert.is(r.status, 125);
});

real('loopback: no CAP_NET_ADMIN, lo stays down', () => {
  const r = runWithout('net_admin', ['unshare = net', 'unprivileged-binary-patch-arg = true']);
  assert.is(r.stderr, 'jailctl: web: bringing up lo: Operation not permitted');
  assert.is(r.status, 125);
});

real('bounding: no CAP_SETPCAP, the bounding set cannot shrink; only no_new_privs makes that harmless', () => {
  const r = runWithout('setpcap', ['no-new-privs = false', 'unprivileged-binary-patch-arg = true']);
  assert.match(r.stderr, /^jailctl: web: dropping \w+ from the bounding set: Operation not permitted$/);
  assert.is(r.status, 125);
  // With no_new_privs (the default) no exec can draw on the bounding set: the launch goes on.
  const nnp = runWithout('setpcap', ['unprivileged-binary-patch-arg = true']);
  assert.equal([nnp.status, nnp.stderr], [0, '']);
});

real('groups: no CAP_SETGID', () => {
  const r = runWithout('setgid', ['uid = 1001', 'gid = 1001', 'unprivileged-binary-patch-arg = true']);
  assert.is(r.stderr, 'jailctl: web: setgroups([]): Operation not permitted');
});

real('uid: no CAP_SETUID', () => {
  const r = runWithout('setuid', ['uid = 1001', 'gid = 1001', 'unprivileged-binary-patch-arg = true']);
  assert.is(r.stderr, 'jailctl: web: setuid(1001): Operation not permitted');
  assert.is(r.status, 125);
});

real('hook: the message names the hook, its status and its line', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('web.ini', ini('unshare = fs', 'exec-as-root = true', 'exec-as-root = sh -c "exit 32"',
      'unprivileged-binary-patch-arg = true'));
    const r = jailctl(['run', file]);
    assert.is(r.stderr.trim(), 'jailctl: web: exec-as-root[2] "sh -c "exit 32"" exited with status 32 (web.ini:4)');
    assert.is(r.status, 125);
  } finally {
    dir.remove();
  }
});

real('exec: 127 for a missing program, 126 for one that cannot run', () => {
  const dir = vassalDir();
  try {
    const missing = jailctl(['run', dir.write('a.ini', ini('unprivileged-binary-patch-arg = /no/such/program'))]);
    assert.is(missing.stderr.trim(), 'jailctl: a: unprivileged-binary-patch-arg "/no/such/program": No such file or directory (a.ini:2)');
    assert.is(missing.status, 127);
    const denied = jailctl(['run', dir.write('b.ini', ini('unprivileged-binary-patch-arg = /etc/passwd'))]);
    assert.is(denied.status, 126);
  } finally {
    dir.remove();
  }
});

real.run();
