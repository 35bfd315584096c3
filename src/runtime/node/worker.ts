// A worker of the Node app server: loads the tenant's app and serves it on the listening
// sockets its master handed down (inherited fds; the master never closes them, so a
// reload never refuses a connection). Talks to the master over the IPC channel and writes
// its own heartbeat (byte 26) to the emperor pipe, so a stuck event loop stops it.
import { writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

/** Master → worker. */
export type ToWorker = { readonly t: 'stop'; readonly graceful: boolean };
/** Worker → master. */
export type FromWorker = { readonly t: 'listening' } | { readonly t: 'served' } | { readonly t: 'request' };

// A real dynamic import (TypeScript's CommonJS output would turn import() into require()).
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

// The app's request listener: the default export (ESM), or module.exports (CommonJS).
export async function loadApp(path: string): Promise<RequestListener> {
  const mod = await importModule(pathToFileURL(path).href);
  const handler = typeof mod.default === 'function' ? mod.default : (mod.default as Record<string, unknown> | undefined)?.default;
  if (typeof handler !== 'function')
    throw new TypeError(`${path}: the default export must be a request listener (req, res) => …, got ${typeof mod.default}`);
  return handler as RequestListener;
}

/** How long a retiring worker may take before it leaves anyway. */
const RETIRE_LIMIT_MS = 30_000;

// Stops accepting (the master keeps the socket open, so nothing is refused) and leaves once
// every connection has ended. Idle keep-alive connections are not cut: a client may be
// sending on one at this very moment (and would see a reset). They close when their
// keep-alive timeout expires, which clients such as undici anticipate by a second; a
// request that still arrives is served, with `Connection: close`.
function retire(servers: readonly Server[], markRetiring: () => void): void {
  markRetiring();
  let open = servers.length;
  for (const s of servers) {
    s.closeIdleConnections = () => undefined; // Node's close() would cut them at once
    s.close(() => {
      if (--open === 0) process.exit(0);
    });
  }
  setTimeout(() => process.exit(0), RETIRE_LIMIT_MS).unref();
}

function send(msg: FromWorker): void {
  process.send?.(msg);
}

export async function runWorker(app: string, fds: readonly number[], emperorFd: number | undefined, heartbeat: number): Promise<void> {
  const handler = await loadApp(app);
  let served = false;
  let retiring = false;
  let lastReport = 0;
  const servers: Server[] = fds.map(() =>
    createServer((req: IncomingMessage, res: ServerResponse) => {
      res.once('finish', () => {
        if (!served) {
          served = true;
          send({ t: 'served' });
        }
        const now = Date.now();
        if (now - lastReport >= 500) {
          lastReport = now;
          send({ t: 'request' }); // for the master's idle clock, at most twice a second
        }
      });
      if (retiring) res.shouldKeepAlive = false; // this response is the connection's last
      handler(req, res);
    }),
  );
  await Promise.all(servers.map((s, i) => new Promise<void>((resolve) => s.listen({ fd: fds[i]! }, resolve))));
  send({ t: 'listening' });

  if (emperorFd !== undefined && heartbeat > 0) {
    const beat = (): void => {
      try {
        writeSync(emperorFd, Buffer.of(26));
      } catch {
        // the emperor is gone; the master hears it too and stops us
      }
    };
    beat();
    setInterval(beat, heartbeat * 1000).unref();
  }

  process.on('message', (msg: ToWorker) => {
    if (msg.t !== 'stop') return;
    if (!msg.graceful) process.exit(0);
    retire(servers, () => (retiring = true));
  });
  process.on('disconnect', () => process.exit(0)); // the master is gone
}
