// A FIFO the benches' vassals announce their exec on (a line with their name); the bench reads
// it on its event loop, so an exec is seen without polling.
import { execFileSync } from 'node:child_process';
import { chmodSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';

// Lines the vassals write to the FIFO, each with the time the bench read it. The bench holds
// the FIFO open read-write, so a vassal closing it never ends the stream.
export class ExecFifo {
  private readonly socket: Socket;
  private waiter: { name: string; resolve: (t: bigint) => void } | undefined;
  private partial = '';
  unexpected = 0;
  /** Sees every line (and its time) instead of the waiter: for many vassals at once. */
  onLine: ((name: string, t: bigint) => void) | undefined;

  constructor(readonly path: string) {
    execFileSync('mkfifo', [path]);
    chmodSync(path, 0o666);
    this.socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => {
      const t = process.hrtime.bigint();
      const lines = (this.partial + chunk.toString()).split('\n');
      this.partial = lines.pop()!;
      for (const name of lines) {
        if (this.onLine) this.onLine(name, t);
        else if (this.waiter?.name === name) {
          this.waiter.resolve(t);
          this.waiter = undefined;
        } else this.unexpected++;
      }
    });
  }

  // The time `name` next writes its line, or undefined after timeoutMs.
  next(name: string, timeoutMs: number): Promise<bigint | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = { name, resolve: (t) => (clearTimeout(timer), resolve(t)) };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
