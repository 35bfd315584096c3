// Issue 12: every jail in a cgroup beneath the emperor's own, with limits, and a seccomp
// filter. Real emperors as root (and one that drops to uid 10000), real cgroups on whatever
// layout this host has (hybrid on the development and CI machines), real OOM kills and forks.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctlAsync } from '../helpers/cli';
import { alive, emperorFixture, pidsWith, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('cgroups and seccomp');
const fx = emperorFixture(test, 0o777);

interface PsRow {
  name: string;
  pid: number;
  processes: number;
  memoryBytes: number;
  oomKills: number;
  limits: { memoryMax?: number; pidsMax?: number; cpuMax?: number };
  cgroup: { unified?: string; v1: string[] } | null;
  seccomp: { mode: string } | null;
  restarts: number;
}

// waitUntil, with the emperor's log in the failure.
async function until(e: RunningEmperor, ok: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  try {
    await waitUntil(ok, what, timeoutMs);
  } catch (err: unknown) {
    throw new Error(`${(err as Error).message}; log:\n${e.log()}`);
  }
}

// pids of the processes whose command line is exactly `cmd` (not a shell that mentions it).
function exactly(cmd: string): number[] {
  return pidsWith(cmd).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === cmd;
    } catch {
      return false;
    }
  });
}

async function ps(e: RunningEmperor): Promise<PsRow[]> {
  const child = jailctlAsync(['ps', '--all', '--json', '--socket', e.controlPath]);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((r) => child.on('exit', r));
  return JSON.parse(out) as PsRow[];
}

async function row(e: RunningEmperor, name: string): Promise<PsRow> {
  const r = (await ps(e)).find((x) => x.name === name);
  if (!r) throw new Error(`${name} is not in ps: ${e.log()}`);
  return r;
}

// Our own cgroup in the hierarchy that holds `controller` (v1), or the unified one ('').
function ownCgroup(controller: string): string | undefined {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, list, path] = line.split(':');
    if (controller === '' ? list === '' : list!.split(',').includes(controller)) return path;
  }
  return undefined;
}

test('a jail\'s cgroup is beneath the emperor\'s own, holds the jail, and ps reads it', async () => {
  fx.dir.write('web.ini', ini('unprivileged-binary-patch-arg = /bin/sh -c "sleep 77201 & sleep 77202; wait"', 'uid = 65534', 'gid = 65534', 'memory-max = 64m', 'pids-max = 20'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForLog(/web\.ini: running/);
  await until(e, () => exactly('sleep 77202').length === 1, 'the jail');
  const r = await row(e, 'web.ini');
  assert.ok(r.cgroup, 'ps names its cgroup');
  const dirs = [r.cgroup!.unified, ...r.cgroup!.v1].filter((d): d is string => d !== undefined);
  assert.ok(dirs.length > 0);
  const sleeper = exactly('sleep 77202')[0]!;
  const own = readFileSync(`/proc/${sleeper}/cgroup`, 'utf8');
  for (const dir of dirs) {
    // /sys/fs/cgroup/<hierarchy>/<emperor's own cgroup>/jailctl-PID/vassals/web.ini
    assert.match(dir, new RegExp(`/jailctl-${e.child.pid}/vassals/web\\.ini$`), dir);
    const inside = dir.slice(dir.indexOf(`/jailctl-${e.child.pid}`));
    assert.ok(own.includes(inside), `the vassal is in ${inside}:\n${own}`);
  }
  // Beneath the emperor's own cgroup (the test's, which it inherits), not at a hierarchy's
  // root: on a v1 memory hierarchy that is this session's memory cgroup.
  const beneath = (own: string): string => `${own === '/' ? '' : own}/jailctl-${e.child.pid}/vassals/web.ini`;
  const memory = ownCgroup('memory');
  if (memory !== undefined) assert.ok(r.cgroup!.v1.some((d) => d.endsWith(beneath(memory))), `a memory cgroup beneath ${memory}: ${r.cgroup!.v1.join(', ')}`);
  const unified = ownCgroup('');
  if (r.cgroup!.unified !== undefined && unified !== undefined) assert.ok(r.cgroup!.unified.endsWith(beneath(unified)), r.cgroup!.unified);
  assert.is(r.limits.memoryMax, 64 << 20);
  assert.is(r.limits.pidsMax, 20);
  assert.ok(r.processes >= 3, `init, sh and two sleeps counted from the cgroup (${r.processes})`);
  assert.ok(r.memoryBytes > 0);
  assert.is(r.seccomp!.mode, 'default');
  await e.stop();
  for (const dir of dirs) await until(e, () => !existsSync(dir), `${dir} removed with the emperor`, 15000);
});

test('memory-max: a jail that allocates 200 MB is OOM-killed whole, logged, respawned; the other keeps running', async () => {
  fx.dir.write('hog.ini', ini('unprivileged-binary-patch-arg = /bin/sh -c "sleep 77211 & perl -e \'sleep 1; $x = q(x) x (200 << 20); sleep 60\'"', 'uid = 65534', 'gid = 65534', 'memory-max = 64m'));
  fx.dir.write('calm.ini', ini('unprivileged-binary-patch-arg = /bin/sleep 77212', 'uid = 65534', 'gid = 65534'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-throttle', '100']);
  await until(e, () => exactly('/bin/sleep 77212').length === 1, 'the calm jail');
  const calm = exactly('/bin/sleep 77212')[0]!;
  await e.waitForLog(/hog\.ini: OOM-killed \(memory-max 64m[^)]*\)/, 30000);
  await e.waitForLog(/hog\.ini: running/);
  await until(e, () => (e.log().match(/hog\.ini: running/g) ?? []).length >= 2, 'hog respawned', 20000);
  assert.ok(alive(calm), 'the other jail was not touched');
  assert.equal(exactly('/bin/sleep 77212'), [calm]);
  const hog = await row(e, 'hog.ini');
  assert.ok(hog.restarts >= 1);
});

test('memory-max: a worker OOM-killed behind its vassal\'s back takes the whole jail, on every layout', async () => {
  // The allocating perl is not the jail's top process: cgroup v2 kills the group
  // (memory.oom.group), and on v1 the emperor does when it sees the OOM kill.
  fx.dir.write('worker.ini', ini('unprivileged-binary-patch-arg = /bin/sh -c "perl -e \'sleep 1; $x = q(x) x (200 << 20); sleep 60\' & exec sleep 77215"', 'uid = 65534', 'gid = 65534', 'memory-max = 64m'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-throttle', '100']);
  await until(e, () => exactly('sleep 77215').length === 1, 'the jail');
  const first = exactly('sleep 77215')[0]!;
  await e.waitForLog(/worker\.ini: OOM-killed \(memory-max 64m[^)]*\)/, 30000);
  assert.not.ok(alive(first) && exactly('sleep 77215').includes(first), 'the jail\'s top process went with the worker');
});

test('enter runs the command in the jail\'s cgroup', async () => {
  fx.dir.write('web.ini', ini('unprivileged-binary-patch-arg = /bin/sleep 77216', 'uid = 65534', 'gid = 65534'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForLog(/web\.ini: running/);
  const r = await row(e, 'web.ini');
  const child = jailctlAsync(['enter', '--socket', e.controlPath, 'web', '--', '/bin/cat', '/proc/self/cgroup']);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  const unified = r.cgroup!.unified;
  if (unified) assert.match(out, new RegExp(`^0::.*/jailctl-${e.child.pid}/vassals/web\\.ini$`, 'm'), out);
  for (const dir of r.cgroup!.v1) assert.ok(out.includes(dir.slice(dir.indexOf(`/jailctl-${e.child.pid}`))) || !/pids|memory/.test(dir), `${dir} in\n${out}`);
});

test('pids-max: a fork bomb is held at 20 without touching the same tenant\'s other jail', async () => {
  const beat = join(fx.dir.dir, 'beat');
  mkdirSync(beat);
  chmodSync(beat, 0o777);
  const owned = (name: string, text: string): void => chownSync(fx.dir.write(name, text), 1001, 1001);
  // A fork that fails is tried again (a shell would give up at the first).
  owned('bomb.ini', ini('unprivileged-binary-patch-arg = /usr/bin/perl -e "while (1) { my $p = fork; exec(q(sleep), 77221) if defined $p && !$p; select(undef, undef, undef, 0.01) }"', 'pids-max = 20'));
  owned('beat.ini', ini(`unprivileged-binary-patch-arg = /bin/sh -c "while :; do date +%s%N > ${beat}/now; sleep 0.1; done"`, 'pids-max = 20'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant']);
  await until(e, () => existsSync(join(beat, 'now')), 'the heartbeat jail', 15000);
  await until(e, () => exactly('sleep 77221').length >= 15, 'the bomb filling its jail', 15000);
  await sleep(1000);
  const bomb = await row(e, '1001/bomb.ini');
  assert.ok(bomb.processes <= 20, `the bomb's jail holds at most 20 (${bomb.processes})`);
  assert.ok(exactly('sleep 77221').length <= 20);
  // The other jail of the same uid still forks (a date and a sleep every 100 ms).
  const t0 = readFileSync(join(beat, 'now'), 'utf8');
  await sleep(1000);
  assert.not.equal(readFileSync(join(beat, 'now'), 'utf8'), t0, 'the heartbeat jail still forks');
  assert.is((await row(e, '1001/beat.ini')).restarts, 0);
});

// A process that leaves its vassal's tree: setsid, double fork, SIGTERM ignored.
function escaper(tag: number): string {
  return ini(
    `unprivileged-binary-patch-arg = /bin/sh -c "setsid sh -c 'trap \\"\\" TERM; (trap \\"\\" TERM; exec sleep ${tag}) & exit' ; sleep ${tag + 1}"`,
  );
}

test('stop takes a setsid\'d, double-forked, SIGTERM-ignoring process too (root emperor)', async () => {
  chownSync(fx.dir.write('esc.ini', escaper(77231)), 1001, 1001);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-curse-tolerance', '2']);
  await until(e, () => exactly('sleep 77231').length === 1 && exactly('sleep 77232').length === 1, 'the vassal and its escaper');
  const escaped = exactly('sleep 77231')[0]!;
  await e.stop();
  await until(e, () => !alive(escaped), 'the escaped process gone with its jail', 10000);
});

test('stop takes it too under an emperor that runs as uid 10000 with cap = setgid,setuid (no pid namespace)', async () => {
  const etc = join(fx.dir.dir, 'conf');
  mkdirSync(etc, { mode: 0o755 });
  const conf = join(etc, 'emperor.ini');
  const vassals = join(fx.dir.dir, 'vassals');
  mkdirSync(vassals, { mode: 0o755 });
  writeFileSync(conf, ['[uwsgi]', `emperor = ${vassals}`, 'emperor-tyrant = true', 'uid = 10000', 'gid = 10000', 'cap = setgid,setuid', 'emperor-curse-tolerance = 2', ''].join('\n'));
  const file = join(vassals, 'esc.ini');
  writeFileSync(file, escaper(77241));
  chownSync(file, 1001, 1001);
  const e = fx.start(['--ini', conf]);
  await e.waitForLog(/running as uid 10000 with setgid,setuid/);
  await until(e, () => exactly('sleep 77241').length === 1 && exactly('sleep 77242').length === 1, 'the vassal and its escaper', 15000);
  const escaped = exactly('sleep 77241')[0]!;
  const status = readFileSync(`/proc/${escaped}/status`, 'utf8');
  assert.match(status, /^Uid:\s+1001\s/m, 'the escaper runs as the tenant, not as the emperor');
  // Removing the file stops the vassal: the emperor (uid 10000, no CAP_KILL) cannot signal
  // uid 1001's setsid'd process itself; its cgroup's kill can.
  const { rmSync } = await import('node:fs');
  rmSync(file);
  await e.waitForLog(/1001\/esc\.ini: stopped/, 15000);
  await until(e, () => !alive(escaped), 'the escaped process gone with its jail', 10000);
});

test('seccomp: no user namespace, keyctl or TIOCSTI inside a jail; ordinary programs run', async () => {
  const out = join(fx.dir.dir, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777);
  fx.dir.write('sec.ini', ini(
    `unprivileged-binary-patch-arg = /bin/sh -c "unshare -U true 2> ${out}/unshare; echo $? >> ${out}/unshare; perl -e 'syscall(250, 0, 0) == -1 and print $!+0' > ${out}/keyctl; echo ok > ${out}/ran; sleep 77251"`,
    'uid = 65534', 'gid = 65534'));
  fx.dir.write('open.ini', ini(
    `unprivileged-binary-patch-arg = /bin/sh -c "unshare -U true; echo $? > ${out}/open; sleep 77252"`,
    'uid = 65534', 'gid = 65534', 'seccomp = none'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await until(e, () => exactly('sleep 77251').length === 1 && exactly('sleep 77252').length === 1, 'both jails', 15000);
  assert.match(readFileSync(join(out, 'unshare'), 'utf8'), /Operation not permitted[\s\S]*\n1\n$/);
  assert.is(readFileSync(join(out, 'keyctl'), 'utf8'), '1', 'keyctl: EPERM (1)');
  assert.is(readFileSync(join(out, 'ran'), 'utf8'), 'ok\n');
  assert.is(readFileSync(join(out, 'open'), 'utf8'), '0\n', 'seccomp = none lets a root-made jail\'s user create a user namespace');
  assert.is((await row(e, 'open.ini')).seccomp!.mode, 'none');
});

test('tyrant mode: a tenant cannot lift its limits or its filter', async () => {
  chownSync(fx.dir.write('greedy.ini', ini('unprivileged-binary-patch-arg = /bin/sleep 77261', 'memory-max = 4g')), 1001, 1001);
  chownSync(fx.dir.write('open.ini', ini('unprivileged-binary-patch-arg = /bin/sleep 77262', 'seccomp = none')), 1001, 1001);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--vassals-memory-max', '256m']);
  await e.waitForLog(/greedy\.ini:3: memory-max: 4g: the emperor lets a tenant have at most 256m \(vassals-memory-max\)/);
  await e.waitForLog(/open\.ini:3: seccomp: `none`: a tenant's jail always has the default seccomp filter/);
  assert.equal(pidsWith('sleep 7726'), []);
});

test.run();
