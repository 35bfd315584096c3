// npm run bench:pg (root) — vassals from PostgreSQL, in one run against two peers:
//   INSERT → exec        a row inserted, until its vassal's program runs: ours over LISTEN/
//                        NOTIFY, and uWSGI 2.0.21's pg:// (Debian's uwsgi-plugin-emperor-pg),
//                        which reads its rows again at its next pass; ratio of the p50s;
//   UPDATE host → exec   a row moved from one of our emperors to another, until the program
//                        runs on the second;
//   N rows → all running a single INSERT of N rows (default 1,000), until every program runs,
//                        against the same N vassals dropped as files into a directory watched
//                        by our dir:// source; ratio pg/files.
// The server is Debian's PostgreSQL 15 on a private data directory (test/helpers/postgres.ts).
// Each vassal writes its name to a FIFO before it execs sleep (bench/exec-fifo.ts).
// JAILCTL_BENCH_N (inserts, default 50), JAILCTL_BENCH_UWSGI_N (default 5), JAILCTL_BENCH_MOVES
// (default 20), JAILCTL_BENCH_MANY (default 1000); the smoke test runs tiny ones.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startPostgres } from '../test/helpers/postgres';
import { ExecFifo } from './exec-fifo';
import { percentile } from './proc';

const ROOT = join(__dirname, '..');
const JAILCTL = join(ROOT, 'bin', 'jailctl');
execFileSync('npm', ['run', '-s', 'compile'], { cwd: ROOT, stdio: 'inherit' });
const N = Number(process.env.JAILCTL_BENCH_N ?? 50);
const UWSGI_N = Number(process.env.JAILCTL_BENCH_UWSGI_N ?? 5);
const MOVES = Number(process.env.JAILCTL_BENCH_MOVES ?? 20);
const MANY = Number(process.env.JAILCTL_BENCH_MANY ?? 1000);
const WARMUP = 2;
const TARGET_P50_MS = 20;

const work = mkdtempSync('/tmp/jailctl-bench-pg-');
const db = startPostgres();
const fifo = new ExecFifo(join(work, 'exec.fifo'));
const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;
const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');

const ours = (name: string): string => `[jail]\nunshare = fs,pid\nunprivileged-binary-patch-arg = sh -c 'echo ${name} > ${fifo.path}; exec sleep 86400'\n`;
// uWSGI runs its patch through /bin/sh -c itself.
const theirs = (name: string): string => `[uwsgi]\nunshare = fs,pid\nunprivileged-binary-patch-arg = echo ${name} > ${fifo.path}; exec sleep 86400\n`;

interface Running {
  readonly child: ChildProcess;
  readonly log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function run(cmd: string, args: readonly string[]): Running {
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

function ourEmperor(source: string, name: string, ...args: string[]): Running {
  return run(JAILCTL, ['emperor', '--emperor', source, '--emperor-name', name, '--emperor-control-socket', join(work, `${name}.sock`), '--emperor-logs-dir', 'none', ...args]);
}

const pgSource = (query: string): string => `pg://${db.conninfo};${query}`;
const OUR_QUERY = "SELECT name, config, ts FROM vassals WHERE host = '%h'";
// uWSGI's plugin takes ts as a number of seconds.
const UWSGI_QUERY = "SELECT name, config, extract(epoch from ts)::bigint FROM vassals WHERE host = 'uwsgi'";

// INSERT one row and time it to its exec; undefined when it never ran.
async function insertToExec(client: Client, name: string, config: string, host: string, timeoutMs: number): Promise<number | undefined> {
  const seen = fifo.next(name, timeoutMs);
  const t0 = process.hrtime.bigint();
  await client.query('INSERT INTO vassals (name, config, host) VALUES ($1, $2, $3)', [name, config, host]);
  const t1 = await seen;
  return t1 === undefined ? undefined : ms(t0, t1);
}

async function insertSeries(client: Client, label: string, n: number, host: string, config: (name: string) => string, timeoutMs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n + WARMUP; i++) {
    // A random pause, so an insert falls anywhere in a poller's period.
    await new Promise((r) => setTimeout(r, Math.random() * (host === 'uwsgi' ? 3000 : 10)));
    const t = await insertToExec(client, `${label}${i}.ini`, config(`${label}${i}.ini`), host, timeoutMs);
    if (t === undefined) throw new Error(`${label}${i}.ini never ran within ${timeoutMs} ms`);
    if (i >= WARMUP) samples.push(t);
  }
  return samples;
}

// Until every one of `names` has written its line; ms from t0.
function allRunning(names: readonly string[], t0: bigint, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const left = new Set(names);
    const timer = setTimeout(() => {
      fifo.onLine = undefined;
      reject(new Error(`${left.size} of ${names.length} never ran within ${timeoutMs} ms`));
    }, timeoutMs);
    fifo.onLine = (name, t) => {
      left.delete(name);
      if (left.size === 0) {
        clearTimeout(timer);
        fifo.onLine = undefined;
        resolve(ms(t0, t));
      }
    };
  });
}

async function main(): Promise<void> {
  const client = new Client({ host: db.socketDir, port: db.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  await client.query(execFileSync(JAILCTL, ['pg-schema'], { encoding: 'utf8' }));

  // 1. INSERT → exec, ours and uWSGI's.
  const a = ourEmperor(pgSource(OUR_QUERY), 'bench-a', '--emperor-hostname', 'a');
  const oursInsert = await insertSeries(client, 'ins', N, 'a', ours, 10_000);
  const uwsgi = run('uwsgi', ['--plugin', 'emperor_pg', '--emperor', pgSource(UWSGI_QUERY), '--emperor-curse-tolerance', '1']);
  const theirsInsert = await insertSeries(client, 'uw', UWSGI_N, 'uwsgi', theirs, 15_000).catch((err: Error) => {
    throw new Error(`${err.message}\nuWSGI's log:\n${uwsgi.log().slice(-2000)}`);
  });
  await client.query("DELETE FROM vassals WHERE host = 'uwsgi'");
  await uwsgi.stop('SIGINT');

  // 2. UPDATE host → exec on the other emperor.
  const b = ourEmperor(pgSource(OUR_QUERY), 'bench-b', '--emperor-hostname', 'b');
  const moves: number[] = [];
  await client.query('INSERT INTO vassals (name, config, host) VALUES ($1, $2, $3)', ['mover.ini', ours('mover.ini'), 'a']);
  await fifo.next('mover.ini', 10_000);
  for (let i = 0; i < MOVES + WARMUP; i++) {
    const seen = fifo.next('mover.ini', 10_000);
    const t0 = process.hrtime.bigint();
    await client.query("UPDATE vassals SET host = $1 WHERE name = 'mover.ini'", [i % 2 === 0 ? 'b' : 'a']);
    const t1 = await seen;
    if (t1 === undefined) throw new Error(`move ${i} never ran on the other emperor\n${a.log().slice(-1500)}\n${b.log().slice(-1500)}`);
    if (i >= WARMUP) moves.push(ms(t0, t1));
  }
  await client.query('DELETE FROM vassals');
  await Promise.all([a.stop(), b.stop()]);

  // 3. MANY rows at once, against MANY files.
  const names = Array.from({ length: MANY }, (_, i) => `many${i}.ini`);
  const m = ourEmperor(pgSource(OUR_QUERY), 'bench-many', '--emperor-hostname', 'many');
  await insertToExec(client, 'ready.ini', ours('ready.ini'), 'many', 10_000);
  let t0 = process.hrtime.bigint();
  const done = allRunning(names, t0, 600_000);
  await client.query('INSERT INTO vassals (name, config, host) SELECT n, $1 || n || $2, $3 FROM unnest($4::text[]) AS n',
    [`[jail]\nunshare = fs,pid\nunprivileged-binary-patch-arg = sh -c 'echo `, ` > ${fifo.path}; exec sleep 86400'\n`, 'many', names]);
  const manyPg = await done;
  await m.stop();
  await client.query('DELETE FROM vassals');
  const dir = join(work, 'files');
  execFileSync('mkdir', [dir]);
  const f = ourEmperor(dir, 'bench-files');
  writeFileSync(join(dir, 'ready.ini'), ours('ready.ini'));
  await fifo.next('ready.ini', 10_000);
  t0 = process.hrtime.bigint();
  const filesDone = allRunning(names, t0, 600_000);
  for (const name of names) {
    writeFileSync(join(dir, `.${name}.tmp`), ours(name));
    renameSync(join(dir, `.${name}.tmp`), join(dir, name));
  }
  const manyFiles = await filesDone;
  await f.stop();
  await client.end();

  const [o50, o99, t50, t99] = [percentile(oursInsert, 0.5), percentile(oursInsert, 0.99), percentile(theirsInsert, 0.5), percentile(theirsInsert, 0.99)];
  console.log(`\npg:// source, ms from the bench's statement (${WARMUP} warm-up rows not counted):\n`);
  console.log(`  INSERT → exec         jailctl p50 ${fmt(o50)} p99 ${fmt(o99)} (N=${N}; target p50 ≤ ${TARGET_P50_MS}: ${o50 <= TARGET_P50_MS ? 'met' : 'NOT met'})   uWSGI pg:// p50 ${fmt(t50)} p99 ${fmt(t99)} (N=${UWSGI_N})   ours/uWSGI p50 = ${(o50 / t50).toFixed(3)}`);
  console.log(`  UPDATE host → exec    p50 ${fmt(percentile(moves, 0.5))} p99 ${fmt(percentile(moves, 0.99))} (N=${MOVES}, between two emperors)`);
  console.log(`  ${MANY} rows → all running ${fmt(manyPg)}; the same as files ${fmt(manyFiles)}; pg/files = ${(manyPg / manyFiles).toFixed(2)}`);
}

main().then(
  () => undefined,
  (err: unknown) => {
    console.error(`bench:pg: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  },
).finally(() => {
  fifo.close();
  db.remove();
  rmSync(work, { recursive: true, force: true });
});
