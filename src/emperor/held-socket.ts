// The listening sockets the emperor holds for a vassal: bound once, kept across its jails
// (reloads, respawns, on-demand cycles), watched for the first connection while the jail
// is down. The primary one is its on-demand socket (or an adopted vassal's http-socket),
// fd 0 of the jail; `held-socket = NAME=ADDRESS` lines add named ones, which reach the
// jail with systemd's socket activation (socket-activation.ts).
import { closeSync, rmSync } from 'node:fs';
import { binding, type FdWatcher } from '../native/binding';

/** One socket the emperor holds: `name` is its LISTEN_FDNAMES entry. */
export interface HeldEntry {
  readonly name: string;
  readonly address: string;
  readonly fd: number;
}

/** The name the primary (on-demand) socket has in LISTEN_FDNAMES. */
export const PRIMARY_NAME = 'on-demand';

export class HeldSocket {
  private watchers: FdWatcher[] = [];
  /** Addresses a later set took over (its own dup of the socket): their files stay. */
  private readonly handedOver = new Set<string>();

  private constructor(readonly entries: readonly HeldEntry[], readonly primary: boolean) {}

  // Binds and listens on `address` (host:port or a path); throws what the bind threw.
  static open(address: string): HeldSocket {
    return HeldSocket.openAll([{ name: PRIMARY_NAME, address }], true);
  }

  // Every wanted socket, in order (with `primary`, the first is the on-demand one). One
  // that `previous` holds at the same address is taken over (dup'd: the same socket, its
  // backlog with it) instead of bound again, which would fail with EADDRINUSE while
  // `previous` is still open. Throws what a bind threw, with nothing left open.
  static openAll(wanted: readonly { name: string; address: string }[], primary: boolean, previous?: HeldSocket): HeldSocket {
    const entries: HeldEntry[] = [];
    try {
      for (const w of wanted) {
        const old = previous?.entries.find((e) => e.address === w.address);
        entries.push({ ...w, fd: old ? binding.dupFd(old.fd) : binding.listenSocket(w.address) });
      }
    } catch (err: unknown) {
      for (const e of entries) closeSync(e.fd);
      throw err;
    }
    for (const e of entries) if (previous?.entries.some((p) => p.address === e.address)) previous.handedOver.add(e.address);
    return new HeldSocket(entries, primary);
  }

  /** The primary socket's address, or every address (for a log line). */
  get address(): string {
    return this.primary ? this.entries[0]!.address : this.entries.map((e) => e.address).join(', ');
  }

  /** The primary socket's fd. */
  get fd(): number {
    return this.entries[0]!.fd;
  }

  /** Equal keys: the same sockets, under the same names, in the same order. */
  get key(): string {
    return HeldSocket.keyOf(this.entries, this.primary);
  }

  static keyOf(wanted: readonly { name: string; address: string }[], primary: boolean): string {
    return JSON.stringify([primary, wanted.map((e) => [e.name, e.address])]);
  }

  // The fd held for `address`, or undefined.
  fdOf(address: string): number | undefined {
    return this.entries.find((e) => e.address === address)?.fd;
  }

  // The sockets an emperor before an upgrade held, their fds handed over (handover.ts).
  static adopt(entries: readonly HeldEntry[], primary: boolean): HeldSocket {
    return new HeldSocket(entries, primary);
  }

  // Calls `onConnection` once, at the next connection on any of them (perhaps one already
  // in a backlog).
  watch(onConnection: () => void): void {
    this.unwatch();
    for (const e of this.entries)
      this.watchers.push(new binding.FdWatcher(e.fd, () => {
        this.unwatch();
        onConnection();
      }));
  }

  unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  // Closes them; a path socket's file goes too (unless a later set took it over), so the
  // next bind of the address works.
  close(): void {
    this.unwatch();
    for (const e of this.entries) {
      closeSync(e.fd);
      if (e.address.includes('/') && !this.handedOver.has(e.address)) rmSync(e.address, { force: true });
    }
  }
}
