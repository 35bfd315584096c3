// A real `jailctl emperor` in the background, for tests: its log lines, its stats (over a
// UNIX socket in its own temporary directory), and waiting for what a user would wait for.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Test } from 'uvu';
import { jailctlAsync } from './cli';
import { vassalDir, type VassalDir } from './vassal';

export interface StatsVassal {
  id: string;
  /** The program's pid (a uWSGI master's); init_pid is the jail's top process. */
  pid: number;
  init_pid: number;
  state: string;
  loyal: number;
  ready: number;
  accepting: number;
  respawns: number;
  restarts: number;
  launch_error: string | null;
  last_heartbeat: number;
  speaks_protocol: boolean;
  [key: string]: unknown;
}

export interface Stats {
  pid: number;
  vassals: StatsVassal[];
  blacklist: Array<{ id: string; throttle_level: number; attempt: number }>;
  [key: string]: unknown;
}

export interface RunningEmperor {
  readonly child: ChildProcess;
  readonly statsPath: string;
  /** Its control socket (`jailctl ps --socket …`). */
  readonly controlPath: string;
  /** Where it keeps each vassal's NAME.log. */
  readonly logsDir: string;
  /** Everything the emperor logged so far. */
  log(): string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  stats(): Promise<Stats>;
  vassal(id: string): Promise<StatsVassal | undefined>;
  /** Polls the stats until `ok` holds for the vassal (or throws after timeoutMs). */
  waitForVassal(id: string, ok: (v: StatsVassal | undefined) => boolean, what: string, timeoutMs?: number): Promise<StatsVassal | undefined>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Sends `request` (nothing for a raw client) to a stats socket and returns all it answers.
export function askStats(target: { path: string } | { port: number; host: string }, request = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(target as never);
    let out = '';
    sock.on('connect', () => {
      if (request) sock.write(request);
    });
    sock.on('data', (c: Buffer) => (out += c.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

// The emperor-state-dir of the emperors a test starts with this stats directory: under
// /tmp (sticky), not in the test's directory (which may be 0777: the emperor refuses that),
// and the same for every emperor of the test, so that a restart finds what the last one kept.
export const stateDirOf = (statsDir: string): string => join(tmpdir(), `jailctl-state-${basename(statsDir)}`);

// `wrap` prefixes the command (setpriv, unshare): the emperor is then its last exec.
// `entry`: the program file node runs instead of jailctl's own (cli.ts).
export function startEmperor(args: readonly string[], statsDir: string, wrap: readonly string[] = [], entry?: string): RunningEmperor {
  const statsPath = join(statsDir, 'stats.sock');
  // The last --emperor-stats wins: a test that gives its own (TCP) address is asked there.
  const own = args.lastIndexOf('--emperor-stats');
  const tcp = own >= 0 ? /^(.*):(\d+)$/.exec(args[own + 1]!) : null;
  const statsTarget = tcp ? { host: tcp[1]!, port: Number(tcp[2]) } : { path: statsPath };
  // Its own control socket, so tests never meet at /run/jailctl/emperor.sock.
  const controlPath = join(statsDir, 'control.sock');
  const logsDir = join(statsDir, 'logs');
  const state = args.includes('--emperor-state-dir') ? [] : ['--emperor-state-dir', stateDirOf(statsDir)];
  const child = jailctlAsync(['emperor', '--emperor-stats', statsPath, '--emperor-control-socket', controlPath, '--emperor-logs-dir', logsDir, ...state, ...args], wrap, entry);
  let log = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer): void => {
    log += c.toString();
    for (const l of listeners) l();
  };
  child.stderr!.on('data', onData);
  child.stdout!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const self: RunningEmperor = {
    child,
    statsPath,
    controlPath,
    logsDir,
    log: () => log,
    waitForLog(re, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(log);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} in the emperor's log:\n${log}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async stats() {
      for (let i = 0; ; i++) {
        try {
          return JSON.parse(await askStats(statsTarget)) as Stats;
        } catch (err) {
          if (i > 100) throw err;
          await sleep(50);
        }
      }
    },
    async vassal(id) {
      return (await self.stats()).vassals.find((v) => v.id === id);
    },
    async waitForVassal(id, ok, what, timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      let last: StatsVassal | undefined;
      while (Date.now() < end) {
        last = await self.vassal(id);
        if (ok(last)) return last;
        await sleep(50);
      }
      throw new Error(`${id}: timed out waiting for ${what}; last seen: ${JSON.stringify(last)}\nlog:\n${log}`);
    },
    exited,
    // SIGTERM, and SIGKILL after 60 s: a stuck stop fails the suite (the log says it) instead
    // of hanging it.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stuck = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 60_000)))]);
      clearTimeout(timer);
      if (!stuck) return;
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the emperor did not stop within 60 s of SIGTERM; log:\n${log.slice(-3000)}`);
    },
  };
  return self;
}

// pids of every process whose command line contains `marker` (a test's unique tag).
export function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && !cmd.includes('jailctl-entry')) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

export async function waitUntil(ok: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A suite's per-test vassal directory and emperor, both cleaned up after each test. */
export interface EmperorFixture {
  readonly dir: VassalDir;
  /** Starts `jailctl emperor ARGS…` (stats on a socket in the directory); stopped after the test. */
  start(args: readonly string[], wrap?: readonly string[], entry?: string): RunningEmperor;
}

export function emperorFixture(test: Test, mode = 0o755): EmperorFixture {
  let dir: VassalDir | undefined;
  let emperor: RunningEmperor | undefined;
  test.before.each(() => {
    dir = vassalDir();
    chmodSync(dir.dir, mode); // the jails' users must be able to read (or write) in it
  });
  test.after.each(async () => {
    await emperor?.stop();
    emperor = undefined;
    if (dir) rmSync(stateDirOf(dir.dir), { recursive: true, force: true });
    dir?.remove();
  });
  return {
    get dir() {
      return dir!;
    },
    start(args, wrap = [], entry?: string) {
      emperor = startEmperor(args, dir!.dir, wrap, entry);
      return emperor;
    },
  };
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
