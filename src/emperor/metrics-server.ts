// emperor-metrics = HOST:PORT | :PORT | PATH: GET /metrics in the Prometheus text format.
//
// The metrics name every vassal and its tenant's uid. In tyrant mode a TCP port (which any
// local user can connect to) serves them only with emperor-metrics-public; a UNIX socket is
// root's (0600), or root's and one group's (0660, emperor-metrics-group: e.g. the group of a
// local scraper or proxy). Outside tyrant mode every vassal is the sysadmin's own.
//
// The emperor binds the address and answers the exporter's requests for facts; the metrics
// exporter (metrics-exporter.ts), a process of its own, accepts, reads the cgroups and writes
// the text, so a scrape of many vassals does not hold the emperor's event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { UserDb } from '../config/users';
import type { StatsSources } from '../jail/cgroup';
import { binding } from '../native/binding';
import { EmperorOptionError, type EmperorOptions } from './options';
import { parseStatsAddress, type StatsAddress } from './stats';
import type { WireFacts } from './metrics-facts';
import type { ToEmperor, ToExporter } from './metrics-exporter';


export interface MetricsExposure {
  readonly tyrant: boolean;
  readonly metricsPublic: boolean;
  /** The group a UNIX socket is also readable by (its gid), if any. */
  readonly gid?: number;
}

// The address, checked against tyrant mode's rules (before anything is bound).
export function metricsAddress(spec: string, exposure: MetricsExposure): StatsAddress {
  let addr: StatsAddress;
  try {
    addr = parseStatsAddress(spec);
  } catch {
    throw new EmperorOptionError(`emperor-metrics: \`${spec}\` is neither host:port, :port nor a socket path`);
  }
  if ('path' in addr || !exposure.tyrant || exposure.metricsPublic) {
    if (exposure.gid !== undefined && !('path' in addr))
      throw new EmperorOptionError(`emperor-metrics-group: only a UNIX socket has a group (emperor-metrics ${spec} is a TCP address); give a socket path, or drop the group`);
    return addr;
  }
  throw new EmperorOptionError(
    `emperor-metrics ${spec}: in tyrant mode the metrics name every tenant's vassals and uids, and any local user can connect to a TCP port; ` +
      'give a UNIX socket path (root only, or root and emperor-metrics-group), or set emperor-metrics-public = true to publish them');
}

/** The exporter's start again after it died: 1 s, doubling up to 30 s; back to 1 s once it lived a minute. */
const RESPAWN_FIRST_MS = 1000;
const RESPAWN_MAX_MS = 30_000;
const LIVED_MS = 60_000;
/** A closing exporter has this long to exit before SIGKILL. */
const EXIT_GRACE_MS = 1000;
/** The address may still be held by the exporter of the emperor before an upgrade: retried this long. */
const BIND_RETRY_MS = 3000;

/** The running emperor-metrics: the bound address and the exporter that serves it. */
export interface MetricsService {
  close(): Promise<void>;
}

// The exporter's command: the compiled module, or under tsm (tests of src/) the TypeScript one.
function exporterCommand(): string[] {
  const ext = __filename.endsWith('.ts') ? '.ts' : '.js';
  const main = join(__dirname, `metrics-exporter${ext}`);
  return ext === '.ts' ? ['-r', require.resolve('tsm'), main] : [main];
}

// Binds `spec` (a UNIX socket gets its mode and group before anyone can connect); the fd is
// never accepted on here: the exporter does.
async function bind(spec: string, addr: StatsAddress, exposure: MetricsExposure): Promise<number> {
  for (const deadline = Date.now() + BIND_RETRY_MS; ;) {
    // Bound 0600 (no umask decides, and no one connects before the mode is right), then
    // opened to the group.
    const umask = 'path' in addr ? process.umask(0o177) : undefined;
    try {
      const fd = binding.listenSocket(spec);
      if ('path' in addr) {
        if (exposure.gid !== undefined) {
          chownSync(addr.path, -1, exposure.gid);
          chmodSync(addr.path, 0o660);
        } else chmodSync(addr.path, 0o600);
      }
      return fd;
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  }
}

// The exporter on `fd`, started again whenever it dies (until close()).
function runExporter(fd: number, path: string | undefined, facts: (told: WeakSet<StatsSources>) => WireFacts, log: (line: string) => void): MetricsService {
  let child: ChildProcess | undefined;
  let closing = false;
  let delay = RESPAWN_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    const began = Date.now();
    // Not a jail, so not through the executor (DESIGN.md, 4): a helper process of the emperor's
    // own, spawned and reaped by libuv. The OrphanReaper takes a zombie only when it stays one
    // across two passes, so libuv's immediate waitpid wins (as for Node's other children).
    // The open doubt: invariant 4 wants every launch through the executor; it could be a jail.
    // Root's own environment for it: nothing of a tenant's, nothing of the caller's NODE_OPTIONS.
    const c = spawn(process.execPath, exporterCommand(), { cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc', fd], serialization: 'json' });
    child = c;
    // The cgroup files this exporter knows: each is sent once (a new jail, a new exporter).
    const told = new WeakSet<StatsSources>();
    c.on('message', (m: ToEmperor) => {
      if ('ask' in m) {
        if (c.connected) c.send({ answer: m.ask, facts: facts(told) } satisfies ToExporter);
      } else if (typeof m.log === 'string') log(m.log);
    });
    c.on('error', (err) => log(`metrics exporter: ${err.message}`));
    c.on('exit', (code, signal) => {
      child = undefined;
      if (closing) return;
      if (Date.now() - began > LIVED_MS) delay = RESPAWN_FIRST_MS;
      log(`metrics exporter (pid ${c.pid}) exited (${signal ?? `status ${code}`}); starting it again in ${delay / 1000} s (scrapes wait in the socket's backlog)`);
      timer = setTimeout(start, delay);
      delay = Math.min(delay * 2, RESPAWN_MAX_MS);
    });
  };
  start();
  return {
    async close(): Promise<void> {
      closing = true;
      clearTimeout(timer);
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGTERM');
        const kill = setTimeout(() => c.kill('SIGKILL'), EXIT_GRACE_MS);
        await exited;
        clearTimeout(kill);
      }
      closeSync(fd);
      // The socket file goes with the emperor, as a net.Server's does at close.
      try {
        if (path !== undefined && lstatSync(path).isSocket()) unlinkSync(path);
      } catch {
        // gone already
      }
    },
  };
}

// emperor-metrics as the options say: its group looked up, tyrant mode's rules checked, the
// address bound (by the emperor while still root: a port below 1024 works), and the exporter
// started on it.
export async function serveMetrics(spec: string, facts: (told: WeakSet<StatsSources>) => WireFacts, options: Pick<EmperorOptions, 'tyrant' | 'metricsPublic' | 'metricsGroup'>, users: UserDb, log: (line: string) => void): Promise<MetricsService> {
  const group = options.metricsGroup;
  const gid = group === undefined ? undefined : /^\d+$/.test(group) ? Number(group) : users.groupByName(group);
  if (gid === undefined && group !== undefined) throw new EmperorOptionError(`emperor-metrics-group ${group}: no such group in /etc/group`);
  const exposure = { tyrant: options.tyrant, metricsPublic: options.metricsPublic, ...(gid !== undefined ? { gid } : {}) };
  const address = metricsAddress(spec, exposure);
  let fd: number;
  try {
    fd = await bind(spec, address, exposure);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EmperorOptionError(`emperor-metrics ${spec}: ${code === 'EADDRINUSE' ? 'the address is already in use (another emperor?)' : (err as Error).message}`);
  }
  return runExporter(fd, 'path' in address ? address.path : undefined, facts, log);
}
