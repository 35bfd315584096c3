// What a vassal shows of itself to stats and `ps`: its state names and the snapshot record.
import type { CgroupStats, StatsSources } from '../jail/cgroup';
import type { Jail } from '../jail/launch';
import type { VassalSource } from '../monitors/types';
import type { CgroupLimits, LaunchPlan, SeccompPolicy } from '../plan/types';
import type { EmperorOptions } from './options';
import type { BlacklistEntry } from './throttle';
import type { Failure } from './failure';
import type { JailExit } from '../jail/launch';

export type VassalState =
  | 'on-demand' | 'spawning' | 'running' | 'reloading' | 'stopping' | 'respawn-wait' | 'blacklisted' | 'failed' | 'stopped';

/** What stats and `ps` show of a vassal (seconds since the epoch, as uWSGI's stats). */
export interface VassalSnapshot {
  readonly name: string;
  readonly state: VassalState;
  /** Since when it is in that state (seconds since the epoch). */
  readonly since: number;
  readonly source: VassalSource;
  /** Its jail's top process (the init when pid-namespaced); 0 when none runs. */
  readonly pid: number;
  /** The program's own pid (a uWSGI master's), once it runs; else 0. */
  readonly programPid: number;
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
  /** The same failure as data: stage, errno, file and line (failure.ts). */
  readonly failure?: Failure;
  readonly lastExit?: string;
  /** How its last jail ended: exit status or signal number. */
  readonly exit?: JailExit;
  readonly blacklist?: BlacklistEntry;
  /** When its next attempt comes (ms since the epoch), while one is due. */
  readonly nextAttempt?: number;
  /** What its file's last build warned about (unknown options…): the tenant sees them too. */
  readonly warnings: readonly string[];
  /** The socket the emperor holds for an on-demand vassal. */
  readonly onDemand?: string;
  /** Where its jail comes from: spawned, or adopted from a fork-server base. */
  readonly mode?: 'spawned' | 'adopted';
  readonly uid?: number;
  readonly gid?: number;
  /** Supplementary groups and capabilities of its jail, from the launch plan (jailctl enter). */
  readonly groups: readonly number[];
  readonly caps: readonly string[];
  /** Its jail's cgroup directories (absolute), while a jail runs. */
  readonly cgroup?: { readonly unified?: string; readonly v1: readonly string[] };
  /** The limits of its cgroup and its seccomp mode, from the launch plan. */
  readonly limits?: CgroupLimits;
  readonly seccomp?: SeccompPolicy;
  /** Reads its jail's cgroup now (ps, top): memory, CPU, processes, OOM kills, pressure. */
  readonly cgroupStats?: () => CgroupStats;
  /** The files cgroupStats reads (for the metrics exporter, which reads them itself). */
  readonly cgroupFiles?: StatsSources;
}

/** What a vassal's current (or last) jail has said and done. */
export interface JailFlags {
  /** It spoke the emperor protocol (a byte on the emperor pipe). */
  speaks: boolean;
  loyal: boolean;
  ready: boolean;
  accepting: boolean;
  hung: boolean;
  /** It said byte 22 (going down). */
  goingDown: boolean;
  /** The exec failed for good (no such program): retrying would not help. */
  execFailed: boolean;
}

export const freshFlags = (): JailFlags => ({ speaks: false, loyal: false, ready: false, accepting: false, hung: false, goingDown: false, execFailed: false });

/** What a Vassal knows of itself, for snapshotOf(). */
export interface SnapshotFacts {
  readonly name: string;
  readonly state: VassalState;
  readonly since: number;
  readonly source: VassalSource;
  readonly jail: Jail | undefined;
  readonly plan: LaunchPlan | undefined;
  readonly flags: { readonly loyal: boolean; readonly ready: boolean; readonly accepting: boolean; readonly speaks: boolean };
  readonly times: VassalTimes;
  readonly respawns: number;
  readonly restarts: number;
  readonly error: string | undefined;
  readonly failure: Failure | undefined;
  readonly lastExit: string | undefined;
  readonly exit: JailExit | undefined;
  readonly blacklist: BlacklistEntry | undefined;
  readonly nextAttempt: number | undefined;
  readonly warnings: readonly string[];
  readonly onDemand: string | undefined;
  readonly mode: 'spawned' | 'adopted' | undefined;
}

// Built field by field, not with spreads: ps, stats and every metrics scrape make one per
// vassal, and the spreads of optional fields cost ~5 µs a snapshot (1,000 vassals: 5 ms).
export function snapshotOf(f: SnapshotFacts, options: Pick<EmperorOptions, 'tyrant' | 'tyrantNofollow'>): VassalSnapshot {
  const plan = f.plan;
  const t = f.times;
  const s: { -readonly [K in keyof VassalSnapshot]: VassalSnapshot[K] } = {
    name: f.name,
    state: f.state,
    since: Math.floor(f.since / 1000),
    source: f.source,
    pid: f.jail?.pid ?? 0,
    programPid: f.jail?.programPid() ?? 0,
    loyal: f.flags.loyal,
    ready: f.flags.ready,
    accepting: f.flags.accepting,
    speaksProtocol: f.flags.speaks,
    born: sec(t.born), lastHeartbeat: sec(t.lastHeartbeat), lastLoyal: sec(t.lastLoyal), lastReady: sec(t.lastReady),
    lastAccepting: sec(t.lastAccepting), firstRun: sec(t.firstRun), lastRun: sec(t.lastRun), cursed: sec(t.cursed),
    respawns: f.respawns,
    restarts: f.restarts,
    namespaces: plan?.namespaces ?? [],
    groups: plan?.groups ?? [],
    caps: plan?.caps ?? [],
    warnings: f.warnings,
  };
  if (f.error !== undefined) s.error = f.error;
  if (f.failure !== undefined) s.failure = f.failure;
  if (f.lastExit !== undefined) s.lastExit = f.lastExit;
  if (f.exit !== undefined) s.exit = f.exit;
  if (f.blacklist) s.blacklist = f.blacklist;
  if (f.nextAttempt !== undefined) s.nextAttempt = f.nextAttempt;
  if (f.onDemand !== undefined) s.onDemand = f.onDemand;
  if (f.mode) s.mode = f.mode;
  const ids = ownerIds(plan, f.source, options);
  if (ids.uid !== undefined) s.uid = ids.uid;
  if (ids.gid !== undefined) s.gid = ids.gid;
  const cgroup = f.jail?.cgroup;
  if (cgroup) {
    s.cgroup = cgroup.dirs;
    s.cgroupStats = () => cgroup.stats();
    s.cgroupFiles = cgroup.statsSources;
  }
  if (plan) {
    s.limits = plan.limits;
    s.seccomp = plan.seccomp;
  }
  return s;
}

// Tyrant mode: whom it runs (or would run) as is the file's owner, even before a plan.
export function ownerIds(plan: LaunchPlan | undefined, source: VassalSource, options: Pick<EmperorOptions, 'tyrant' | 'tyrantNofollow'>): { uid?: number; gid?: number } {
  const file = source.link && options.tyrantNofollow ? source.link : source;
  return {
    ...(plan?.uid !== undefined ? { uid: plan.uid } : options.tyrant ? { uid: file.uid } : {}),
    ...(plan?.gid !== undefined ? { gid: plan.gid } : options.tyrant ? { gid: file.gid } : {}),
  };
}

/** A vassal's moments, in milliseconds since the epoch (0: not yet). */
export interface VassalTimes {
  born: number;
  lastHeartbeat: number;
  lastLoyal: number;
  lastReady: number;
  lastAccepting: number;
  firstRun: number;
  lastRun: number;
  cursed: number;
}

export const newTimes = (now: number): VassalTimes => ({
  born: now, lastHeartbeat: 0, lastLoyal: 0, lastReady: 0, lastAccepting: 0, firstRun: 0, lastRun: 0, cursed: 0,
});

const sec = (ms: number): number => Math.floor(ms / 1000);

// uWSGI's stats count whole seconds.
