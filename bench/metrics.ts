// npm run bench:metrics (root) — what a Prometheus scrape of many vassals costs the emperor.
// N vassal files (each a jail with fs,pid,ipc namespaces, uid nobody, memory-max, running
// `sleep 86400`) under our emperor with --emperor-metrics and --emperor-stats on UNIX
// sockets; once every vassal runs, K scrapes of GET /metrics one after the other, and the
// CPU time over them (utime+stime, /proc/PID/stat) divided by K of the emperor and of the
// metrics exporter beside it (which reads the cgroups and writes the text), and their sum
// (what a scrape costs the box); the same for K fetches of our stats document. The peer: uWSGI 2.0.21's emperor with the same N vassals
// and its --emperor-stats (uWSGI has no Prometheus endpoint: its exporter was never merged),
// K fetches, its CPU per fetch. Target: a scrape of 1,000 vassals <= 10 ms of CPU.
// Sizes: JAILCTL_BENCH_VASSALS (1000), JAILCTL_BENCH_UWSGI_VASSALS (the same),
// JAILCTL_BENCH_SCRAPES (50).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './http';
import { children, procStat } from './proc';

const ROOT = join(__dirname, '..');
const JAILCTL = join(ROOT, 'bin', 'jailctl');
execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
const VASSALS = Number(process.env.JAILCTL_BENCH_VASSALS ?? 1000);
const UWSGI_VASSALS = Number(process.env.JAILCTL_BENCH_UWSGI_VASSALS ?? VASSALS);
const SCRAPES = Number(process.env.JAILCTL_BENCH_SCRAPES ?? 50);
const TARGET_MS = 10;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

// utime + stime of a process (its threads included), in ms.
function cpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1000;
}

function raw(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

function scrape(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: ${res.statusCode}`))));
    }).on('error', reject).end();
  });
}

// CPU of `pid` (and of `also`) per call of `fetch`, over SCRAPES calls one after the other
// (after one warm-up).
async function cpuPerCall(pid: number, fetch: () => Promise<string>, also?: () => number | undefined): Promise<{ ms: number; alsoMs: number; bytes: number }> {
  const bytes = Buffer.byteLength(await fetch());
  const other = also?.();
  const a = cpuMs(pid);
  const b = other === undefined ? 0 : cpuMs(other);
  for (let i = 0; i < SCRAPES; i++) await fetch();
  return { ms: (cpuMs(pid) - a) / SCRAPES, alsoMs: other === undefined ? 0 : (cpuMs(other) - b) / SCRAPES, bytes };
}

// The metrics exporter: the emperor's child running metrics-exporter.js.
function exporterOf(emperor: number): number | undefined {
  return children(emperor).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('metrics-exporter');
    } catch {
      return false;
    }
  });
}

function start(cmd: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, 'w');
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', log, log] });
  closeSync(log);
  return child;
}

async function end(child: ChildProcess, procs: ReadonlyMap<number, string>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  for (const [pid, startTime] of procs) if (procStat(pid)?.start === startTime) process.kill(pid, 'SIGKILL');
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function writeVassals(dir: string, n: number, text: string): void {
  mkdirSync(dir);
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `v${String(i).padStart(4, '0')}.ini`), text);
}

function track(procs: Map<number, string>, pids: readonly number[]): void {
  for (const p of pids) {
    const s = procStat(p);
    if (s && !procs.has(p)) procs.set(p, s.start);
  }
}

async function ours(base: string): Promise<{ metrics: { ms: number; alsoMs: number; bytes: number }; stats: { ms: number; bytes: number } }> {
  const vassals = join(base, 'jailctl');
  writeVassals(vassals, VASSALS, '[jail]\nunshare = fs,pid,ipc\nuid = nobody\nmemory-max = 64m\nunprivileged-binary-patch-arg = sleep 86400\n');
  const stats = join(base, 'stats.sock');
  const metrics = join(base, 'metrics.sock');
  const child = start(JAILCTL, ['emperor', '--emperor', vassals, '--emperor-stats', stats, '--emperor-metrics', metrics, '--emperor-control-socket', join(base, 'control.sock'), '--emperor-logs-dir', join(base, 'logs')], join(base, 'jailctl.log'));
  const procs = new Map<number, string>();
  try {
    await until(`${VASSALS} running vassals`, 600_000, async () => {
      try {
        const doc = JSON.parse(await raw(stats)) as { vassals: Array<{ state: string; pid: number }> };
        if (doc.vassals.length !== VASSALS || !doc.vassals.every((v) => v.state === 'running')) return false;
        for (const v of doc.vassals) track(procs, [v.pid, ...children(v.pid)]);
        return true;
      } catch {
        return false;
      }
    }, 200);
    const m = await cpuPerCall(child.pid!, () => scrape(metrics), () => exporterOf(child.pid!));
    const s = await cpuPerCall(child.pid!, () => raw(stats));
    return { metrics: m, stats: s };
  } finally {
    await end(child, procs);
  }
}

async function uwsgi(base: string): Promise<{ ms: number; bytes: number }> {
  const vassals = join(base, 'uwsgi');
  writeVassals(vassals, UWSGI_VASSALS, '[uwsgi]\nunshare = fs,pid,ipc\nuid = nobody\ngid = nogroup\nunprivileged-binary-patch-arg = exec sleep 86400\n');
  const stats = join(base, 'uwsgi-stats.sock');
  const child = start('uwsgi', ['--emperor', vassals, '--emperor-stats', stats], join(base, 'uwsgi.log'));
  const procs = new Map<number, string>();
  try {
    await until(`${UWSGI_VASSALS} uWSGI vassals running sleep`, 600_000, () => {
      const kids = children(child.pid!);
      track(procs, kids);
      return kids.filter((k) => comm(k) === 'sleep').length === UWSGI_VASSALS;
    }, 200);
    return await cpuPerCall(child.pid!, () => raw(stats));
  } finally {
    track(procs, children(child.pid!));
    await end(child, procs);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:metrics needs root (namespaces, uid changes)');
  const base = mkdtempSync(join(tmpdir(), 'jailctl-bench-metrics-'));
  try {
    const a = await ours(base);
    const b = await uwsgi(base);
    const row = (label: string, value: string, note = ''): void => console.log(`  ${label.padEnd(38)} ${value.padEnd(12)} ${note}`);
    console.log(`\nemperor CPU per request, ${SCRAPES} requests one after the other:\n`);
    row(`jailctl GET /metrics, ${VASSALS} vassals`, `${a.metrics.ms.toFixed(2)} ms`, `the emperor's; ${(a.metrics.bytes / 1024).toFixed(0)} KiB; target <= ${TARGET_MS} ms for 1000: ${a.metrics.ms * (1000 / Math.max(1, VASSALS)) <= TARGET_MS ? 'OK' : 'MISSED'}`);
    row('  the metrics exporter beside it', `${a.metrics.alsoMs.toFixed(2)} ms`, 'reads every cgroup, writes the text (prom-client)');
    row('  the box: emperor + exporter', `${(a.metrics.ms + a.metrics.alsoMs).toFixed(2)} ms`);
    row(`jailctl stats JSON, ${VASSALS} vassals`, `${a.stats.ms.toFixed(2)} ms`, `${(a.stats.bytes / 1024).toFixed(0)} KiB`);
    row(`uWSGI 2.0.21 stats JSON, ${UWSGI_VASSALS} vassals`, `${b.ms.toFixed(2)} ms`, `${(b.bytes / 1024).toFixed(0)} KiB`);
    if (UWSGI_VASSALS === VASSALS) row('ours /metrics / uWSGI stats', (a.metrics.ms / Math.max(b.ms, 0.01)).toFixed(2), '(uWSGI has no metrics endpoint; its stats are the nearest)');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:metrics: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
