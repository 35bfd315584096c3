// The emperor: monitors in, one Vassal per config file, signals, stats, and an orderly end.
// All its state lives in one Emperor object; nothing is module-global.
import { hostname as osHostname } from 'node:os';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { cachedUserDb } from '../config/users';
import { binding } from '../native/binding';
import { createMonitor } from '../monitors';
import { DirMonitor } from '../monitors/dir';
import type { Monitor, MonitorEvent, SourceStatus, VassalSource } from '../monitors/types';
import { vassalIdentity } from './names';
import { EmperorOptionError, type EmperorOptions } from './options';
import { startControlServer, type ControlTarget } from './control';
import { startEnterSession } from './enter-session';
import type { Namespace } from '../plan/types';
import { checkSignalling, describePrivileges, dropEmperorPrivileges, readPrivileges, resolveEmperorCredentials, type EmperorPrivileges } from './privileges';
import { OrphanReaper } from './orphans';
import { checkStatsExposure, parseStatsAddress, startStatsServer, statsDocument } from './stats';
import { MetricsCounters } from './metrics-facts';
import { whyDocument } from './why';
import { explainVassal } from './vassal-config';
import { type MetricsService, serveMetrics } from './metrics-server';
import { Vassal, type VassalContext, type VassalSnapshot } from './vassal';
import { defaultMaxLaunches, LaunchQueue } from './launch-queue';
import { WorkingDir } from './working-dir';
import { ForkBases } from './fork-bases';
import { requestReload, requestStart, requestStop, requestUnblacklist } from './vassal-commands';
import { OperatorState } from './operator-state';
import { answerUpgrade, type HandoverRecord } from './handover';
import { upgradeInPlace } from './upgrade';
import { replayKeptSignals } from './signal-keep';
import { takeBackVassals } from './takeover';
import { ControlError } from './control';
import { cgroupSegments, type CgroupSubtree } from './vassal-launch';
import { removeCgroupTree } from '../jail/cgroup/files';
import { CgroupTree, describeLayout, readLayout, type StatsSources } from '../jail/cgroup';
import { isJailError } from '../errors';

import { VERSION as EMPEROR_VERSION } from '../version';
export { EMPEROR_VERSION };

/** Monitor events handled per turn of the event loop (each may launch a jail, ~2 ms). */
const EVENTS_PER_TURN = 16;

/** How often the working directory is looked at (one stat, whatever the number of vassals). */
const WORKING_DIR_CHECK_MS = 1000;

export interface EmperorIo {
  log(line: string): void;
  /** systemd's notification protocol (sd-notify.ts), when a supervisor asked for it. */
  notify?(fields: Readonly<Record<string, string | number>>): void;
}

export class Emperor {
  private readonly vassals = new Map<string, Vassal>();
  private readonly monitors: Monitor[] = [];
  private readonly pending: MonitorEvent[] = [];
  /** Files whose identity a vassal from another file already has (or one still stopping
   *  has), by identity and path; the first takes over when that vassal goes. */
  private readonly shadowed = new Map<string, Map<string, VassalSource>>();
  /** The identity each known file was last seen under: a chown changes it in tyrant mode. */
  private readonly identities = new Map<string, string>();
  /** Vassals told to go (their file removed, or now another owner's), until they are gone. */
  private readonly leaving = new Set<Vassal>();
  private readonly ctx: VassalContext;
  private statsServer: Server | undefined;
  private metricsService: MetricsService | undefined;
  /** emperor-metrics: made at start, fed by every vassal's events. */
  private metrics: MetricsCounters | undefined;
  private controlServer: Server | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  /** The top processes of enter sessions (reaped by their pidfds, not as orphans). */
  private readonly sessions = new Set<number>();
  /** Orphans reparented to us, reaped on SIGCHLD (orphans.ts). */
  private readonly orphans = new OrphanReaper(() => this.knownPids(), (line) => this.log(line));
  private reaper: NodeJS.Timeout | undefined;
  private workingDir: WorkingDir | undefined;
  private stopping: Promise<number> | undefined;
  private finished: ((code: number) => void) | undefined;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** What this emperor may do: read at start, and again after it drops to its own user. */
  private privileges: EmperorPrivileges = readPrivileges();
  /** The jails' cgroup subtree beneath the emperor's own (none with emperor-cgroup = none). */
  private cgroupTree: (CgroupSubtree & Pick<CgroupTree, 'remove' | 'paths'>) | undefined;
  /** The vassals operators stopped (`jailctl stop`), kept in emperor-state-dir. */
  private operators = OperatorState.none();
  /** An upgrade: the record the emperor before this exec left, and the mtime of each file
   *  it handed over until its first event (the same mtime is no change). */
  private takeover: HandoverRecord | undefined;
  private readonly handedOver = new Map<string, bigint>();
  private keptSignals = false;
  /** An upgrade's pre-flight runs: a second request is refused meanwhile. */
  private upgrading = false;
  /** Where it was started (an upgrade execs from there again). */
  private readonly startCwd = process.cwd();

  constructor(
    private readonly options: EmperorOptions,
    private readonly io: EmperorIo,
    baseEnv: Readonly<Record<string, string>>,
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    const users = cachedUserDb();
    this.ctx = {
      options,
      baseEnv,
      // A snapshot: process.env is slow to walk, and a vassal must not see it change.
      env: { ...env },
      users,
      privileges: () => this.privileges,
      cgroups: () => this.cgroupTree,
      launches: new LaunchQueue(
        (err) => this.log(`internal error in a launch: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
        { maxInFlight: options.maxLaunches ?? defaultMaxLaunches(), spawnThrottle: options.spawnThrottle, maxThrottle: options.maxThrottle },
        (line) => this.log(line),
      ),
      log: (line) => this.log(line),
      bases: new ForkBases((line) => this.log(line)),
      events: {
        launched: (name) => this.metrics?.launched(),
        failed: (name, failure) => this.metrics?.failed(name, failure),
        running: (name, seconds) => this.metrics?.running(name, seconds),
      },
      echo: (vassal, _stream, line) => this.io.log(`${new Date().toISOString()} [${vassal}] ${line}`),
      gone: (v) => {
        this.leaving.delete(v);
        if (this.vassals.get(v.name) !== v) return;
        this.vassals.delete(v.name);
        this.forgetCgroup(v);
        // A file of the same name in another source was waiting: it takes over now.
        const next = this.shadowed.get(v.name)?.values().next().value;
        if (next && !this.stopping) {
          this.shadowed.get(v.name)!.delete(next.path);
          this.log(`${v.name}: ${next.path} takes over`);
          this.enqueue({ kind: 'add', source: next });
        }
      },
    };
  }

  // Runs until SIGINT/SIGTERM/SIGQUIT (or stop()); resolves with the exit code.
  async run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.finished = resolve));
    // Vassals re-parented inside their jails never reach us, but adopted ones (fork server)
    // must: they become our children, and we reap them by pidfd.
    binding.setChildSubreaper(true);
    for (const spec of this.options.emperor)
      this.monitors.push(createMonitor(spec, {
        freq: this.options.freq, nofollow: this.options.nofollow, warn: (m) => this.log(m),
        hostname: this.options.hostname ?? osHostname(), pgAllowEmpty: this.options.pgAllowEmpty,
      }));
    this.workingDir = new WorkingDir(this.monitors.find((m): m is DirMonitor => m instanceof DirMonitor)?.dir, (line) => this.log(line));
    this.workingDir.enter();
    const creds = resolveEmperorCredentials(this.options, this.ctx.users());
    let wrotePidfile = false;
    try {
      if (this.options.pidfile) {
        try {
          writeFileSync(this.options.pidfile, `${process.pid}\n`);
          wrotePidfile = true;
        } catch (err: unknown) {
          throw new EmperorOptionError(`emperor-pidfile: cannot write ${this.options.pidfile} (${(err as NodeJS.ErrnoException).code})`);
        }
      }
      if (this.options.stats) {
        const address = parseStatsAddress(this.options.stats);
        checkStatsExposure(address, this.options.stats, this.options);
        try {
          this.statsServer = await startStatsServer(address, () => this.stats());
        } catch (err: unknown) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new EmperorOptionError(`emperor-stats ${this.options.stats}: ${code === 'EADDRINUSE' ? 'the address is already in use (another emperor?)' : (err as Error).message}`);
        }
        this.log(`stats on ${this.options.stats}`);
      }
      if (this.options.metrics) {
        const metrics = (this.metrics = new MetricsCounters({ name: this.options.name, version: EMPEROR_VERSION }));
        const facts = (told: WeakSet<StatsSources>) => metrics.facts([...this.vassals.values()].map((v) => v.snapshot()), this.sourceStates(), told);
        this.metricsService = await serveMetrics(this.options.metrics, facts, this.options, this.ctx.users(), (line) => this.log(line));
        this.log(`metrics on ${this.options.metrics} (GET /metrics)`);
      }
      if (this.options.logsDir !== 'none') {
        try {
          mkdirSync(this.options.logsDir, { recursive: true, mode: 0o750 });
          // An emperor that drops to its own user still writes the logs.
          if (creds) chownSync(this.options.logsDir, creds.uid, creds.gid);
        } catch (err: unknown) {
          throw new EmperorOptionError(`emperor-logs-dir ${this.options.logsDir}: cannot create it (${(err as NodeJS.ErrnoException).code}); give another, or none`);
        }
      }
      if (this.options.stateDir !== 'none') {
        this.operators = OperatorState.open(this.options.stateDir, creds);
        const held = this.operators.names;
        if (held.length > 0) this.log(`${held.length} vassal(s) stopped by an operator stay stopped until \`jailctl start\` (${this.operators.dir}): ${held.join(', ')}`);
      }
      // Root still: the subtree is made (and handed to the emperor's own user) before the drop.
      if (this.options.cgroup !== 'none') this.prepareCgroups(creds);
      if (this.options.controlSocket !== 'none') {
        this.controlServer = await startControlServer(this.options.controlSocket, this.controlTarget(), (line) => this.log(line), {
          maxPerUid: this.options.controlMaxConnections,
          idleSeconds: this.options.controlIdleTimeout,
        }, this.takeover?.control);
        this.log(`control socket ${this.options.controlSocket} (jailctl ps, stats, reload, stop, start)`);
      }
      // Root until here (pidfile, a stats port below 1024); the emperor's own `uid` from now on.
      // libuv starts its thread pool on first use: now, so those threads exist at the drop
      // and lose every capability with it (threads created later inherit the main thread's).
      if (creds) {
        await access('/');
        this.privileges = dropEmperorPrivileges(creds);
        this.log(`running as ${describePrivileges(this.privileges)}`);
      }
      if (this.options.tyrant) this.log(`tyrant mode: every vassal runs as the owner of its file${this.options.tyrantNofollow ? ' (a symlink: its own owner)' : ''}`);
      checkSignalling(this.privileges);
      if (this.privileges.uid !== 0 && this.privileges.caps.has('setuid') && !this.privileges.caps.has('kill'))
        this.log('warning: no CAP_KILL: the kernel sends PR_SET_PDEATHSIG with kill(2)\'s permission check, so if this emperor is SIGKILLed, vassals of other users that do not speak the emperor protocol outlive it; add kill to its cap (cap = setgid,setuid,kill)');
      if (!this.privileges.caps.has('sys_admin'))
        this.log(`no CAP_SYS_ADMIN (${describePrivileges(this.privileges)}): vassals get no pid namespace, and one that asks for namespaces is refused`);
    } catch (err: unknown) {
      // Nothing of a start that failed half way stays behind.
      for (const m of this.monitors) m.close();
      this.cgroupTree?.remove();
      await this.closeServers();
      if (wrotePidfile) {
        try {
          rmSync(this.options.pidfile!, { force: true });
        } catch {
          // dropped to a user who may not: the error below is the one to see
        }
      }
      throw err;
    }
    this.installSignals();
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    this.reaper = setInterval(() => this.workingDir?.check(), WORKING_DIR_CHECK_MS);
    this.orphans.start();
    this.log(`watching ${this.monitors.map((m) => m.spec).join(', ')} (pid ${process.pid})`);
    if (this.takeover) {
      this.takeBack(this.takeover);
      replayKeptSignals(this.keptSignals, (line) => this.log(line));
    }
    let total = 0;
    for (const m of this.monitors) {
      let found = 0;
      m.start((e) => {
        found++;
        total++;
        this.enqueue(e);
      });
      // A database source answers later (it connects first); files are read by now.
      if (found === 0 && !m.status) this.log(`${m.spec}: no vassal config there yet (.ini, .yml, .yaml, .json, .xml); watching for one`);
    }
    // The first scan has run (a database's first answer, or its first failure): a Type=notify
    // unit is started (what it found is being started).
    void Promise.all(this.monitors.map((m) => m.firstAnswer?.())).then(() => {
      this.forgetUnseen();
      if (!this.stopping) this.io.notify?.({ READY: 1, STATUS: `watching ${this.monitors.map((m) => m.spec).join(', ')}: ${total} vassal config(s) found`, MAINPID: process.pid });
    });
    return done;
  }

  // Every vassal stopped gracefully, SIGKILL for what is left after reload-mercy, then exit.
  stop(reason: string): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.log(`${reason}: stopping ${this.vassals.size} vassal(s)`);
      this.io.notify?.({ STOPPING: 1, STATUS: `${reason}: stopping ${this.vassals.size} vassal(s)` });
      for (const m of this.monitors) m.close();
      this.ctx.launches.close();
      const all = [...this.vassals.values()];
      const mercy = setTimeout(() => {
        this.log(`vassals still alive after ${this.options.reloadMercy} s: SIGKILL`);
        for (const v of all) v.kill();
      }, this.options.reloadMercy * 1000);
      await Promise.all(all.map((v) => v.shutdown()));
      clearTimeout(mercy);
      for (const [sig, h] of this.signalHandlers) process.off(sig, h);
      if (this.keepAlive) clearInterval(this.keepAlive);
      if (this.reaper) clearInterval(this.reaper);
      this.orphans.stop();
      await this.closeServers();
      this.cgroupTree?.remove();
      if (this.options.pidfile) {
        try {
          rmSync(this.options.pidfile, { force: true });
        } catch (err: unknown) {
          // An emperor that dropped to its own user may not remove what root wrote.
          this.log(`cannot remove the pidfile ${this.options.pidfile} (${(err as NodeJS.ErrnoException).code})`);
        }
      }
      this.log('bye');
      this.finished?.(0);
      return 0;
    })();
    return this.stopping;
  }

  private sourceStates(): SourceStatus[] {
    return this.monitors.map((m) => m.status?.() ?? { spec: m.spec, state: 'up' });
  }

  stats(visible: (s: VassalSnapshot) => boolean = () => true): Record<string, unknown> {
    const snapshots = [...this.vassals.values()].map((v) => v.snapshot()).filter(visible);
    return statsDocument({
      version: EMPEROR_VERSION,
      pid: process.pid,
      cwd: process.cwd(),
      monitors: this.monitors.map((m) => m.spec),
      sources: this.sourceStates(),
      throttleMs: Math.max(this.ctx.launches.throttleMs, ...snapshots.map((s) => s.blacklist?.throttleMs ?? 0)),
      tyrant: this.options.tyrant,
      name: this.options.name,
      vassals: snapshots,
    });
  }

  // The jails' cgroup subtree beneath our own cgroup in each hierarchy (jailctl-PID, or
  // emperor-cgroup's name); we move into its `emperor` leaf on the unified hierarchy.
  private prepareCgroups(creds: { uid: number; gid: number } | undefined): void {
    const layout = readLayout();
    const name = this.options.cgroup === 'auto' ? `jailctl-${process.pid}` : this.options.cgroup;
    try {
      this.cgroupTree = CgroupTree.prepare(layout, { name, moveSelf: true, log: (line) => this.log(line), ...(creds ? { owner: { uid: creds.uid, gid: creds.gid } } : {}) });
    } catch (err: unknown) {
      if (!isJailError(err)) throw err;
      // A subtree the sysadmin named must be there; the default goes on without (an emperor
      // started as a user that systemd gave no Delegate=), saying what that costs.
      const without = 'jails get no cgroup: no memory-max, pids-max or cpu-max (a vassal that sets one is refused), and without a pid namespace a stop may leave processes behind';
      if (this.options.cgroup !== 'auto') throw new EmperorOptionError(`${err.message}; or run the jails without cgroups (emperor-cgroup = none): ${without}`);
      this.log(`warning: ${err.message}; ${without}. Fix: run the emperor as root, or under systemd with Delegate=yes; emperor-cgroup = none says this on purpose`);
      return;
    }
    const { unified, v1 } = this.cgroupTree.paths();
    this.log(`cgroups: ${describeLayout(layout)}; jails beneath ${[unified, ...v1].filter(Boolean).join(', ')}`);
  }

  // A vassal gone for good takes its cgroup along (a respawn reuses it until then). What is
  // still dying in it gets a second try; the subtree's removal at exit takes any rest.
  private forgetCgroup(v: Vassal, again = true): void {
    const tree = this.cgroupTree;
    if (!tree) return;
    const { unified, v1 } = tree.paths();
    let stayed = false;
    // Both of its directories (an adopted vassal's rolling re-adoption uses the second).
    for (const slot of [0, 1] as const) {
      const segments = cgroupSegments(v.name, v.snapshot().uid, this.options.tyrant, slot);
      for (const root of [unified, ...v1]) if (root !== undefined && removeCgroupTree(join(root, ...segments)).length > 0) stayed = true;
    }
    if (stayed && again) setTimeout(() => this.forgetCgroup(v, false), 1000).unref();
  }

  private async closeServers(): Promise<void> {
    await this.metricsService?.close();
    this.metrics?.close();
    for (const server of [this.statsServer, this.controlServer])
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // What `jailctl` may do through the control socket (names are already checked there).
  private controlTarget(): ControlTarget {
    const vassal = (name: string): Vassal => this.vassals.get(name)!;
    return {
      snapshots: () => [...this.vassals.values()].map((v) => v.snapshot()),
      sources: () => this.sourceStates(),
      stats: (visible) => this.stats(visible),
      reload: (name, peer) => requestReload(vassal(name), `reload asked by uid ${peer.uid} (pid ${peer.pid})`),
      stop: async (name) => this.keep(name, true, await requestStop(vassal(name), (line) => this.log(line))),
      start: (name) => this.keep(name, false, requestStart(vassal(name), (line) => this.log(line))),
      unblacklist: (name) => requestUnblacklist(vassal(name)),
      log: (name) => vassal(name).log,
      why: (name, peer) => whyDocument({
        snapshot: vassal(name).snapshot(), log: vassal(name).log, options: this.options, users: this.ctx.users(), emperorUid: this.privileges.uid, root: peer.uid === 0,
        explain: () => explainVassal(vassal(name).currentSource, { options: this.options, env: this.ctx.env, users: this.ctx.users() }),
      }),
      upgrade: (connection) => this.upgrade(connection),
      enter: (name, req, output, drained) => {
        const s = vassal(name).snapshot();
        const target = { vassal: name, pid: s.pid, namespaces: s.namespaces as Namespace[], ...(s.uid !== undefined ? { uid: s.uid } : {}), ...(s.gid !== undefined ? { gid: s.gid } : {}), groups: s.groups, caps: s.caps, ...(s.cgroup ? { cgroup: s.cgroup } : {}), ...(s.seccomp ? { seccomp: s.seccomp } : {}) };
        const session = startEnterSession(target, { ...req, root: false, rootCaller: false }, this.ctx.users(), output, drained);
        this.sessions.add(session.pid);
        void session.done.finally(() => this.sessions.delete(session.pid));
        return session;
      },
    };
  }

  // Before run(): this emperor is the exec of an upgrade, and takes `record`'s jails back.
  // `keptSignals`: the exec kept the emperor's signals (signal-keep.ts), to act on once its handlers are there.
  takeOver(record: HandoverRecord, keptSignals = false): void {
    this.takeover = record;
    this.keptSignals = keptSignals;
  }

  // Once the first scan's events are handled: a file an upgrade handed over that no source
  // has any more was removed meanwhile.
  private forgetUnseen(): void {
    if (this.pending.length > 0) return void setImmediate(() => this.forgetUnseen());
    for (const name of this.handedOver.keys()) {
      const v = this.vassals.get(name);
      if (v) this.route({ kind: 'remove', source: v.currentSource }, name);
    }
    this.handedOver.clear();
  }

  private takeBack(record: HandoverRecord): void {
    const { vassals, mtimes } = takeBackVassals(record, this.ctx, this.cgroupTree, (line) => this.log(line));
    for (const v of vassals) {
      this.vassals.set(v.name, v);
      this.identities.set(v.path, v.name);
    }
    for (const [name, mtime] of mtimes) this.handedOver.set(name, mtime);
    // A source that remembers what it reported (pg://) takes its vassals back as reported:
    // it then reports what changed from them once it answers, and nothing while it is down
    // (the first-scan check, forgetUnseen, is for files, read at once).
    for (const m of this.monitors) {
      const mine = m.adopt ? vassals.filter((v) => v.currentSource.monitor === m.spec) : [];
      m.adopt?.(mine.map((v) => v.currentSource));
      for (const v of mine) this.handedOver.delete(v.name);
    }
    const running = vassals.filter((v) => v.pid > 0);
    const line = `upgraded in place (pid ${process.pid}, version ${EMPEROR_VERSION}): took back ${vassals.length} vassal(s), ${running.length} jail(s) running on, none restarted`;
    this.log(line);
    if (record.reply !== undefined) answerUpgrade(record.reply, { ok: true, message: line, pids: Object.fromEntries(running.map((v) => [v.name, v.pid])) });
  }

  // jailctl emperor --upgrade, SIGUSR2: this process execs itself again (handover.ts), once
  // the new version passed its pre-flight (upgrade-check.ts). Returns only by throwing: the
  // check refused it, the exec failed, or a vassal did not settle; nothing changed then.
  private async upgrade(reply?: number): Promise<never> {
    if (this.stopping) throw new ControlError('ESTATE', 'the emperor is shutting down');
    if (this.options.uid !== undefined) throw new ControlError('ESTATE', `this emperor dropped to uid ${this.privileges.uid} (uid = ${this.options.uid}): it cannot exec itself again with root's powers; restart it instead`);
    if (this.upgrading) throw new ControlError('ESTATE', 'an upgrade is under way already (its pre-flight runs); wait for its answer');
    this.upgrading = true;
    try {
      const control = (this.controlServer as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
      return await upgradeInPlace({ vassals: () => this.vassals.values(), stopping: () => this.stopping !== undefined, caps: this.privileges.caps, cwd: this.startCwd, log: (line) => this.log(line) }, {
        ...(control !== undefined && control >= 0 ? { control } : {}), ...(reply !== undefined ? { reply } : {}) });
    } finally {
      this.upgrading = false;
    }
  }

  // An operator's stop or start, kept across restarts; `answer` is what they are told.
  private keep(name: string, stopped: boolean, answer: string): string {
    try {
      this.operators.set(name, stopped);
      return answer;
    } catch (err: unknown) {
      this.log(`${name}: ${(err as Error).message}`);
      return `${answer}\nwarning: ${(err as Error).message}`;
    }
  }

  // Monitor events are handled in order, a few per turn of the event loop: a first scan of a
  // thousand files must not keep signals and the stats socket waiting for every launch.
  private enqueue(e: MonitorEvent): void {
    this.pending.push(e);
    if (this.pending.length === 1) setImmediate(() => this.drain());
  }

  private drain(): void {
    this.workingDir?.check(); // a recreated vassal directory: its new jails start in the new one
    for (const e of this.pending.splice(0, EVENTS_PER_TURN)) this.onEvent(e);
    if (this.pending.length > 0) setImmediate(() => this.drain());
  }

  private onEvent(e: MonitorEvent): void {
    if (this.stopping) return;
    const { source } = e;
    const was = this.identities.get(source.path);
    const key = e.kind === 'remove' ? (was ?? this.identity(source)) : this.identity(source);
    if (e.kind === 'remove') this.identities.delete(source.path);
    else this.identities.set(source.path, key);
    if (was !== undefined && was !== key) {
      // A chown in tyrant mode: the file is now another tenant's vassal. The old identity
      // stops (it must not go on as the tenant who gave the file away), the new one starts.
      this.log(`${was}: ${source.path} now belongs to ${key.slice(0, key.lastIndexOf('/'))}: ${was} stops, ${key} starts`);
      this.route({ kind: 'remove', source }, was, 'its file was given to another owner');
      this.route({ kind: 'add', source }, key);
      return;
    }
    this.route(e, key);
  }

  // In tyrant mode OWNER/NAME, else the file name (names.ts).
  private identity(source: VassalSource): string {
    return vassalIdentity(source, this.options, this.ctx.users());
  }

  // One event for the vassal known as `key`.
  private route(e: MonitorEvent, key: string, why = 'config removed'): void {
    const { source } = e;
    const existing = this.vassals.get(key);
    // The first look at a file an upgrade handed over: unchanged, nothing to do.
    const mtime = this.handedOver.get(key);
    if (mtime !== undefined && existing?.path === source.path && this.handedOver.delete(key) && e.kind !== 'remove' && mtime === source.mtimeNs) return;
    // Another file with this identity runs, or this very file's vassal is still stopping
    // (removed and written again): this one waits, and takes over when that one goes.
    const leaving = existing !== undefined && this.leaving.has(existing);
    if (existing && (existing.path !== source.path || leaving)) {
      const waiting = this.shadowed.get(key) ?? new Map<string, VassalSource>();
      this.shadowed.set(key, waiting);
      if (e.kind === 'remove') waiting.delete(source.path);
      else {
        if (!waiting.has(source.path) && existing.path !== source.path)
          this.log(`${source.path}: a vassal named ${key} already runs from ${existing.path}; this one waits (${this.options.tyrant ? 'one owner\'s names are unique across sources' : 'names are unique across sources'}) and takes over if that one goes`);
        waiting.set(source.path, source);
      }
      return;
    }
    try {
      if (e.kind !== 'remove' && !existing) {
        // (A change for a file without a vassal: one that was shadowed, or given away.)
        this.prepareLogDir(key);
        const v = new Vassal(source, this.ctx, key);
        this.vassals.set(key, v);
        this.log(`${key}: new config ${source.path}`);
        if (!this.operators.has(key)) v.start();
        else {
          v.takeBack({ state: 'stopped' });
          this.log(`${key}: stopped by an operator (kept in ${this.operators.dir}); \`jailctl start ${key}\` starts it`);
        }
      } else if (e.kind === 'remove' && existing) {
        this.log(`${key}: ${why}`);
        if (this.operators.has(key)) this.keep(key, false, '');
        this.leaving.add(existing);
        void existing.remove();
      } else if (existing) {
        const wasStopped = existing.currentState === 'stopped';
        existing.change(source);
        // A new file starts a stopped vassal (vassal-commands.ts says so): the stop is over.
        if (wasStopped && this.operators.has(key)) this.keep(key, false, '');
      }
    } catch (err: unknown) {
      // Invariant 7: one vassal's trouble never takes the emperor down.
      this.log(`${key}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  // A tyrant-mode vassal's log is OWNER/NAME.log in the logs directory: a subdirectory per
  // owner, because no joined file name (alice_node.ini) is free of collisions between users.
  private prepareLogDir(key: string): void {
    const slash = key.lastIndexOf('/');
    if (this.options.logsDir === 'none' || slash < 0) return;
    const dir = join(this.options.logsDir, key.slice(0, slash));
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
    } catch (err: unknown) {
      this.log(`${key}: cannot create ${dir} (${(err as NodeJS.ErrnoException).code}); its output goes to the emperor's only`);
    }
  }

  private installSignals(): void {
    const on = (sig: NodeJS.Signals, h: () => void): void => {
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) on(sig, () => void this.stop(sig));
    on('SIGHUP', () => {
      this.log('SIGHUP: reloading every vassal');
      for (const v of this.vassals.values()) if (!this.operators.has(v.name)) v.change(v.currentSource, 'SIGHUP');
    });
    on('SIGURG', () => {
      this.log('SIGURG: clearing the blacklist');
      for (const v of this.vassals.values()) v.clearBlacklist();
    });
    on('SIGUSR1', () => this.logTable());
    on('SIGUSR2', () => void this.upgrade().catch((err: unknown) => this.log(`SIGUSR2: ${(err as Error).message}`)));
    on('SIGCHLD', () => this.orphans.childExited());
  }

  private logTable(): void {
    const rows = [...this.vassals.values()].map((v) => v.snapshot());
    this.log(`${rows.length} vassal(s):`);
    for (const s of rows)
      this.log(`  ${s.name.padEnd(24)} ${s.state.padEnd(12)} pid ${String(s.pid).padEnd(8)} loyal ${s.loyal ? 'yes' : 'no '} respawns ${s.respawns}${s.error ? `  error: ${s.error}` : ''}`);
  }

  // Our children that pidfds of ours reap: every vassal's jail, every enter session.
  private knownPids(): Set<number> {
    const known = new Set<number>(this.sessions);
    for (const v of this.vassals.values()) for (const pid of v.pids) known.add(pid);
    return known;
  }

  private log(line: string): void {
    this.io.log(`${new Date().toISOString()} [emperor] ${line}`);
  }
}
