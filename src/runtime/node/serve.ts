// Serving a tenant's app on listening fds: loading its request listener, the HTTP servers,
// and a retirement that refuses nothing. Shared by a forked worker and by a master that is
// its own worker (processes = 1), so both serve and retire alike.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';

// A real dynamic import (TypeScript's CommonJS output would turn import() into require()).
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

// The app's exports: require() first, which on Node ≥ 20.19 loads an ES module too, without
// the ESM loader (~9 ms of a cold start, most of it the loader's own modules). import()
// where require() cannot: top-level await, an older Node, or a loader that has claimed
// `.mjs` (tsm, in our tests, would turn the module into CommonJS).
async function appExports(path: string): Promise<unknown> {
  if (!(extname(path) === '.mjs' && require.extensions['.mjs'])) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod: unknown = require(path);
      // An ES module's namespace: its default export, as import() of CommonJS gives module.exports.
      return isNamespace(mod) ? mod.default : mod;
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM') throw err;
    }
  }
  return (await importModule(pathToFileURL(path).href)).default;
}

const isNamespace = (mod: unknown): mod is { default?: unknown } =>
  typeof mod === 'object' && mod !== null && (mod as Record<symbol, unknown>)[Symbol.toStringTag] === 'Module';

// The app's request listener: the default export (ESM), or module.exports (CommonJS).
export async function loadApp(path: string): Promise<RequestListener> {
  const exported = await appExports(path);
  const handler = typeof exported === 'function' ? exported : (exported as Record<string, unknown> | undefined)?.default;
  if (typeof handler !== 'function')
    throw new TypeError(`${path}: the default export must be a request listener (req, res) => …, got ${typeof exported}`);
  return handler as RequestListener;
}

/** How long a retiring server may take before it is left anyway. */
const RETIRE_LIMIT_MS = 30_000;

/** What the serving side tells its owner. */
export interface ServeEvents {
  /** The first response has been sent. */
  served(): void;
  /** A response was sent (at most twice a second), for the master's idle clock. */
  request(): void;
}

/** The servers of one app on its fds. */
export interface Serving {
  /** Stops accepting and calls `done` once every connection has ended (or after 30 s). */
  retire(done: () => void): void;
  /** Stops accepting and cuts every connection now. */
  destroy(): void;
}

// Listens on every fd with the app's listener; resolves once all listen. Node closes a
// listening fd with its server: a caller that must keep the fd passes a copy of its own.
export async function serve(handler: RequestListener, fds: readonly number[], events: ServeEvents): Promise<Serving> {
  let served = false;
  let retiring = false;
  let lastReport = 0;
  const servers: Server[] = fds.map(() =>
    createServer((req: IncomingMessage, res: ServerResponse) => {
      res.once('finish', () => {
        if (!served) {
          served = true;
          events.served();
        }
        const now = Date.now();
        if (now - lastReport >= 500) {
          lastReport = now;
          events.request();
        }
      });
      if (retiring) res.shouldKeepAlive = false; // this response is the connection's last
      handler(req, res);
    }),
  );
  await Promise.all(servers.map((s, i) => listenOn(s, fds[i]!)));
  return {
    retire: (done) => {
      retiring = true;
      retire(servers, done);
    },
    destroy: () => {
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
    },
  };
}

// server.listen({fd}), its failure named with the fd (fd 0 that is no listening socket: EINVAL).
function listenOn(server: Server, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void =>
      reject(new Error(`cannot serve on fd ${fd} (${err.code ?? err.message}): it must be a listening socket (http-socket = HOST:PORT, or an on-demand socket at fd 0)`, { cause: err }));
    server.once('error', fail);
    server.listen({ fd }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

// Stops accepting (the master keeps the socket open, so nothing is refused) and is done once
// every connection has ended. Idle keep-alive connections are not cut: a client may be
// sending on one at this very moment (and would see a reset). They close when their
// keep-alive timeout expires, which clients such as undici anticipate by a second; a
// request that still arrives is served, with `Connection: close`.
function retire(servers: readonly Server[], done: () => void): void {
  let open = servers.length;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done();
  };
  for (const s of servers) {
    s.closeIdleConnections = () => undefined; // Node's close() would cut them at once
    s.close(() => {
      if (--open === 0) finish();
    });
  }
  setTimeout(finish, RETIRE_LIMIT_MS).unref();
}
