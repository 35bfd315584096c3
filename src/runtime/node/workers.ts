// The master's two kinds of worker, behind one handle: a forked Node process (this program
// with JAIL_APP_WORKER set), or the master itself serving the app (processes = 1, until a
// reload brings new code, which needs a fresh process). One Node boot on a cold start.
import type { ChildProcess } from 'node:child_process';
import { loadApp, serve, type Serving } from './serve';
import type { FromWorker, ToWorker } from './worker';
import { log } from './log';

/** What a worker tells the master. */
export interface WorkerEvents {
  message(m: FromWorker): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface WorkerHandle {
  readonly pid: number | undefined;
  /** It serves on the sockets. */
  listening: boolean;
  /** Of a generation that is going: its end is no failure. */
  retiring: boolean;
  /** graceful: stop accepting, finish the requests in flight, then go; else go now. */
  stop(graceful: boolean): void;
}

export interface ForkSpec {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The fds the worker gets at 4, 5, ... */
  readonly extra: readonly number[];
}

// child_process is loaded on the first fork only: a master that is its own worker never needs it.
export function forkWorker(spec: ForkSpec, events: WorkerEvents): WorkerHandle {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fork } = require('node:child_process') as typeof import('node:child_process');
  const child: ChildProcess = fork(spec.argv[0]!, spec.argv.slice(1), {
    env: spec.env,
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...spec.extra],
  });
  let asked = false;
  const w: WorkerHandle = {
    pid: child.pid,
    listening: false,
    retiring: false,
    stop(graceful) {
      if (graceful && asked) return; // already finishing
      if (graceful && child.connected) {
        asked = true;
        child.send({ t: 'stop', graceful: true } satisfies ToWorker);
      } else child.kill('SIGKILL');
    },
  };
  child.on('message', (m: FromWorker) => events.message(m));
  child.on('exit', (code, signal) => events.exit(code, signal));
  // A fork refused (EAGAIN under max-procs) never exits: it is a worker that never served.
  child.on('error', (err) => {
    log(`worker: ${err.message}`);
    if (child.pid === undefined) events.exit(null, null);
  });
  return w;
}

/** Marks our own uncaughtException listeners, to tell them from the app's. */
const kOwnWorker = Symbol('jailctl.ownWorker');

export interface OwnWorkerSpec {
  readonly app: string;
  readonly fds: readonly number[];
  readonly heartbeat: number;
  /** Writes a heartbeat (byte 26) to the emperor. */
  beat(): void;
  /** Called just before the servers close the fds they listen on: keep copies of them. */
  release(): void;
}

// The master serving the app itself. It listens on the master's own fds (no copy on the
// cold path: dup needs the addon); before it closes them, `release` makes the master keep
// copies. An uncaught exception while it serves ends it as a worker's crash would (status
// 1): the master then forks a worker in its place and goes on.
export function ownWorker(spec: OwnWorkerSpec, events: WorkerEvents): WorkerHandle {
  let serving: Serving | undefined;
  let gone = false;
  let stopWhenLoaded = false;
  let beats: NodeJS.Timeout | undefined;
  const end = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (gone) return;
    gone = true;
    if (beats) clearInterval(beats);
    process.off('uncaughtException', crash);
    events.exit(code, signal);
  };
  const close = (how: (s: Serving) => void): void => {
    if (!serving) return;
    spec.release();
    how(serving);
    serving = undefined;
  };
  function crash(err: Error): void {
    // The app handles its own (as it would in a forked worker, which Node then keeps alive).
    if (process.listeners('uncaughtException').some((l) => !(kOwnWorker in l))) return;
    log(`the app threw: ${err.stack ?? err.message}`);
    close((s) => s.destroy());
    end(1, null);
  }
  Object.defineProperty(crash, kOwnWorker, { value: true });
  process.on('uncaughtException', crash);
  const w: WorkerHandle = {
    pid: process.pid,
    listening: false,
    retiring: false,
    stop(graceful) {
      if (gone) return;
      if (!serving) {
        // Still loading: it ends when the load does (see below).
        stopWhenLoaded = true;
        return;
      }
      if (graceful) close((s) => s.retire(() => end(0, null)));
      else {
        close((s) => s.destroy());
        // Reported later, as a killed child's exit is: the caller may be going through its list.
        setImmediate(() => end(null, 'SIGKILL'));
      }
    },
  };
  loadApp(spec.app)
    .then((handler) => serve(handler, spec.fds, { served: () => events.message({ t: 'served' }), request: () => events.message({ t: 'request' }) }))
    .then(
      (s) => {
        serving = s;
        if (stopWhenLoaded) return w.stop(false);
        w.listening = true;
        if (spec.heartbeat > 0) {
          spec.beat();
          beats = setInterval(() => spec.beat(), spec.heartbeat * 1000);
          beats.unref();
        }
        events.message({ t: 'listening' });
      },
      (err: unknown) => {
        log(`cannot load the app: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        end(1, null);
      },
    );
  return w;
}
