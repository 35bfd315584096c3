// The Imperial Bureau of Statistics: one JSON document with uWSGI's keys (so uwsgitop and
// existing scripts read it) plus ours. A plain connection gets the raw document, as uWSGI
// sends it; a connection that starts with an HTTP request line gets it with HTTP headers.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { VassalSnapshot } from './vassal';

export interface EmperorFacts {
  readonly version: string;
  readonly pid: number;
  readonly cwd: string;
  readonly monitors: readonly string[];
  readonly throttleMs: number;
  readonly tyrant: boolean;
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
    emperor_tyrant: f.tyrant ? 1 : 0,
    throttle_level: f.throttleMs,
    vassals: f.vassals.map((v) => ({
      id: v.name,
      pid: v.pid,
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
      adopted: 0,
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

/** host:port, :port (all interfaces, as uWSGI), or a UNIX socket path. */
export type StatsAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export function parseStatsAddress(addr: string): StatsAddress {
  if (addr.includes('/')) return { path: addr };
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m || Number(m[2]) > 65535) throw new Error(`emperor-stats: \`${addr}\` is neither host:port, :port nor a socket path`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

// How long a connection may stay silent before it counts as a raw (uWSGI-style) client.
const HTTP_SNIFF_MS = 25;

export function startStatsServer(addr: StatsAddress, document: () => Record<string, unknown>): Promise<Server> {
  const server = createServer((socket: Socket) => {
    let answered = false;
    // method: undefined for a raw client, else the HTTP request's method.
    const answer = (method: string | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (method !== undefined && method !== 'GET' && method !== 'HEAD') {
        socket.end('HTTP/1.0 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const body = `${JSON.stringify(document())}\n`;
      if (method === undefined) socket.end(body);
      else {
        const head = `HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
        socket.end(method === 'HEAD' ? head : head + body);
      }
    };
    const timer = setTimeout(() => answer(undefined), HTTP_SNIFF_MS);
    socket.once('data', (chunk: Buffer) => answer(/^([A-Z]+) \S/.exec(chunk.toString('latin1', 0, 16))?.[1]));
    socket.on('error', () => socket.destroy());
  });
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
      // Only root (and the emperor's own user) may read every vassal's state: no umask decides.
      server.listen(addr.path, () => {
        chmodSync(addr.path, 0o600);
        ready();
      });
    } else server.listen(addr.port, addr.host, ready);
  });
}
