// One vassal under the emperor: an explicit state machine around one jail at a time (two
// for a moment during a rolling re-adoption: rolling.ts).
//
//   spawning ──started──▶ running ──config changed──▶ reloading ──ready──▶ running
//      │                    │  └──removed / shutdown──▶ stopping ──exited──▶ stopped
//      │                    └──died──▶ respawn-wait (loyal) | blacklisted (not yet loyal)
//      └──bad config──▶ failed (until the file changes)
//
// `spawning` covers an adoption waiting for its base; an on-demand vassal waits in
// `on-demand` (the emperor holds its socket) and goes back there when its jail exits.
// All it needs comes in through VassalContext. Its seams: jail-source.ts (spawned, adopted,
// held on demand), exit-policy.ts (what an exit or a change leads to), fork-bases.ts,
// vassal-bytes.ts (protocol bytes), vassal-snapshot.ts (what stats and ps show).
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
import { discard, dryBuildVassal, SpawnSource, type VassalLaunch } from './vassal-launch';
import type { VassalHandover } from './handover';
import { afterExit, changeAction, exitLine, reloadWay } from './exit-policy';
import type { HeldSocket } from './held-socket';
import { openJailSource, SerialOpen, type JailSource } from './jail-source';
import { AdoptSource, type AdoptEnv } from './adopt-source';
import type { BaseInstance } from './fork-bases';
import type { Retiring } from './retiring';
import { rollOver } from './rolling';
import type { LaunchQueue } from './launch-queue';
import { Timers } from './timers';
import { HeartbeatWatch } from './heartbeat';
import { failureOf, type Failure } from './failure';
import type { VassalEvents } from './metrics-facts';
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
  /** Launches, failures and starts, for the metrics. */
  readonly events: VassalEvents;
}

export class Vassal {
  readonly name: string;
  private source: VassalSource;
  private current: VassalState = 'spawning';
  /** When it entered its current state (ms since the epoch), and when its config was last
   *  seen new (0 once a jail of it runs): `jailctl why` and the metrics. */
  private since = Date.now();
  private seenAt = Date.now();
  private get state(): VassalState { return this.current; }
  private set state(next: VassalState) {
    if (next !== this.current) [this.current, this.since] = [next, Date.now()];
  }
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
  private failure: Failure | undefined;
  private get error(): string | undefined { return this.failure?.message; }
  private lastExit: string | undefined;
  private exit: JailExit | undefined;
  private blacklist: BlacklistEntry | undefined;
  private readonly timers = new Timers<'respawn' | 'curse' | 'loyal'>();
  /** Its running jail's heartbeat watch (heartbeat.ts). */
  private heartbeat: HeartbeatWatch | undefined;
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

  /** Its side of an upgrade: what goes to the next emperor (handover.ts). */
  handover(): VassalHandover {
    return { state: this.state, jail: this.jail, fds: this.link?.fds, intact: this.link?.intact(), held: this.held, build: this.build, flags: this.flags, times: this.times, rolling: this.retiring !== undefined,
      starting: this.starting !== undefined, mode: this.origin?.mode, counts: { respawns: this.respawns, restarts: this.restarts, lastExit: this.lastExit } };
  }

  // After an upgrade the next emperor takes its running jail (or held socket) back, or holds
  // it `stopped` (an operator's stop: operator-state.ts) until startAgain() or a new file.
  takeBack(h: Partial<VassalHandover>): void {
    if (h.state === 'stopped') return void (this.state = 'stopped');
    [this.flags, this.build, this.held, this.lastExit] = [h.flags ?? this.flags, h.build, h.held, h.counts?.lastExit];
    [this.respawns, this.restarts, this.origin] = [h.counts?.respawns ?? 0, h.counts?.restarts ?? 0, new SpawnSource(this.ctx, this.name, h.held)];
    const { jail, fds } = Object.assign(this.times, h.times) && h;
    if (!jail || !fds) return this.waitForConnection(); // on demand, its socket held
    [this.jail, this.state, this.link] = [jail, 'running', new JailLink(fds, this.log, (b) => this.onByte(jail, b))];
    if (!this.flags.loyal) this.timers.set('loyal', this.ctx.options.loyalAfter * 1000, () => this.jail === jail && !this.flags.speaks && this.becomeLoyal());
    this.watchHeartbeat(jail);
    if (this.times.lastHeartbeat > 0) this.heartbeat!.beat();
    void jail.exited.then((exit) => this.onExit(jail, exit));
  }

  // Its heartbeat watch (heartbeat.ts): a reload byte first, the whole jail killed after.
  private watchHeartbeat(jail: Jail): void {
    const { requiredHeartbeat: requiredS, reloadMercy: mercyS } = this.ctx.options;
    this.heartbeat?.stop();
    this.heartbeat = new HeartbeatWatch({ name: this.name, requiredS, mercyS, log: this.ctx.log, reload: () => this.jail === jail && this.link?.send(TO_VASSAL.RELOAD) === true,
      kill: () => void (this.jail === jail && (this.flags.hung = true) && jail.signal('SIGKILL')) });
  }

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
          this.fail(origin.error ?? origin.message, 'source');
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

  // Not started until its file changes. Its socket goes: a client is refused at once rather
  // than left waiting in the backlog of a socket nothing will serve.
  private fail(err: unknown, stage?: string): void {
    this.releaseSocket();
    this.failure = failureOf(err, stage);
    this.ctx.events.failed(this.name, this.failure);
    this.state = 'failed';
    this.ctx.log(`${this.name}: ${this.failure.message}; not started (fix the file: it is read again when it changes)`);
    this.finish();
  }

  // The config file changed (or SIGHUP asked for a reload).
  change(source: VassalSource, why = 'config changed'): void {
    why = ownerChange(this.source, source, this.ctx.options) ?? why;
    this.source = source;
    this.seenAt = Date.now();
    if (this.final) return;
    const action = changeAction(this.state, this.jail !== undefined);
    if (action === 'fresh') {
      this.timers.clear('respawn');
      this.blacklist = undefined;
      this.prepare();
    } else if (action === 'after-stop') {
      if (this.removed) this.ctx.log(`${this.name}: config back; starting it once the old jail is down`);
      this.removed = false;
      this.restartWhenDown = true;
    } else if (action === 'look-again') this.prepare();
    else this.reload(why);
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
    const { name, state, since, source, jail, times, respawns, restarts, error, failure, lastExit, exit, blacklist, flags } = this;
    return snapshotOf({ name, state, since, source, jail, times, respawns, restarts, error, failure, lastExit, exit, blacklist, flags, plan: this.build?.plan, warnings: this.build?.warnings ?? [],
      onDemand: this.onDemand?.address, mode: this.origin?.mode, nextAttempt: this.timers.due('respawn') }, this.ctx.options);
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
      this.fail(launched.error);
      return;
    }
    // Once per config, not once per respawn (a crash loop would flood the log).
    const build = (this.build = launched.build);
    if (build.warnings.join('\n') !== this.lastWarnings) for (const w of build.warnings) this.ctx.log(`${this.name}: warning: ${w}`);
    this.lastWarnings = build.warnings.join('\n');
    if (launched.kind === 'launch-error') {
      this.failure = failureOf(launched.error);
      this.ctx.events.failed(this.name, this.failure);
      this.ctx.log(`${this.name}: ${launched.error.message}`);
      this.diedBeforeLoyal();
      return;
    }
    const { jail, fds } = launched;
    this.jail = jail;
    this.failure = undefined;
    this.ctx.events.launched(this.name);
    if (build.fork?.kind === 'base') this.ctx.bases.loading(build.fork.socket, this.name, jail.pid);
    this.times.lastRun = Date.now();
    if (this.times.firstRun === 0) this.times.firstRun = this.times.lastRun;
    this.link = new JailLink(fds, this.log, (b) => this.onByte(jail, b));
    this.watchHeartbeat(jail);
    this.pushConfig();

    jail.started.then(
      () => {
        if (this.jail !== jail) return;
        if (this.state === 'spawning') this.state = 'running';
        if (this.seenAt > 0) this.ctx.events.running(this.name, (Date.now() - this.seenAt) / 1000);
        this.seenAt = 0;
        this.ctx.log(`${this.name}: running (pid ${jail.pid}${jail.plan.uid !== undefined ? `, uid ${jail.plan.uid}` : ''})`);
        this.timers.set('loyal', this.ctx.options.loyalAfter * 1000, () => {
          if (this.jail === jail && !this.flags.speaks) this.becomeLoyal();
        });
      },
      (err: LaunchError) => {
        if (this.jail !== jail) return;
        const message = err.message.replace(/^[^:]*: /, ''); // our name, not the plan's
        this.failure = { ...failureOf(err), message };
        this.ctx.events.failed(this.name, this.failure);
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
      this.failure = failureOf(err);
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
    // An adopted vassal's held socket moved (a new fork role): a new jail, on the new socket.
    const sameJail = this.jail !== undefined && this.build !== undefined && next.jailKey === this.build.jailKey && JSON.stringify(next.fork) === JSON.stringify(this.build.fork);
    const way = reloadWay({ sameJail, speaks: this.flags.speaks, base: next.fork?.kind === 'base', running: this.state === 'running', signal: next.plan.reloadSignal });
    if (way === 'byte') {
      // Same jail, new app config: the vassal reloads itself (and asks for its config).
      this.build = { ...this.build!, ...(next.configText !== undefined ? { configText: next.configText } : {}) };
      this.state = 'reloading';
      this.flags.ready = this.flags.accepting = false;
      if (this.link?.send(TO_VASSAL.RELOAD)) {
        this.ctx.log(`${this.name}: ${why}; reload byte sent`);
        return;
      }
    }
    if (way === 'signal') {
      this.build = next;
      if (this.jail!.signal(next.plan.reloadSignal!)) {
        this.ctx.log(`${this.name}: ${why}; ${next.plan.reloadSignal} sent (reload-signal)`);
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
      heartbeat: () => this.heartbeat?.beat(),
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
    this.timers.clear('curse', 'loyal');
    this.heartbeat?.stop();
    this.lastExit = describeExit(exit, jail.plan);
    this.exit = exit;
    if (this.build?.fork?.kind === 'base') this.ctx.bases.down(this.build.fork.socket, jail.pid, this.lastExit);
    const hint = exitHint(jail.plan, linesSince(this.log.tail(20), this.times.lastRun), this.error);
    if (hint) this.ctx.log(`${this.name}: ${this.lastExit}; ${hint}`);

    const action = afterExit({
      state: this.state, exit, restartWhenDown: this.restartWhenDown, onDemand: this.onDemand !== undefined, goingDown: this.flags.goingDown,
      loyal: this.flags.loyal, hung: this.flags.hung, execFailed: this.flags.execFailed, quick: Date.now() - this.times.lastRun < this.ctx.options.throttle,
    });
    this.ctx.log(exitLine(action, { name: this.name, exit: this.lastExit!, onDemand: this.onDemand !== undefined, hung: this.flags.hung, loyal: this.flags.loyal, throttleMs: this.ctx.options.throttle }));
    switch (action) {
      case 'stopped':
        this.state = 'stopped';
        this.finish();
        return;
      case 'restart':
        this.restartWhenDown = false;
        this.release();
        this.restarts++;
        this.prepare(); // from the file as it is now: it may be adopted now, or spawned, or on demand
        return;
      case 'on-demand':
        this.waitForConnection();
        return;
      case 'failed':
      case 'no-respawn':
        this.state = action === 'failed' ? 'failed' : 'stopped';
        return;
      case 'respawn':
        this.state = 'respawn-wait';
        this.respawns++;
        this.restarts++;
        this.timers.set('respawn', 0, () => this.resume());
        return;
      case 'blacklist':
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
  private resume(): void { return this.onDemand ? this.waitForConnection() : this.spawn(); }

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
