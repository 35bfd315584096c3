// What the executor gives a jail and what it keeps from it (issue 11): stdio, fds, the
// dumpable flag while the helper is the tenant's, the root environment, the exec search,
// the host's limits, a launch killed before its exec, a joined session.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LaunchError } from '../../src/errors';
import { launchJail, type Jail } from '../../src/jail/launch';
import { binding, testBinding } from '../../src/native/binding';
import { serializePlan } from '../../src/plan/serialize';
import type { LaunchPlan } from '../../src/plan/types';
import { jailctl } from '../helpers/cli';
import { makePlan, PROC } from '../helpers/plan';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir } from '../helpers/vassal';

requireRoot();

// Everything a socket gives until EOF.
function drain(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  closeSync(fd);
  return Buffer.concat(chunks).toString();
}

// Runs plan with a socket at fd 3 of the jail; resolves with what came out of it.
async function capture(plan: LaunchPlan): Promise<{ out: string; code: number | null; error?: LaunchError }> {
  const [ours, theirs] = binding.socketPair();
  let jail: Jail;
  try {
    jail = launchJail({ ...plan, fds: [...plan.fds, { src: theirs, dst: 3 }] });
  } finally {
    closeSync(theirs);
  }
  let error: LaunchError | undefined;
  try {
    await jail.started;
  } catch (err: unknown) {
    if (!(err instanceof LaunchError)) throw err;
    error = err;
  }
  const exit = await jail.exited;
  return { out: drain(ours), code: exit.code, ...(error ? { error } : {}) };
}

const sh = (script: string, overrides: Partial<LaunchPlan> = {}): LaunchPlan => makePlan(['/bin/sh', '-c', script], overrides);

const stdio = suite('stdio and fds');

// (dash applies a simple command's redirection in the shell itself; a pipeline's last
// element redirects in its own process, so the shell's fds stay what the jail got.)
const STDIO_LINKS = 'readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 | cat >&3';

stdio('stdio the plan does not map is /dev/null, never the launcher\'s', async () => {
  const r = await capture(sh(STDIO_LINKS));
  assert.is(r.out, '/dev/null\n/dev/null\n/dev/null\n');
});

stdio('also when the plan maps low fd numbers (where the executor\'s own fds were)', async () => {
  const [ours, theirs] = binding.socketPair();
  const fds = [4, 5, 6, 7, 8, 9].map((dst) => ({ src: theirs, dst }));
  const r = await capture(sh(STDIO_LINKS, { fds }));
  closeSync(theirs);
  closeSync(ours);
  assert.is(r.out, '/dev/null\n/dev/null\n/dev/null\n');
});

stdio('a mapped stdio fd is the plan\'s, the others /dev/null', async () => {
  const [ours, theirs] = binding.socketPair();
  const r = await capture(sh('readlink /proc/$$/fd/0 /proc/$$/fd/2 | cat >&3; echo out', { fds: [{ src: theirs, dst: 1 }] }));
  closeSync(theirs);
  assert.is(r.out, '/dev/null\n/dev/null\n');
  assert.is(drain(ours), 'out\n');
});

stdio('the jail has exactly its fds: 0-2 and the plan\'s', async () => {
  const r = await capture(sh('exec >&3; ls /proc/$$/fd'));
  assert.is(r.out.split('\n').filter(Boolean).join(' '), '0 1 2 3');
});

// The window CVE-2016-9962 is about: the helper runs as the tenant's uid and still holds
// the status pipe. The test build stops it there (plan key `pause`, at the chdir check).
stdio('as the tenant\'s uid before its exec, the helper is not dumpable and holds only the jail\'s fds', async () => {
  const plan = sh('exit 0', { uid: 1001, gid: 1001, chdir: '/' });
  const tail = Buffer.from([5, 0, ...Buffer.from('pause'), 5, 0, ...Buffer.from('chdir')]);
  const child = testBinding().launch(Buffer.concat([serializePlan(plan), tail]));
  try {
    const state = (): string => readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]!;
    for (let i = 0; i < 200 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(state(), 'T', 'the helper stopped itself at chdir');
    assert.match(readFileSync(`/proc/${child.pid}/status`, 'utf8'), /\nUid:\s+1001\s+1001\s+1001/);
    // Not dumpable: its /proc files are root's, whatever fs.suid_dumpable says.
    assert.is(statSync(`/proc/${child.pid}/fd`).uid, 0, '/proc/PID/fd belongs to root');
    const peek = spawnSync('ls', [`/proc/${child.pid}/fd`], { uid: 1001, gid: 1001, encoding: 'utf8' });
    assert.is.not(peek.status, 0, 'the tenant\'s uid cannot list its fds');
    assert.match(peek.stderr, /Permission denied/);
    const environ = spawnSync('cat', [`/proc/${child.pid}/environ`], { uid: 1001, gid: 1001, encoding: 'utf8' });
    assert.is.not(environ.status, 0, 'nor read its environment (ptrace access)');
    // Unknown fds are closed, not only close-on-exec, before the tenant's chdir: 0-2 and
    // the status pipe are all that is left.
    assert.is(readdirSync(`/proc/${child.pid}/fd`).length, 4);
  } finally {
    binding.pidfdSendSignal(child.pidfd, 18 /* SIGCONT */);
  }
  for (let i = 0; i < 500 && binding.waitPidfd(child.pidfd) === null; i++) await new Promise((r) => setTimeout(r, 10));
  closeSync(child.pidfd);
  closeSync(child.statusFd);
});

stdio('jailctl run maps its own stdio on purpose: the vassal writes to its terminal', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('tty.ini', ini('unprivileged-binary-patch-arg = sh -c "echo out; echo err >&2"'));
    const r = jailctl(['run', file]);
    assert.equal([r.status, r.stdout, r.stderr], [0, 'out\n', 'err\n']);
  } finally {
    dir.remove();
  }
});

stdio.run();

const env = suite('root environment and exec search');

const TENANT_ENV = ['LD_PRELOAD=/nonexistent-jailctl-preload.so', 'BASH_ENV=/tmp/jailctl-evil', 'ENV=/tmp/jailctl-evil', 'PATH=/tmp/jailctl-evil', 'MARK=tenant'];
const ROOT_ENV = ['PATH=/usr/bin:/bin', 'MARK=root'];

env('hooks get the root environment; the unprivileged program keeps env', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-rootenv-'));
  try {
    const r = await capture(makePlan(['/bin/sh', '-c', 'echo "$MARK $PATH $LD_PRELOAD" >&3'], {
      env: TENANT_ENV,
      rootEnv: ROOT_ENV,
      hooks: [{ option: 'exec-as-root', command: `env > ${dir}/hook.env` }],
    }));
    assert.is(r.error, undefined);
    const hook = readFileSync(join(dir, 'hook.env'), 'utf8').split('\n').filter((l) => l && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
    assert.equal(hook.sort(), [...ROOT_ENV].sort(), 'the hook saw the root environment only');
    assert.is(r.out, 'tenant /tmp/jailctl-evil /nonexistent-jailctl-preload.so\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

env('a privileged program gets the root environment', async () => {
  const r = await capture({
    ...makePlan([], { env: TENANT_ENV, rootEnv: ROOT_ENV, noNewPrivs: false }),
    program: { option: 'privileged-binary-patch', privileged: true, path: 'sh', argv: ['sh', '-c', 'echo "$MARK $PATH ${LD_PRELOAD-unset}" >&3'] },
  });
  assert.is(r.error, undefined);
  assert.is(r.out, 'root /usr/bin:/bin unset\n', 'and sh was found in its PATH');
});

env('no exec search uses an empty or relative PATH entry (the cwd)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-path-'));
  try {
    writeFileSync(join(dir, 'jailctl-probe'), '#!/bin/sh\necho ran >&3\n', { mode: 0o755 });
    for (const path of ['PATH=', 'PATH=:/usr/bin', 'PATH=.', 'PATH=./']) {
      const r = await capture(makePlan(['jailctl-probe'], { env: [path], chdir: dir }));
      assert.is(r.error?.stage, 'exec', path);
      assert.is(r.error?.errnoCode, 'ENOENT', path);
      assert.is(r.out, '', path);
    }
    const found = await capture(makePlan(['jailctl-probe'], { env: ['PATH=/nonexistent'], execPath: dir }));
    assert.is(found.error, undefined);
    assert.is(found.out, 'ran\n', 'exec-path is searched instead of PATH');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

env.run();

const limits = suite('limits');

limits('NOFILE and oom_score_adj are the host defaults, not the launcher\'s', async () => {
  const saved = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
  writeFileSync('/proc/self/oom_score_adj', '7');
  try {
    const r = await capture(sh('echo "$(ulimit -Sn) $(cat /proc/self/oom_score_adj)" >&3'));
    assert.is(r.out, '1024 0\n');
    const set = await capture(sh('echo "$(ulimit -Sn) $(ulimit -Hn) $(cat /proc/self/oom_score_adj)" >&3', { nofile: 4096, oomScoreAdj: 100 }));
    assert.is(set.out, '4096 4096 100\n');
  } finally {
    writeFileSync('/proc/self/oom_score_adj', saved);
  }
});

limits.run();

const died = suite('a launch killed before its exec');

async function killedDuringHook(overrides: Partial<LaunchPlan>): Promise<LaunchError> {
  const jail = launchJail(makePlan(['true'], { hooks: [{ option: 'exec-as-root', command: 'sleep 30' }], ...overrides }));
  // The hook's sleep is running once the helper has a child.
  for (let i = 0; i < 300; i++) {
    const kids = readFileSync(`/proc/${jail.pid}/task/${jail.pid}/children`, 'utf8').trim();
    if (kids) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  process.kill(jail.pid, 'SIGKILL');
  try {
    await jail.started;
  } catch (err: unknown) {
    if (err instanceof LaunchError) return err;
    throw err;
  }
  throw new Error('the launch was reported as started');
}

died('SIGKILL to the helper during a hook fails the launch at stage hook', async () => {
  const err = await killedDuringHook({});
  assert.is(err.stage, 'hook');
  assert.is(err.item, 0);
  assert.is(err.signal, 9);
  assert.is(err.errnoCode, 'EINTR');
  assert.is(err.message, 'test: killed by signal 9 (SIGKILL) during exec-as-root[1] "sleep 30"');
});

died('also as a jail\'s pid 1', async () => {
  const err = await killedDuringHook({ namespaces: ['pid', 'mount'], mounts: [PROC] });
  assert.is(err.stage, 'hook');
  assert.is(err.signal, 9);
});

died.run();

const join_ = suite('joining');

join_('a joined command honours setsid: a session of its own', async () => {
  const target = launchJail(makePlan(['sleep', '30'], { namespaces: ['mount', 'uts'], newSession: true }));
  await target.started;
  const pidfd = binding.pidfdOpen(target.pid);
  try {
    const r = await capture(makePlan(['/bin/sh', '-c', 'read -r line < /proc/self/stat; set -- ${line#*) }; echo "$$ $4" >&3'], {
      namespaces: ['mount', 'uts'],
      join: { pidfd },
      newSession: true,
    }));
    assert.is(r.error, undefined);
    const [pid, sid] = r.out.trim().split(' ');
    assert.is(sid, pid, 'the command leads its own session');
  } finally {
    closeSync(pidfd);
    target.signal('SIGKILL');
    await target.exited;
  }
});

join_.run();
