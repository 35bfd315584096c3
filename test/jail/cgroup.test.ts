// Real cgroups on this machine: the subtree beneath our own cgroup, limits read back and
// felt (pids.max stops a fork, memory-max OOM-kills), kill of a jail that hides from
// signals (also by a non-root emperor), stats, stale subtrees and removal. Each test has
// its own tree name and removes it even when it fails. Processes are put in a jail cgroup
// by writing their pid to cgroup.procs (the executor's clone3 placement is tested elsewhere).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, fstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isJailError } from '../../src/errors';
import { closeLaunchFds, CgroupTree, type CgroupLayout, openLaunchFdsFor, type JailCgroup, type KillMethod, readLayout } from '../../src/jail/cgroup';
import { removeCgroupTree } from '../../src/jail/cgroup/files';
import { usedV1 } from '../../src/jail/cgroup/layout';
import { NO_LIMITS, type CgroupLimits } from '../../src/plan/types';
import { requireRoot } from '../helpers/root';

requireRoot();

const LAYOUT = readLayout();
// This host's hierarchies without the unified one: the code paths of a pure v1 host.
const AS_V1: CgroupLayout = { kind: 'v1', v1: LAYOUT.v1, unreachable: [] };
let serial = 0;

// Our own cgroup per controller, straight from /proc/self/cgroup (not through parseLayout).
function ownPaths(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) for (const c of m[1] === '' ? ['unified'] : m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

interface Made {
  tree: CgroupTree;
  log: string[];
}

// A tree under a fresh name, removed afterwards whatever happened (processes killed first).
async function withTree(label: string, fn: (m: Made) => Promise<void> | void, opts: { layout?: CgroupLayout; moveSelf?: boolean; killMethod?: KillMethod } = {}): Promise<void> {
  const log: string[] = [];
  const name = `jailctl-t${process.pid}-${label}-${++serial}`;
  const tree = CgroupTree.prepare(opts.layout ?? LAYOUT, { name, moveSelf: opts.moveSelf ?? false, log: (l) => log.push(l), ...(opts.killMethod ? { killMethod: opts.killMethod } : {}) });
  try {
    await fn({ tree, log });
  } finally {
    const p = tree.paths();
    for (const dir of [...(p.unified ? [p.unified] : []), ...p.v1]) {
      for (const pid of listProcs(dir)) if (pid !== process.pid) killQuiet(pid);
    }
    await new Promise((r) => setTimeout(r, 50));
    tree.remove();
    for (const dir of [...(p.unified ? [p.unified] : []), ...p.v1]) if (existsSync(dir)) removeCgroupTree(dir);
  }
}

function listProcs(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const out = readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter((l) => l !== '').map(Number);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...listProcs(join(dir, e.name)));
  return out;
}

function killQuiet(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const SH_INTO = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n-1)); done; exec "$@"';

// Starts argv inside the jail cgroup: a shell writes its own pid to each cgroup.procs, then execs.
function spawnIn(jail: JailCgroup, argv: string[]): ChildProcess {
  const procs = [...(jail.dirs.unified ? [`${jail.dirs.unified}/cgroup.procs`] : []), ...jail.dirs.v1.map((d) => `${d}/cgroup.procs`)];
  return spawn('sh', ['-c', SH_INTO, 'sh', String(procs.length), ...procs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function firstLine(child: ChildProcess, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line within ${ms} ms; got ${JSON.stringify(out)}`)), ms);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]!);
      }
    });
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

function alive(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

const read = (path: string): string => readFileSync(path, 'utf8').trim();
const v1Dir = (jail: JailCgroup, mount: string): string => jail.dirs.v1.find((d) => d.startsWith(`${mount}/`))!;
const mountOf = (controller: string): string => LAYOUT.v1.find((h) => h.controllers.includes(controller))!.mountPoint;

// Double fork, setsid, SIGTERM ignored: what a leader-only kill misses.
const HIDER = String.raw`
  use POSIX; $| = 1; $SIG{TERM} = "IGNORE";
  if (fork) { sleep 1000; exit }
  POSIX::setsid();
  if (fork) { exit 0 }
  print "pid $$\n"; sleep 1000;
`;

const test = suite('cgroup tree (real cgroups on this host)');

test('prepare: R beneath our own cgroup in the unified and every used v1 hierarchy', () =>
  withTree('prepare', ({ tree }) => {
    const own = ownPaths();
    const p = tree.paths();
    assert.ok(LAYOUT.unified, 'this lab has a unified hierarchy');
    assert.is(p.unified, `${LAYOUT.unified!.mountPoint}${own.get('unified') === '/' ? '' : own.get('unified')}/${tree.name}`);
    const expected = ['memory', 'pids', 'cpu', 'cpuacct', 'blkio', 'freezer'].filter((c) => own.has(c))
      .map((c) => `${mountOf(c)}${own.get(c) === '/' ? '' : own.get(c)}/${tree.name}`);
    assert.equal([...new Set(expected)], p.v1);
    const memory = p.v1.find((d) => d.startsWith(mountOf('memory')))!;
    assert.ok(memory.startsWith(`${mountOf('memory')}${own.get('memory')}/`), `${memory} is beneath our memory cgroup ${own.get('memory')}`);
    assert.ok(own.get('memory')!.length > 1, 'the session runs in a non-root memory cgroup');
    for (const dir of [p.unified!, ...p.v1]) assert.ok(existsSync(`${dir}/cgroup.procs`), dir);
    assert.ok(existsSync(`${p.unified}/emperor/cgroup.procs`));
    assert.not.ok(p.v1.some((d) => d.startsWith('/sys/fs/cgroup/cpuset') || d.startsWith('/sys/fs/cgroup/devices')));
  }));

test('create: limits read back, rewritten at the next create, reset when absent; bad names refused', () =>
  withTree('limits', ({ tree }) => {
    const limits: CgroupLimits = { memoryMax: { option: 'memory-max', value: 64 << 20 }, pidsMax: { option: 'pids-max', value: 20 }, cpuMax: { option: 'cpu-max', value: 20 }, opts: [] };
    const jail = tree.create(['vassals', 'web.ini'], limits);
    const mem = v1Dir(jail, mountOf('memory'));
    assert.is(read(`${mem}/memory.limit_in_bytes`), String(64 << 20));
    if (existsSync(`${mem}/memory.memsw.limit_in_bytes`)) assert.is(read(`${mem}/memory.memsw.limit_in_bytes`), String(64 << 20));
    assert.is(read(`${v1Dir(jail, mountOf('pids'))}/pids.max`), '20');
    assert.is(read(`${v1Dir(jail, mountOf('cpu'))}/cpu.cfs_quota_us`), '20000');
    assert.is(read(`${v1Dir(jail, mountOf('cpu'))}/cpu.cfs_period_us`), '100000');
    // Raising the limit: memsw must be raised first (memsw >= limit at every write).
    tree.create(['vassals', 'web.ini'], { ...limits, memoryMax: { option: 'memory-max', value: 128 << 20 } });
    assert.is(read(`${mem}/memory.limit_in_bytes`), String(128 << 20));
    const plain = tree.create(['vassals', 'web.ini'], NO_LIMITS);
    assert.is(read(`${mem}/memory.limit_in_bytes`), read(`${mountOf('memory')}/memory.limit_in_bytes`));
    assert.is(read(`${v1Dir(jail, mountOf('pids'))}/pids.max`), 'max');
    // Without cpu-max the jail is placed in no cpu cgroup at all: no quota applies to it.
    assert.not.ok(plain.dirs.v1.some((d) => d.startsWith(`${mountOf('cpu')}/`)), plain.dirs.v1.join(', '));
    assert.ok(plain.dirs.v1.some((d) => d.startsWith(`${mountOf('memory')}/`)) && plain.dirs.v1.some((d) => d.startsWith(`${mountOf('pids')}/`)));
    tree.create(['vassals', 'web.ini'], { memoryMax: { option: 'memory-max', value: 32 << 20 }, opts: [] });
    assert.is(read(`${mem}/memory.limit_in_bytes`), String(32 << 20));
    // cgroup-opt: a cgroup.* key goes to the unified hierarchy, a controller's to its own.
    tree.create(['vassals', 'web.ini'], { opts: [{ option: 'cgroup-opt', key: 'cgroup.max.descendants', value: '3' }, { option: 'cgroup-opt', key: 'memory.swappiness', value: '7' }] });
    assert.is(read(`${jail.dirs.unified}/cgroup.max.descendants`), '3');
    assert.is(read(`${mem}/memory.swappiness`), '7');
    for (const bad of [[], [''], ['.'], ['..'], ['a/b'], ['a\nb'], ['emperor']]) {
      try {
        tree.create(bad, NO_LIMITS);
        assert.unreachable(`${JSON.stringify(bad)} accepted`);
      } catch (err: unknown) {
        assert.ok(isJailError(err) && err.code === 'JAIL_ERR_CGROUP', String(err));
      }
    }
    // An unsupported limit is refused with its option and line, not silently dropped.
    try {
      tree.create(['vassals', 'hi.ini'], { memoryHigh: { option: 'memory-high', line: 7, value: 1 << 20 }, opts: [] });
      assert.unreachable('memory-high accepted on v1 memory');
    } catch (err: unknown) {
      assert.ok(isJailError(err) && err.code === 'JAIL_ERR_CGROUP');
      assert.match((err as Error).message, 'line 7: memory-high: needs the memory controller on cgroup v2');
    }
    // The kernel refusing a value names the option, the file and the errno.
    try {
      tree.create(['vassals', 'web.ini'], { opts: [{ option: 'cgroup-opt', line: 9, key: 'memory.swappiness', value: '1000' }] });
      assert.unreachable('swappiness 1000 accepted');
    } catch (err: unknown) {
      assert.match((err as Error).message, /^cgroup-opt \(line 9\): write 1000 to \/sys\/fs\/cgroup\/memory\/.*\/memory.swappiness: EINVAL/);
    }
  }));

for (const [label, layout, method] of [
  ['cgroup.kill', LAYOUT, undefined],
  ['freeze (v2 without cgroup.kill)', LAYOUT, 'freeze'],
  ['freezer (v1)', LAYOUT, 'freezer'],
  ['signal only', LAYOUT, 'signal'],
  ['pure v1 layout', AS_V1, undefined],
] as const) {
  test(`kill via ${label}: a double-forked, setsid, SIGTERM-ignoring jail is gone; whenEmpty resolves true`, () =>
    withTree('kill', async ({ tree }) => {
      const jail = tree.create(['vassals', 'hider.ini'], NO_LIMITS);
      assert.is(jail.dirs.unified === undefined, layout === AS_V1);
      const child = spawnIn(jail, ['perl', '-e', HIDER]);
      const pid = Number((await firstLine(child)).split(' ')[1]);
      assert.ok(alive(pid));
      process.kill(pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(alive(pid), 'SIGTERM is ignored');
      assert.ok(jail.populated());
      assert.is(await jail.whenEmpty(100), false, 'not empty while it runs');
      jail.kill();
      assert.is(await jail.whenEmpty(3000), true);
      assert.not.ok(jail.populated());
      assert.not.ok(alive(pid), `pid ${pid} survived`);
      assert.is((await exitOf(child)).signal, 'SIGKILL');
      assert.ok(jail.remove());
      for (const d of [...(jail.dirs.unified ? [jail.dirs.unified] : []), ...jail.dirs.v1]) assert.not.ok(existsSync(d), d);
    }, { layout, ...(method ? { killMethod: method } : {}) }));
}

test('kill by a non-root emperor (uid 10000, setuid,setgid) of a uid-1001 jail in its delegated subtree', async () => {
  const name = `jailctl-t${process.pid}-delegate-${++serial}`;
  const child = spawn(process.execPath, ['-r', 'tsm', join(__dirname, '../fixtures/cgroup/delegate.ts'), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  const exit = await exitOf(child);
  clearTimeout(timer);
  const dirs = [LAYOUT.unified!.ownDir, ...usedV1(LAYOUT).map((h) => h.ownDir)].map((d) => `${d}/${name}`);
  try {
    assert.is(exit.code, 0, out);
    const r = JSON.parse(out.trim().split('\n').pop()!);
    assert.is(r.uid, 10000);
    assert.is(r.victimUid, 1001);
    assert.is(r.plainKill, 'EPERM', 'uid 10000 cannot signal uid 1001: only cgroup.kill can stop it');
    assert.is(r.escape, 'refused', 'the jail cannot move itself into the emperor\'s cgroup');
    assert.ok(r.before);
    assert.ok(r.emptied);
    assert.ok(r.removed);
    assert.is(r.exit, 'SIGKILL', 'the victim\'s first process was killed too');
    assert.not.ok(alive(r.pid));
    // As uid 10000 it can neither move back into root's cgroup nor rmdir R (its parent is
    // root's): R stays, empty, for the next root emperor's stale cleanup (or systemd's).
    assert.not.ok(r.treeRemoved);
    assert.ok(r.log.some((l: string) => l.includes('/emperor stays')), r.log.join('\n'));
    assert.not.ok(existsSync(r.dirs.unified));
  } finally {
    // Whatever the test left running (as uid 1001) goes first; root may signal it.
    for (const d of dirs) for (const pid of listProcs(d)) killQuiet(pid);
    await new Promise((r) => setTimeout(r, 100));
    for (const d of dirs) if (existsSync(d)) removeCgroupTree(d);
  }
  for (const d of dirs) assert.not.ok(existsSync(d), `${d} left behind`);
});

test('launch fds: the unified directory and each v1 cgroup.procs, opened now, closed after', () =>
  withTree('fds', ({ tree }) => {
    const jail = tree.create(['vassals', 'fds.ini'], NO_LIMITS);
    // The fds for CLONE_INTO_CGROUP (a fresh cgroup from an emperor cgroup made at start).
    const fds = openLaunchFdsFor(jail.dirs, false);
    assert.ok(fds.dirFd !== undefined && fstatSync(fds.dirFd).isDirectory());
    assert.is(fds.procsFds.length, jail.dirs.v1.length);
    for (const [i, fd] of fds.procsFds.entries()) assert.is(readlinkSync(`/proc/self/fd/${fd}`), `${jail.dirs.v1[i]}/cgroup.procs`);
    assert.is(readlinkSync(`/proc/self/fd/${fds.dirFd}`), jail.dirs.unified);
    closeLaunchFds(fds);
    assert.throws(() => fstatSync(fds.dirFd!), /EBADF/);
    // `jailctl enter` re-opens them from a ps record; a removed jail cgroup is an error.
    const again = openLaunchFdsFor(jail.dirs);
    closeLaunchFds(again);
    assert.ok(jail.remove());
    assert.throws(() => openLaunchFdsFor(jail.dirs), (err: unknown) => isJailError(err) && err.code === 'JAIL_ERR_CGROUP' && /ENOENT/.test((err as Error).message));
  }));

test('stats: memory, cpu and processes of a busy process, limits as set, PSI from the unified hierarchy', () =>
  withTree('stats', async ({ tree }) => {
    const jail = tree.create(['vassals', 'busy.ini'], { pidsMax: { option: 'pids-max', value: 30 }, cpuMax: { option: 'cpu-max', value: 150 }, opts: [] });
    const child = spawnIn(jail, ['perl', '-e', '$| = 1; $x = "a" x (40 << 20); print "ready\\n"; $t = time; 1 while time - $t < 30']);
    assert.is(await firstLine(child), 'ready');
    await new Promise((r) => setTimeout(r, 400));
    const s = jail.stats();
    assert.ok((s.memoryBytes ?? 0) > 40 << 20, `memory ${s.memoryBytes}`);
    assert.ok((s.memoryPeakBytes ?? 0) >= (s.memoryBytes ?? 0));
    assert.ok((s.cpuSeconds ?? 0) > 0.2, `cpu ${s.cpuSeconds}`);
    assert.is(s.processes, 1);
    assert.is(s.oomKills, 0);
    assert.equal(s.limits, { pidsMax: 30, cpuMax: 150 });
    assert.ok(s.pressure && typeof s.pressure.cpu === 'number', JSON.stringify(s.pressure));
    // Cost per jail on the event loop: one read of the files per 100 ms, however many ask.
    const n = 20;
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, 110));
      const t = process.hrtime.bigint();
      jail.stats();
      if (i === 0) console.log(`    stats(): ${(Number(process.hrtime.bigint() - t) / 1e3).toFixed(1)} µs per jail, read once per 100 ms`);
    }
    assert.is(jail.stats(), jail.stats(), 'asked twice at once: one read');
    jail.kill();
    assert.ok(await jail.whenEmpty(3000));
    await new Promise((r) => setTimeout(r, 110));
    assert.is(jail.stats().processes, 0);
  }));

test('stats files held open: the numbers follow the jail, a cgroup removed and made again is read anew, remove() closes them', () =>
  withTree('held', async ({ tree }) => {
    const heldFds = (): string[] => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } }).filter((l) => l.includes(`/vassals/held.ini/`));
    const jail = tree.create(['vassals', 'held.ini'], NO_LIMITS);
    assert.is(jail.stats().processes, 0);
    const files = heldFds();
    assert.ok(files.length >= 6, `held: ${files.join(' ')}`);
    assert.ok(files.some((f) => f.endsWith('/cgroup.procs')), files.join(' '));
    const child = spawnIn(jail, ['perl', '-e', '$| = 1; print "ready\\n"; sleep 100']);
    assert.is(await firstLine(child), 'ready');
    await new Promise((r) => setTimeout(r, 110));
    assert.is(jail.stats().processes, 1, 'the same fds read the new process');
    assert.equal(heldFds(), files, 'no file opened again');
    jail.kill();
    assert.ok(await jail.whenEmpty(3000));
    // Removed by hand and made again at the same path (as a later launch does): the held
    // files read nothing (ENODEV) and are opened again.
    for (const dir of [...(jail.dirs.unified ? [jail.dirs.unified] : []), ...jail.dirs.v1]) removeCgroupTree(dir);
    const again = tree.create(['vassals', 'held.ini'], NO_LIMITS);
    const second = spawnIn(again, ['perl', '-e', '$| = 1; print "ready\\n"; sleep 100']);
    assert.is(await firstLine(second), 'ready');
    await new Promise((r) => setTimeout(r, 110));
    assert.is(jail.stats().processes, 1, 'the old JailCgroup reads the cgroup now at its path');
    assert.ok((jail.stats().memoryBytes ?? 0) > 0);
    again.kill();
    assert.ok(await again.whenEmpty(3000));
    assert.ok(again.remove());
    jail.remove();
    assert.equal(heldFds(), [], 'remove() closed every file held');
  }));

const FORKS = String.raw`$| = 1; for $i (1..40) { $p = fork; if (!defined $p) { print "fail $i ", ($!{EAGAIN} ? "EAGAIN" : "$!"), "\n"; sleep 100; exit } if ($p == 0) { sleep 100; exit } } print "ok 40\n"; sleep 100`;

test('pids.max = 20 stops the 21st process (EAGAIN); a sibling jail cgroup is unaffected', () =>
  withTree('pids', async ({ tree }) => {
    const limited = tree.create(['vassals', 'limited.ini'], { pidsMax: { option: 'pids-max', value: 20 }, opts: [] });
    const free = tree.create(['vassals', 'free.ini'], NO_LIMITS);
    const a = spawnIn(limited, ['perl', '-e', FORKS]);
    const b = spawnIn(free, ['perl', '-e', FORKS]);
    // perl itself is process 1: forks 1..19 make 20, fork 20 fails.
    assert.is(await firstLine(a), 'fail 20 EAGAIN');
    assert.is(await firstLine(b), 'ok 40');
    assert.is(limited.stats().processes, 20);
    assert.is(free.stats().processes, 41);
    limited.kill();
    free.kill();
    assert.ok(await limited.whenEmpty(3000));
    assert.ok(await free.whenEmpty(3000));
  }));

test('memory-max 64m: a process touching 200 MB is OOM-killed, oomKills >= 1', () =>
  withTree('oom', async ({ tree }) => {
    const jail = tree.create(['vassals', 'hog.ini'], { memoryMax: { option: 'memory-max', value: 64 << 20 }, opts: [] });
    const child = spawnIn(jail, ['perl', '-e', '$x = "a" x (200 << 20); print "survived\\n"']);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exit = await exitOf(child);
    assert.is(exit.signal, 'SIGKILL', `exit ${JSON.stringify(exit)} ${out}`);
    assert.not.match(out, 'survived');
    const s = jail.stats();
    assert.ok(s.oomKills >= 1, `oomKills ${s.oomKills}`);
    assert.ok((s.memoryPeakBytes ?? 0) <= 64 << 20, `peak ${s.memoryPeakBytes}`);
    assert.ok((s.memoryPeakBytes ?? 0) > 32 << 20, `peak ${s.memoryPeakBytes}`);
  }));

test('zombies: an exited, unreaped process leaves the cgroup (populated 0, rmdir works)', () =>
  withTree('zombie', async ({ tree }) => {
    const jail = tree.create(['vassals', 'z.ini'], NO_LIMITS);
    // The parent stays outside (it is the test's child); only the child it forks is placed.
    const procs = [...(jail.dirs.unified ? [`${jail.dirs.unified}/cgroup.procs`] : []), ...jail.dirs.v1.map((d) => `${d}/cgroup.procs`)];
    const parent = spawn('perl', ['-e', '$| = 1; $p = fork; if (!$p) { for (@ARGV) { open F, ">", $_ or die; print F "0"; close F } exit 0 } sleep 1; print "zombie $p\\n"; sleep 100', ...procs], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = Number((await firstLine(parent)).split(' ')[1]);
    assert.match(readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /);
    assert.not.ok(jail.populated());
    assert.is(jail.stats().processes, 0);
    // pids.current still counts it until it is reaped.
    assert.is(read(`${v1Dir(jail, mountOf('pids'))}/pids.current`), '1');
    assert.ok(jail.remove());
    parent.kill('SIGKILL');
  }));

test('stale cleanup: an empty jailctl-<dead pid> sibling goes, a populated one stays and is logged', async () => {
  const dead = ['jailctl-999999999', 'jailctl-999999998'];
  const hierarchies = [LAYOUT.unified!, ...usedV1(LAYOUT)];
  for (const h of hierarchies) for (const d of dead) mkdirSync(`${h.ownDir}/${d}/vassals/old.ini`, { recursive: true });
  const busyDir = `${mountOf('pids')}${ownPaths().get('pids') === '/' ? '' : ownPaths().get('pids')}/jailctl-999999998/vassals/old.ini`;
  const sleeper = spawn('sh', ['-c', `echo $$ > ${busyDir}/cgroup.procs && exec sleep 100`], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  try {
    await withTree('stale', ({ log }) => {
      for (const h of hierarchies) assert.not.ok(existsSync(`${h.ownDir}/jailctl-999999999`), `${h.ownDir}/jailctl-999999999 stayed`);
      assert.ok(existsSync(busyDir), 'a populated stale cgroup is never forced');
      // One line per dead emperor, whatever the number of hierarchies.
      assert.equal(log.filter((l) => l.includes('pid 999999999')), [`cgroup: removed the subtree of a dead emperor (pid 999999999) from ${hierarchies.length} hierarchies`]);
      const busy = log.filter((l) => l.includes('pid 999999998'));
      assert.is(busy.length, 1, log.join('\n'));
      assert.match(busy[0]!, /stays in \d+ place\(s\), something still runs there: .*jailctl-999999998.* EBUSY/);
    });
  } finally {
    sleeper.kill('SIGKILL');
    await exitOf(sleeper);
    await new Promise((r) => setTimeout(r, 50));
    for (const h of hierarchies) for (const d of dead) if (existsSync(`${h.ownDir}/${d}`)) removeCgroupTree(`${h.ownDir}/${d}`);
  }
  for (const h of hierarchies) assert.not.ok(existsSync(`${h.ownDir}/jailctl-999999998`));
});

test('remove: with moveSelf the process goes into R/emperor and back, and nothing is left', async () => {
  let paths: ReturnType<CgroupTree['paths']> | undefined;
  await withTree('remove', async ({ tree }) => {
    paths = tree.paths();
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), new RegExp(`^0::/${tree.name}/emperor$`, 'm'));
    const a = tree.create(['tenant-1001', 'a.ini'], { pidsMax: { option: 'pids-max', value: 10 }, opts: [] });
    tree.create(['tenant-1002', 'b.ini'], NO_LIMITS);
    const child = spawnIn(a, ['sleep', '100']);
    await new Promise((r) => setTimeout(r, 100));
    assert.not.ok(a.remove(), 'a populated jail cgroup is not removed');
    a.kill();
    assert.ok(await a.whenEmpty(3000));
    await exitOf(child);
    // An emperor re-executed in place is in R/emperor already: prepare takes R back.
    const again = CgroupTree.prepare(readLayout(), { name: tree.name, moveSelf: true });
    assert.equal(again.paths(), tree.paths());
    assert.ok(tree.remove());
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), new RegExp(`^0::${LAYOUT.unified!.ownPath}$`, 'm'));
  }, { moveSelf: true });
  for (const d of [paths!.unified!, ...paths!.v1]) assert.not.ok(existsSync(d), `${d} left behind`);
});

test('cost per jail on this host: create, kill (empty jail), remove', () =>
  withTree('cost', ({ tree }) => {
    const n = 50;
    const limits: CgroupLimits = { memoryMax: { option: 'memory-max', value: 64 << 20 }, pidsMax: { option: 'pids-max', value: 20 }, cpuMax: { option: 'cpu-max', value: 20 }, opts: [] };
    const time = (fn: (i: number) => void): number => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn(i);
      return Number(process.hrtime.bigint() - t0) / 1e3 / n;
    };
    const jails: JailCgroup[] = [];
    const create = time((i) => jails.push(tree.create(['vassals', `j${i}.ini`], limits)));
    const again = time((i) => tree.create(['vassals', `j${i}.ini`], limits));
    const kill = time((i) => jails[i]!.kill());
    const remove = time((i) => assert.ok(jails[i]!.remove()));
    console.log(`    per jail: create ${create.toFixed(0)} µs, create again (respawn) ${again.toFixed(0)} µs, kill ${kill.toFixed(0)} µs, remove ${remove.toFixed(0)} µs`);
  }));

test.run();
