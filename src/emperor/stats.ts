// The Imperial Bureau of Statistics: one JSON document with uWSGI's keys (so uwsgitop and
// existing scripts read it) plus ours. A plain connection gets the raw document, as uWSGI
// sends it; a connection that starts with an HTTP request line gets it with HTTP headers.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { EmperorOptionError } from './options';
import type { VassalSnapshot } from './vassal';
import type { SourceStatus } from '../monitors/types';

export interface EmperorFacts {
  readonly version: string;
  readonly pid: number;
  readonly cwd: string;
  readonly monitors: readonly string[];
  /** Each source's state (a database can be down, or an empty answer held). */
  readonly sources: readonly SourceStatus[];
  readonly throttleMs: number;
  readonly tyrant: boolean;
  /** The emperor's name (emperor-name). */
  readonly name: string;
  readonly vassals: readonly VassalSnapshot[];
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

export function statsDocument(f: EmperorFacts): Record<string, unknown> {
  return {
    version: f.version,
    pid: f.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: f.cwd,
    emperor: f.monitors,
    emperor_name: f.name,
    emperor_sources: f.sources,
    emperor_tyrant: f.tyrant ? 1 : 0,
    throttle_level: f.throttleMs,
    vassals: f.vassals.map((v) => ({
      id: v.name,
      // The program's (as uWSGI's stats give its vassal's master), the jail's init beside it.
      pid: v.programPid || v.pid,
      init_pid: v.pid,
      born: v.born,
      last_mod: Number(v.source.mtimeNs / 1_000_000_000n),
      last_heartbeat: v.lastHeartbeat,
      loyal: v.loyal ? v.lastLoyal : 0,
      ready: v.ready ? 1 : 0,
      accepting: v.accepting ? 1 : 0,
      last_loyal: v.lastLoyal,
      last_ready: v.lastReady,
      last_accepting: v.lastAccepting,
      first_run: v.firstRun,
      last_run: v.lastRun,
      cursed: v.cursed,
      on_demand: v.onDemand ?? '',
      adopted: v.mode === 'adopted' ? 1 : 0,
      uid: v.uid ?? 0,
      gid: v.gid ?? 0,
      monitor: v.source.monitor,
      respawns: v.respawns,
      // ours
      state: v.state,
      config: v.source.path,
      namespaces: v.namespaces,
      restarts: v.restarts,
      speaks_protocol: v.speaksProtocol,
      launch_error: v.error ?? null,
      last_exit: v.lastExit ?? null,
      cgroup: cgroupFields(v),
    })),
    blacklist: f.vassals
      .filter((v) => v.blacklist)
      .map((v) => ({
        id: v.name,
        throttle_level: v.blacklist!.throttleMs,
        attempt: v.blacklist!.attempt,
        first_attempt: Math.floor(v.blacklist!.firstAttempt / 1000),
        last_attempt: Math.floor(v.blacklist!.lastAttempt / 1000),
      })),
  };
}

// What its jail's cgroup says now (null without a running jail in a cgroup): usage, the
// limits written, OOM kills, PSI.
function cgroupFields(v: VassalSnapshot): Record<string, unknown> | null {
  if (!v.cgroupStats) return null;
  let s;
  try {
    s = v.cgroupStats();
  } catch {
    return null; // gone meanwhile
  }
  return {
    memory_bytes: s.memoryBytes ?? null,
    memory_peak_bytes: s.memoryPeakBytes ?? null,
    cpu_seconds: s.cpuSeconds ?? null,
    processes: s.processes,
    oom_kills: s.oomKills,
    memory_max: s.limits.memoryMax ?? null,
    memory_high: s.limits.memoryHigh ?? null,
    pids_max: s.limits.pidsMax ?? null,
    cpu_max_percent: s.limits.cpuMax ?? null,
    pressure_avg10: s.pressure ?? null,
    dirs: v.cgroup ?? null,
  };
}

/** host:port, :port (all interfaces, as uWSGI), or a UNIX socket path. */
export type StatsAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export function parseStatsAddress(addr: string): StatsAddress {
  if (addr.includes('/')) return { path: addr };
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m || Number(m[2]) > 65535) throw new EmperorOptionError(`emperor-stats: \`${addr}\` is neither host:port, :port nor a socket path`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

// In tyrant mode the document lists every tenant's vassals: a TCP port, which any local user
// can connect to, serves it only when the sysadmin says so (emperor-stats-public); a UNIX
// socket is root's (0600). A tenant's own vassals are in `jailctl stats`, on the control socket.
export function checkStatsExposure(addr: StatsAddress, spec: string, options: { readonly tyrant: boolean; readonly statsPublic: boolean }): void {
  if ('path' in addr || !options.tyrant || options.statsPublic) return;
  throw new EmperorOptionError(
    `emperor-stats ${spec}: in tyrant mode the stats list every tenant's vassals, and any local user can connect to a TCP port; ` +
      'give a UNIX socket path (only root may connect: --emperor-stats /run/jailctl/stats.sock; tenants see their own with jailctl stats), ' +
      'or set emperor-stats-public = true to publish them');
}

// How long a connection may stay silent before it counts as a raw (uWSGI-style) client.
const HTTP_SNIFF_MS = 25;
/** The most a peer may send: an HTTP request head, with room; more is cut off. */
export const MAX_STATS_REQUEST = 8 * 1024;
/** A peer that has not finished its request (or left) in this time is cut off. */
export const STATS_TIMEOUT_MS = 3000;

// One connection: a raw client (silent, or not speaking HTTP) gets the document at once; an
// HTTP one once its request head is complete. What a peer sends is bounded in bytes and time.
function serveStats(socket: Socket, document: () => Record<string, unknown>): void {
  let answered = false;
  let method: string | undefined;
  let head = '';
  let received = 0;
  const finish = (text: string): void => {
    answered = true;
    clearTimeout(sniff);
    socket.end(text);
  };
  const answer = (): void => {
    if (method !== undefined && method !== 'GET' && method !== 'HEAD') {
      finish('HTTP/1.0 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const body = `${JSON.stringify(document())}\n`;
    if (method === undefined) finish(body);
    else {
      const top = `HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
      finish(method === 'HEAD' ? top : top + body);
    }
  };
  const sniff = setTimeout(answer, HTTP_SNIFF_MS);
  socket.setTimeout(STATS_TIMEOUT_MS, () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_STATS_REQUEST) {
      // Past the bound: a 431 if nothing was answered yet; either way nothing more is read,
      // and the idle timeout ends the connection. Destroying it here would close it with the
      // peer's bytes unread, and the peer's next write fail with a reset before it had read
      // its answer.
      if (!answered) finish('HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      socket.pause();
      return;
    }
    if (answered) return;
    if (head === '') {
      clearTimeout(sniff);
      method = /^([A-Z]+) \S/.exec(chunk.toString('latin1', 0, 16))?.[1];
      if (method === undefined) {
        answer();
        return;
      }
    }
    head += chunk.toString('latin1');
    if (/\r?\n\r?\n/.test(head)) answer();
  });
  socket.on('error', () => socket.destroy());
}

export function startStatsServer(addr: StatsAddress, document: () => Record<string, unknown>): Promise<Server> {
  const server = createServer((socket: Socket) => serveStats(socket, document));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve(server);
    };
    if ('path' in addr) {
      // A stale socket from a previous run goes; anything else there is an error (EADDRINUSE),
      // never deleted: a mistyped path must not cost a file.
      if (isSocket(addr.path)) unlinkSync(addr.path);
      // Only root (and the emperor's own user) may read every vassal's state: no umask decides,
      // and no one connects between bind() and chmod() (the bind happens inside listen()).
      const umask = process.umask(0o177);
      try {
        server.listen(addr.path, () => {
          chmodSync(addr.path, 0o600);
          ready();
        });
      } finally {
        process.umask(umask);
      }
    } else server.listen(addr.port, addr.host, ready);
  });
}
