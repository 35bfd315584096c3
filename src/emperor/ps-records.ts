// One row of `jailctl ps` (and of the metrics) per vassal: its snapshot and what its jail
// uses now, read from its cgroup (or, without one, from /proc in one walk for all).
import { jailUsage } from '../jail/usage';
import type { VassalSnapshot } from './vassal-snapshot';

/** One row of `jailctl ps`. */
export interface PsRecord {
  readonly name: string;
  readonly state: string;
  /** Since when it is in that state (seconds since the epoch). */
  readonly since: number;
  /** Its jail's top process (the init when pid-namespaced), as `jailctl enter` joins it. */
  readonly pid: number;
  /** The program's own pid (a uWSGI master's), once it runs; else 0. */
  readonly programPid: number;
  readonly uid: number | null;
  readonly gid: number | null;
  readonly namespaces: readonly string[];
  /** The jail's supplementary groups and capabilities, as its launch plan gave them. */
  readonly groups: readonly number[];
  readonly caps: readonly string[];
  /** Seconds since the current jail started; 0 when none runs. */
  readonly uptime: number;
  readonly restarts: number;
  readonly loyal: boolean;
  readonly onDemand: string | null;
  readonly adopted: boolean;
  readonly processes: number;
  /** Memory the jail is charged: its cgroup's (page cache included), or without one the
   *  resident memory of its processes. */
  readonly memoryBytes: number;
  readonly cpuSeconds: number;
  /** Its cgroup's limits as written (bytes, count, percent of one CPU), OOM kills and PSI. */
  readonly limits: { readonly memoryMax?: number; readonly memoryHigh?: number; readonly pidsMax?: number; readonly cpuMax?: number };
  readonly oomKills: number;
  readonly pressure: { readonly cpu?: number; readonly memory?: number; readonly io?: number } | null;
  readonly cgroup: { readonly unified?: string; readonly v1: readonly string[] } | null;
  /** Its seccomp filter: `default` or `none`, with the names its FILE denies and allows. */
  readonly seccomp: { readonly mode: 'default' | 'none'; readonly deny: readonly string[]; readonly allow: readonly string[] } | null;
  readonly error: string | null;
  readonly lastExit: string | null;
  readonly config: string;
  /** What the emperor warned about its file (unknown options…): its tenant sees them too. */
  readonly warnings: readonly string[];
}

// What a jail uses: read from its cgroup (one jail's files), else from /proc (one walk for all).
function usageOf(snapshots: readonly VassalSnapshot[]): (s: VassalSnapshot) => { processes: number; memoryBytes: number; cpuSeconds: number; oomKills: number; limits: PsRecord['limits']; pressure: PsRecord['pressure'] } | undefined {
  const walked = jailUsage(snapshots.filter((s) => s.pid > 0 && !s.cgroupStats).map((s) => s.pid));
  return (s) => {
    if (s.pid <= 0) return undefined;
    if (s.cgroupStats) {
      try {
        const c = s.cgroupStats();
        return { processes: c.processes, memoryBytes: c.memoryBytes ?? 0, cpuSeconds: c.cpuSeconds ?? 0, oomKills: c.oomKills, limits: c.limits, pressure: c.pressure ?? null };
      } catch {
        return undefined; // the jail went meanwhile: its cgroup with it
      }
    }
    const u = walked.get(s.pid);
    return u && { processes: u.processes, memoryBytes: u.rssBytes, cpuSeconds: u.cpuSeconds, oomKills: 0, limits: {}, pressure: null };
  };
}

export function psRecords(snapshots: readonly VassalSnapshot[], now = Date.now()): PsRecord[] {
  const usage = usageOf(snapshots);
  return snapshots.map((s) => {
    const u = usage(s);
    return {
      name: s.name,
      state: s.state,
      since: s.since,
      pid: s.pid,
      programPid: s.programPid,
      uid: s.uid ?? null,
      gid: s.gid ?? null,
      namespaces: s.namespaces,
      groups: s.groups,
      caps: s.caps,
      uptime: s.pid > 0 && s.lastRun > 0 ? Math.max(0, Math.floor(now / 1000) - s.lastRun) : 0,
      restarts: s.restarts,
      loyal: s.loyal,
      onDemand: s.onDemand ?? null,
      adopted: s.mode === 'adopted',
      processes: u?.processes ?? 0,
      memoryBytes: u?.memoryBytes ?? 0,
      cpuSeconds: u?.cpuSeconds ?? 0,
      limits: u?.limits ?? {},
      oomKills: u?.oomKills ?? 0,
      pressure: u?.pressure ?? null,
      cgroup: s.cgroup ?? null,
      seccomp: s.seccomp ? { mode: s.seccomp.mode, deny: s.seccomp.deny, allow: s.seccomp.allow } : null,
      error: s.error ?? null,
      lastExit: s.lastExit ?? null,
      config: s.source.path,
      warnings: s.warnings,
    };
  });
}

