// The emperor pipe: single bytes over a UNIX socketpair (DESIGN.md, "Wire formats").
import { Socket } from 'node:net';

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

// Our end of one pipe: bytes in, bytes out, EOF when the vassal side is closed.
export class EmperorChannel {
  private readonly socket: Socket;
  private closed = false;

  constructor(fd: number, onByte: (byte: number) => void, onEnd: () => void) {
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.socket.on('data', (chunk: Buffer) => {
      for (const b of chunk) onByte(b);
    });
    this.socket.on('end', () => onEnd());
    this.socket.on('error', () => onEnd());
    this.socket.unref();
  }

  // False when the vassal can no longer hear us.
  send(byte: number): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(Buffer.of(byte));
    return true;
  }

  write(data: Buffer): void {
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
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
