// npm run bench:ondemand (root) — on-demand vassals (socket activation), against uWSGI's
// emperor in the same run. Three set-ups, each with its own emperor and vassal directory:
//   (a) jailctl + Node app    our emperor, our app server (`app = server.mjs`, a jail with
//                             fs,pid,net,ipc,uts namespaces, uid nobody);
//   (b) jailctl + uWSGI PSGI  our emperor with --binary-path /usr/bin/uwsgi, an unmodified
//                             uWSGI (protocol = http, plugins = psgi, master, uid nobody);
//   (c) uWSGI + uWSGI PSGI    `uwsgi --emperor` with the same [uwsgi] file (uWSGI starts as
//                             root and drops to nobody itself; ours applies `uid` in the jail).
// (a) and (b) need an emperor each: with binary-path set, a file with `app` runs uWSGI too.
// Every emperor runs with --emperor-on-demand-extension .socket: NAME.ini.socket holds a
// 127.0.0.1 port; the emperor holds the socket and spawns the vassal at the first connection,
// which waits in the backlog. Every request is a fresh TCP connection (`Connection: close`),
// timed from connect() until the response has ended; it counts only as an HTTP 200 with the
// app's body. Measured:
//   cold     a request while nothing runs, until its 200: the vassal (idle = 1, die-on-idle)
//            is spawned by it. Before every cycle the bench waits until every set-up's cold
//            vassal is back on demand — ours: stats state `on-demand`; uWSGI: its `back to
//            "on demand"` log line — and no process under an emperor is left (/proc), then a
//            random pause (up to PAUSE_MS). The set-ups take turns cycle by cycle (the order
//            rotates). The first WARMUP cycles of each are not counted.
//   warm     a second vassal with no idle options, spawned by a first request, then 50
//            requests not counted, then JAILCTL_BENCH_WARM (1000) sequential ones: p50, p99.
//            The three set-ups take turns request by request (the order rotates), so that
//            whatever else the machine does meanwhile falls on all three alike.
//   reloads  that vassal under load: JAILCTL_BENCH_LOAD (1000) requests from 4 concurrent
//            clients (more if the touches take longer) while its file is touched 10 times
//            (mtime moved on by 1 s: uWSGI compares whole seconds), each touch 150 ms after
//            the previous reload settled — ours: its `reloaded` log line; uWSGI: `vassal
//            NAME is ready to accept requests`. A refused or reset connection, a non-200 or
//            no answer within 10 s is a failure. uWSGI's emperor only sees a touch at its next
//            directory scan (emperor-freq, 3 s), so its touches come ~3 s apart; touch →
//            settled (p50, max) runs from the touch until that log line.
// The three emperors run side by side from start to end (each holds its sockets, nothing runs
// until a connection); cold cycles take turns, one set-up at a time and each only once every
// cold vassal has left; reloads take one set-up at a time, (a) then (b) then (c).
// Sizes: JAILCTL_BENCH_CYCLES (20), JAILCTL_BENCH_WARM (1000), JAILCTL_BENCH_LOAD (1000).
// Every process under an emperor is recorded with its start time (polled from /proc every
// 20 ms) and SIGKILLed afterwards only if that same process still runs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { children, percentile, procStat } from './proc';
import { elapsedMs, fetchStats, freePort, hit as get, sleep, until, type Hit } from './http';

const ROOT = join(__dirname, '..');
// The emperor as users run it: bin/jailctl over the compiled dist/ (`npm run compile` first).
const JAILCTL = join(ROOT, 'bin', 'jailctl');
// Each emperor of the run gets a control socket and logs of its own, beside its stats: two
// at once (or a host's own emperor) would meet at /run/jailctl/emperor.sock.
const ownSockets = (stats: string): string[] => ['--emperor-control-socket', join(dirname(stats), 'control.sock'), '--emperor-logs-dir', join(dirname(stats), 'logs')];
execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
const CYCLES = Number(process.env.JAILCTL_BENCH_CYCLES ?? 20);
const WARM = Number(process.env.JAILCTL_BENCH_WARM ?? 1000);
const LOAD = Number(process.env.JAILCTL_BENCH_LOAD ?? 1000);
const WARMUP = 2;
const WARM_UNCOUNTED = 50;
const PAUSE_MS = 250;
const CLIENTS = 4;
const RELOADS = 10;
const RELOAD_GAP_MS = 150;
const REQUEST_TIMEOUT_MS = 10_000;
const COLD_TIMEOUT_MS = 30_000;
/** uWSGI's figure for a cold first request, from the issue. */
const ISSUE_UWSGI_COLD_MS = 72;
const UWSGI = '/usr/bin/uwsgi';

const APP = "export default (req, res) => res.end('hi\\n');\n";
const PSGI = "my $app = sub { return [200, ['Content-Type' => 'text/plain'], [\"hi\\n\"]]; };\n";
const BODY = 'hi\n';

type Key = 'a' | 'b' | 'c';

interface Setup {
  readonly key: Key;
  readonly label: string;
  readonly ours: boolean;
  command(vassals: string, stats: string): [string, string[]];
  /** The vassal file; `idle` adds idle = 1 and die-on-idle. */
  vassal(dir: string, idle: boolean): string;
  /** A log line that says the vassal `name` has settled after a reload. */
  settled(name: string): RegExp;
  /** A log line that says the vassal `name` is back on demand (uWSGI; ours asks stats). */
  backOnDemand(name: string): RegExp;
  /** The emperor holds the socket of `name`. */
  holding(name: string): RegExp;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const uwsgiVassal = (dir: string, idle: boolean): string =>
  ['[uwsgi]', 'plugins = psgi', `psgi = ${join(dir, 'hello.psgi')}`, 'protocol = http', 'master = true', 'processes = 1',
    ...(idle ? ['idle = 1', 'die-on-idle = true'] : []), 'uid = nobody', ''].join('\n');

const oursCommon = {
  ours: true,
  settled: (name: string) => new RegExp(`\\[emperor\\] ${esc(name)}: reloaded$`, 'gm'),
  backOnDemand: (name: string) => new RegExp(`\\[emperor\\] ${esc(name)}: .*back to on demand$`, 'gm'),
  holding: (name: string) => new RegExp(`\\[emperor\\] ${esc(name)}: on demand, holding `, 'gm'),
};

const SETUPS: readonly Setup[] = [
  {
    key: 'a',
    label: 'jailctl + Node app',
    ...oursCommon,
    command: (vassals, stats) => [JAILCTL, ['emperor', '--emperor', vassals, '--emperor-on-demand-extension', '.socket', '--emperor-stats', stats, ...ownSockets(stats)]],
    vassal: (_dir, idle) =>
      ['[jail]', 'unshare = fs,pid,net,ipc,uts', 'uid = nobody', 'app = server.mjs', ...(idle ? ['idle = 1', 'die-on-idle = true'] : []), 'processes = 1', ''].join('\n'),
  },
  {
    key: 'b',
    label: 'jailctl + uWSGI PSGI',
    ...oursCommon,
    command: (vassals, stats) => [JAILCTL, ['emperor', '--emperor', vassals, '--emperor-on-demand-extension', '.socket', '--binary-path', UWSGI, '--emperor-stats', stats, ...ownSockets(stats)]],
    vassal: uwsgiVassal,
  },
  {
    key: 'c',
    label: 'uWSGI emperor + PSGI',
    ours: false,
    command: (vassals) => [UWSGI, ['--emperor', vassals, '--emperor-on-demand-extension', '.socket']],
    vassal: uwsgiVassal,
    settled: (name) => new RegExp(`\\[emperor\\] vassal ${esc(name)} is ready to accept requests`, 'g'),
    backOnDemand: (name) => new RegExp(`${esc(name)} -> back to "on demand" mode`, 'g'),
    holding: (name) => new RegExp(`${esc(name)} -> "on demand" instance detected`, 'g'),
  },
];

interface StatsVassal {
  id: string;
  pid: number;
  state: string;
}

interface Figures {
  cold: number[];
  coldFailed: string[];
  warm: number[];
  warmFailed: string[];
  loadTotal: number;
  loadFailed: Map<string, number>;
  loadSeconds: number;
  /** ms from each touch until the reload settled; undefined: not within the timeout. */
  settle: Array<number | undefined>;
  /** Ours: ms from its `a connection …; spawning` to its `running (pid N)` line, per counted cycle. */
  coldLaunch: number[];
  oddLog: string[];
  leftovers: number;
}

// Every live (not zombie) process below `pid`, with its start time.
function descendants(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  const todo = children(pid);
  while (todo.length > 0) {
    const p = todo.pop()!;
    const st = procStat(p);
    if (!st || st.state === 'Z' || out.has(p)) continue;
    out.set(p, st.start);
    todo.push(...children(p));
  }
  return out;
}

// One GET; a 200 counts only with the app's body.
async function hit(port: number, timeoutMs: number): Promise<Hit> {
  const r = await get(port, timeoutMs);
  return r.ok && r.body !== BODY ? { ok: false, ms: r.ms, why: 'wrong body' } : r;
}

async function statsVassal(path: string, id: string): Promise<StatsVassal | undefined> {
  return (await fetchStats<{ vassals: StatsVassal[] }>(path))?.vassals.find((v) => v.id === id);
}

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

// One emperor with its two vassals, cold.ini and busy.ini, from start to cleanup.
class EmperorRun {
  readonly f: Figures = { cold: [], coldFailed: [], warm: [], warmFailed: [], loadTotal: 0, loadFailed: new Map(), loadSeconds: 0, settle: [], coldLaunch: [], oddLog: [], leftovers: 0 };
  private readonly dir: string;
  private readonly vassals: string;
  private readonly stats: string;
  private readonly logFile: string;
  private readonly busyFile: string;
  private coldPort = 0;
  busyPort = 0;
  private child: ChildProcess | undefined;
  // Every process under the emperor, with its start time, so that cleanup never hits a reused
  // pid; `helpers` are those already there before any vassal ran (none expected).
  private readonly seen = new Map<number, string>();
  private helpers = new Set<number>();
  private tracker: NodeJS.Timeout | undefined;
  /** Cold cycles begun: uWSGI says `back to "on demand"` once per cycle. */
  private spawned = 0;

  constructor(readonly setup: Setup, base: string) {
    this.dir = join(base, setup.key);
    this.vassals = join(this.dir, 'vassals');
    this.stats = join(this.dir, 'stats.sock');
    this.logFile = join(this.dir, 'emperor.log');
    this.busyFile = join(this.vassals, 'busy.ini');
  }

  private logText(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  private track(): Map<number, string> {
    const now = this.child?.pid !== undefined ? descendants(this.child.pid) : new Map<number, string>();
    for (const [p, start] of now) this.seen.set(p, start);
    return now;
  }

  private vassalProcs(): number[] {
    return [...this.track().keys()].filter((p) => !this.helpers.has(p));
  }

  async start(base: string): Promise<void> {
    const { setup, dir, vassals } = this;
    mkdirSync(vassals, { recursive: true });
    // The vassals run as nobody: every directory on the way must let it in.
    for (const d of [base, dir, vassals]) chmodSync(d, 0o755);
    writeFileSync(join(dir, 'hello.psgi'), PSGI);
    writeFileSync(join(vassals, 'server.mjs'), APP);
    this.coldPort = await freePort();
    this.busyPort = await freePort();
    writeFileSync(join(vassals, 'cold.ini'), setup.vassal(dir, true));
    writeFileSync(join(vassals, 'cold.ini.socket'), `127.0.0.1:${this.coldPort}\n`);
    writeFileSync(this.busyFile, setup.vassal(dir, false));
    writeFileSync(join(vassals, 'busy.ini.socket'), `127.0.0.1:${this.busyPort}\n`);

    const log = openSync(this.logFile, 'w');
    const [cmd, args] = setup.command(vassals, this.stats);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', log, log] });
    this.child = child;
    closeSync(log);
    this.tracker = setInterval(() => this.track(), 20);
    await until(`${setup.label}: the emperor to hold both sockets`, 15_000, () => {
      if (child.exitCode !== null) throw new Error(`${setup.label}: the emperor exited (${child.exitCode}):\n${this.logText()}`);
      const t = this.logText();
      return count(t, setup.holding('cold.ini')) > 0 && count(t, setup.holding('busy.ini')) > 0;
    });
    if (setup.ours) await until(`${setup.label}: stats`, 10_000, async () => (await statsVassal(this.stats, 'cold.ini'))?.state === 'on-demand');
    this.helpers = new Set(this.track().keys());
  }

  // 1. Cold first requests, each after the vassal has left.
  // Until cold.ini is back on demand, with nothing of it left running.
  async onDemandAgain(what: string): Promise<void> {
    const { setup } = this;
    await until(`${setup.label}: cold.ini back on demand (${what})`, COLD_TIMEOUT_MS, async () => {
      if (this.vassalProcs().length > 0) return false;
      if (setup.ours) return (await statsVassal(this.stats, 'cold.ini'))?.state === 'on-demand';
      return count(this.logText(), setup.backOnDemand('cold.ini')) >= this.spawned;
    });
  }

  // One cold first request (cycle i); the caller has waited until every set-up is on demand.
  async coldCycle(i: number): Promise<void> {
    const r = await hit(this.coldPort, COLD_TIMEOUT_MS);
    this.spawned++;
    if (i < WARMUP) return;
    if (r.ok) this.f.cold.push(r.ms);
    else this.f.coldFailed.push(r.why!);
  }

  // 2. The vassal that stays: its first request spawns it.
  async spawnBusy(): Promise<void> {
    const first = await hit(this.busyPort, COLD_TIMEOUT_MS);
    if (!first.ok) throw new Error(`${this.setup.label}: busy.ini did not answer its first request (${first.why}):\n${this.logText().slice(-3000)}`);
    if (this.setup.ours) await until(`${this.setup.label}: busy.ini running`, 10_000, async () => (await statsVassal(this.stats, 'busy.ini'))?.state === 'running');
  }

  // 3. Reloads under load.
  async reloads(): Promise<void> {
    const { setup, f } = this;
    let touching = true;
    const t0 = process.hrtime.bigint();
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (touching || f.loadTotal < LOAD) {
        f.loadTotal++;
        const r = await hit(this.busyPort, REQUEST_TIMEOUT_MS);
        if (!r.ok) f.loadFailed.set(r.why!, (f.loadFailed.get(r.why!) ?? 0) + 1);
      }
    });
    try {
      for (let i = 0; i < RELOADS; i++) {
        await sleep(RELOAD_GAP_MS);
        const before = count(this.logText(), setup.settled('busy.ini'));
        const mtime = statSync(this.busyFile).mtimeMs;
        const t = process.hrtime.bigint();
        utimesSync(this.busyFile, new Date(), new Date(Math.max(mtime + 1000, Date.now())));
        try {
          await until(`busy.ini reload ${i + 1} to settle`, 15_000, () => count(this.logText(), setup.settled('busy.ini')) > before, 5);
          f.settle.push(elapsedMs(t));
        } catch {
          f.settle.push(undefined);
        }
      }
    } finally {
      touching = false;
      await Promise.all(clients);
    }
    f.loadSeconds = elapsedMs(t0) / 1000;
  }

  // SIGTERM (SIGKILL after 15 s), then SIGKILL to every process it had that still runs.
  async stop(): Promise<void> {
    if (this.tracker) clearInterval(this.tracker);
    const child = this.child;
    if (!child) return;
    this.track();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const kill = setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 15_000);
    await exitOf(child);
    clearTimeout(kill);
    for (const [pid, start] of this.seen) {
      if (procStat(pid)?.start !== start) continue;
      this.f.leftovers++;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    if (this.setup.ours) this.readOurLog();
  }

  private readOurLog(): void {
    const text = this.logText();
    // When ours saw the connection, when the jail's program ran (ms timestamps).
    let seenAt: number | undefined;
    const launches: number[] = [];
    for (const m of text.matchAll(/^(\S+) \[emperor\] cold\.ini: (a connection on|running \(pid)/gm)) {
      const t = Date.parse(m[1]!);
      if (m[2] === 'a connection on') seenAt = t;
      else if (seenAt !== undefined) launches.push(t - seenAt), (seenAt = undefined);
    }
    this.f.coldLaunch = launches.slice(WARMUP);
    this.f.oddLog = text
      .split('\n')
      .filter((l) => /\[(emperor|app-server)/.test(l))
      .filter((l) => !/\] (stats on |watching |(cold|busy)\.ini: (new config|on demand, holding|a connection on .*; spawning|running \(pid|loyal|going down \(back to on demand\)|exited with status 0; back to on demand|config changed; reload byte sent|reloaded|stopped)|SIGTERM: stopping|bye)/.test(l))
      .filter((l) => !/\[app-server \d+\] (serving |idle for 1 s: leaving|reloading: new workers first)/.test(l));
  }
}

// 1. Cold first requests, the three set-ups taking turns cycle by cycle (the order rotates),
// so that whatever else the machine does meanwhile falls on all three alike. Each starts once
// every cold vassal has left, after a random pause.
async function cold(runs: readonly EmperorRun[]): Promise<void> {
  for (let i = 0; i < WARMUP + CYCLES; i++)
    for (let j = 0; j < runs.length; j++) {
      for (const r of runs) await r.onDemandAgain(`cycle ${i}`);
      await sleep(Math.random() * PAUSE_MS);
      await runs[(i + j) % runs.length]!.coldCycle(i);
    }
  // Let the last cold vassals leave too, so that they do not run beside the next phases.
  for (const r of runs) await r.onDemandAgain('last');
}

// 2. Warm requests, one at a time, the three busy vassals taking turns (the order rotates), so
// that whatever else the machine does falls on all three alike.
async function warm(runs: readonly EmperorRun[]): Promise<void> {
  for (let i = 0; i < WARM_UNCOUNTED + WARM; i++)
    for (let j = 0; j < runs.length; j++) {
      const run = runs[(i + j) % runs.length]!;
      const r = await hit(run.busyPort, REQUEST_TIMEOUT_MS);
      if (i < WARM_UNCOUNTED) continue;
      if (r.ok) run.f.warm.push(r.ms);
      else run.f.warmFailed.push(r.why!);
    }
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '—';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:ondemand needs root (namespaces, uid changes)');
  const base = mkdtempSync(join(tmpdir(), 'jailctl-bench-ondemand-'));
  const runs = SETUPS.map((s) => new EmperorRun(s, base));
  const results = new Map<Key, Figures>(runs.map((r) => [r.setup.key, r.f]));
  try {
    // All three emperors hold their sockets throughout; phases 1 and 3 take one at a time.
    for (const r of runs) await r.start(base);
    await cold(runs);
    for (const r of runs) await r.spawnBusy();
    await warm(runs);
    for (const r of runs) await r.reloads();
  } finally {
    for (const r of runs) await r.stop();
    rmSync(base, { recursive: true, force: true });
  }
  const [a, b, c] = (['a', 'b', 'c'] as const).map((k) => results.get(k)!);

  const W = 25;
  const ratio = (x: number, y: number): string => (Number.isNaN(x) || Number.isNaN(y) ? '—' : `${(x / y).toFixed(2)}`);
  const row = (label: string, xs: [string, string, string], r: [string, string] = ['', '']): void =>
    console.log(`  ${label.padEnd(30)} ${xs.map((x) => x.padStart(W)).join(' ')}   ${r[0].padStart(6)} ${r[1].padStart(6)}`);
  const numRow = (label: string, pick: (f: Figures) => number): void => {
    const [x, y, z] = [pick(a), pick(b), pick(c)];
    row(label, [fmt(x), fmt(y), fmt(z)], [ratio(x, z), ratio(y, z)]);
  };
  const failed = (f: Figures): number => [...f.loadFailed.values()].reduce((s, n) => s + n, 0);
  const settled = (f: Figures): number[] => f.settle.filter((x): x is number => x !== undefined);

  console.log(`\non-demand vassals, ms from connect() to the end of an HTTP 200 (fresh TCP connection each, Connection: close)`);
  console.log(`cold: ${CYCLES} cycles after ${WARMUP} warm-up; warm: ${WARM} sequential requests after ${WARM_UNCOUNTED}; reloads: ${RELOADS} touches under ${CLIENTS} clients, ≥ ${LOAD} requests\n`);
  row('', SETUPS.map((s) => `(${s.key}) ${s.label}`) as [string, string, string], ['a/c', 'b/c']);
  numRow('cold first request p50', (f) => percentile(f.cold, 0.5));
  numRow('cold first request p90', (f) => percentile(f.cold, 0.9));
  numRow('cold first request max', (f) => percentile(f.cold, 1));
  row('cold: seen → running (log)', [a, b].map((f) => fmt(percentile(f.coldLaunch, 0.5))).concat('—') as [string, string, string]);
  row('cold requests failed', [a, b, c].map((f) => `${f.coldFailed.length}/${f.cold.length + f.coldFailed.length}`) as [string, string, string]);
  numRow('warm request p50', (f) => percentile(f.warm, 0.5));
  numRow('warm request p99', (f) => percentile(f.warm, 0.99));
  row('warm requests failed', [a, b, c].map((f) => `${f.warmFailed.length}/${f.warm.length + f.warmFailed.length}`) as [string, string, string]);
  row(`failed across ${RELOADS} reloads`, [a, b, c].map((f) => `${failed(f)}/${f.loadTotal}`) as [string, string, string]);
  row('reloads settled', [a, b, c].map((f) => `${settled(f).length}/${f.settle.length}`) as [string, string, string]);
  numRow('touch → settled p50', (f) => percentile(settled(f), 0.5));
  numRow('touch → settled max', (f) => percentile(settled(f), 1));
  numRow('load phase, s', (f) => f.loadSeconds);
  console.log('');
  // The issue's measure: our app server against uWSGI's PSGI vassal, both under our emperor
  // in the same jail, so the emperor's part of a cold start is the same on both sides.
  const coldA = percentile(a.cold, 0.5);
  console.log(`  Node cold start: cold first request p50, Node app / uWSGI PSGI under our emperor: a/b = ${ratio(coldA, percentile(b.cold, 0.5))} (target ≤ 1); under uWSGI's own emperor: a/c = ${ratio(coldA, percentile(c.cold, 0.5))}`);
  // What is left once the emperor's launch (seen → running, from its log) is taken off: the
  // program's own start. (a)'s jail has net, ipc and uts namespaces too, (b)'s does not.
  const own = (f: Figures): number => percentile(f.cold, 0.5) - percentile(f.coldLaunch, 0.5);
  console.log(`  the program's own part (cold p50 − seen → running p50): (a) ${fmt(own(a))} ms, (b) ${fmt(own(b))} ms, a/b = ${ratio(own(a), own(b))}`);
  console.log(`  the issue's figure for uWSGI's cold first request: ${ISSUE_UWSGI_COLD_MS} ms`);
  console.log(`  seen → running: p50 of ours' log timestamps (ms resolution) from \`a connection …; spawning\` to \`running (pid N)\``);
  console.log(`  uWSGI's emperor sees a touch at its next directory scan (every 3 s): its touch → settled includes that wait`);
  for (const s of SETUPS) {
    const f = results.get(s.key)!;
    const tag = `(${s.key}) ${s.label}`;
    if (f.coldFailed.length > 0) console.log(`  ${tag}: cold failures: ${f.coldFailed.join(', ')}`);
    if (f.warmFailed.length > 0) console.log(`  ${tag}: warm failures: ${[...new Set(f.warmFailed)].join(', ')}`);
    if (f.loadFailed.size > 0) console.log(`  ${tag}: failures under reloads: ${[...f.loadFailed].map(([why, n]) => `${why} ×${n}`).join(', ')}`);
    if (f.leftovers > 0) console.log(`  ${tag}: ${f.leftovers} process(es) still ran after the emperor exited (SIGKILLed)`);
    if (f.oddLog.length > 0) console.log(`  ${tag}: log lines beyond the lifecycle ones (${f.oddLog.length}):\n    ${f.oddLog.slice(0, 10).join('\n    ')}`);
  }
}

main().catch((err: unknown) => {
  console.error(`bench:ondemand: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
