// The Node app server's master: binds the listening sockets (or takes fd 0 from an
// on-demand emperor), keeps N workers serving on them, speaks the emperor protocol, reloads
// gracefully (new workers first, then the old ones finish), and goes cheap when idle.
// With processes = 1 the master is its own first worker (workers.ts): one Node boot on a
// cold start. The addon is loaded only when something needs it (binding a socket, a copy of
// an fd, cheap mode): an on-demand cold start does without.
import { fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { FdWatcher, NativeBinding } from '../../native/binding';
import { loadAppOptions, readConfigPacket, appOptions, type AppOptions } from './options';
import { parseIni } from '../../config/ini';
import type { FromWorker } from './worker';
import { forkWorker, ownWorker, type WorkerHandle as Worker } from './workers';
import { log } from './log';
import { takeListenFds } from './listen-fds';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = (): NativeBinding => (require('../../native/binding') as typeof import('../../native/binding')).binding;

// fd 0 handed over by an on-demand emperor: a socket (that it listens is checked by listen()).
function socketAtZero(): boolean {
  try {
    return fstatSync(0).isSocket();
  } catch {
    return false;
  }
}

export class Master {
  private options: AppOptions;
  /** During a reload, the options the old (still serving) workers were started with. */
  private previous: AppOptions | undefined;
  private fds: number[];
  /** The master may be its own worker: until a reload brings new code, or the app crashes in it. */
  private ownWorkerOk = true;
  private readonly emperorFd: number | undefined;
  private readonly configFd: number | undefined;
  private workers: Worker[] = [];
  private stopping = false;
  private announcedAccepting = false;
  private announcedLoyal = false;
  private lastRequest = Date.now();
  private cheapWatchers: FdWatcher[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly workerArgv: readonly string[], env: NodeJS.ProcessEnv) {
    this.options = loadAppOptions(process.argv, env, process.cwd());
    const fd = (name: string): number | undefined => (env[`JAIL_${name}`] ?? env[`UWSGI_${name}`]) !== undefined ? Number(env[`JAIL_${name}`] ?? env[`UWSGI_${name}`]) : undefined;
    this.emperorFd = fd('EMPEROR_FD');
    this.configFd = fd('EMPEROR_FD_CONFIG');
    const activated = takeListenFds(env, (n) => native().isListeningSocket(n));
    if (activated) this.fds = [...activated.fds];
    else if (this.options.sockets.length > 0) this.fds = this.options.sockets.map((a) => native().listenSocket(a));
    else if (socketAtZero()) this.fds = [0];
    else throw new Error('nothing to listen on: set http-socket = HOST:PORT (or a socket path), or run on demand (fd 0)');
  }

  start(): void {
    if (this.emperorFd !== undefined) this.listenToEmperor(this.emperorFd);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => this.stop(sig !== 'SIGQUIT'));
    process.on('SIGHUP', () => this.reload());
    this.tellEmperor(1);
    const own = this.options.processes === 1 ? ' (the master itself)' : '';
    log(`serving ${this.options.app} on ${this.fds[0] !== 0 && this.options.sockets.length === 0 ? `fd ${this.fds.join(', ')} (socket activation)` : this.options.sockets.join(', ') || 'fd 0'} with ${this.options.processes} worker(s)${own}`);
    this.spawnGeneration();
    if (this.options.idle > 0) this.idleTimer = setInterval(() => this.checkIdle(), 1000);
  }

  private tellEmperor(byte: number): void {
    if (this.emperorFd === undefined) return;
    try {
      writeSync(this.emperorFd, Buffer.of(byte));
    } catch {
      // gone: its EOF stops us
    }
  }

  private listenToEmperor(fd: number): void {
    const pipe = new Socket({ fd, readable: true, writable: false });
    pipe.on('data', (chunk: Buffer) => {
      for (const b of chunk) {
        if (b === 0) this.stop(false);
        else if (b === 1) this.reload();
        else if (b === 2) this.stop(true);
      }
    });
    pipe.on('end', () => this.stop(false)); // the emperor is gone
    pipe.on('error', () => this.stop(false));
  }

  private spawnGeneration(): void {
    for (let i = 0; i < this.options.processes; i++) this.spawnWorker();
  }

  private spawnWorker(): Worker {
    const events = {
      message: (m: FromWorker) => this.onWorkerMessage(w, m),
      exit: (code: number | null, signal: NodeJS.Signals | null) => this.onWorkerExit(w, code, signal),
    };
    const w = this.ownWorkerOk && this.options.processes === 1 ? this.startOwnWorker(events) : forkWorker(this.forkSpec(), events);
    this.workers.push(w);
    return w;
  }

  private startOwnWorker(events: Parameters<typeof ownWorker>[1]): Worker {
    return ownWorker(
      { app: this.options.app, fds: this.fds, heartbeat: this.options.heartbeat, beat: () => this.tellEmperor(26), release: () => this.keepFds() },
      {
        message: events.message,
        exit: (code, signal) => {
          // Crashed (not retired, not stopped): its app state is suspect; forked workers from now on.
          if (code !== 0 && signal === null) this.ownWorkerOk = false;
          events.exit(code, signal);
        },
      },
    );
  }

  // Our own worker's servers close the fds they listen on: the master goes on with copies.
  private keepFds(): void {
    if (this.stopping) return;
    this.fds = this.fds.map((fd) => native().dupFd(fd));
  }

  private forkSpec(): Parameters<typeof forkWorker>[0] {
    const extra = [...this.fds, ...(this.emperorFd !== undefined ? [this.emperorFd] : [])];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      JAIL_APP_WORKER: JSON.stringify({
        app: this.options.app,
        fds: this.fds.map((_, i) => 4 + i),
        emperorFd: this.emperorFd !== undefined ? 4 + this.fds.length : null,
        heartbeat: this.options.heartbeat,
      }),
    };
    for (const k of ['UWSGI_EMPEROR_FD', 'JAIL_EMPEROR_FD', 'UWSGI_EMPEROR_FD_CONFIG', 'JAIL_EMPEROR_FD_CONFIG']) delete env[k];
    return { argv: this.workerArgv, env, extra };
  }

  private onWorkerMessage(w: Worker, m: FromWorker): void {
    if (m.t === 'listening') {
      w.listening = true;
      if (!this.announcedAccepting) {
        this.announcedAccepting = true;
        this.tellEmperor(5);
      }
      this.retireOldWhenReady();
    } else if (m.t === 'served' || m.t === 'request') {
      this.lastRequest = Date.now();
      if (!this.announcedLoyal) {
        this.announcedLoyal = true;
        this.tellEmperor(17);
      }
    }
  }

  private onWorkerExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers = this.workers.filter((x) => x !== w);
    if (this.stopping) {
      if (this.workers.length === 0) process.exit(0);
      return;
    }
    if (w.retiring) return;
    if (!w.listening && this.abandonReload(w, code, signal)) return;
    if (!w.listening) {
      // The app cannot even load: no use respawning here, the emperor's blacklist decides.
      log(`a worker died before it could serve (${signal ?? `status ${code}`}); exiting`);
      this.stopping = true;
      for (const x of this.workers) x.stop(false);
      process.exit(1);
    }
    log(`worker ${w.pid} died (${signal ?? `status ${code}`}); replacing it`);
    this.spawnWorker();
  }

  // Byte 1 or SIGHUP: read the config again, start a new generation, and retire the old
  // one once every new worker listens. The sockets stay open throughout.
  private reload(): void {
    if (this.stopping) return;
    this.previous = this.options;
    this.ownWorkerOk = false; // new code needs a fresh process
    if (this.configFd !== undefined) {
      this.tellEmperor(2);
      try {
        this.options = { ...appOptions(parseIni(readConfigPacket(this.configFd), '(config pipe)').entries, process.cwd()), sockets: this.options.sockets };
      } catch (err: unknown) {
        log(`reload: the new config is unusable (${(err as Error).message}); keeping the old one`);
      }
    }
    log('reloading: new workers first, then the old ones finish their requests');
    for (const w of this.workers) w.retiring = true;
    this.stopCheap();
    this.spawnGeneration();
  }

  // A reload whose new generation cannot serve (an app that throws at load, a fork or thread
  // refused by max-procs) must not take the working one down: while old workers still
  // listen, the new ones go, the old ones stay, with the config they were started with.
  private abandonReload(dead: Worker, code: number | null, signal: NodeJS.Signals | null): boolean {
    const serving = this.workers.filter((x) => x.retiring && x.listening);
    if (serving.length === 0 || !this.previous) return false;
    log(`reload failed: a new worker died before it could serve (${signal ?? `status ${code}`}); the ${serving.length} old worker(s) keep serving the previous config`);
    for (const x of this.workers) {
      if (x.retiring || x === dead) continue;
      x.retiring = true;
      x.stop(false);
    }
    for (const x of serving) x.retiring = false;
    this.options = this.previous;
    this.previous = undefined;
    // Ready again, on the old config (the emperor waits for this after a reload byte).
    this.tellEmperor(1);
    return true;
  }

  private retireOldWhenReady(): void {
    const fresh = this.workers.filter((w) => !w.retiring);
    if (fresh.length === 0 || !fresh.every((w) => w.listening)) return;
    for (const w of this.workers) if (w.retiring) w.stop(true);
    this.previous = undefined;
    this.tellEmperor(1);
  }

  private stop(graceful: boolean): void {
    if (this.stopping && graceful) return;
    this.stopping = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.stopCheap();
    if (this.workers.length === 0) process.exit(0);
    for (const w of [...this.workers]) w.stop(graceful);
  }

  // Idle: the workers go; the master waits on the sockets and brings them back on the next
  // connection, which waits in the backlog meanwhile. die-on-idle: leave instead (byte 22).
  private checkIdle(): void {
    if (this.stopping || this.cheapWatchers.length > 0 || Date.now() - this.lastRequest < this.options.idle * 1000) return;
    if (this.options.dieOnIdle) {
      log(`idle for ${this.options.idle} s: leaving (die-on-idle)`);
      this.tellEmperor(22);
      this.stop(true);
      return;
    }
    log(`idle for ${this.options.idle} s: workers stopped until the next connection`);
    for (const w of this.workers) {
      w.retiring = true;
      w.stop(true);
    }
    const { FdWatcher } = native();
    this.cheapWatchers = this.fds.map((fd) => new FdWatcher(fd, () => this.wake()));
  }

  private wake(): void {
    if (this.cheapWatchers.length === 0) return;
    this.stopCheap();
    this.lastRequest = Date.now();
    log('a connection: workers back');
    this.spawnGeneration();
  }

  private stopCheap(): void {
    for (const w of this.cheapWatchers) w.close();
    this.cheapWatchers = [];
  }
}
