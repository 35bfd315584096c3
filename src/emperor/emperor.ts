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
import { reapOrphans } from './orphans';
import { checkStatsExposure, parseStatsAddress, startStatsServer, statsDocument } from './stats';
import { Vassal, type VassalContext, type VassalSnapshot } from './vassal';
import { defaultMaxLaunches, LaunchQueue } from './launch-queue';
import { WorkingDir } from './working-dir';
import { ForkBases } from './fork-bases';
import { requestReload, requestStart, requestStop, requestUnblacklist } from './vassal-commands';
import { cgroupSegments, type CgroupSubtree } from './vassal-launch';
import { removeCgroupTree } from '../jail/cgroup/files';
import { CgroupTree, describeLayout, readLayout } from '../jail/cgroup';
import { isJailError } from '../errors';

import { VERSION as EMPEROR_VERSION } from '../version';
export { EMPEROR_VERSION };

/** Monitor events handled per turn of the event loop (each may launch a jail, ~2 ms). */
const EVENTS_PER_TURN = 16;

/** An orphan pass runs at each SIGCHLD, and again this long after one that saw a zombie
 *  (two passes before a reap: orphans.ts); at rest nothing runs per vassal on a timer. */
const ORPHAN_PASS_MS = 1000;
/** The slow safety net for a child that dies without SIGCHLD (exit signal 0). */
const IDLE_ORPHAN_PASS_MS = 30_000;
/** SIGCHLDs within this long share one orphan pass (a storm of exits, a launch under way). */
const SIGCHLD_COALESCE_MS = 100;

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
  private controlServer: Server | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  /** The top processes of enter sessions (reaped by their pidfds, not as orphans). */
  private readonly sessions = new Set<number>();
  /** Children seen as zombies at the last orphan pass (orphans.ts). */
  private readonly zombies = new Set<number>();
  private reaper: NodeJS.Timeout | undefined;
  /** The next orphan pass, once a SIGCHLD (or a pass that saw a zombie) asked for one. */
  private orphanPass: NodeJS.Timeout | undefined;
  private orphanNet: NodeJS.Timeout | undefined;
  private workingDir: WorkingDir | undefined;
  private stopping: Promise<number> | undefined;
  private finished: ((code: number) => void) | undefined;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** What this emperor may do: read at start, and again after it drops to its own user. */
  private privileges: EmperorPrivileges = readPrivileges();
  /** The jails' cgroup subtree beneath the emperor's own (none with emperor-cgroup = none). */
  private cgroupTree: (CgroupSubtree & Pick<CgroupTree, 'remove' | 'paths'>) | undefined;

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
      if (this.options.logsDir !== 'none') {
        try {
          mkdirSync(this.options.logsDir, { recursive: true, mode: 0o750 });
          // An emperor that drops to its own user still writes the logs.
          if (creds) chownSync(this.options.logsDir, creds.uid, creds.gid);
        } catch (err: unknown) {
          throw new EmperorOptionError(`emperor-logs-dir ${this.options.logsDir}: cannot create it (${(err as NodeJS.ErrnoException).code}); give another, or none`);
        }
      }
      // Root still: the subtree is made (and handed to the emperor's own user) before the drop.
      if (this.options.cgroup !== 'none') this.prepareCgroups(creds);
      if (this.options.controlSocket !== 'none') {
        this.controlServer = await startControlServer(this.options.controlSocket, this.controlTarget(), (line) => this.log(line), {
          maxPerUid: this.options.controlMaxConnections,
          idleSeconds: this.options.controlIdleTimeout,
        });
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
    // One stat a second, whatever the number of vassals.
    this.reaper = setInterval(() => this.workingDir?.check(), ORPHAN_PASS_MS);
    this.orphanNet = setInterval(() => this.reapOrphans(), IDLE_ORPHAN_PASS_MS);
    this.log(`watching ${this.monitors.map((m) => m.spec).join(', ')} (pid ${process.pid})`);
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
      clearTimeout(this.orphanPass);
      clearInterval(this.orphanNet);
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
      stop: (name) => requestStop(vassal(name), (line) => this.log(line)),
      start: (name) => requestStart(vassal(name), (line) => this.log(line)),
      unblacklist: (name) => requestUnblacklist(vassal(name)),
      log: (name) => vassal(name).log,
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
        v.start();
      } else if (e.kind === 'remove' && existing) {
        this.log(`${key}: ${why}`);
        this.leaving.add(existing);
        void existing.remove();
      } else if (existing) {
        existing.change(source);
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
      for (const v of this.vassals.values()) v.change(v.currentSource, 'SIGHUP');
    });
    on('SIGURG', () => {
      this.log('SIGURG: clearing the blacklist');
      for (const v of this.vassals.values()) v.clearBlacklist();
    });
    on('SIGUSR1', () => this.logTable());
    on('SIGCHLD', () => this.orphansSoon(SIGCHLD_COALESCE_MS));
  }

  private logTable(): void {
    const rows = [...this.vassals.values()].map((v) => v.snapshot());
    this.log(`${rows.length} vassal(s):`);
    for (const s of rows)
      this.log(`  ${s.name.padEnd(24)} ${s.state.padEnd(12)} pid ${String(s.pid).padEnd(8)} loyal ${s.loyal ? 'yes' : 'no '} respawns ${s.respawns}${s.error ? `  error: ${s.error}` : ''}`);
  }

  // One orphan pass `ms` from now (a pass already due stays due).
  private orphansSoon(ms: number): void {
    if (this.orphanPass || this.stopping) return;
    this.orphanPass = setTimeout(() => {
      this.orphanPass = undefined;
      this.reapOrphans();
    }, ms);
  }

  // Zombies reparented to us that no pidfd of ours will reap (see orphans.ts).
  private reapOrphans(): void {
    const known = new Set<number>(this.sessions);
    for (const v of this.vassals.values()) for (const pid of v.pids) known.add(pid);
    try {
      const reaped = reapOrphans(known, this.zombies);
      if (reaped.length > 0) this.log(`reaped ${reaped.length} orphan(s) reparented to the emperor: ${reaped.join(', ')}`);
    } catch (err: unknown) {
      this.log(`orphan reaping failed, ignoring: ${(err as Error).message}`);
    }
    // A zombie seen once is reaped at the next pass, if nobody else reaped it by then.
    if (this.zombies.size > 0) this.orphansSoon(ORPHAN_PASS_MS);
  }

  private log(line: string): void {
    this.io.log(`${new Date().toISOString()} [emperor] ${line}`);
  }
}
