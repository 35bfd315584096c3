// emperor-metrics = HOST:PORT | :PORT | PATH: GET /metrics in the Prometheus text format.
//
// The metrics name every vassal and its tenant's uid. In tyrant mode a TCP port (which any
// local user can connect to) serves them only with emperor-metrics-public; a UNIX socket is
// root's (0600), or root's and one group's (0660, emperor-metrics-group: e.g. the group of a
// local scraper or proxy). Outside tyrant mode every vassal is the sysadmin's own.
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { UserDb } from '../config/users';
import { EmperorOptionError, type EmperorOptions } from './options';
import { parseStatsAddress, type StatsAddress } from './stats';
import type { EmperorMetrics } from './metrics';

/** A scraper that has not sent its request head in this time is cut off. */
const HEADERS_TIMEOUT_MS = 3000;
/** Connections served at once (a scrape is one; a flood must not hold the emperor's fds). */
const MAX_CONNECTIONS = 64;

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

function answer(metrics: EmperorMetrics, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
    return;
  }
  if (path !== '/metrics') {
    const body = 'jailctl emperor: the metrics are at /metrics\n';
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
    return;
  }
  metrics.text().then(
    (text) => {
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (err: Error) => {
      const body = `cannot collect the metrics: ${err.message}\n`;
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
    },
  );
}

// Listens on `addr`; a UNIX socket gets its mode (and group) before anyone can connect.
export function startMetricsServer(addr: StatsAddress, metrics: EmperorMetrics, exposure: MetricsExposure): Promise<Server> {
  const server = createServer((req, res) => answer(metrics, req, res));
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS * 2;
  server.maxConnections = MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve(server);
    };
    if (!('path' in addr)) {
      server.listen(addr.port, addr.host, ready);
      return;
    }
    // A stale socket from an earlier run goes; anything else there is an error (EADDRINUSE).
    try {
      if (lstatSync(addr.path).isSocket()) unlinkSync(addr.path);
    } catch {
      // nothing there
    }
    // Bound 0600 (no umask decides, and no one connects before the mode is right), then
    // opened to the group.
    const umask = process.umask(0o177);
    try {
      server.listen(addr.path, () => {
        if (exposure.gid !== undefined) {
          chownSync(addr.path, -1, exposure.gid);
          chmodSync(addr.path, 0o660);
        } else chmodSync(addr.path, 0o600);
        ready();
      });
    } finally {
      process.umask(umask);
    }
  });
}

// emperor-metrics as the options say: its group looked up, tyrant mode's rules checked, then
// served (by the emperor while still root: a port below 1024 works).
export async function serveMetrics(spec: string, metrics: EmperorMetrics, options: Pick<EmperorOptions, 'tyrant' | 'metricsPublic' | 'metricsGroup'>, users: UserDb): Promise<Server> {
  const group = options.metricsGroup;
  const gid = group === undefined ? undefined : /^\d+$/.test(group) ? Number(group) : users.groupByName(group);
  if (gid === undefined && group !== undefined) throw new EmperorOptionError(`emperor-metrics-group ${group}: no such group in /etc/group`);
  const exposure = { tyrant: options.tyrant, metricsPublic: options.metricsPublic, ...(gid !== undefined ? { gid } : {}) };
  const address = metricsAddress(spec, exposure);
  try {
    return await startMetricsServer(address, metrics, exposure);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EmperorOptionError(`emperor-metrics ${spec}: ${code === 'EADDRINUSE' ? 'the address is already in use (another emperor?)' : (err as Error).message}`);
  }
}
