// What the emperor does when a vassal's jail has exited: the respawn policy as one pure
// decision, so that every path is named and testable without a jail.
import type { JailExit } from '../jail/launch';
import { EXIT_NO_RESPAWN } from './protocol';
import type { VassalState } from './vassal-snapshot';

export interface ExitFacts {
  readonly state: VassalState;
  readonly exit: JailExit;
  /** A new config (or a reload that needs a new jail) waits for this one to be down. */
  readonly restartWhenDown: boolean;
  readonly onDemand: boolean;
  /** It said byte 22 (going down) before it went. */
  readonly goingDown: boolean;
  readonly loyal: boolean;
  readonly hung: boolean;
  /** The exec failed for good (no such program): retrying would not help. */
  readonly execFailed: boolean;
  /** It died within emperor-throttle ms of its start. */
  readonly quick: boolean;
}

export type ExitAction =
  | 'stopped' // asked to stop: stays down
  | 'restart' // the next jail, with the new config
  | 'on-demand' // back to holding its socket
  | 'failed' // not retried until the file changes
  | 'no-respawn' // status 26
  | 'respawn' // loyal: at once
  | 'blacklist'; // not loyal, or crash-looping: after a growing wait

export function afterExit(f: ExitFacts): ExitAction {
  // A stop that a new config overtook (the file touched, or removed and put back) restarts.
  if (f.state === 'stopping') return f.restartWhenDown ? 'restart' : 'stopped';
  if (f.restartWhenDown) return 'restart';
  if (f.onDemand && f.exit.code !== EXIT_NO_RESPAWN && (f.goingDown || f.exit.code === 0 || (f.loyal && !f.hung))) return 'on-demand';
  if (f.execFailed) return 'failed';
  if (f.exit.code === EXIT_NO_RESPAWN) return 'no-respawn';
  // Loyal or not, a vassal that dies within emperor-throttle ms of its start is crash-looping:
  // respawning it at once would be a fork bomb.
  if (f.hung || (f.loyal && !f.quick)) return 'respawn';
  return 'blacklist';
}

/** How a config change reaches a running jail. */
export type ReloadWay = 'byte' | 'signal' | 'restart';

// The same jail (namespaces, mounts, uid… and fork role unchanged) can be kept: a vassal
// that speaks the protocol reloads itself (byte 1), except a base, which only a fresh process
// makes load the new code; a program of its own (nginx) by its reload-signal once running.
// Anything else needs a new jail.
export function reloadWay(f: { readonly sameJail: boolean; readonly speaks: boolean; readonly base: boolean; readonly running: boolean; readonly signal: string | undefined }): ReloadWay {
  if (!f.sameJail) return 'restart';
  if (f.speaks) return f.base ? 'restart' : 'byte';
  return f.signal !== undefined && f.running ? 'signal' : 'restart';
}

/** What a changed config (or SIGHUP) does to a vassal. */
export type ChangeAction = 'fresh' | 'after-stop' | 'look-again' | 'reload';

// By its state: down or waiting (failed, blacklisted, stopped, on demand), a fresh start
// from the new file, the fix may be in it. Stopping (touched, or removed and put back while
// the old jail goes down): the new one once it is down; dropping this left a put-back file
// without a jail for good, as the monitors had already reported it and a rescan sees nothing
// new. Spawning with nothing launched yet (its file still being looked at, or its launch
// waiting its turn): look again, at the new file. Else a reload of the running jail.
export function changeAction(state: VassalState, hasJail: boolean): ChangeAction {
  if (['failed', 'blacklisted', 'respawn-wait', 'stopped', 'on-demand'].includes(state)) return 'fresh';
  if (state === 'stopping') return 'after-stop';
  return state === 'spawning' && !hasJail ? 'look-again' : 'reload';
}

// The emperor's log line for what an exit leads to.
export function exitLine(action: ExitAction, f: { readonly name: string; readonly exit: string; readonly onDemand: boolean; readonly hung: boolean; readonly loyal: boolean; readonly throttleMs: number }): string {
  switch (action) {
    case 'stopped': return `${f.name}: stopped (${f.exit})`;
    case 'restart': return `${f.name}: old jail ${f.exit}; ${f.onDemand ? 'the next connection starts the new one' : 'starting the new one'}`;
    case 'on-demand': return `${f.name}: ${f.exit}; back to on demand`;
    case 'failed': return `${f.name}: not retried: fix the file or install the program, then touch the file (or SIGHUP the emperor)`;
    case 'no-respawn': return `${f.name}: exited with status 26: not respawned`;
    case 'respawn': return `${f.name}: ${f.hung ? 'killed as hung' : f.exit}; respawning`;
    case 'blacklist': return `${f.name}: ${f.exit} ${f.loyal ? `within ${f.throttleMs} ms of its start` : 'before it was loyal'}`;
  }
}
