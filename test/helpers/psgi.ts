// The PSGI host's processes below one emperor, told apart by their command lines: the
// master runs jailctl-psgi.pl, its workers say `(worker)` (other emperors' are not counted).
import { closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from '../../src/native/binding';
import { descendants } from './proc';

/** test/fixtures/psgi: the apps the PSGI tests serve. */
export const PSGI_FIXTURES = join(__dirname, '..', 'fixtures', 'psgi');

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined; // gone
    throw err;
  }
}

// pids of the PSGI host's masters and workers below `root` (the emperor).
export function psgiProcesses(root: number): { all: number[]; masters: number[]; workers: number[] } {
  const all: number[] = [];
  const masters: number[] = [];
  const workers: number[] = [];
  for (const p of descendants(root)) {
    const cmd = cmdline(p.pid);
    if (cmd === undefined || !cmd.includes('jailctl-psgi')) continue;
    all.push(p.pid);
    (cmd.endsWith('(worker)') ? workers : masters).push(p.pid);
  }
  return { all, masters, workers };
}

// A fork-server request (docs/FORK-SERVER.md, "Wire format"): `35 | u16le size | mask`, then
// the argv as a uwsgi array (u16le len, bytes each).
export function adoptionRequest(argv: readonly string[], mask: number): Buffer {
  const body = Buffer.concat(argv.map((a) => {
    const b = Buffer.from(a);
    const len = Buffer.alloc(2);
    len.writeUInt16LE(b.length);
    return Buffer.concat([len, b]);
  }));
  const head = Buffer.of(35, body.length & 0xff, body.length >> 8, mask);
  return Buffer.concat([head, body]);
}

// Waits until the peer of a non-blocking socket closes it: 'closed' at EOF or a reset,
// 'data' if it answered anything, 'open' if nothing happened within timeoutMs.
export function waitClosed(fd: number, timeoutMs: number): Promise<'closed' | 'data' | 'open'> {
  return new Promise((resolve) => {
    const done = (r: 'closed' | 'data' | 'open'): void => {
      clearTimeout(timer);
      watcher.close();
      resolve(r);
    };
    const watcher = new binding.FdWatcher(fd, () => {
      try {
        const { data, fds } = binding.recvFds(fd, 4096, 8);
        for (const f of fds) closeSync(f);
        done(data.length === 0 ? 'closed' : 'data');
      } catch (err: unknown) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        if (code === 'ECONNRESET') done('closed');
        else throw err;
      }
    });
    const timer = setTimeout(() => done('open'), timeoutMs);
  });
}

// Sends a request with its fds; true when the peer had closed the connection already.
export function sendRequest(fd: number, data: Uint8Array, fds: readonly number[]): boolean {
  try {
    binding.sendFds(fd, data, fds);
    return false;
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ECONNRESET') return true;
    throw err;
  }
}

// A uwsgi keyval body (the serialised plan's format): u16le key length, key, u16le value
// length, value, for each pair in order.
export function keyvals(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const u16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  return Buffer.concat(pairs.flatMap(([k, v]) => [u16(Buffer.byteLength(k)), Buffer.from(k), u16(Buffer.byteLength(v)), Buffer.from(v)]));
}

// Everything a non-blocking socket receives until EOF (bytes and fds), or what came by timeoutMs.
export function readUntilEof(fd: number, timeoutMs: number): Promise<{ data: Buffer; fds: number[]; eof: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const fds: number[] = [];
    const done = (eof: boolean): void => {
      clearTimeout(timer);
      watcher.close();
      resolve({ data: Buffer.concat(chunks), fds, eof });
    };
    const watcher = new binding.FdWatcher(fd, () => {
      for (;;) {
        let got: { data: Buffer; fds: number[] };
        try {
          got = binding.recvFds(fd, 65536, 8);
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
          throw err;
        }
        fds.push(...got.fds);
        if (got.data.length === 0) return done(true);
        chunks.push(got.data);
      }
    });
    const timer = setTimeout(() => done(false), timeoutMs);
  });
}

// The next `n` bytes on a socket (an emperor pipe), or throws after timeoutMs.
export async function readBytes(fd: number, n: number, timeoutMs: number): Promise<number[]> {
  binding.setNonBlocking(fd);
  const out: number[] = [];
  const end = Date.now() + timeoutMs;
  while (out.length < n) {
    try {
      const { data } = binding.recvFds(fd, n - out.length, 0);
      if (data.length === 0) throw new Error(`EOF on the emperor pipe after bytes ${JSON.stringify(out)}`);
      out.push(...data);
      continue;
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${n} byte(s) on the emperor pipe; got ${JSON.stringify(out)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}
