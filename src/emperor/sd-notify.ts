// systemd's notification protocol (sd_notify(3)) for an emperor started as a Type=notify
// unit: READY=1 once its first scan has run, STOPPING=1 when it goes, STATUS= lines in
// between. NOTIFY_SOCKET is read once and taken out of the environment, so that no vassal
// inherits it (a vassal is not the unit's main process, and must not speak for it).
import { binding } from '../native/binding';

export class SdNotify {
  private constructor(private readonly socket: string | undefined) {}

  /** Takes NOTIFY_SOCKET out of env (process.env by default). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): SdNotify {
    const socket = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    return new SdNotify(socket !== undefined && socket !== '' ? socket : undefined);
  }

  /** Whether a supervisor asked for notifications. */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Sends `KEY=VALUE` lines; returns the error's text if the send failed (nothing is thrown). */
  send(fields: Readonly<Record<string, string | number>>): string | undefined {
    if (!this.socket) return undefined;
    const text = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`).join('\n');
    try {
      binding.sendDatagram(this.socket, Buffer.from(text));
      return undefined;
    } catch (err: unknown) {
      return `cannot notify ${this.socket}: ${(err as Error).message}`;
    }
  }
}
