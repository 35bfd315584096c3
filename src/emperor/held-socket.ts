// The listening socket the emperor holds for an on-demand vassal: bound once, watched for
// the first connection while the jail is down, handed to the jail as fd 0 when it runs.
import { closeSync, rmSync } from 'node:fs';
import { binding, type FdWatcher } from '../native/binding';

export class HeldSocket {
  private watcher: FdWatcher | undefined;

  private constructor(readonly address: string, readonly fd: number) {}

  // Binds and listens on `address` (host:port or a path); throws what the bind threw.
  static open(address: string): HeldSocket {
    return new HeldSocket(address, binding.listenSocket(address));
  }

  // One an emperor before an upgrade held, its fd handed over (handover.ts).
  static adopt(address: string, fd: number): HeldSocket {
    return new HeldSocket(address, fd);
  }

  // Calls `onConnection` once, at the next connection (perhaps one already in the backlog).
  watch(onConnection: () => void): void {
    this.unwatch();
    this.watcher = new binding.FdWatcher(this.fd, () => {
      this.unwatch();
      onConnection();
    });
  }

  unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  // Closes it; a path socket's file goes too, so the next bind of the address works.
  close(): void {
    this.unwatch();
    closeSync(this.fd);
    if (this.address.includes('/')) rmSync(this.address, { force: true });
  }
}
