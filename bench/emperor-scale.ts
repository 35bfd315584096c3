// npm run bench:scale (root) — one emperor with many jails. 1,000 vassal files (each a jail
// with all five namespaces, uid nobody, running `sleep 86400`) are written into a temporary
// directory first; then the emperor starts with --emperor-stats on a UNIX socket and the
// bench measures:
//   all running   from spawning the emperor until its stats (polled over the socket, 100 ms
//                 apart) list every vassal as running;
//   RSS           VmRSS of the emperor process then (/proc/PID/status);
//   stats         median time of 50 fetches of the stats document over the socket, raw
//                 connection (what uWSGI's clients do), and for comparison with an HTTP GET;
//   idle CPU      utime+stime of the emperor (/proc/PID/stat) at rest: once every vassal is
//                 loyal and SETTLE_S more have passed (the boot's garbage collected), over
//                 IDLE_S in 10 s windows (the mean, and the busiest window);
//   launches      the most in flight at once during the boot (the emperor's log line);
//   shutdown      SIGTERM until the emperor exits; then no jail init and no `sleep 86400` it
//                 ran may remain (checked by pid and start time).
// In the same run uWSGI's emperor gets the same files ([uwsgi] section; uWSGI runs its patch
// through /bin/sh -c, hence `exec sleep 86400`): time until every vassal process is `sleep`,
// its RSS and its idle CPU (the same settle and windows), and the ratio of the two. Its vassals ignore the emperor's stop byte, so they are SIGKILLed
// by pid afterwards. Sizes: JAILCTL_BENCH_VASSALS (1000), JAILCTL_BENCH_UWSGI_VASSALS (the
// same), JAILCTL_BENCH_IDLE_S (60), JAILCTL_BENCH_SETTLE_S (20).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { children } from './proc';

const ROOT = join(__dirname, '..');
// The emperor as users run it: bin/jailctl over the compiled dist/ (`npm run compile` first).
const JAILCTL = join(ROOT, 'bin', 'jailctl');
execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
const VASSALS = Number(process.env.JAILCTL_BENCH_VASSALS ?? 1000);
const UWSGI_VASSALS = Number(process.env.JAILCTL_BENCH_UWSGI_VASSALS ?? VASSALS);
const IDLE_S = Number(process.env.JAILCTL_BENCH_IDLE_S ?? 60);
const SETTLE_S = Number(process.env.JAILCTL_BENCH_SETTLE_S ?? 20);
const WINDOW_S = Math.min(10, IDLE_S);
const STATS_FETCHES = 50;
const TARGET = { allRunningS: 5, rssMb: 80, idleCpuPct: 0.2 };
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface StatsVassal {
  id: string;
  pid: number;
  state: string;
  loyal: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// Fields of /proc/PID/stat after the command name (field 3 is index 0); undefined once gone.
function procStat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const startTime = (pid: number): string | undefined => procStat(pid)?.[19];
const cpuTicks = (pid: number): number => {
  const f = procStat(pid)!;
  return Number(f[11]) + Number(f[12]); // utime + stime
};
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;


function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

// Connects to the stats socket, sends `request` (nothing for a raw client), returns the reply.
function fetchStats(path: string, request = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    let out = '';
    sock.on('connect', () => request && sock.write(request));
    sock.on('data', (c: Buffer) => (out += c.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

async function statsVassals(path: string): Promise<StatsVassal[] | undefined> {
  try {
    return (JSON.parse(await fetchStats(path)) as { vassals: StatsVassal[] }).vassals;
  } catch {
    return undefined; // not listening yet
  }
}

async function until<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutS} s waiting for ${what}`);
    await sleep(100);
  }
}

interface IdleCpu {
  /** CPU share of one core over the whole idle time, and in its busiest window (%). */
  mean: number;
  max: number;
}

// The process at rest: SETTLE_S first, then its CPU share of one core over IDLE_S, window by window.
async function idleCpu(pid: number): Promise<IdleCpu> {
  await sleep(SETTLE_S * 1000);
  const windows: number[] = [];
  const first = cpuTicks(pid);
  for (let left = IDLE_S; left > 0; left -= WINDOW_S) {
    const a = cpuTicks(pid);
    const s = Math.min(WINDOW_S, left);
    await sleep(s * 1000);
    windows.push(((cpuTicks(pid) - a) / CLK_TCK / s) * 100);
  }
  return { mean: ((cpuTicks(pid) - first) / CLK_TCK / IDLE_S) * 100, max: Math.max(...windows) };
}

function writeVassals(dir: string, n: number, text: string): void {
  mkdirSync(dir);
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `v${String(i).padStart(4, '0')}.ini`), text);
}

function startProcess(cmd: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, 'w');
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', log, log] });
  closeSync(log);
  return child;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

// pid → start time of processes we made, killed with SIGKILL when still the same process.
function killLeftovers(procs: ReadonlyMap<number, string>): void {
  for (const [pid, start] of procs) if (startTime(pid) === start) process.kill(pid, 'SIGKILL');
}

interface Figures {
  allRunningS: number;
  rssMb: number;
  idle: IdleCpu;
}

interface OurFigures extends Figures {
  statsUpS: number;
  rawStatsMs: number;
  httpStatsMs: number;
  statsBytes: number;
  rssAfterIdleMb: number;
  shutdownS: number;
  exit: string;
  leftovers: number;
  /** The most launches in flight at once during the boot, from the emperor's log. */
  peakLaunches: string;
  oddLog: string[];
}

async function ours(base: string): Promise<OurFigures> {
  const dir = join(base, 'jailctl');
  mkdirSync(dir);
  const vassals = join(dir, 'vassals');
  const sock = join(dir, 'stats.sock');
  const logFile = join(dir, 'emperor.log');
  writeVassals(vassals, VASSALS, '[jail]\nunshare = fs,pid,net,ipc,uts\nuid = nobody\nunprivileged-binary-patch-arg = sleep 86400\n');

  const t0 = process.hrtime.bigint();
  const child = startProcess(JAILCTL, ['emperor', '--emperor', vassals, '--emperor-stats', sock, '--emperor-control-socket', `${sock}.control`, '--emperor-logs-dir', `${vassals}.logs`], logFile);
  const pid = child.pid!;
  const procs = new Map<number, string>(); // every jail init and program, for the leftover check
  try {
    await until('the stats socket', 30, () => statsVassals(sock));
    const statsUpS = secondsSince(t0);
    const running = await until(`${VASSALS} running vassals`, 300, async () => {
      const vs = await statsVassals(sock);
      return vs && vs.length === VASSALS && vs.every((v) => v.state === 'running') ? vs : undefined;
    });
    const allRunningS = secondsSince(t0);
    const rss = rssMb(pid);
    for (const v of running)
      for (const p of [v.pid, ...children(v.pid)]) procs.set(p, startTime(p)!);

    const timeFetch = async (request: string): Promise<{ ms: number; bytes: number }> => {
      const a = process.hrtime.bigint();
      const doc = await fetchStats(sock, request);
      return { ms: Number(process.hrtime.bigint() - a) / 1e6, bytes: Buffer.byteLength(doc) };
    };
    const raw: number[] = [];
    const http: number[] = [];
    let statsBytes = 0;
    for (let i = 0; i < STATS_FETCHES; i++) {
      const r = await timeFetch('');
      raw.push(r.ms);
      statsBytes = r.bytes;
    }
    for (let i = 0; i < STATS_FETCHES; i++) http.push((await timeFetch('GET / HTTP/1.0\r\n\r\n')).ms);

    await until('every vassal loyal', 60, async () => ((await statsVassals(sock))?.every((v) => v.loyal > 0) ? true : undefined));
    const idle = await idleCpu(pid);
    const rssAfterIdleMb = rssMb(pid);

    const t1 = process.hrtime.bigint();
    child.kill('SIGTERM');
    await exitOf(child);
    const shutdownS = secondsSince(t1);
    const leftovers = [...procs].filter(([p, start]) => startTime(p) === start).length;
    const log = readFileSync(logFile, 'utf8');
    const peakLaunches = /launch storm over: \d+ launches, at most (\d+) in flight/.exec(log)?.[1] ?? 'bound not reached';
    const oddLog = log
      .split('\n')
      .filter((l) => l && !/\] (watching |stats on |v\d+\.ini: (new config|running|loyal|stopped)|SIGTERM: stopping|bye|\d+ launches in flight|launch storm over)/.test(l));
    return {
      statsUpS, allRunningS, rssMb: rss, idle, rssAfterIdleMb, peakLaunches,
      rawStatsMs: median(raw), httpStatsMs: median(http), statsBytes,
      shutdownS, exit: `code ${child.exitCode} signal ${child.signalCode}`, leftovers, oddLog,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitOf(child);
    killLeftovers(procs);
  }
}

async function uwsgi(base: string): Promise<Figures> {
  const dir = join(base, 'uwsgi');
  mkdirSync(dir);
  const vassals = join(dir, 'vassals');
  writeVassals(vassals, UWSGI_VASSALS, '[uwsgi]\nunshare = fs,pid,net,ipc,uts\nuid = nobody\ngid = nogroup\nunprivileged-binary-patch-arg = exec sleep 86400\n');

  const t0 = process.hrtime.bigint();
  const child = startProcess('uwsgi', ['--emperor', vassals], join(dir, 'emperor.log'));
  const pid = child.pid!;
  const procs = new Map<number, string>();
  const track = (): number[] => {
    const kids = children(pid);
    for (const k of kids) if (!procs.has(k)) procs.set(k, startTime(k) ?? '');
    return kids;
  };
  try {
    await until(`${UWSGI_VASSALS} vassals running sleep`, 600, () =>
      track().filter((k) => comm(k) === 'sleep').length === UWSGI_VASSALS ? true : undefined,
    );
    const allRunningS = secondsSince(t0);
    const rss = rssMb(pid);
    const idle = await idleCpu(pid); // its vassals never become loyal (no protocol): the same settle as ours
    return { allRunningS, rssMb: rss, idle };
  } finally {
    track();
    child.kill('SIGKILL');
    await exitOf(child);
    killLeftovers(procs);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:scale needs root (namespaces, uid changes)');
  const base = mkdtempSync(join(tmpdir(), 'jailctl-bench-scale-'));
  try {
    const a = await ours(base);
    await sleep(10_000); // the kernel tears down the jails' network namespaces in the background
    const b = await uwsgi(base);

    const row = (label: string, value: string, target = ''): void => console.log(`  ${label.padEnd(30)} ${value.padEnd(12)} ${target}`);
    const check = (value: number, max: number, unit: string): string => `target <= ${max} ${unit}`.padEnd(18) + (value <= max ? 'OK' : 'MISSED');
    console.log(`\njailctl emperor, ${VASSALS} vassals (fs,pid,net,ipc,uts; uid nobody; sleep 86400):\n`);
    row('first stats answer', `${a.statsUpS.toFixed(2)} s`, 'after spawn');
    row('all running (stats)', `${a.allRunningS.toFixed(2)} s`, check(a.allRunningS, TARGET.allRunningS, 's'));
    row('emperor RSS, all running', `${a.rssMb.toFixed(1)} MB`, check(a.rssMb, TARGET.rssMb, 'MB'));
    row('emperor RSS after idle', `${a.rssAfterIdleMb.toFixed(1)} MB`);
    row(`emperor CPU at rest, ${IDLE_S} s`, `${a.idle.mean.toFixed(3)} %`, check(a.idle.mean, TARGET.idleCpuPct, '%'));
    row(`  busiest ${WINDOW_S} s window`, `${a.idle.max.toFixed(3)} %`, `(after ${SETTLE_S} s settling)`);
    row('launches in flight, at most', a.peakLaunches, 'emperor-max-launches');
    row(`stats (${(a.statsBytes / 1024).toFixed(0)} KiB), raw`, `${a.rawStatsMs.toFixed(2)} ms`, `median of ${STATS_FETCHES}`);
    row('stats, HTTP GET', `${a.httpStatsMs.toFixed(2)} ms`, `median of ${STATS_FETCHES}`);
    row('SIGTERM → emperor exit', `${a.shutdownS.toFixed(2)} s`, a.exit);
    row('jail processes left', String(a.leftovers), a.leftovers === 0 ? 'OK' : 'MISSED');
    if (a.oddLog.length > 0) console.log(`  log lines beyond the lifecycle ones (${a.oddLog.length}):\n    ${a.oddLog.slice(0, 10).join('\n    ')}`);

    console.log(`\nuWSGI 2.0.21 emperor, ${UWSGI_VASSALS} vassals (same options, unshare in the vassal file):\n`);
    const ratio = (x: number, y: number): string => (UWSGI_VASSALS === VASSALS ? `ours/uWSGI = ${(x / y).toFixed(2)}` : '');
    row('all running (all are sleep)', `${b.allRunningS.toFixed(2)} s`, ratio(a.allRunningS, b.allRunningS));
    row('emperor RSS, all running', `${b.rssMb.toFixed(1)} MB`, ratio(a.rssMb, b.rssMb));
    row(`emperor CPU at rest, ${IDLE_S} s`, `${b.idle.mean.toFixed(3)} %`, b.idle.mean > 0 ? ratio(a.idle.mean, b.idle.mean) : 'ours/uWSGI: uWSGI used 0 ticks');
    row(`  busiest ${WINDOW_S} s window`, `${b.idle.max.toFixed(3)} %`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:scale: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
