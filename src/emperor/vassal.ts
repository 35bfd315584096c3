// One vassal under the emperor: an explicit state machine around one jail at a time.
//
//   spawning ──started──▶ running ──config changed──▶ reloading ──ready──▶ running
//      │                    │  └──removed / shutdown──▶ stopping ──exited──▶ stopped
//      │                    └──died──▶ respawn-wait (loyal) | blacklisted (not yet loyal)
//      └──bad config──▶ failed (until the file changes)
//
// An on-demand vassal starts in `on-demand`: the emperor holds its socket and spawns it at
// the first connection; when it leaves (byte 22, or any exit) it goes back to `on-demand`.
//
// Everything a vassal needs from the emperor comes in through VassalContext; nothing here is
// shared with another vassal.
import { closeSync, rmSync } from 'node:fs';
import { isJailError, PlanError, type LaunchError } from '../errors';
import { launchJail, type Jail, type JailExit } from '../jail/launch';
import { binding, type FdWatcher } from '../native/binding';
import type { VassalSource } from '../monitors/types';
import type { UserDb } from '../config/users';
import type { EmperorOptions } from './options';
import type { EmperorPrivileges } from './privileges';
import { OWNER_FIELD } from './tyrant';
import { VassalLog, type Stream } from './vassal-log';
import { ControlError } from './control';
import { onDemandAddress } from './on-demand';
import { linesSince, maxProcsHint } from './diagnose';
import { configPacket, EmperorChannel, EXIT_NO_RESPAWN, FROM_VASSAL, TO_VASSAL } from './protocol';
import { blacklistAfterDeath, type BlacklistEntry } from './throttle';
import { buildVassal, type VassalBuild } from './vassal-config';

export type VassalState =
  | 'on-demand' | 'spawning' | 'running' | 'reloading' | 'stopping' | 'respawn-wait' | 'blacklisted' | 'failed' | 'stopped';

export interface VassalContext {
  readonly options: EmperorOptions;
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host's users and groups, as of now. */
  users(): UserDb;
  /** What the emperor itself may do (after it dropped to its own user, if it did). */
  privileges(): EmperorPrivileges;
  log(line: string): void;
  /** One line a vassal wrote (with a logs directory, also kept in its log). */
  echo(vassal: string, stream: Stream, line: string): void;
  /** A removed vassal has stopped: the emperor forgets it. */
  gone(vassal: Vassal): void;
}

/** What stats and `ps` show of a vassal (seconds since the epoch, as uWSGI's stats). */
export interface VassalSnapshot {
  readonly name: string;
  readonly state: VassalState;
  readonly source: VassalSource;
  readonly pid: number;
  readonly loyal: boolean;
  readonly ready: boolean;
  readonly accepting: boolean;
  readonly speaksProtocol: boolean;
  readonly born: number;
  readonly lastHeartbeat: number;
  readonly lastLoyal: number;
  readonly lastReady: number;
  readonly lastAccepting: number;
  readonly firstRun: number;
  readonly lastRun: number;
  readonly cursed: number;
  readonly respawns: number;
  readonly restarts: number;
  readonly namespaces: readonly string[];
  readonly error?: string;
  readonly lastExit?: string;
  readonly blacklist?: BlacklistEntry;
  /** The socket the emperor holds for an on-demand vassal. */
  readonly onDemand?: string;
  readonly uid?: number;
  readonly gid?: number;
}

const sec = (ms: number): number => Math.floor(ms / 1000);

function describeExit(exit: JailExit): string {
  return exit.signal !== null ? `killed by signal ${exit.signal}` : `exited with status ${exit.code}`;
}

export class Vassal {
  readonly name: string;
  private source: VassalSource;
  private state: VassalState = 'spawning';
  private jail: Jail | undefined;
  private build: VassalBuild | undefined;
  private channel: EmperorChannel | undefined;
  private configChannel: EmperorChannel | undefined;
  private speaks = false;
  private loyal = false;
  private ready = false;
  private accepting = false;
  private hung = false;
  private removed = false;
  private restartWhenDown = false;
  private readonly born = Date.now();
  private lastHeartbeat = 0;
  private lastLoyal = 0;
  private lastReady = 0;
  private lastAccepting = 0;
  private firstRun = 0;
  private lastRun = 0;
  private cursed = 0;
  private respawns = 0;
  private restarts = 0;
  private error: string | undefined;
  private lastExit: string | undefined;
  private blacklist: BlacklistEntry | undefined;
  private respawnTimer: NodeJS.Timeout | undefined;
  private curseTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private loyalTimer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<() => void> = [];
  private onDemand: { readonly address: string; readonly fd: number } | undefined;
  private demandWatcher: FdWatcher | undefined;
  private goingDown = false;
  /** The exec failed for good (no such program): retrying would not help. */
  private execFailed = false;
  private lastWarnings = '';
  /** Bumped whenever the config is looked at again: a late on-demand answer is dropped. */
  private generation = 0;

  /** Its stdout/stderr, when the emperor keeps logs (emperor-logs-dir). */
  readonly log: VassalLog | undefined;

  // `name`: the emperor's key for it (in tyrant mode OWNER/NAME, see names.ts).
  constructor(source: VassalSource, private readonly ctx: VassalContext, name = source.name) {
    this.name = name;
    this.source = source;
    if (ctx.options.logsDir !== 'none')
      this.log = new VassalLog(ctx.options.logsDir, name, ctx.options.logsMaxSize, (stream, line) => ctx.echo(name, stream, line));
  }

  get currentState(): VassalState {
    return this.state;
  }

  get path(): string {
    return this.source.path;
  }

  get currentSource(): VassalSource {
    return this.source;
  }

  start(): void {
    this.prepare();
  }

  // Works out whether the vassal is on demand (and binds its socket), then waits for a
  // connection or spawns.
  private prepare(): void {
    const generation = ++this.generation;
    onDemandAddress(this.source, this.ctx.options).then(
      (address) => {
        if (generation !== this.generation || this.removed) return;
        try {
          this.holdSocket(address);
        } catch (err: unknown) {
          this.fail(`cannot hold the on-demand socket ${address}: ${(err as Error).message}`);
          return;
        }
        if (!this.onDemand) {
          this.spawn();
          return;
        }
        // Nothing runs until a connection comes: check the config now, not then.
        try {
          this.dryBuild();
        } catch (err: unknown) {
          if (!isJailError(err)) throw err;
          this.fail(err.message);
          return;
        }
        this.waitForConnection();
      },
      (err: Error) => {
        if (generation === this.generation && !this.removed) this.fail(err.message);
      },
    );
  }

  private holdSocket(address: string | undefined): void {
    if (this.onDemand?.address === address) return;
    this.releaseSocket();
    if (address !== undefined) {
      this.onDemand = { address, fd: binding.listenSocket(address) };
      this.ctx.log(`${this.name}: on demand, holding ${address}`);
    }
  }

  private releaseSocket(): void {
    this.demandWatcher?.close();
    this.demandWatcher = undefined;
    if (!this.onDemand) return;
    closeSync(this.onDemand.fd);
    if (this.onDemand.address.includes('/')) rmSync(this.onDemand.address, { force: true });
    this.onDemand = undefined;
  }

  // The jail is down; the next connection (perhaps already waiting in the backlog) spawns it.
  private waitForConnection(): void {
    const held = this.onDemand;
    if (!held) return;
    this.setState('on-demand');
    this.demandWatcher?.close();
    this.demandWatcher = new binding.FdWatcher(held.fd, () => {
      this.demandWatcher?.close();
      this.demandWatcher = undefined;
      if (this.onDemand !== held || this.state !== 'on-demand') return;
      this.ctx.log(`${this.name}: a connection on ${held.address}; spawning`);
      this.spawn();
    });
  }

  private fail(message: string): void {
    this.error = message;
    this.setState('failed');
    this.ctx.log(`${this.name}: ${message}; not started (fix the file: it is read again when it changes)`);
    this.finish();
  }

  // The config file changed (or SIGHUP asked for a reload).
  change(source: VassalSource, why = 'config changed'): void {
    const before = this.source;
    const owner = (x: VassalSource): string => (x.link && this.ctx.options.tyrantNofollow ? `${x.link.uid}:${x.link.gid}` : `${x.uid}:${x.gid}`);
    if (this.ctx.options.tyrant && owner(before) !== owner(source))
      why = `the file's owner changed (${owner(before)} → ${owner(source)})`;
    this.source = source;
    switch (this.state) {
      case 'failed':
      case 'blacklisted':
      case 'respawn-wait':
      case 'stopped':
      case 'on-demand':
        // A new config deserves a fresh start: the fix may be in it.
        this.clearTimer('respawnTimer');
        this.blacklist = undefined;
        this.prepare();
        return;
      case 'stopping':
        if (!this.removed) this.restartWhenDown = true;
        return;
      default:
        this.reload(why);
    }
  }

  // The config file is gone: stop the jail, then let the emperor forget this vassal.
  remove(): Promise<void> {
    this.removed = true;
    return this.stop();
  }

  // Stops the jail (byte 0 or 2, or SIGTERM for a vassal that does not speak the protocol);
  // SIGKILLs the whole jail after emperor-curse-tolerance. Resolves once it is reaped.
  stop(): Promise<void> {
    this.restartWhenDown = false;
    this.generation++;
    this.clearTimer('respawnTimer');
    this.releaseSocket();
    if (!this.jail) {
      this.setState('stopped');
      this.finish();
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.state !== 'stopping') {
      this.setState('stopping');
      this.askToStop();
    }
    return done;
  }

  // SIGKILL of the whole jail (its init is pid 1 of its pid namespace: everything goes).
  kill(): void {
    this.jail?.signal('SIGKILL');
  }

  // SIGURG: off the blacklist, and a blacklisted vassal gets its next attempt now.
  clearBlacklist(): void {
    this.blacklist = undefined;
    if (this.state === 'blacklisted') {
      this.clearTimer('respawnTimer');
      this.ctx.log(`${this.name}: off the blacklist (SIGURG); ${this.onDemand ? 'back on demand' : 'spawning now'}`);
      this.resume();
    }
  }

  // The control socket's commands (jailctl reload/stop/start/unblacklist): each answers
  // with one line for the operator, or throws ControlError when the state does not allow it.

  requestReload(why: string): string {
    if (this.state === 'stopped') throw new ControlError('ESTATE', `${this.name} is stopped; \`jailctl start ${this.name}\` starts it`);
    const was = this.state;
    this.change(this.source, why);
    return was === 'running' || was === 'reloading' ? `${this.name}: reloading` : `${this.name}: was ${was}; config read again`;
  }

  async requestStop(): Promise<string> {
    if (this.state === 'stopped') throw new ControlError('ESTATE', `${this.name} is already stopped`);
    this.ctx.log(`${this.name}: stop asked on the control socket`);
    await this.stop();
    return `${this.name}: stopped${this.lastExit ? ` (${this.lastExit})` : ''}; it stays so until \`jailctl start ${this.name}\` or its file changes`;
  }

  requestStart(): string {
    if (!['stopped', 'failed', 'blacklisted', 'respawn-wait'].includes(this.state))
      throw new ControlError('ESTATE', `${this.name} is already ${this.state}${this.jail ? ` (pid ${this.jail.pid})` : ''}`);
    this.ctx.log(`${this.name}: start asked on the control socket`);
    this.clearTimer('respawnTimer');
    this.blacklist = undefined;
    this.prepare();
    return `${this.name}: starting`;
  }

  requestUnblacklist(): string {
    if (!this.blacklist) return '';
    this.clearBlacklist();
    return `${this.name}: off the blacklist`;
  }

  snapshot(): VassalSnapshot {
    const plan = this.build?.plan;
    return {
      name: this.name,
      state: this.state,
      source: this.source,
      pid: this.jail?.pid ?? 0,
      loyal: this.loyal,
      ready: this.ready,
      accepting: this.accepting,
      speaksProtocol: this.speaks,
      born: sec(this.born),
      lastHeartbeat: sec(this.lastHeartbeat),
      lastLoyal: sec(this.lastLoyal),
      lastReady: sec(this.lastReady),
      lastAccepting: sec(this.lastAccepting),
      firstRun: sec(this.firstRun),
      lastRun: sec(this.lastRun),
      cursed: sec(this.cursed),
      respawns: this.respawns,
      restarts: this.restarts,
      namespaces: plan?.namespaces ?? [],
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.lastExit !== undefined ? { lastExit: this.lastExit } : {}),
      ...(this.blacklist ? { blacklist: this.blacklist } : {}),
      ...(this.onDemand ? { onDemand: this.onDemand.address } : {}),
      // Tyrant mode: whom it runs (or would run) as is the file's owner, even before a plan.
      ...(plan?.uid !== undefined ? { uid: plan.uid } : this.ctx.options.tyrant ? { uid: this.source.link && this.ctx.options.tyrantNofollow ? this.source.link.uid : this.source.uid } : {}),
      ...(plan?.gid !== undefined ? { gid: plan.gid } : this.ctx.options.tyrant ? { gid: this.source.link && this.ctx.options.tyrantNofollow ? this.source.link.gid : this.source.gid } : {}),
    };
  }

  private setState(state: VassalState): void {
    this.state = state;
  }

  private spawn(): void {
    this.clearTimer('respawnTimer');
    this.setState('spawning');
    this.speaks = this.loyal = this.ready = this.accepting = this.hung = this.goingDown = this.execFailed = false;
    this.lastHeartbeat = 0;

    const [ours, theirs] = binding.socketPair();
    // The config pipe; closed right after the launch when the program does not read one.
    const [configPipe, configTheirs] = binding.socketPair();
    let configOurs: number | undefined = configPipe;
    // The vassal's stdout and stderr, read into its log.
    const [outOurs, outTheirs] = this.log ? binding.socketPair() : [undefined, undefined];
    const [errOurs, errTheirs] = this.log ? binding.socketPair() : [undefined, undefined];
    const closeAll = (fds: Array<number | undefined>): void => fds.forEach((fd) => fd !== undefined && closeSync(fd));

    let build: VassalBuild;
    try {
      build = buildVassal(this.source, {
        options: this.ctx.options,
        users: this.ctx.users(),
        privileges: this.ctx.privileges(),
        baseEnv: this.ctx.baseEnv,
        env: this.ctx.env,
        emperorFd: theirs,
        configFd: configTheirs,
        ...(outTheirs !== undefined && errTheirs !== undefined ? { stdio: { out: outTheirs, err: errTheirs } } : {}),
        ...(this.onDemand ? { onDemand: this.onDemand } : {}),
      });
    } catch (err: unknown) {
      closeAll([ours, theirs, configOurs, configTheirs, outOurs, outTheirs, errOurs, errTheirs]);
      if (!isJailError(err)) throw err;
      this.fail(err.message);
      return;
    }
    // Once per config, not once per respawn (a crash loop would flood the log).
    const warnings = build.warnings.join('\n');
    if (warnings !== this.lastWarnings) for (const w of build.warnings) this.ctx.log(`${this.name}: warning: ${w}`);
    this.lastWarnings = warnings;
    this.build = build;

    let jail: Jail;
    try {
      jail = launchJail(build.plan);
    } catch (err: unknown) {
      closeAll([ours, theirs, configOurs, configTheirs, outOurs, outTheirs, errOurs, errTheirs]);
      if (!isJailError(err)) throw err;
      this.error = err.message;
      this.ctx.log(`${this.name}: ${err.message}`);
      this.diedBeforeLoyal();
      return;
    }
    closeAll([theirs, configTheirs, outTheirs, errTheirs]);
    if (outOurs !== undefined) this.log!.attach(outOurs, 'stdout');
    if (errOurs !== undefined) this.log!.attach(errOurs, 'stderr');
    if (build.configText === undefined) {
      closeAll([configOurs]);
      configOurs = undefined;
    }
    this.jail = jail;
    this.error = undefined;
    this.lastRun = Date.now();
    if (this.firstRun === 0) this.firstRun = this.lastRun;
    this.channel = new EmperorChannel(ours, (b) => this.onByte(jail, b), () => this.channel?.close());
    if (configOurs !== undefined) {
      this.configChannel = new EmperorChannel(configOurs, () => undefined, () => undefined);
      this.pushConfig();
    }

    jail.started.then(
      () => {
        if (this.jail !== jail) return;
        if (this.state === 'spawning') this.setState('running');
        this.ctx.log(`${this.name}: running (pid ${jail.pid}${jail.plan.uid !== undefined ? `, uid ${jail.plan.uid}` : ''})`);
        this.loyalTimer = setTimeout(() => {
          if (this.jail === jail && !this.speaks) this.becomeLoyal();
        }, this.ctx.options.loyalAfter * 1000);
      },
      (err: LaunchError) => {
        if (this.jail !== jail) return;
        const message = err.message.replace(/^[^:]*: /, ''); // our name, not the plan's
        this.error = message;
        this.execFailed = err.stage === 'exec' && (err.errnoCode === 'ENOENT' || err.errnoCode === 'EACCES' || err.errnoCode === 'ENOEXEC');
        this.ctx.log(`${this.name}: ${message}`);
      },
    );
    // The launch's outcome first (a failed exec is told apart from a crash), then the exit.
    void jail.exited.then((exit) => jail.started.then(() => exit, () => exit)).then((exit) => this.onExit(jail, exit));
  }

  // The config compiled without launching anything (fds are placeholders).
  private dryBuild(): VassalBuild {
    return buildVassal(this.source, {
      options: this.ctx.options,
      users: this.ctx.users(),
      privileges: this.ctx.privileges(),
      baseEnv: this.ctx.baseEnv,
      env: this.ctx.env,
      emperorFd: -1,
      configFd: -1,
      ...(this.onDemand ? { onDemand: { ...this.onDemand, fd: -1 } } : {}),
    });
  }

  private reload(why: string): void {
    let next: VassalBuild;
    try {
      next = this.dryBuild();
    } catch (err: unknown) {
      if (!isJailError(err)) throw err;
      this.error = err.message;
      if (err instanceof PlanError && err.field === OWNER_FIELD) {
        // The tenant it runs as no longer owns the file: it must not go on as them.
        this.ctx.log(`${this.name}: ${err.message}; stopping the running vassal`);
        void this.stop().then(() => {
          if (!this.removed) this.fail(err.message);
        });
        return;
      }
      this.ctx.log(`${this.name}: ${err.message}; the running vassal keeps its previous config`);
      return;
    }
    this.respawns++;
    if (this.speaks && this.jail && this.build && next.jailKey === this.build.jailKey) {
      // Same jail, new app config: the vassal reloads itself (and asks for its config).
      this.build = { ...this.build, ...(next.configText !== undefined ? { configText: next.configText } : {}) };
      this.setState('reloading');
      this.ready = this.accepting = false;
      if (this.channel?.send(TO_VASSAL.RELOAD)) {
        this.ctx.log(`${this.name}: ${why}; reload byte sent`);
        return;
      }
    }
    this.ctx.log(`${this.name}: ${why}; restarting the jail`);
    this.restartWhenDown = true;
    this.setState('reloading');
    this.askToStop();
  }

  private askToStop(): void {
    const jail = this.jail;
    if (!jail) return;
    const byte = this.ctx.options.gracefulShutdown ? TO_VASSAL.GRACEFUL_STOP : TO_VASSAL.STOP;
    if (!(this.speaks && this.channel?.send(byte))) jail.signal('SIGTERM');
    this.clearTimer('curseTimer');
    this.curseTimer = setTimeout(() => {
      if (this.jail !== jail) return;
      this.cursed = Date.now();
      this.ctx.log(`${this.name}: still alive after ${this.ctx.options.curseTolerance} s; SIGKILL to the whole jail`);
      jail.signal('SIGKILL');
    }, this.ctx.options.curseTolerance * 1000);
  }

  private onByte(jail: Jail, byte: number): void {
    if (this.jail !== jail) return;
    this.speaks = true;
    const now = Date.now();
    switch (byte) {
      case FROM_VASSAL.SPAWNED:
        this.ready = true;
        this.lastReady = now;
        this.reloaded();
        return;
      case FROM_VASSAL.CONFIG_REQUEST:
        this.pushConfig();
        return;
      case FROM_VASSAL.ACCEPTING:
        // uWSGI 2.0 sends 5, not 1, after a graceful reload.
        this.accepting = true;
        this.lastAccepting = now;
        this.reloaded();
        return;
      case FROM_VASSAL.LOYAL:
        this.becomeLoyal();
        return;
      case FROM_VASSAL.HEARTBEAT:
        this.lastHeartbeat = now;
        if (this.heartbeatTimer) this.heartbeatTimer.refresh();
        else this.heartbeatTimer = setTimeout(() => this.onHung(jail), this.ctx.options.requiredHeartbeat * 1000);
        return;
      case FROM_VASSAL.GOING_DOWN:
        // uWSGI's die-on-idle says 22 and waits to be told to stop; our app server just goes.
        this.goingDown = true;
        this.ctx.log(`${this.name}: going down${this.onDemand ? ' (back to on demand)' : ''}`);
        this.askToStop();
        return;
      case FROM_VASSAL.SOS:
        this.ctx.log(`${this.name}: asks for help (SOS byte)`);
        return;
      default:
        this.ctx.log(`${this.name}: unknown byte ${byte} on the emperor pipe; ignored`);
    }
  }

  private reloaded(): void {
    if (this.state !== 'reloading' || this.restartWhenDown) return;
    this.setState('running');
    this.ctx.log(`${this.name}: reloaded`);
  }

  private becomeLoyal(): void {
    if (!this.loyal) this.ctx.log(`${this.name}: loyal`);
    this.loyal = true;
    this.lastLoyal = Date.now();
    this.blacklist = undefined;
  }

  private onHung(jail: Jail): void {
    this.heartbeatTimer = undefined;
    if (this.jail !== jail) return;
    this.hung = true;
    this.ctx.log(`${this.name}: no heartbeat for ${this.ctx.options.requiredHeartbeat} s: hung; killing the whole jail`);
    jail.signal('SIGKILL');
  }

  private pushConfig(): void {
    const text = this.build?.configText;
    if (text === undefined || !this.configChannel) return;
    try {
      this.configChannel.write(configPacket(text));
    } catch (err: unknown) {
      this.ctx.log(`${this.name}: cannot send the config: ${(err as Error).message}`);
    }
  }

  private onExit(jail: Jail, exit: JailExit): void {
    if (this.jail !== jail) return;
    this.jail = undefined;
    this.channel?.close();
    this.configChannel?.close();
    this.channel = this.configChannel = undefined;
    for (const t of ['curseTimer', 'heartbeatTimer', 'loyalTimer'] as const) this.clearTimer(t);
    this.lastExit = describeExit(exit);
    const hint = maxProcsHint(jail.plan.maxProcs, jail.plan.uid, linesSince(this.log?.tail(20) ?? [], this.lastRun), this.error);
    if (hint) this.ctx.log(`${this.name}: ${this.lastExit}; ${hint}`);

    if (this.state === 'stopping') {
      this.ctx.log(`${this.name}: stopped (${this.lastExit})`);
      this.setState('stopped');
      this.finish();
      return;
    }
    if (this.restartWhenDown) {
      this.restartWhenDown = false;
      this.restarts++;
      this.ctx.log(`${this.name}: old jail ${this.lastExit}; ${this.onDemand ? 'the next connection starts the new one' : 'starting the new one'}`);
      this.resume();
      return;
    }
    if (this.onDemand && exit.code !== EXIT_NO_RESPAWN && (this.goingDown || exit.code === 0 || (this.loyal && !this.hung))) {
      this.ctx.log(`${this.name}: ${this.lastExit}; back to on demand`);
      this.waitForConnection();
      return;
    }
    if (this.execFailed) {
      this.setState('failed');
      this.ctx.log(`${this.name}: not retried: fix the file or install the program, then touch the file (or SIGHUP the emperor)`);
      return;
    }
    if (exit.code === EXIT_NO_RESPAWN) {
      this.ctx.log(`${this.name}: exited with status 26: not respawned`);
      this.setState('stopped');
      return;
    }
    // Loyal or not, a vassal that dies within emperor-throttle ms of its start is crash-looping:
    // respawning it at once would be a fork bomb.
    const quick = Date.now() - this.lastRun < this.ctx.options.throttle;
    if (this.hung || (this.loyal && !quick)) {
      this.ctx.log(`${this.name}: ${this.hung ? 'killed as hung' : this.lastExit}; respawning`);
      this.setState('respawn-wait');
      this.respawns++;
      this.restarts++;
      this.respawnTimer = setTimeout(() => this.resume(), 0);
      return;
    }
    this.ctx.log(`${this.name}: ${this.lastExit} ${this.loyal ? `within ${this.ctx.options.throttle} ms of its start` : 'before it was loyal'}`);
    this.diedBeforeLoyal();
  }

  // Not loyal yet: on the blacklist, and a longer wait before every further attempt.
  private diedBeforeLoyal(): void {
    this.blacklist = blacklistAfterDeath(this.blacklist, Date.now(), this.ctx.options.throttle, this.ctx.options.maxThrottle);
    this.setState('blacklisted');
    const wait = this.blacklist.throttleMs;
    this.ctx.log(`${this.name}: blacklisted (attempt ${this.blacklist.attempt}); next attempt in ${(wait / 1000).toFixed(1)} s`);
    this.respawnTimer = setTimeout(() => {
      this.respawns++;
      this.restarts++;
      this.resume();
    }, wait);
  }

  // After a death or a wait: a new jail now, or, on demand, at the next connection.
  private resume(): void {
    if (this.onDemand) this.waitForConnection();
    else this.spawn();
  }

  private finish(): void {
    for (const w of this.waiters.splice(0)) w();
    if (this.removed) {
      this.log?.close();
      this.ctx.gone(this);
    }
  }

  private clearTimer(name: 'respawnTimer' | 'curseTimer' | 'heartbeatTimer' | 'loyalTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = undefined;
  }
}
