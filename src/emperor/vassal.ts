// One vassal under the emperor: an explicit state machine around one jail at a time (two
// for a moment during a rolling re-adoption: rolling.ts).
//
//   spawning ──started──▶ running ──config changed──▶ reloading ──ready──▶ running
//      │                    │  └──removed / shutdown──▶ stopping ──exited──▶ stopped
//      │                    └──died──▶ respawn-wait (loyal) | blacklisted (not yet loyal)
//      └──bad config──▶ failed (until the file changes)
//
// `spawning` covers an adoption waiting for its base. An on-demand vassal starts in
// `on-demand`: the emperor holds its socket and starts its jail at the first connection;
// when it leaves (byte 22, or any exit) it goes back to `on-demand`.
//
// All it needs comes in through VassalContext; nothing is shared with another vassal. Its
// seams: jail-source.ts (where its jail comes from: spawned, adopted from a fork-server
// base, either held on demand), exit-policy.ts (what an exit leads to), fork-bases.ts (the
// bases adoptions wait for), vassal-bytes.ts (what its protocol bytes do),
// vassal-snapshot.ts (what stats and ps show).
import { isJailError, PlanError, type LaunchError } from '../errors';
import type { Jail, JailExit } from '../jail/launch';
import type { VassalSource } from '../monitors/types';
import { OWNER_FIELD } from './tyrant';
import { ownerChange } from './names';
import { VassalLog, type Stream } from './vassal-log';
import { describeExit, exitHint, linesSince } from './diagnose';
import { TO_VASSAL } from './protocol';
import { onVassalByte } from './vassal-bytes';
import { JailLink } from './jail-link';
import { blacklistAfterDeath, type BlacklistEntry } from './throttle';
import type { VassalBuild } from './vassal-config';
import { discard, dryBuildVassal, type VassalLaunch } from './vassal-launch';
import { afterExit } from './exit-policy';
import type { HeldSocket } from './held-socket';
import { openJailSource, SerialOpen, type JailSource } from './jail-source';
import { AdoptSource, type AdoptEnv } from './adopt-source';
import type { BaseInstance } from './fork-bases';
import type { Retiring } from './retiring';
import { rollOver } from './rolling';
import type { LaunchQueue } from './launch-queue';
import { Timers } from './timers';
import { freshFlags, newTimes, snapshotOf, type VassalSnapshot, type VassalState } from './vassal-snapshot';
export type { VassalSnapshot, VassalState } from './vassal-snapshot';

export interface VassalContext extends AdoptEnv {
  /** The emperor's one queue of launches (a few per turn of the event loop). */
  readonly launches: LaunchQueue;
  log(line: string): void;
  /** One line a vassal wrote (with a logs directory, also kept in its log). */
  echo(vassal: string, stream: Stream, line: string): void;
  /** A removed vassal has stopped: the emperor forgets it. */
  gone(vassal: Vassal): void;
}

export class Vassal {
  readonly name: string;
  private source: VassalSource;
  private state: VassalState = 'spawning';
  private jail: Jail | undefined;
  private build: VassalBuild | undefined;
  /** Our ends of its running jail's pipes. */
  private link: JailLink | undefined;
  /** What its current (or last) jail has said and done (vassal-snapshot.ts JailFlags). */
  private flags = freshFlags();
  private removed = false;
  private restartWhenDown = false;
  /** The emperor is shutting down: a stop that nothing overtakes. */
  private final = false;
  private readonly times = newTimes(Date.now());
  private respawns = 0;
  private restarts = 0;
  private error: string | undefined;
  private lastExit: string | undefined;
  private blacklist: BlacklistEntry | undefined;
  private readonly timers = new Timers<'respawn' | 'curse' | 'heartbeat' | 'loyal'>();
  private readonly waiters: Array<() => void> = [];
  /** Where its jail comes from (jail-source.ts), and the socket held for it (the origin's). */
  private origin: JailSource | undefined;
  private held: HeldSocket | undefined;
  private readonly opening = new SerialOpen((err) => this.ctx.log(`${this.name}: internal error: ${err.stack ?? err.message}`));
  /** A start under way (an adoption waiting for its base): aborted when it is no longer wanted. */
  private starting: AbortController | undefined;
  private lastStart: Promise<void> = Promise.resolve();
  /** A rolling re-adoption: the old instance, serving until the new one accepts. */
  private retiring: Retiring | undefined;
  private unwatchBase: (() => void) | undefined;
  private lastWarnings = '';
  /** Bumped whenever the config is looked at again: a late on-demand answer is dropped. */
  private generation = 0;

  /** Its stdout/stderr: in emperor-logs-dir, or (none) echoed and kept in memory only. */
  readonly log: VassalLog;

  // `name`: the emperor's key for it (in tyrant mode OWNER/NAME, see names.ts).
  constructor(source: VassalSource, private readonly ctx: VassalContext, name = source.name) {
    this.name = name;
    this.source = source;
    const dir = ctx.options.logsDir === 'none' ? undefined : ctx.options.logsDir;
    this.log = new VassalLog(dir, name, ctx.options.logsMaxSize, (stream, line) => ctx.echo(name, stream, line));
  }

  get currentState(): VassalState { return this.state; }
  get path(): string { return this.source.path; }
  get currentSource(): VassalSource { return this.source; }
  /** Its jail's top process, 0 when none runs (reaped through the jail's pidfd). */
  get pid(): number { return this.jail?.pid ?? 0; }
  /** Every top process of its that runs: during a rolling re-adoption, the old one too. */
  get pids(): number[] { return [this.jail?.pid ?? 0, this.retiring?.jail.pid ?? 0].filter((p) => p > 0); }

  start(): void { this.prepare(); }

  /** The socket held for it while it is on demand. */
  private get onDemand(): HeldSocket | undefined {
    return this.origin?.onDemand ? this.origin.held : undefined;
  }

  // Works out where its jail comes from (the config is checked now: on demand nothing runs
  // until a connection), then waits for a connection or starts one. One at a time (SerialOpen).
  private prepare(): void {
    const generation = ++this.generation;
    this.cancelStart();
    this.origin = undefined;
    this.opening.run(() => generation === this.generation && !this.removed && !this.final, () => openJailSource(this.source, this.ctx, this.name, this.held).then(
      (origin) => {
        const held = 'kind' in origin ? undefined : origin.held;
        if (generation !== this.generation || this.removed || this.final) {
          // A socket only this late answer opened: the next look (SerialOpen) takes it over.
          if (held && held !== this.held && !this.removed && !this.final) {
            this.held?.close();
            this.held = held;
          } else if (held !== this.held) held?.close();
          return;
        }
        if (this.held !== held) this.held?.close();
        this.held = held;
        if ('kind' in origin) {
          this.fail(origin.message);
          return;
        }
        this.origin = origin;
        // A new instance of its base: the vassal is re-adopted from it (a rolling deploy).
        if (origin instanceof AdoptSource) this.unwatchBase = this.ctx.bases.onRenewed(origin.fork.server, (b) => this.rollOver(origin, b));
        if (origin.onDemand) this.waitForConnection();
        else this.spawn();
      },
      (err: Error) => {
        if (generation === this.generation && !this.removed) this.fail(`internal error: ${err.stack ?? err.message}`);
      },
    ));
  }

  private releaseSocket(): void {
    this.cancelStart();
    this.held?.close();
    this.held = this.origin = undefined;
  }

  private cancelStart(): void {
    this.starting?.abort();
    this.starting = undefined;
    this.unwatchBase?.();
    this.unwatchBase = undefined;
  }

  // Its base has a new instance (touched: new code): re-adopted from it (rolling.ts).
  private rollOver(origin: AdoptSource, base: BaseInstance): void {
    rollOver({
      name: this.name, bases: this.ctx.bases, curseMs: this.ctx.options.curseTolerance * 1000, handOverMs: this.ctx.options.forkServerTimeout * 1000, log: this.ctx.log,
      current: () => (this.jail && this.link && this.state === 'running' && this.flags.speaks && this.origin === origin && !this.retiring
        ? { jail: this.jail, link: this.link, generation: this.generation, source: this.source } : undefined),
      unchanged: (generation, old) => generation === this.generation && this.jail === old && this.state === 'running',
      swap: (next, old) => {
        this.retiring = old;
        void old.jail.exited.then(() => this.retiring === old && (this.retiring = undefined));
        this.jail = this.link = undefined;
        this.clearFlags();
        this.launched(next);
      },
    }, origin, base);
  }

  // The jail is down; the next connection (perhaps already waiting in the backlog) spawns it.
  private waitForConnection(): void {
    const held = this.onDemand;
    if (!held) return;
    this.state = 'on-demand';
    held.watch(() => {
      if (this.onDemand !== held || this.state !== 'on-demand') return;
      this.ctx.log(`${this.name}: a connection on ${held.address}; spawning`);
      this.spawn();
    });
  }

  private fail(message: string): void {
    this.error = message;
    this.state = 'failed';
    this.ctx.log(`${this.name}: ${message}; not started (fix the file: it is read again when it changes)`);
    this.finish();
  }

  // The config file changed (or SIGHUP asked for a reload).
  change(source: VassalSource, why = 'config changed'): void {
    why = ownerChange(this.source, source, this.ctx.options) ?? why;
    this.source = source;
    if (this.final) return;
    switch (this.state) {
      case 'failed':
      case 'blacklisted':
      case 'respawn-wait':
      case 'stopped':
      case 'on-demand':
        // A new config deserves a fresh start: the fix may be in it.
        this.timers.clear('respawn');
        this.blacklist = undefined;
        this.prepare();
        return;
      case 'stopping':
        // Touched, or removed and put back, while the old jail goes down: the new one starts
        // once it is down. (Dropping this left a put-back file without a jail for good: the
        // monitors had already reported it, and a rescan sees nothing new.)
        if (this.removed) this.ctx.log(`${this.name}: config back; starting it once the old jail is down`);
        this.removed = false;
        this.restartWhenDown = true;
        return;
      case 'spawning':
        // Nothing launched yet (its config is still being looked at, or its launch waits its
        // turn): look again, at the new file.
        if (!this.jail) {
          this.prepare();
          return;
        }
        this.reload(why);
        return;
      default:
        this.reload(why);
    }
  }

  // The emperor is going: stop for good; nothing (SIGHUP, a reload, a file) starts it again.
  shutdown(): Promise<void> {
    this.final = true;
    return this.stop();
  }

  // The config file is gone: stop the jail, then let the emperor forget this vassal.
  remove(): Promise<void> {
    this.removed = true;
    return this.stop();
  }

  // Stops the jail (byte 0 or 2, or SIGTERM for a vassal that does not speak the protocol);
  // SIGKILLs the whole jail after emperor-curse-tolerance. Resolves once it is reaped.
  stop(): Promise<void> {
    // An old instance still retiring from a roll goes too, and is waited for.
    const old = this.retiring?.jail.exited.then(() => undefined);
    this.retiring?.retire();
    this.restartWhenDown = false;
    this.generation++;
    this.timers.clear('respawn');
    this.releaseSocket();
    if (!this.jail) {
      this.state = 'stopped';
      this.finish();
      return old ?? Promise.resolve();
    }
    const done = new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => old);
    if (this.state !== 'stopping') {
      this.state = 'stopping';
      this.askToStop();
    }
    return done;
  }

  // SIGKILL of the whole jail (its init is pid 1 of its pid namespace: everything goes).
  kill(): void {
    for (const jail of [this.jail, this.retiring?.jail]) jail?.signal('SIGKILL');
  }

  // SIGURG: off the blacklist, and a blacklisted vassal gets its next attempt now.
  clearBlacklist(): void {
    this.blacklist = undefined;
    if (this.state === 'blacklisted') {
      this.timers.clear('respawn');
      this.ctx.log(`${this.name}: off the blacklist (SIGURG); ${this.onDemand ? 'back on demand' : 'spawning now'}`);
      this.resume();
    }
  }

  // jailctl start (vassal-commands.ts checks the state): from the file, off the blacklist.
  startAgain(): void {
    this.timers.clear('respawn');
    this.blacklist = undefined;
    this.prepare();
  }

  /** The emperor is shutting down: nothing starts it again. */
  get shuttingDown(): boolean { return this.final; }

  snapshot(): VassalSnapshot {
    const { name, state, source, jail, times, respawns, restarts, error, lastExit, blacklist } = this;
    const facts = { name, state, source, jail, times, respawns, restarts, error, lastExit, blacklist, flags: this.flags };
    return snapshotOf({ ...facts, plan: this.build?.plan, onDemand: this.onDemand?.address, mode: this.origin?.mode }, this.ctx.options);
  }

  // The launch waits its turn in the emperor's queue; a stop or a new config meanwhile
  // (a new generation) drops it.
  private spawn(): void {
    this.timers.clear('respawn');
    this.state = 'spawning';
    const generation = ++this.generation;
    this.ctx.launches.run(() => (generation === this.generation && this.state === 'spawning' && !this.jail ? this.launch() : undefined));
  }

  // Asks its source for a jail: at once (spawned) or once its base answers (adopted). In
  // flight (launch-queue.ts) until a spawned jail's exec; an adoption not at all.
  private launch(): Promise<unknown> | undefined {
    const origin = this.origin;
    if (!origin) return undefined;
    let started: Promise<void> | undefined;
    this.clearFlags();
    const generation = this.generation;
    const abort = (this.starting = new AbortController());
    // One start at a time, after the last stale one is gone: both would be in its cgroup,
    // whose kill at the stale jail's end would take the live one too.
    const done = this.lastStart.then(() => origin.start(this.source, abort.signal)).then(
      (launched) => {
        if (this.starting === abort) this.starting = undefined;
        started = launched.kind === 'launched' ? launched.jail.started : undefined;
        if (generation === this.generation && this.origin === origin && this.state === 'spawning' && !this.jail) return this.launched(launched);
        discard(launched);
        return launched.kind === 'launched' ? launched.jail.exited.then(() => undefined) : undefined;
      },
      (err: Error) => {
        if (generation === this.generation) this.fail(`internal error while starting: ${err.stack ?? err.message}`);
      },
    );
    this.lastStart = done.then(() => undefined, () => undefined);
    return origin.mode === 'adopted' ? undefined : this.lastStart.then(() => started).catch(() => undefined);
  }

  private clearFlags(): void {
    [this.flags, this.times.lastHeartbeat] = [freshFlags(), 0];
  }

  private launched(launched: VassalLaunch): void {
    if (launched.kind === 'config-error') {
      this.fail(launched.error.message);
      return;
    }
    // Once per config, not once per respawn (a crash loop would flood the log).
    const build = (this.build = launched.build);
    if (build.warnings.join('\n') !== this.lastWarnings) for (const w of build.warnings) this.ctx.log(`${this.name}: warning: ${w}`);
    this.lastWarnings = build.warnings.join('\n');
    if (launched.kind === 'launch-error') {
      this.error = launched.error.message;
      this.ctx.log(`${this.name}: ${launched.error.message}`);
      this.diedBeforeLoyal();
      return;
    }
    const { jail, fds } = launched;
    this.jail = jail;
    this.error = undefined;
    if (build.fork?.kind === 'base') this.ctx.bases.loading(build.fork.socket, this.name, jail.pid);
    this.times.lastRun = Date.now();
    if (this.times.firstRun === 0) this.times.firstRun = this.times.lastRun;
    this.link = new JailLink(fds, this.log, (b) => this.onByte(jail, b));
    this.pushConfig();

    jail.started.then(
      () => {
        if (this.jail !== jail) return;
        if (this.state === 'spawning') this.state = 'running';
        this.ctx.log(`${this.name}: running (pid ${jail.pid}${jail.plan.uid !== undefined ? `, uid ${jail.plan.uid}` : ''})`);
        this.timers.set('loyal', this.ctx.options.loyalAfter * 1000, () => {
          if (this.jail === jail && !this.flags.speaks) this.becomeLoyal();
        });
      },
      (err: LaunchError) => {
        if (this.jail !== jail) return;
        const message = err.message.replace(/^[^:]*: /, ''); // our name, not the plan's
        this.error = message;
        this.flags.execFailed = err.stage === 'exec' && (err.errnoCode === 'ENOENT' || err.errnoCode === 'EACCES' || err.errnoCode === 'ENOEXEC');
        this.ctx.log(`${this.name}: ${message}`);
      },
    );
    // The launch's outcome first (a failed exec is told apart from a crash), then the exit.
    void jail.exited.then((exit) => jail.started.then(() => exit, () => exit)).then((exit) => this.onExit(jail, exit));
  }

  private reload(why: string): void {
    let next: VassalBuild;
    try {
      next = dryBuildVassal(this.source, this.ctx, this.held); // fds are placeholders
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
    // A base always gets a new process: only a fresh one loads the new code.
    // (An adopted vassal's held socket moved: a new jail, on the new socket.)
    const sameFork = JSON.stringify(next.fork) === JSON.stringify(this.build?.fork);
    if (this.flags.speaks && this.jail && this.build && next.jailKey === this.build.jailKey && sameFork && next.fork?.kind !== 'base') {
      // Same jail, new app config: the vassal reloads itself (and asks for its config).
      this.build = { ...this.build, ...(next.configText !== undefined ? { configText: next.configText } : {}) };
      this.state = 'reloading';
      this.flags.ready = this.flags.accepting = false;
      if (this.link?.send(TO_VASSAL.RELOAD)) {
        this.ctx.log(`${this.name}: ${why}; reload byte sent`);
        return;
      }
    }
    // A program of its own (nginx) reloads by its signal, when nothing of its jail changed.
    const signal = next.plan.reloadSignal;
    if (!this.flags.speaks && signal && this.jail && this.build && next.jailKey === this.build.jailKey && sameFork && this.state === 'running') {
      this.build = next;
      if (this.jail.signal(signal)) {
        this.ctx.log(`${this.name}: ${why}; ${signal} sent (reload-signal)`);
        return;
      }
    }
    this.ctx.log(`${this.name}: ${why}; restarting the jail`);
    this.restartWhenDown = true;
    this.state = 'reloading';
    this.askToStop();
  }

  private askToStop(): void {
    const jail = this.jail;
    if (!jail) return;
    const byte = this.ctx.options.gracefulShutdown ? TO_VASSAL.GRACEFUL_STOP : TO_VASSAL.STOP;
    if (!(this.flags.speaks && this.link?.send(byte))) jail.signal(jail.plan.stopSignal ?? 'SIGTERM');
    this.timers.set('curse', this.ctx.options.curseTolerance * 1000, () => {
      if (this.jail !== jail) return;
      this.times.cursed = Date.now();
      this.ctx.log(`${this.name}: still alive after ${this.ctx.options.curseTolerance} s; SIGKILL to the whole jail`);
      jail.signal('SIGKILL');
    });
  }

  private onByte(jail: Jail, byte: number): void {
    if (this.jail !== jail) return;
    onVassalByte({
      name: this.name, flags: this.flags, times: this.times, onDemand: this.onDemand !== undefined, log: this.ctx.log,
      reloaded: () => this.reloaded(), becomeLoyal: () => this.becomeLoyal(), pushConfig: () => this.pushConfig(), askToStop: () => this.askToStop(),
      heartbeat: () => this.timers.refresh('heartbeat', this.ctx.options.requiredHeartbeat * 1000, () => this.onHung(jail)),
      accepting: () => {
        if (this.build?.fork?.kind === 'base') this.ctx.bases.accepting(this.build.fork.socket, jail.pid);
        this.retiring?.retire(); // a rolling re-adoption: the new instance accepts, the old one goes
      },
    }, byte);
  }

  private reloaded(): void {
    if (this.state !== 'reloading' || this.restartWhenDown) return;
    this.state = 'running';
    this.ctx.log(`${this.name}: reloaded`);
  }

  private becomeLoyal(): void {
    if (!this.flags.loyal) this.ctx.log(`${this.name}: loyal`);
    this.flags.loyal = true;
    this.times.lastLoyal = Date.now();
    this.blacklist = undefined;
  }

  private onHung(jail: Jail): void {
    if (this.jail !== jail) return;
    this.flags.hung = true;
    this.ctx.log(`${this.name}: no heartbeat for ${this.ctx.options.requiredHeartbeat} s: hung; killing the whole jail`);
    jail.signal('SIGKILL');
  }

  private pushConfig(): void {
    try {
      if (this.link?.pushConfig(this.build?.configText) === false) this.ctx.log(`${this.name}: its config was not sent whole (its config pipe is closed, or full: asked for again without being read)`);
    } catch (err: unknown) {
      this.ctx.log(`${this.name}: cannot send the config: ${(err as Error).message}`);
    }
  }

  private onExit(jail: Jail, exit: JailExit): void {
    if (this.jail !== jail) return;
    const old = this.retiring;
    if (old && !old.retired && this.state === 'running') {
      // The new instance of a rolling re-adoption died before it accepted: the old one serves on.
      this.ctx.log(`${this.name}: the new instance ${describeExit(exit, jail.plan)} before it accepted; the old one (pid ${old.jail.pid}) serves on`);
      this.retiring = undefined;
      this.link?.close();
      if (this.origin instanceof AdoptSource) this.origin.slot = this.origin.slot === 0 ? 1 : 0;
      [this.jail, this.link, this.flags] = [old.jail, old.link, { ...freshFlags(), speaks: true, loyal: true, ready: true, accepting: true }];
      return;
    }
    this.jail = undefined;
    this.link?.close();
    this.link = undefined;
    this.timers.clear('curse', 'heartbeat', 'loyal');
    this.lastExit = describeExit(exit, jail.plan);
    if (this.build?.fork?.kind === 'base') this.ctx.bases.down(this.build.fork.socket, jail.pid, this.lastExit);
    const hint = exitHint(jail.plan, linesSince(this.log.tail(20), this.times.lastRun), this.error);
    if (hint) this.ctx.log(`${this.name}: ${this.lastExit}; ${hint}`);

    const action = afterExit({
      state: this.state, exit, restartWhenDown: this.restartWhenDown, onDemand: this.onDemand !== undefined, goingDown: this.flags.goingDown,
      loyal: this.flags.loyal, hung: this.flags.hung, execFailed: this.flags.execFailed, quick: Date.now() - this.times.lastRun < this.ctx.options.throttle,
    });
    switch (action) {
      case 'stopped':
        this.ctx.log(`${this.name}: stopped (${this.lastExit})`);
        this.state = 'stopped';
        this.finish();
        return;
      case 'restart':
        this.restartWhenDown = false;
        this.release();
        this.restarts++;
        this.ctx.log(`${this.name}: old jail ${this.lastExit}; ${this.onDemand ? 'the next connection starts the new one' : 'starting the new one'}`);
        // From the file as it is now: it may be adopted now, or spawned, or on demand.
        this.prepare();
        return;
      case 'on-demand':
        this.ctx.log(`${this.name}: ${this.lastExit}; back to on demand`);
        this.waitForConnection();
        return;
      case 'failed':
        this.state = 'failed';
        this.ctx.log(`${this.name}: not retried: fix the file or install the program, then touch the file (or SIGHUP the emperor)`);
        return;
      case 'no-respawn':
        this.ctx.log(`${this.name}: exited with status 26: not respawned`);
        this.state = 'stopped';
        return;
      case 'respawn':
        this.ctx.log(`${this.name}: ${this.flags.hung ? 'killed as hung' : this.lastExit}; respawning`);
        this.state = 'respawn-wait';
        this.respawns++;
        this.restarts++;
        this.timers.set('respawn', 0, () => this.resume());
        return;
      case 'blacklist':
        this.ctx.log(`${this.name}: ${this.lastExit} ${this.flags.loyal ? `within ${this.ctx.options.throttle} ms of its start` : 'before it was loyal'}`);
        this.diedBeforeLoyal();
    }
  }

  // Not loyal yet: on the blacklist, and a longer wait before every further attempt.
  private diedBeforeLoyal(): void {
    this.blacklist = blacklistAfterDeath(this.blacklist, Date.now(), this.ctx.options.throttle, this.ctx.options.maxThrottle);
    this.state = 'blacklisted';
    const wait = this.blacklist.throttleMs;
    this.ctx.log(`${this.name}: blacklisted (attempt ${this.blacklist.attempt}); next attempt in ${(wait / 1000).toFixed(1)} s`);
    this.timers.set('respawn', wait, () => {
      this.respawns++;
      this.restarts++;
      this.resume();
    });
  }

  // After a death or a wait: a new jail now, or, on demand, at the next connection.
  private resume(): void {
    if (this.onDemand) this.waitForConnection();
    else this.spawn();
  }

  // Whoever waited for the jail to stop (a stop that a new config overtook included).
  private release(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private finish(): void {
    this.release();
    if (this.removed) {
      this.log.close();
      this.ctx.gone(this);
    }
  }
}
