// What a jail's limits become in cgroup files, and which limits a host cannot honour.
// Pure: it works from a CgroupSupport (what prepare found), so every layout is unit-tested
// without a filesystem.
//
// Where a controller lives: on the unified hierarchy when jail cgroups get it there
// (enabled in the subtree root's cgroup.subtree_control), else on the v1 hierarchy bound
// to it. A controller is bound to one hierarchy at a time, so never both.
import type { CgroupLimits, Origin } from '../../plan/types';
import { type CgroupHierarchy, type CgroupLayout, v1Holding } from './layout';

/** What prepare found: which controllers jail cgroups get, and what is missing and why. */
export interface CgroupSupport {
  readonly layout: CgroupLayout;
  /** Controllers a jail cgroup has on the unified hierarchy (the subtree root's cgroup.controllers). */
  readonly unifiedEnabled: readonly string[];
  /** Controllers the own cgroup is given by its parent (its cgroup.controllers). */
  readonly unifiedOffered: readonly string[];
  /** Why offered controllers could not be enabled for the subtree, e.g. `EBUSY: …`. */
  readonly unifiedNotEnabled?: string;
  /** v1 hierarchies prepare could not use (not writable), with the reason. */
  readonly skipped: readonly { readonly hierarchy: CgroupHierarchy; readonly reason: string }[];
  /** Some block device uses the bfq scheduler: without one, a (blkio|io).bfq.weight file
   *  exists in every cgroup and does nothing. */
  readonly bfqActive: boolean;
  /** Whether a jail cgroup on this hierarchy has this interface file. */
  hasFile(hierarchy: CgroupHierarchy, file: string): boolean;
}

/** A limit this host cannot apply, named for the sysadmin. */
export interface Unsupported {
  readonly origin: Origin;
  readonly reason: string;
}

/** One value to write into a jail cgroup's file. */
export interface LimitWrite {
  readonly hierarchy: CgroupHierarchy;
  readonly file: string;
  readonly value: string;
  /** The option that asked for it; absent for a reset to the default. */
  readonly origin?: Origin;
  /** Skip it when the file does not exist (memory.swap.max without swap accounting). */
  readonly ifExists?: boolean;
}

/** Files that are not limits: writing them through cgroup-opt would move, kill, freeze or
 *  re-delegate the jail, or run a program as root (release_agent). */
export const REFUSED_OPTS: ReadonlySet<string> = new Set([
  'cgroup.procs', 'cgroup.threads', 'cgroup.kill', 'cgroup.freeze', 'cgroup.subtree_control', 'cgroup.type',
  'cgroup.events', 'cgroup.clone_children', 'cgroup.event_control', 'tasks', 'release_agent', 'notify_on_release',
  'memory.oom.group', 'freezer.state',
]);

export const CPU_PERIOD_US = 100000;

/** Controllers a jail gets on the unified hierarchy when they are there to take. */
export const UNIFIED_WANTED = ['memory', 'pids', 'cpu', 'io'] as const;

export type Home = { readonly version: 1 | 2; readonly hierarchy: CgroupHierarchy };

// The hierarchy a controller (v2 name: memory, pids, cpu, io; or v1-only names) is used on.
export function homeOf(s: CgroupSupport, controller: string): Home | undefined {
  if (s.layout.unified && s.unifiedEnabled.includes(controller)) return { version: 2, hierarchy: s.layout.unified };
  const h = v1Holding(s.layout, controller === 'io' ? 'blkio' : controller);
  if (h && !s.skipped.some((k) => k.hierarchy === h)) return { version: 1, hierarchy: h };
  return undefined;
}

// Why a controller is not there, ending in the fix.
function missing(s: CgroupSupport, controller: string): string {
  const v1name = controller === 'io' ? 'blkio' : controller;
  const skipped = s.skipped.find((k) => k.hierarchy.controllers.includes(v1name));
  if (skipped) return `the ${v1name} v1 hierarchy at ${skipped.hierarchy.mountPoint} is not usable: ${skipped.reason}`;
  const u = s.layout.unified;
  if (u && !(UNIFIED_WANTED as readonly string[]).includes(controller) && s.unifiedOffered.includes(controller))
    return `jail cgroups get ${UNIFIED_WANTED.join(', ')} on cgroup v2, not ${controller}`;
  if (u && s.unifiedOffered.includes(controller))
    return `the ${controller} controller is given to ${u.ownPath} but could not be enabled for the jails (${s.unifiedNotEnabled ?? 'not enabled'}): run the emperor under systemd with Delegate=yes, or under \`systemd-run --scope -p Delegate=yes\``;
  if (u && u.ownPath !== '/')
    return `the ${controller} controller is not delegated to ${u.ownPath} (cgroup.controllers lacks it): set Delegate=yes`;
  if (u) return `the ${controller} controller is neither on cgroup v2 here (${u.mountPoint}/cgroup.controllers lacks it) nor mounted as a v1 hierarchy`;
  return `no ${v1name} hierarchy is mounted (cgroup v1 only, and no ${v1name} among them)`;
}

const KEY = /^[a-z][a-z0-9_]*\.[A-Za-z0-9_.]+$/;

// The hierarchy a cgroup-opt key is written on, or why it cannot be. `cgroup.*` keys are
// core files of the unified hierarchy (cgroup.max.descendants, cgroup.max.depth): v1 has no
// writable cgroup.* limit, so on a v1-only host they are refused.
function optHome(s: CgroupSupport, key: string): Home | string {
  if (!KEY.test(key)) return `\`${key}\` is not a cgroup interface file name (CONTROLLER.FILE)`;
  if (REFUSED_OPTS.has(key) || key.startsWith('cgroup.') && key.endsWith('_control')) return `\`${key}\` is not a limit; jailctl manages it`;
  const controller = key.slice(0, key.indexOf('.'));
  if (controller === 'cgroup') {
    if (!s.layout.unified) return `\`${key}\` is a cgroup v2 core file and this host has no cgroup v2 hierarchy`;
    return s.hasFile(s.layout.unified, key) ? { version: 2, hierarchy: s.layout.unified } : `a jail cgroup on ${s.layout.unified.mountPoint} has no \`${key}\``;
  }
  // v1 names that are not v2 controller names are looked up on v1 only (blkio.*, cpuacct.*).
  const home = homeOf(s, controller);
  if (!home) return missing(s, controller);
  if (!s.hasFile(home.hierarchy, key))
    return `a jail cgroup on ${home.hierarchy.mountPoint} (cgroup v${home.version}) has no \`${key}\``;
  return home;
}

function ioFile(s: CgroupSupport, home: Home): string | undefined {
  const names = home.version === 2 ? ['io.weight', 'io.bfq.weight'] : ['blkio.weight', 'blkio.bfq.weight'];
  return names.find((f) => s.hasFile(home.hierarchy, f) && (s.bfqActive || !f.includes('.bfq.')));
}

// Every limit of `limits` this host cannot honour, with the controller, hierarchy and fix.
export function unsupportedLimits(s: CgroupSupport, limits: CgroupLimits): Unsupported[] {
  const out: Unsupported[] = [];
  const refuse = (o: Origin, reason: string): void => {
    out.push({ origin: o.line === undefined ? { option: o.option } : { option: o.option, line: o.line }, reason: `${o.option}: ${reason}` });
  };
  if (limits.memoryMax && !homeOf(s, 'memory')) refuse(limits.memoryMax, missing(s, 'memory'));
  if (limits.memoryHigh) {
    const home = homeOf(s, 'memory');
    if (home?.version === 1) refuse(limits.memoryHigh, `needs the memory controller on cgroup v2; this host has memory on cgroup v1 (use memory-max)`);
    else if (!home) refuse(limits.memoryHigh, `needs the memory controller on cgroup v2: ${missing(s, 'memory')}`);
  }
  if (limits.pidsMax && !homeOf(s, 'pids')) refuse(limits.pidsMax, missing(s, 'pids'));
  if (limits.cpuMax) {
    const home = homeOf(s, 'cpu');
    if (!home) refuse(limits.cpuMax, missing(s, 'cpu'));
    else if (home.version === 1 && !s.hasFile(home.hierarchy, 'cpu.cfs_quota_us'))
      refuse(limits.cpuMax, `the cpu v1 hierarchy at ${home.hierarchy.mountPoint} has no cpu.cfs_quota_us (a kernel without CONFIG_CFS_BANDWIDTH)`);
  }
  if (limits.ioWeight) {
    const home = homeOf(s, 'io');
    if (!home) refuse(limits.ioWeight, missing(s, 'io'));
    else if (!ioFile(s, home))
      refuse(limits.ioWeight, home.version === 2
        ? `the io controller at ${home.hierarchy.mountPoint} has no io.weight, and no disk uses the bfq scheduler (io.bfq.weight)`
        : `no io controller in this subtree, and blkio v1 here has no blkio.weight/blkio.bfq.weight${s.hasFile(home.hierarchy, 'blkio.bfq.weight') ? ' that works (blkio.bfq.weight does nothing: no disk uses the bfq scheduler)' : ''}: select the bfq scheduler for the disk, or use cgroup v2`);
  }
  for (const opt of limits.opts) {
    const home = optHome(s, opt.key);
    if (typeof home === 'string') refuse(opt, home);
  }
  return out;
}

// 1..10000 (v2, default 100) to a v1 or bfq weight, proportional around each default so a
// jail without io-weight and one with io-weight 100 weigh the same: blkio.weight is
// 10..1000 with default 500 (x5), the bfq weights 1..1000 with default 100 (x1); clamped.
export function scaleIoWeight(weight: number, file: string): number {
  if (file === 'io.weight') return weight;
  if (file === 'blkio.weight') return Math.min(1000, Math.max(10, Math.round(weight * 5)));
  return Math.min(1000, Math.max(1, Math.round(weight)));
}

// The writes that give a jail cgroup exactly `limits` (call unsupportedLimits first):
// every limit is written, and an absent one is set back to its default, so a respawn
// after a config change leaves no old value behind. cgroup-opt files have no known
// default: they keep their value until the jail cgroup is removed.
export function limitWrites(s: CgroupSupport, limits: CgroupLimits): LimitWrite[] {
  const out: LimitWrite[] = [];
  const add = (home: Home, file: string, value: string, origin?: Origin, ifExists?: boolean): void => {
    out.push({ hierarchy: home.hierarchy, file, value, ...(origin ? { origin } : {}), ...(ifExists ? { ifExists } : {}) });
  };
  const mem = homeOf(s, 'memory');
  if (mem?.version === 2) {
    const max = limits.memoryMax;
    add(mem, 'memory.max', max ? String(Math.floor(max.value)) : 'max', max);
    // memory-max is the whole of it: no swap on top (when swap is accounted at all).
    add(mem, 'memory.swap.max', max ? '0' : 'max', max, true);
    add(mem, 'memory.high', limits.memoryHigh ? String(Math.floor(limits.memoryHigh.value)) : 'max', limits.memoryHigh);
    // The OOM killer takes the whole jail, not one process of it.
    add(mem, 'memory.oom.group', '1');
  } else if (mem) {
    const max = limits.memoryMax;
    const value = max ? String(Math.floor(max.value)) : '-1';
    // The tree orders this pair (memsw must stay >= limit_in_bytes at every write).
    add(mem, 'memory.limit_in_bytes', value, max);
    add(mem, 'memory.memsw.limit_in_bytes', value, max, true);
  }
  const pids = homeOf(s, 'pids');
  if (pids) add(pids, 'pids.max', limits.pidsMax ? String(Math.floor(limits.pidsMax.value)) : 'max', limits.pidsMax);
  const cpu = homeOf(s, 'cpu');
  const quota = limits.cpuMax ? Math.round(limits.cpuMax.value * (CPU_PERIOD_US / 100)) : undefined;
  if (cpu?.version === 2) add(cpu, 'cpu.max', `${quota ?? 'max'} ${CPU_PERIOD_US}`, limits.cpuMax);
  else if (cpu && s.hasFile(cpu.hierarchy, 'cpu.cfs_quota_us')) {
    add(cpu, 'cpu.cfs_period_us', String(CPU_PERIOD_US), limits.cpuMax);
    add(cpu, 'cpu.cfs_quota_us', String(quota ?? -1), limits.cpuMax);
  }
  const io = homeOf(s, 'io');
  const file = io && ioFile(s, io);
  if (io && file) {
    const defaults: Record<string, number> = { 'io.weight': 100, 'io.bfq.weight': 100, 'blkio.weight': 500, 'blkio.bfq.weight': 100 };
    const w = limits.ioWeight ? scaleIoWeight(limits.ioWeight.value, file) : defaults[file]!;
    add(io, file, io.version === 2 ? `default ${w}` : String(w), limits.ioWeight);
  }
  for (const opt of limits.opts) {
    const home = optHome(s, opt.key);
    if (typeof home !== 'string') add(home, opt.key, opt.value, opt);
  }
  return out;
}
