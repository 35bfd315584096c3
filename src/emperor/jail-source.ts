// Where a vassal's jail comes from: one interface, one small module each.
//   spawned  (vassal-launch.ts)  the executor clones and execs it;
//   adopted  (adopt-source.ts)   a fork-server base forks it with the app loaded;
//   held     (held-socket.ts)    either of them on demand: the emperor holds the socket and
//                                starts the jail at the first connection.
// The state machine (vassal.ts) only ever asks a JailSource for a jail.
import { isJailError } from '../errors';
import type { VassalSource } from '../monitors/types';
import type { VassalBuild } from './vassal-config';
import { HeldSocket, PRIMARY_NAME } from './held-socket';
import { onDemandAddress } from './on-demand';
import { dryBuildVassal, SpawnSource, type BuildEnv, type VassalLaunch } from './vassal-launch';
import { AdoptSource, type AdoptEnv } from './adopt-source';

export type JailMode = 'spawned' | 'adopted';

export interface JailSource {
  readonly mode: JailMode;
  /** The listening socket the emperor holds for the vassal, fd 0 of its jail: its
   *  on-demand socket, or an adopted vassal's http-socket. It outlives each jail. */
  readonly held: HeldSocket | undefined;
  /** Nothing runs until a connection comes on `held`. */
  readonly onDemand: boolean;
  /** The file (as of now) compiled without starting anything (fds are placeholders);
   *  throws its JailError. */
  check(source: VassalSource): VassalBuild;
  /** Starts one jail of the file as of now. Never rejects for the vassal's own trouble: a
   *  config or start error is a VassalLaunch too. `abort`: the vassal no longer wants it
   *  (an adoption waiting for its base). */
  start(source: VassalSource, abort: AbortSignal): Promise<VassalLaunch>;
}

/** Why no source could be made: the vassal fails with this message. */
export type SourceError = { readonly kind: 'error'; readonly message: string; readonly error?: unknown };

// Works out where the vassal's jail comes from now (its file and the emperor's options), and
// holds its socket: `previous` when the address is the same (a re-adoption or a reload never
// closes the socket), else a new one. Resolves with the source, or the error. It never closes
// `previous`: the caller does, once it knows this answer is still wanted.
export async function openJailSource(source: VassalSource, env: AdoptEnv, name: string, previous: HeldSocket | undefined): Promise<JailSource | SourceError> {
  let onDemand: string | undefined;
  let build: VassalBuild;
  try {
    onDemand = await onDemandAddress(source, env.options);
    // What the file is to the fork server decides; the on-demand socket is fd 0 either way.
    build = dryBuildVassal(source, env, onDemand !== undefined ? { address: onDemand } : undefined);
  } catch (err: unknown) {
    if (err instanceof Error && (isJailError(err) || onDemand === undefined)) return { kind: 'error', message: err.message, error: err };
    throw err;
  }
  const adopted = build.fork?.kind === 'adopted' ? build.fork : undefined;
  const address = onDemand ?? adopted?.listen;
  // The primary socket first, then the file's held-socket lines (socket-activation.ts).
  const wanted = [...(address !== undefined ? [{ name: PRIMARY_NAME, address }] : []), ...build.held.filter((h) => h.name !== PRIMARY_NAME)];
  let held = previous?.key === HeldSocket.keyOf(wanted, address !== undefined) ? previous : undefined;
  if (wanted.length > 0 && !held) {
    try {
      held = HeldSocket.openAll(wanted, address !== undefined, previous);
    } catch (err: unknown) {
      return { kind: 'error', message: `cannot hold the ${onDemand !== undefined ? 'on-demand' : 'listening'} socket${wanted.length > 1 ? 's' : ''} ${wanted.map((w) => w.address).join(', ')}: ${(err as Error).message}` };
    }
    env.log(`${name}: ${onDemand !== undefined ? 'on demand, ' : ''}holding ${held.address}`);
  }
  if (adopted) return new AdoptSource(env, name, adopted, held, onDemand !== undefined);
  return new SpawnSource(env, name, held);
}

// A vassal's source openings, one at a time and the latest only. Two events for one file
// in a row (created, then written) would otherwise open its socket twice at once: the
// second bind fails (EADDRINUSE) while the first answer, already stale, still holds it.
// Each waits for the one before to settle (the stale one has closed its socket, or handed
// it on), and one no longer wanted by then (`wanted`) is not begun at all.
export class SerialOpen {
  private last: Promise<void> = Promise.resolve();
  constructor(private readonly onError: (err: Error) => void) {}

  run(wanted: () => boolean, open: () => Promise<void>): void {
    this.last = this.last.then(() => (wanted() ? open() : undefined)).catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))));
  }
}

export type { BuildEnv };
