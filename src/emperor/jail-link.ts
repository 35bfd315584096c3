// The emperor's ends of one running jail: its emperor pipe (bytes both ways), its config
// pipe (config packets out) and its stdout/stderr (into the vassal's log). One per jail, so
// during a rolling re-adoption the old instance and the new one each keep their own.
import { fstatSync } from 'node:fs';
import { configPacket, EmperorChannel } from './protocol';
import type { VassalFds } from './vassal-launch';
import type { VassalLog } from './vassal-log';

export class JailLink {
  private channel: EmperorChannel | undefined;
  private config: EmperorChannel | undefined;
  /** What each of our fds was at the start (device and inode): an upgrade hands over only
   *  fds that are still those (a closed one's number may belong to another jail by now). */
  private readonly ids: string;

  // `fds`: our ends, kept so that an upgrade can hand them to the next emperor (handover.ts).
  constructor(readonly fds: VassalFds, log: VassalLog, onByte: (byte: number) => void) {
    if (fds.stdout !== undefined) log.attach(fds.stdout, 'stdout');
    if (fds.stderr !== undefined) log.attach(fds.stderr, 'stderr');
    this.channel = new EmperorChannel(fds.emperor, onByte, () => this.channel?.close());
    if (fds.config !== undefined) this.config = new EmperorChannel(fds.config, () => undefined, () => undefined);
    this.ids = identities(fds);
  }

  /** Every fd is still open and still the one it was (the vassal closed none of its ends). */
  intact(): boolean {
    try {
      return identities(this.fds) === this.ids;
    } catch {
      return false; // EBADF: one is closed
    }
  }

  // False when the vassal can no longer hear us.
  send(byte: number): boolean {
    return this.channel?.send(byte) ?? false;
  }

  // The config text as one packet (the vassal reads it at start and after byte 2). False
  // when it did not all go: the vassal is gone (its exit tells), or its pipe is full (it
  // asked without reading: the fd is non-blocking, the emperor never waits for it).
  pushConfig(text: string | undefined): boolean {
    if (text === undefined || !this.config) return true;
    return this.config.write(configPacket(text));
  }

  close(): void {
    this.channel?.close();
    this.config?.close();
    this.channel = this.config = undefined;
  }
}

function identities(fds: VassalFds): string {
  return [fds.emperor, fds.config, fds.stdout, fds.stderr].map((fd) => {
    if (fd === undefined) return '-';
    const st = fstatSync(fd);
    return `${st.dev}:${st.ino}`;
  }).join(' ');
}
