// The emperor pipe: single bytes over a UNIX socketpair (DESIGN.md, "Wire formats").
import { closeSync, readSync, writeSync } from 'node:fs';
import { binding, type FdWatcher } from '../native/binding';

/** Vassal → emperor. */
export const FROM_VASSAL = {
  SPAWNED: 1,
  CONFIG_REQUEST: 2,
  ACCEPTING: 5,
  LOYAL: 17,
  GOING_DOWN: 22,
  HEARTBEAT: 26,
  SOS: 30,
} as const;

/** Emperor → vassal. */
export const TO_VASSAL = {
  STOP: 0,
  RELOAD: 1,
  GRACEFUL_STOP: 2,
} as const;

/** Exit status with which a vassal asks not to be respawned. */
export const EXIT_NO_RESPAWN = 26;

/** The fd numbers a vassal finds its pipes at. */
export const EMPEROR_FD = 3;
export const CONFIG_FD = 4;

// Our end of one pipe: bytes in, bytes out, EOF when the vassal side is closed. A uv_poll
// watcher and plain read(2)/write(2) on the fd: a thousand vassals cost a thousand small
// watchers, not a thousand net.Socket streams.
export class EmperorChannel {
  private watcher: FdWatcher | undefined;
  private readonly fd: number;
  private closed = false;

  constructor(fd: number, onByte: (byte: number) => void, onEnd: () => void) {
    this.fd = fd;
    const buf = Buffer.alloc(64);
    this.watcher = new binding.FdWatcher(fd, (events) => {
      let n = 0;
      if (events >= 0) {
        try {
          n = readSync(fd, buf, 0, buf.length, null); // readable: data or EOF, never a wait
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        }
      }
      if (n <= 0) {
        this.stopWatching();
        onEnd();
        return;
      }
      for (let i = 0; i < n; i++) onByte(buf[i]!);
    });
    this.watcher.unref();
  }

  // False when the vassal can no longer hear us.
  send(byte: number): boolean {
    return this.write(Buffer.of(byte));
  }

  // Writes all of data; a UNIX socket's buffer (200 KiB) holds any one message we send.
  write(data: Buffer): boolean {
    if (this.fd < 0 || this.closed) return false;
    try {
      for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off);
      return true;
    } catch {
      return false; // EPIPE, ECONNRESET: the vassal is gone (Node ignores SIGPIPE)
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    closeSync(this.fd);
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

// A uwsgi packet carrying the vassal's config text (modifier1 115, as uWSGI's emperor sends).
export function configPacket(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  if (body.length > 0xffff) throw new RangeError(`the config is ${body.length} bytes; the config pipe carries at most 65535`);
  const head = Buffer.alloc(4);
  head.writeUInt8(115, 0);
  head.writeUInt16LE(body.length, 1);
  head.writeUInt8(0, 3);
  return Buffer.concat([head, body]);
}
