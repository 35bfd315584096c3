// npm run bench:death (root) — how long jails outlive an emperor that is SIGKILLed, against
// uWSGI's emperor in the same run. Each emperor runs N vassals (default 50,
// JAILCTL_BENCH_VASSALS), every one `unshare = fs,pid` running `sleep 86400` as root. Once
// all are up, the bench opens a pidfd on every process below the emperor (jail inits,
// uWSGI's vassal masters, the sleeps), SIGKILLs the emperor and times, on its event loop,
// until every one of those pidfds says its process has exited (pidfds, not /proc polling:
// one /proc pass over a hundred processes takes longer than what is measured). A process
// still alive after GIVE_UP_MS counts as having survived the emperor.
//
// DESIGN.md invariant 5: vassals never outlive the emperor. The goal for ours is ≤ 100 ms for
// 50 vassals; uWSGI's vassals only notice the emperor pipe closing at their next poll.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding } from '../src/native/binding';
import { children, procStat } from './proc';

const ROOT = join(__dirname, '..');
const JAILCTL = join(ROOT, 'bin', 'jailctl');
const VASSALS = Number(process.env.JAILCTL_BENCH_VASSALS ?? 50);
const GIVE_UP_MS = Number(process.env.JAILCTL_BENCH_GIVE_UP_MS ?? 10_000);
const ROUNDS = Number(process.env.JAILCTL_BENCH_ROUNDS ?? 3);
const TARGET_MS = 100;

interface EmperorUnderTest {
  readonly label: string;
  command(dir: string): [string, string[]];
  vassal(): string;
}

const OURS: EmperorUnderTest = {
  label: 'jailctl',
  command: (dir) => [JAILCTL, ['emperor', '--emperor', dir, '--emperor-control-socket', join(dir, '..', 'ctl.sock'), '--emperor-logs-dir', 'none']],
  vassal: () => '[jail]\nunshare = fs,pid\nunprivileged-binary-patch-arg = sleep 86400\n',
};

const UWSGI: EmperorUnderTest = {
  label: 'uWSGI 2.0.21',
  command: (dir) => ['uwsgi', ['--emperor', dir]],
  vassal: () => '[uwsgi]\nunshare = fs,pid\nunprivileged-binary-patch-arg = exec sleep 86400\n',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Every process below `pid`, with its command name.
function below(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const queue = [pid]; queue.length > 0;)
    for (const c of children(queue.pop()!)) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim();
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue; // gone meanwhile
        throw err;
      }
      out.push({ pid: c, comm });
      queue.push(c);
    }
  return out;
}

// One round: N vassals up, SIGKILL, then ms until the last process below it exited (or the
// count of those still alive after GIVE_UP_MS).
async function round(em: EmperorUnderTest): Promise<{ ms: number; processes: number; survivors: number }> {
  const work = mkdtempSync(join(tmpdir(), 'jailctl-bench-death-'));
  const dir = join(work, 'vassals');
  mkdirSync(dir);
  for (let i = 0; i < VASSALS; i++) writeFileSync(join(dir, `v${i}.ini`), em.vassal());
  const [cmd, args] = em.command(dir);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    const pid = child.pid!;
    const deadline = Date.now() + 60_000;
    while (below(pid).filter((p) => p.comm === 'sleep').length < VASSALS) {
      if (Date.now() > deadline) throw new Error(`${em.label}: ${VASSALS} vassals did not start within 60 s`);
      await sleep(100);
    }
    await sleep(500); // settled: every jail's init and vassal in place
    const procs = below(pid).filter((p) => procStat(p.pid));
    const watchers = procs.map((p) => {
      const fd = binding.pidfdOpen(p.pid);
      return new Promise<bigint>((resolve) => {
        const w = new binding.FdWatcher(fd, () => {
          resolve(process.hrtime.bigint());
          w.close();
          closeSync(fd);
        });
      });
    });
    const t0 = process.hrtime.bigint();
    process.kill(pid, 'SIGKILL');
    const all = Promise.all(watchers).then((ts) => ts.reduce((a, b) => (b > a ? b : a), t0));
    const end = await Promise.race([all, sleep(GIVE_UP_MS).then(() => undefined)]);
    const survivors = procs.filter((p) => procStat(p.pid) && procStat(p.pid)!.state !== 'Z').length;
    for (const p of procs) if (procStat(p.pid)) process.kill(p.pid, 'SIGKILL');
    return { ms: end === undefined ? GIVE_UP_MS : Number(end - t0) / 1e6, processes: procs.length, survivors };
  } finally {
    child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:death needs root (namespaces)');
  execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
  const results: Record<string, number[]> = {};
  for (const em of [OURS, UWSGI]) {
    results[em.label] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const { ms, processes, survivors } = await round(em);
      results[em.label]!.push(ms);
      console.log(`${em.label.padEnd(14)} round ${r + 1}: ${processes} processes, last gone ${ms.toFixed(1)} ms after SIGKILL${survivors ? `; ${survivors} still alive after ${GIVE_UP_MS} ms` : ''}`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ours = median(results[OURS.label]!);
  const theirs = median(results[UWSGI.label]!);
  console.log(`\nemperor SIGKILLed with ${VASSALS} vassals: jailctl ${ours.toFixed(1)} ms, uWSGI ${theirs.toFixed(1)} ms (median of ${ROUNDS}); ratio jailctl/uWSGI ${(ours / theirs).toFixed(2)}; goal ≤ ${TARGET_MS} ms: ${ours <= TARGET_MS ? 'met' : 'not met'}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
