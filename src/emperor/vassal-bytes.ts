// What a vassal's bytes on the emperor pipe do (DESIGN.md's protocol: 1 spawned, 2 send my
// config, 5 accepting, 17 loyal, 26 heartbeat, 22 going down, 30 SOS), for one jail of one
// vassal. The state machine (vassal.ts) lends what they change.
import { FROM_VASSAL } from './protocol';
import type { JailFlags, VassalTimes } from './vassal-snapshot';

export interface ByteHost {
  readonly name: string;
  /** The jail's flags and the vassal's times, changed in place. */
  readonly flags: JailFlags;
  readonly times: VassalTimes;
  /** It is held on demand: going down means back to its socket. */
  readonly onDemand: boolean;
  log(line: string): void;
  /** A reload is done (ready or accepting again). */
  reloaded(): void;
  /** It accepts requests: a base's adoptions may go on, a retiring instance may go. */
  accepting(): void;
  becomeLoyal(): void;
  pushConfig(): void;
  /** Its heartbeat came: the hang timer starts again. */
  heartbeat(): void;
  askToStop(): void;
}

export function onVassalByte(host: ByteHost, byte: number, now = Date.now()): void {
  host.flags.speaks = true;
  switch (byte) {
    case FROM_VASSAL.SPAWNED:
      host.flags.ready = true;
      host.times.lastReady = now;
      host.reloaded();
      return;
    case FROM_VASSAL.CONFIG_REQUEST:
      host.pushConfig();
      return;
    case FROM_VASSAL.ACCEPTING:
      // uWSGI 2.0 sends 5, not 1, after a graceful reload (and at a start with inherited
      // sockets, bound-sockets.ts): accepting requests is being ready.
      if (!host.flags.ready) {
        host.flags.ready = true;
        host.times.lastReady = now;
      }
      host.flags.accepting = true;
      host.times.lastAccepting = now;
      host.accepting();
      host.reloaded();
      return;
    case FROM_VASSAL.LOYAL:
      host.becomeLoyal();
      return;
    case FROM_VASSAL.HEARTBEAT:
      host.times.lastHeartbeat = now;
      host.heartbeat();
      return;
    case FROM_VASSAL.GOING_DOWN:
      // uWSGI's die-on-idle says 22 and waits to be told to stop; our app server just goes.
      host.flags.goingDown = true;
      host.log(`${host.name}: going down${host.onDemand ? ' (back to on demand)' : ''}`);
      host.askToStop();
      return;
    case FROM_VASSAL.SOS:
      host.log(`${host.name}: asks for help (SOS byte)`);
      return;
    default:
      host.log(`${host.name}: unknown byte ${byte} on the emperor pipe; ignored`);
  }
}
