// npm run bench:forkserver (root) — adopted vassals (forked from a fork-server base that
// loaded the app) against cold starts of the same app, in the same run, on the same machine.
// The app takes JAILCTL_BENCH_LOAD_S (3) seconds to load and holds a few MiB of data, as a
// real codebase does; every vassal serves it with one worker, as uid nobody.
//   drop     a vassal file dropped → its first 200: adopted (no program of its own: forked
//            from the base) and cold (`psgi = app.psgi`: the PSGI host loads the app itself),
//            JAILCTL_BENCH_DROPS (5) of each, taking turns. Target: adopted ≤ cold / 20
//            (uWSGI master, measured by the issue: 2.27 s adopted vs 5.33 s cold, 0.43).
//   many     JAILCTL_BENCH_MANY (100) files dropped at once → every one answers, adopted and
//            then cold; then the PSS of each vassal's processes (smaps_rollup: a page shared
//            by n processes counts 1/n in each). Targets: time ≤ 1/5 and PSS ≤ 40 % of cold
//            (uWSGI master: 26 s adopted vs 3.4 s cold; 3.7 MB vs 9.6 MB).
//   demand   on demand + fork server, nothing running → the first 200, against the same app
//            as a cold on-demand vassal of Debian's uWSGI (its emperor with
//            emperor-on-demand-extension), JAILCTL_BENCH_DEMAND (3) fresh vassals each.
//            Target: ours ≤ uWSGI / 3.
//   deploy   JAILCTL_BENCH_DEPLOY (20) adopted vassals under load (4 clients, round robin);
//            the app's code changes and the base file is touched: the emperor restarts the
//            base and re-adopts every vassal from it. Every vassal must serve the new code;
//            failed requests: 0.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, percentile } from './proc';
import { fetchStats, firstOk, freePort, hit, sleep, until } from './http';

const ROOT = join(__dirname, '..');
const JAILCTL = join(ROOT, 'bin', 'jailctl');
const UWSGI = '/usr/bin/uwsgi';
const LOAD_S = Number(process.env.JAILCTL_BENCH_LOAD_S ?? 3);
const DROPS = Number(process.env.JAILCTL_BENCH_DROPS ?? 5);
const MANY = Number(process.env.JAILCTL_BENCH_MANY ?? 100);
const DEMAND = Number(process.env.JAILCTL_BENCH_DEMAND ?? 3);
const DEPLOY = Number(process.env.JAILCTL_BENCH_DEPLOY ?? 20);
const TIMEOUT_MS = 60_000 + LOAD_S * 1000 * 4;
// JAILCTL_BENCH_PHASES: a comma list of drop, many-adopted, many-cold, demand, deploy (all by
// default), to time or profile one phase alone.
const PHASES = new Set((process.env.JAILCTL_BENCH_PHASES ?? 'drop,many-adopted,many-cold,demand,deploy').split(','));

execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });

// The app: a slow load, a 4 MiB string and a hash of 20,000 rows, then "Hello World" (and a
// version, for the deploy).
const appSource = (version: number): string => `my $blob = 'x' x (4 << 20);
my %table = map { $_ => "row $_" } 1 .. 20000;
select(undef, undef, undef, ${LOAD_S});
my $app = sub { return [200, ['Content-Type' => 'text/plain'], ["Hello World ${version} " . (length($blob) + keys %table)]]; };
`;

interface StatsDoc {
  vassals: Array<{ id: string; pid: number; state?: string; accepting?: boolean | number; adopted?: boolean | number }>;
}

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

// Pss of a process and everything below it, in kB.
function pssKb(pid: number): number {
  let kb = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      continue; // gone
    }
    todo.push(...children(p));
  }
  return kb;
}

// One of our emperors over its own directory, with a fork-server base (perlbase.ini).
class Emperor {
  readonly vassals: string;
  readonly stats: string;
  readonly sock: string;
  private readonly logFile: string;
  private child: ChildProcess | undefined;

  constructor(readonly dir: string, private readonly extra: string[] = []) {
    this.vassals = join(dir, 'vassals');
    this.stats = join(dir, 'stats.sock');
    this.logFile = join(dir, 'emperor.log');
    // Root's directory, closed to everyone else, as a base's socket must be in.
    this.sock = join(dir, 'fork', 'base.sock');
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  async start(): Promise<void> {
    mkdirSync(this.vassals, { recursive: true });
    mkdirSync(join(this.dir, 'fork'), { mode: 0o700 });
    writeFileSync(join(this.vassals, 'perlbase.ini'), `[jail]\nearly-psgi = ${join(this.dir, '..', 'app.psgi')}\nfork-server = ${this.sock}\n`);
    const log = openSync(this.logFile, 'w');
    this.child = spawn(JAILCTL, ['emperor', '--emperor', this.vassals, '--emperor-use-fork-server', this.sock, '--vassal-fork-base', 'perlbase.ini',
      '--emperor-stats', this.stats, '--emperor-control-socket', join(this.dir, 'control.sock'), '--emperor-logs-dir', join(this.dir, 'logs'), ...this.extra],
    { cwd: ROOT, stdio: ['ignore', log, log] });
    closeSync(log);
    await this.baseUp();
  }

  // The base has loaded the app and accepts adoptions.
  async baseUp(): Promise<void> {
    await until('the base to accept adoptions', TIMEOUT_MS, async () => {
      if (this.child?.exitCode !== null) throw new Error(`the emperor exited:\n${this.log()}`);
      const base = (await fetchStats<StatsDoc>(this.stats))?.vassals.find((v) => v.id === 'perlbase.ini');
      return Boolean(base?.accepting);
    }, 50);
  }

  async pidOf(id: string): Promise<number> {
    return (await fetchStats<StatsDoc>(this.stats))?.vassals.find((v) => v.id === id)?.pid ?? 0;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }
}

const adoptedFile = (port: number): string => `[jail]\nuid = nobody\nhttp-socket = 127.0.0.1:${port}\nprocesses = 1\n`;
const coldFile = (port: number, app: string): string => `[jail]\nuid = nobody\npsgi = ${app}\nhttp-socket = 127.0.0.1:${port}\nprocesses = 1\n`;

// drop: one file at a time, adopted and cold taking turns.
async function drops(e: Emperor, app: string): Promise<{ adopted: number[]; cold: number[] }> {
  const out = { adopted: [] as number[], cold: [] as number[] };
  for (let i = 0; i < DROPS; i++) {
    for (const kind of ['adopted', 'cold'] as const) {
      const port = await freePort();
      const file = join(e.vassals, `drop-${kind}-${i}.ini`);
      const t0 = process.hrtime.bigint();
      writeFileSync(file, kind === 'adopted' ? adoptedFile(port) : coldFile(port, app));
      await firstOk(port, TIMEOUT_MS);
      out[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
      rmSync(file);
    }
  }
  await quiet(e, 'drop-');
  return out;
}

// The vassals of a phase (id prefix) are gone, and a moment has passed: the next phase does
// not pay for their teardown (memory freed, cgroups removed).
async function quiet(e: Emperor, prefix: string): Promise<void> {
  await until(`the ${prefix}* vassals to go`, TIMEOUT_MS, async () => !(await fetchStats<StatsDoc>(e.stats))?.vassals.some((v) => v.id.startsWith(prefix)), 100);
  await sleep(1000);
}

// many: N files at once until every one answers; then the PSS of each.
async function many(e: Emperor, kind: 'adopted' | 'cold', app: string): Promise<{ ms: number; pssKb: number }> {
  const ports = await Promise.all(Array.from({ length: MANY }, () => freePort()));
  const t0 = process.hrtime.bigint();
  ports.forEach((port, i) => writeFileSync(join(e.vassals, `many-${kind}-${i}.ini`), kind === 'adopted' ? adoptedFile(port) : coldFile(port, app)));
  await Promise.all(ports.map((port) => firstOk(port, TIMEOUT_MS * 2)));
  const took = Number(process.hrtime.bigint() - t0) / 1e6;
  await sleep(500); // workers settle
  const pss: number[] = [];
  for (let i = 0; i < MANY; i++) pss.push(pssKb(await e.pidOf(`many-${kind}-${i}.ini`)));
  for (let i = 0; i < MANY; i++) rmSync(join(e.vassals, `many-${kind}-${i}.ini`));
  await quiet(e, 'many-');
  return { ms: took, pssKb: percentile(pss, 0.5) };
}

// demand, ours: a fresh on-demand vassal each time, adopted at its first connection.
async function demandOurs(e: Emperor): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < DEMAND; i++) {
    const port = await freePort();
    const name = `od-${i}.ini`;
    writeFileSync(join(e.vassals, `${name}.socket`), `127.0.0.1:${port}\n`);
    writeFileSync(join(e.vassals, name), '[jail]\nuid = nobody\nprocesses = 1\n');
    await until(`${name} on demand`, TIMEOUT_MS, async () => (await fetchStats<StatsDoc>(e.stats))?.vassals.find((v) => v.id === name)?.state === 'on-demand');
    out.push((await hitOnce(port)));
  }
  return out;
}

async function hitOnce(port: number): Promise<number> {
  const r = await hit(port, TIMEOUT_MS);
  if (!r.ok) throw new Error(`port ${port}: ${r.why}`);
  return r.ms;
}

// demand, the peer: Debian's uWSGI emperor, the same app as an on-demand PSGI vassal.
async function demandUwsgi(dir: string, app: string): Promise<number[]> {
  const vassals = join(dir, 'vassals');
  mkdirSync(vassals, { recursive: true });
  const logFile = join(dir, 'emperor.log');
  const log = openSync(logFile, 'w');
  const child = spawn(UWSGI, ['--emperor', vassals, '--emperor-on-demand-extension', '.socket'], { stdio: ['ignore', log, log] });
  closeSync(log);
  const out: number[] = [];
  try {
    for (let i = 0; i < DEMAND; i++) {
      const port = await freePort();
      const name = `od-${i}.ini`;
      writeFileSync(join(vassals, `${name}.socket`), `127.0.0.1:${port}\n`);
      writeFileSync(join(vassals, name), ['[uwsgi]', 'plugins = psgi', `psgi = ${app}`, 'protocol = http', 'master = true', 'processes = 1', 'uid = nobody', ''].join('\n'));
      await until(`uWSGI: ${name} on demand`, TIMEOUT_MS, () => readFileSync(logFile, 'utf8').includes(`${name} -> "on demand" instance detected`), 50);
      out.push(await hitOnce(port));
    }
  } finally {
    child.kill('SIGINT');
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  }
  return out;
}

// deploy: N adopted vassals under load; new code, the base touched; every vassal on it.
async function deploy(e: Emperor, app: string): Promise<{ requests: number; failed: Map<string, number>; settledMs: number }> {
  const ports = await Promise.all(Array.from({ length: DEPLOY }, () => freePort()));
  ports.forEach((port, i) => writeFileSync(join(e.vassals, `deploy-${i}.ini`), adoptedFile(port)));
  await Promise.all(ports.map((port) => firstOk(port, TIMEOUT_MS)));
  const latest = new Map<number, string>();
  const failed = new Map<string, number>();
  let requests = 0;
  let running = true;
  const client = async (k: number): Promise<void> => {
    for (let i = k; running; i++) {
      const port = ports[i % ports.length]!;
      const r = await hit(port, 10_000);
      requests++;
      if (r.ok) latest.set(port, r.body ?? '');
      else failed.set(r.why ?? '?', (failed.get(r.why ?? '?') ?? 0) + 1);
    }
  };
  const clients = [0, 1, 2, 3].map((k) => client(k * 5));
  await sleep(1000);
  writeFileSync(app, appSource(2));
  const t0 = process.hrtime.bigint();
  const now = new Date();
  utimesSync(join(e.vassals, 'perlbase.ini'), now, now);
  await until('every vassal on the new code', TIMEOUT_MS * 2, () => ports.every((p) => latest.get(p)?.startsWith('Hello World 2 ')), 50);
  const settledMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await sleep(1000);
  running = false;
  await Promise.all(clients);
  for (let i = 0; i < DEPLOY; i++) rmSync(join(e.vassals, `deploy-${i}.ini`));
  return { requests, failed, settledMs };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:forkserver runs as root (jails, cgroups, a root base)');
  const base = mkdtempSync('/tmp/jailctl-bench-fork-');
  chmodSync(base, 0o755);
  const app = join(base, 'app.psgi');
  writeFileSync(app, appSource(1));
  const e = new Emperor(join(base, 'ours'), ['--emperor-on-demand-extension', '.socket']);
  try {
    console.log(`bench:forkserver — app load ${LOAD_S} s; drop ${DROPS}, many ${MANY}, demand ${DEMAND}, deploy ${DEPLOY}`);
    await e.start();

    if (PHASES.has('drop')) {
      const d = await drops(e, app);
      const [a, c] = [percentile(d.adopted, 0.5), percentile(d.cold, 0.5)];
      console.log(`drop → first 200: adopted p50 ${ms(a)}, cold p50 ${ms(c)}; adopted/cold = ${(a / c).toFixed(3)} (target ≤ 0.05; uWSGI master 0.43)`);
    }

    const ma = PHASES.has('many-adopted') ? await many(e, 'adopted', app) : undefined;
    if (ma) console.log(`${MANY} adopted vassals → all answer: ${ms(ma.ms)}; PSS per vassal (p50) ${mb(ma.pssKb)}`);
    const mc = PHASES.has('many-cold') ? await many(e, 'cold', app) : undefined;
    if (mc) console.log(`${MANY} cold vassals → all answer: ${ms(mc.ms)}; PSS per vassal (p50) ${mb(mc.pssKb)}`);
    if (ma && mc) {
      console.log(`${MANY} vassals → all answer: adopted ${ms(ma.ms)}, cold ${ms(mc.ms)}; adopted/cold = ${(ma.ms / mc.ms).toFixed(3)} (target ≤ 0.2; uWSGI master 7.6)`);
      console.log(`PSS per vassal (p50): adopted ${mb(ma.pssKb)}, cold ${mb(mc.pssKb)}; adopted/cold = ${(ma.pssKb / mc.pssKb).toFixed(3)} (target ≤ 0.4; uWSGI master 0.39)`);
    }

    if (PHASES.has('demand')) {
      const ours = await demandOurs(e);
      const peer = await demandUwsgi(join(base, 'uwsgi'), app);
      const [o, u] = [percentile(ours, 0.5), percentile(peer, 0.5)];
      console.log(`on demand, nothing running → first 200: ours (adopted) p50 ${ms(o)}, uWSGI PSGI cold p50 ${ms(u)}; ours/uWSGI = ${(o / u).toFixed(3)} (target ≤ 0.33)`);
    }

    if (PHASES.has('deploy')) {
      const r = await deploy(e, app);
      const failures = [...r.failed].map(([why, n]) => `${n} ${why}`).join(', ') || 'none';
      console.log(`rolling deploy: ${DEPLOY} vassals, ${r.requests} requests, failed ${[...r.failed.values()].reduce((x, y) => x + y, 0)} (${failures}); every vassal on the new code ${ms(r.settledMs)} after the touch`);
    }
  } catch (err: unknown) {
    const kept = '/tmp/jailctl-bench-forkserver-failed.log';
    try {
      writeFileSync(kept, e.log());
    } catch {
      // no log to keep
    }
    console.error(`bench:forkserver failed: ${(err as Error).message}\n--- emperor log (tail; all of it in ${kept}) ---\n${safeTail(e)}`);
    process.exitCode = 1;
  } finally {
    await e.stop();
    for (const d of readdirSync(base)) if (d !== 'app.psgi') rmSync(join(base, d), { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
}

function safeTail(e: Emperor): string {
  try {
    return e.log().split('\n').slice(-40).join('\n');
  } catch {
    return '(no log)';
  }
}

void main();
