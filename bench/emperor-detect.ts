// npm run bench:detect (root) — how fast the emperor reacts to its directory, against
// uWSGI's emperor in the same run. Three events, timed from the bench's own action:
//   rename → exec     a config written to a dotfile `.NAME.tmp` in the watched directory and
//                     renamed to NAME.ini, until the vassal's program runs;
//   touch → new exec  the file's mtime moved on by 1 s (uWSGI compares whole seconds), until
//                     the program runs again in a new jail;
//   rm → exited       the file unlinked, until the jail's top process has exited (a zombie or
//                     gone; /proc/PID/stat polled every 1 ms).
// The vassal runs as root with `unshare = fs,pid` and writes its name to a FIFO before it
// execs `sleep 86400`; the bench reads the FIFO on its event loop, so "exec" is seen without
// polling. uWSGI runs its patch through `/bin/sh -c` itself, so its vassal gets the same shell
// line without our `sh -c` wrapper (one shell each). Every drop uses a fresh NAME; the first
// cycles of each emperor are warm-up and not counted. Each action comes after a random pause
// (up to 10 ms for ours, up to uWSGI's 3 s poll period for uWSGI), so that it does not fall in
// step with the emperor's previous reaction.
// N defaults to 200 for ours (JAILCTL_BENCH_N) and 20 for uWSGI (JAILCTL_BENCH_UWSGI_N): uWSGI
// polls every emperor-freq (3 s), never restarts a vassal that ignores its reload byte (touch is
// given up after 3 misses), and only SIGKILLs one that ignores its stop byte after
// emperor-curse-tolerance, which it runs with at 1 s instead of its default 30 s.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecFifo } from './exec-fifo';
import { percentile, procStat } from './proc';

const ROOT = join(__dirname, '..');
// The emperor as users run it: bin/jailctl over the compiled dist/ (`npm run compile` first).
const JAILCTL = join(ROOT, 'bin', 'jailctl');
execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
const N = Number(process.env.JAILCTL_BENCH_N ?? 200);
const UWSGI_N = Number(process.env.JAILCTL_BENCH_UWSGI_N ?? 20);
const TARGET_P50_MS = 10;
const TARGET_P99_MS = 50;
// After this many touches without a new exec, an emperor is taken not to reload such vassals.
const TOUCH_GIVE_UP = 3;

type Event = 'drop' | 'touch' | 'rm';
const EVENTS: ReadonlyArray<[Event, string]> = [['drop', 'rename → exec'], ['touch', 'touch → new exec'], ['rm', 'rm → jail exited']];

interface EmperorUnderTest {
  readonly label: string;
  readonly n: number;
  readonly warmup: number;
  /** Longest wait for any one event before it counts as missed. */
  readonly timeoutMs: number;
  /** Each action waits a random 0..pauseMs first, so that it falls anywhere in a poll period. */
  readonly pauseMs: number;
  /** A line of its log that says it watches the directory. */
  readonly ready: RegExp;
  command(dir: string): [string, string[]];
  vassal(name: string, fifo: string): string;
}

const OURS: EmperorUnderTest = {
  label: 'jailctl',
  n: N,
  warmup: 5,
  timeoutMs: 5000,
  pauseMs: 10,
  ready: /\[emperor\] watching /,
  command: (dir) => [JAILCTL, ['emperor', '--emperor', dir, '--emperor-control-socket', `${dir}.control.sock`, '--emperor-logs-dir', `${dir}.logs`]],
  vassal: (name, fifo) => `[jail]\nunshare = fs,pid\nunprivileged-binary-patch-arg = sh -c 'echo ${name} > ${fifo}; exec sleep 86400'\n`,
};

const UWSGI: EmperorUnderTest = {
  label: 'uWSGI 2.0.21',
  n: UWSGI_N,
  warmup: 1,
  timeoutMs: 10_000,
  pauseMs: 3000,
  ready: /starting uWSGI Emperor/,
  command: (dir) => ['uwsgi', ['--emperor', dir, '--emperor-curse-tolerance', '1']],
  vassal: (name, fifo) => `[uwsgi]\nunshare = fs,pid\nunprivileged-binary-patch-arg = echo ${name} > ${fifo}; exec sleep 86400\n`,
};

interface Result {
  readonly samples: Record<Event, number[]>;
  /** Touches that produced no new exec within the timeout. */
  readonly touchMissed: number;
  /** Execs the bench did not cause (a vassal respawned on its own). */
  readonly unexpectedExecs: number;
  /** Log lines beyond the usual lifecycle ones (ours only). */
  readonly oddLog: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pause = (em: EmperorUnderTest): Promise<void> => sleep(Math.random() * em.pauseMs);
const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;



// The live children of the emperor `pid` in a mount namespace of their own: its vassals (a
// jail's top process is the emperor's child), not helpers such as tsm's esbuild service.
function liveVassals(pid: number): number[] {
  const own = readlinkSync(`/proc/${pid}/ns/mnt`);
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`))
    for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) {
      try {
        if (procStat(Number(c))?.state !== 'Z' && readlinkSync(`/proc/${c}/ns/mnt`) !== own) out.push(Number(c));
      } catch {
        // gone meanwhile
      }
    }
  return out;
}

async function exited(pid: number, start: string, timeoutMs: number): Promise<bigint | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const st = procStat(pid);
    if (!st || st.state === 'Z' || st.start !== start) return process.hrtime.bigint();
    await sleep(1);
  }
  return undefined;
}

async function waitForLog(file: string, re: RegExp, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!re.test(readFileSync(file, 'utf8'))) {
    if (Date.now() > end) throw new Error(`no ${re} in ${file} after ${timeoutMs} ms:\n${readFileSync(file, 'utf8')}`);
    await sleep(10);
  }
}

async function run(em: EmperorUnderTest, base: string): Promise<Result> {
  const dir = join(base, em.label.split(' ')[0]!);
  const vassals = join(dir, 'vassals');
  const logFile = join(dir, 'emperor.log');
  mkdirSync(vassals, { recursive: true });
  const fifo = new ExecFifo(join(dir, 'exec.fifo'));
  const log = openSync(logFile, 'w');
  const [cmd, args] = em.command(vassals);
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', log, log] });
  closeSync(log);
  const gone = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  // Every vassal process seen, with its start time, so that cleanup never hits a reused pid.
  const seen = new Map<number, string>();
  const samples: Record<Event, number[]> = { drop: [], touch: [], rm: [] };
  let touchMissed = 0;

  const vassalPid = (): number => {
    const kids = liveVassals(child.pid!);
    if (kids.length !== 1) throw new Error(`${em.label}: expected one live vassal, found ${kids.length} (${kids.join(' ')})`);
    seen.set(kids[0]!, procStat(kids[0]!)!.start);
    return kids[0]!;
  };

  try {
    await waitForLog(logFile, em.ready, 15_000);
    for (let i = 0; i < em.warmup + em.n; i++) {
      const counted = i >= em.warmup;
      const name = `v${i}`;
      const file = join(vassals, `${name}.ini`);
      const tmp = join(vassals, `.${name}.tmp`);
      writeFileSync(tmp, em.vassal(name, fifo.path));

      await pause(em);
      let pending = fifo.next(name, em.timeoutMs);
      let t0 = process.hrtime.bigint();
      renameSync(tmp, file);
      let t1 = await pending;
      if (t1 === undefined) throw new Error(`${em.label}: ${name} did not start within ${em.timeoutMs} ms`);
      if (counted) samples.drop.push(ms(t0, t1));
      let pid = vassalPid();

      if (touchMissed < TOUCH_GIVE_UP) {
        const mtime = statSync(file).mtimeMs;
        await pause(em);
        pending = fifo.next(name, em.timeoutMs);
        t0 = process.hrtime.bigint();
        utimesSync(file, new Date(), new Date(mtime + 1000));
        t1 = await pending;
        if (t1 === undefined) touchMissed++;
        else {
          if (counted) samples.touch.push(ms(t0, t1));
          pid = vassalPid();
        }
      }

      const start = seen.get(pid)!;
      await pause(em);
      t0 = process.hrtime.bigint();
      unlinkSync(file);
      t1 = await exited(pid, start, em.timeoutMs);
      if (t1 === undefined) throw new Error(`${em.label}: ${name} (pid ${pid}) still runs ${em.timeoutMs} ms after its config was removed`);
      if (counted) samples.rm.push(ms(t0, t1));
    }
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => running() && child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(kill);
    for (const [pid, start] of seen) if (procStat(pid)?.start === start) process.kill(pid, 'SIGKILL');
    fifo.close();
  }
  const oddLog = em === OURS
    ? readFileSync(logFile, 'utf8').split('\n').filter((l) => l && !/\] (watching |v\d+\.ini: (new config|running|config changed|old jail|config removed|stopped)|SIGTERM: stopping|bye)/.test(l))
    : [];
  return { samples, touchMissed, unexpectedExecs: fifo.unexpected, oddLog };
}

function fmt(x: number): string {
  if (Number.isNaN(x)) return '—';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:detect needs root (namespaces)');
  const base = mkdtempSync(join(tmpdir(), 'jailctl-bench-detect-'));
  try {
    const ours = await run(OURS, base);
    const theirs = await run(UWSGI, base);

    console.log(`\nemperor reaction time, ms from the bench's action (jailctl N=${OURS.n}, uWSGI N=${UWSGI.n}; ${OURS.warmup} and ${UWSGI.warmup} warm-up cycles not counted):\n`);
    console.log(`  ${'event'.padEnd(18)} ${'jailctl p50'.padStart(11)} ${'p99'.padStart(8)}   ${'uWSGI p50'.padStart(9)} ${'p99'.padStart(8)}   ${'uWSGI/ours p50'.padStart(14)} ${'p99'.padStart(7)}   target p50 ≤ ${TARGET_P50_MS}, p99 ≤ ${TARGET_P99_MS}`);
    for (const [ev, title] of EVENTS) {
      const [a50, a99] = [percentile(ours.samples[ev], 0.5), percentile(ours.samples[ev], 0.99)];
      const [b50, b99] = [percentile(theirs.samples[ev], 0.5), percentile(theirs.samples[ev], 0.99)];
      const ok = a50 <= TARGET_P50_MS && a99 <= TARGET_P99_MS ? 'OK' : 'MISSED';
      const ratio = (b: number, a: number): string => (Number.isNaN(b) ? '—' : `${(b / a).toFixed(0)}x`);
      console.log(`  ${title.padEnd(18)} ${fmt(a50).padStart(11)} ${fmt(a99).padStart(8)}   ${fmt(b50).padStart(9)} ${fmt(b99).padStart(8)}   ${ratio(b50, a50).padStart(14)} ${ratio(b99, a99).padStart(7)}   ${ok}`);
    }
    console.log('');
    for (const [label, r] of [['jailctl', ours], ['uWSGI', theirs]] as const) {
      if (r.touchMissed > 0) console.log(`  ${label}: ${r.touchMissed} touch(es) brought no new exec within the timeout; touch not measured further`);
      if (r.unexpectedExecs > 0) console.log(`  ${label}: ${r.unexpectedExecs} exec(s) the bench did not cause (respawns)`);
    }
    console.log(`  uWSGI rm → exited includes its emperor-curse-tolerance, set to 1 s (default 30 s): it never signals a vassal that ignores the stop byte`);
    if (ours.oddLog.length > 0) console.log(`  jailctl log lines beyond the lifecycle ones (${ours.oddLog.length}):\n    ${ours.oddLog.slice(0, 10).join('\n    ')}`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:detect: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
