// What the HTTP benchmarks share: one GET on a connection of its own, a free port, the
// emperor's stats document, and waiting for a condition.
import { connect, createServer } from 'node:net';

export interface Hit {
  readonly ok: boolean;
  readonly ms: number;
  /** The body of a 200. */
  readonly body?: string;
  /** Why it failed: an errno code, `timeout`, or the status line. */
  readonly why?: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const elapsedMs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

// A port nothing listens on right now, below the kernel's ephemeral range (32768 and up on
// Linux): a port from that range may be taken meanwhile by any outgoing connection, such as
// the bench's own thousands of clients.
// A port is handed out once per process: calls made together (a hundred vassals dropped at
// once) would otherwise test the same free port and share it.
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
}

const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// One GET on 127.0.0.1:port, from connect() until the server closed it; ok only for a 200.
export function hit(port: number, timeoutMs: number): Promise<Hit> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ok: boolean, extra: { body?: string; why?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, ms: elapsedMs(t0), ...extra });
    };
    const sock = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => finish(false, { why: 'timeout' }), timeoutMs);
    sock.on('connect', () => sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = text.slice(0, text.indexOf('\r\n'));
      const at = text.indexOf('\r\n\r\n');
      if (/^HTTP\/1\.[01] 200 /.test(status) && at >= 0) finish(true, { body: text.slice(at + 4) });
      else finish(false, { why: status === '' ? 'empty reply' : status });
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(false, { why: err.code ?? err.message }));
  });
}

// Until a 200 on port: a refused connection (nothing listens yet) is tried again every 5 ms.
// Returns the ms from the call to that 200.
export async function firstOk(port: number, timeoutMs: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (;;) {
    const left = timeoutMs - elapsedMs(t0);
    if (left <= 0) throw new Error(`no 200 on port ${port} within ${timeoutMs} ms`);
    const r = await hit(port, left);
    if (r.ok) return elapsedMs(t0);
    if (r.why === 'timeout') throw new Error(`no 200 on port ${port} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

// The emperor's stats document, read raw from its UNIX socket; undefined while it does not listen.
export function fetchStats<T>(path: string): Promise<T | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString()));
    sock.on('end', () => {
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        resolve(undefined);
      }
    });
    sock.on('error', () => resolve(undefined));
  });
}

export async function until(what: string, timeoutMs: number, probe: () => Promise<boolean> | boolean, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
