// The containment options of a vassal file: the limits of its cgroup (memory-max, memory-high,
// pids-max, cpu-max, io-weight, cgroup-opt) and its seccomp filter (seccomp). No I/O but the
// seccomp FILE, which the caller reads (CompileOptions.readFile).
import { isAbsolute } from 'node:path';
import { NO_DIRECTORY, pathFrom } from './paths';
import type { ConfigEntry } from '../config/types';
import { excerpt } from '../config/limits';
import { PlanError } from '../errors';
import type { CgroupLimit, CgroupLimits, LaunchPlan, Origin, SeccompPolicy } from './types';

/** Processes and threads a jail may have when its file and the emperor say nothing. It
 *  replaces RLIMIT_NPROC (max-procs, counted per uid over the whole host) as the default. */
export const DEFAULT_PIDS_MAX = 1024;

/** Names a seccomp FILE may list, each way. */
export const MAX_SECCOMP_NAMES = 256;

/** What compileLimits() reads of the file's entries. */
export interface EntryLookup {
  last(name: string): ConfigEntry | undefined;
  all(name: string): readonly ConfigEntry[];
}

type Fail = (entry: ConfigEntry | undefined, field: string, reason: string) => never;

// `64m`, `1g`, `512k`, `1048576`: bytes, at least one page; `max`: no limit of its own.
const SIZE_RE = /^(\d+)\s*([kmgt]?)b?$/i;
function parseBytes(text: string): number | 'max' | undefined {
  const v = text.trim().toLowerCase();
  if (v === 'max' || v === 'unlimited') return 'max';
  const m = SIZE_RE.exec(v);
  const n = m ? Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  return n >= 4096 && Number.isSafeInteger(n) ? n : undefined;
}

/** `64m` for 67108864: how a limit is shown back to the sysadmin. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['g', 1 << 30], ['m', 1 << 20], ['k', 1 << 10]] as const)
    if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

// The limit an entry sets; undefined for `max` (the jail's cgroup gets no limit of its own).
function limit<T>(entry: ConfigEntry, value: T | 'max'): CgroupLimit<T> | undefined {
  if (value === 'max') return undefined;
  return {
    option: entry.key,
    value,
    ...(entry.line > 0 ? { line: entry.line } : {}),
    ...(entry.file !== undefined ? { file: entry.file } : {}),
  };
}

function bytes(entry: ConfigEntry | undefined, fail: Fail): CgroupLimit<number> | undefined {
  if (!entry) return undefined;
  const v = parseBytes(entry.value);
  if (v === undefined)
    fail(entry, entry.key, `expected a size of 4k or more (bytes, or a number with k, m, g or t), or \`max\`; got \`${excerpt(entry.value)}\``);
  return limit(entry, v);
}

function count(entry: ConfigEntry | undefined, min: number, max: number, what: string, fail: Fail): CgroupLimit<number> | undefined {
  if (!entry) return undefined;
  const v = entry.value.trim().toLowerCase();
  if (v === 'max') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    fail(entry, entry.key, `expected ${what}, or \`max\`; got \`${excerpt(entry.value)}\``);
  return limit(entry, Number(v));
}

// `50%` (half a CPU), `150%`, `max`. A bare number is refused: 50 could mean 50 % or 50 CPUs.
function cpuShare(entry: ConfigEntry | undefined, fail: Fail): CgroupLimit<number> | undefined {
  if (!entry) return undefined;
  const v = entry.value.trim().toLowerCase();
  if (v === 'max') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
  const pct = m ? Number(m[1]) : NaN;
  if (!(pct >= 1 && pct <= 100_000)) {
    const hint = /^\d+(\.\d+)?$/.test(v) ? ` (did you mean \`${v}%\`?)` : '';
    fail(entry, entry.key, `expected a share of one CPU as a percentage, 1% or more (50% is half a CPU, 200% two), or \`max\`; got \`${excerpt(entry.value)}\`${hint}`);
  }
  return limit(entry, pct);
}

// Interface files a cgroup-opt may not write: they move processes, kill them, or change the tree.
const CONTROL_FILES = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.kill', 'cgroup.subtree_control', 'cgroup.type', 'cgroup.freeze',
  'tasks', 'release_agent', 'notify_on_release', 'cgroup.clone_children', 'cgroup.event_control', 'memory.oom.group']);

function cgroupOpts(entries: readonly ConfigEntry[], fail: Fail): CgroupLimits['opts'] {
  return entries.map((e) => {
    const eq = e.value.indexOf('=');
    const key = eq > 0 ? e.value.slice(0, eq).trim() : '';
    const value = eq > 0 ? e.value.slice(eq + 1).trim() : '';
    if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key))
      fail(e, 'cgroup-opt', `expected KEY=VALUE with KEY an interface file of the jail's cgroup (e.g. memory.swap.max=0), got \`${excerpt(e.value)}\``);
    if (CONTROL_FILES.has(key))
      fail(e, 'cgroup-opt', `\`${key}\` is the emperor's to write (it places, freezes and kills the jail); remove the line`);
    if (value === '' || /[\n\r]/.test(value)) fail(e, 'cgroup-opt', `\`${key}\` needs a value on the same line`);
    return { option: 'cgroup-opt', key, value, ...(e.line > 0 ? { line: e.line } : {}) };
  });
}

// The limits of the jail's cgroup. pids-max has a default: a jail never has unbounded processes.
export function compileLimits(entries: EntryLookup, fail: Fail): CgroupLimits {
  const memoryMax = bytes(entries.last('memory-max'), fail);
  const memoryHigh = bytes(entries.last('memory-high'), fail);
  const pidsEntry = entries.last('pids-max');
  const pidsMax = pidsEntry
    ? count(pidsEntry, 1, 0x7fffffff, 'a number of processes and threads, 1 or more', fail)
    : { option: 'pids-max', value: DEFAULT_PIDS_MAX, isDefault: true };
  const cpuMax = cpuShare(entries.last('cpu-max'), fail);
  const ioWeight = count(entries.last('io-weight'), 1, 10_000, 'a weight from 1 to 10000 (100 is the default)', fail);
  if (memoryMax && memoryHigh && memoryHigh.value > memoryMax.value)
    fail(entries.last('memory-high'), 'memory-high', `${formatBytes(memoryHigh.value)} is above memory-max (${formatBytes(memoryMax.value)}), so it would never act; lower it or remove the line`);
  return {
    ...(memoryMax ? { memoryMax } : {}),
    ...(memoryHigh ? { memoryHigh } : {}),
    ...(pidsMax ? { pidsMax } : {}),
    ...(cpuMax ? { cpuMax } : {}),
    ...(ioWeight ? { ioWeight } : {}),
    opts: cgroupOpts(entries.all('cgroup-opt'), fail),
  };
}

/** The seccomp policy of a file: `default` (also when absent), `none`, or a FILE of
 *  `deny NAME…` / `allow NAME…` lines on top of the default list. */
export function compileSeccomp(entries: EntryLookup, vassalFile: string, readFile: ((path: string) => string) | undefined, fail: Fail): SeccompPolicy {
  const entry = entries.last('seccomp');
  if (!entry) return { mode: 'default', deny: [], allow: [] };
  const at = { option: 'seccomp', ...(entry.line > 0 ? { line: entry.line } : {}) };
  const v = entry.value.trim();
  if (v === 'default' || v === '') return { ...at, mode: 'default', deny: [], allow: [] };
  if (v === 'none') return { ...at, mode: 'none', deny: [], allow: [] };
  const path = pathFrom(entry.file !== undefined && isAbsolute(entry.file) ? entry.file : vassalFile, v) ?? fail(entry, 'seccomp', `\`${excerpt(v)}\` ${NO_DIRECTORY}`);
  if (!readFile) return fail(entry, 'seccomp', 'a seccomp FILE is read by the emperor or jailctl run; here there is nothing to read it with');
  let text: string;
  try {
    text = readFile(path);
  } catch (err: unknown) {
    return fail(entry, 'seccomp', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; expected \`default\`, \`none\` or a file of \`deny NAME\` / \`allow NAME\` lines`);
  }
  const deny: string[] = [];
  const allow: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const [verb, ...names] = line.split(/[\s,]+/);
    const list = verb === 'deny' ? deny : verb === 'allow' ? allow : undefined;
    if (!list || names.length === 0)
      fail(entry, 'seccomp', `${path}:${i + 1}: expected \`deny NAME…\` or \`allow NAME…\`, got \`${excerpt(line)}\``);
    for (const name of names) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) fail(entry, 'seccomp', `${path}:${i + 1}: \`${excerpt(name)}\` is not a system call name`);
      // EPERM instead of the filter's ENOSYS would break threads: glibc falls back to
      // clone() only on ENOSYS.
      if (verb === 'deny' && name === 'clone3')
        fail(entry, 'seccomp', `${path}:${i + 1}: clone3 already fails (ENOSYS, so that libc falls back to clone, which the filter checks); denying it with EPERM would break pthread_create: remove it`);
      if (!list.includes(name)) list.push(name);
    }
    if (list.length > MAX_SECCOMP_NAMES)
      fail(entry, 'seccomp', `${path}:${i + 1}: more than ${MAX_SECCOMP_NAMES} names to ${verb}`);
  });
  return { ...at, mode: 'default', deny, allow, file: path };
}

/** What the host's cgroups can honour (src/jail/cgroup's CgroupTree); absent: no cgroups. */
export interface LimitCheck {
  unsupported(limits: CgroupLimits): readonly { readonly origin: Origin; readonly reason: string }[];
}

// A limit the host cannot honour is refused, naming its line; jailctl's own default
// (pids-max 1024) is dropped with a warning instead. Without cgroups nothing can be honoured.
export function checkLimits(plan: LaunchPlan, cgroups: LimitCheck | undefined, noCgroup = 'this emperor has no cgroups for its jails (emperor-cgroup = none, or it could not make its subtree: see its start-up log), so it cannot limit one'): { plan: LaunchPlan; warnings: string[] } {
  const { opts, ...one } = plan.limits;
  const set = [...Object.values(one), ...opts] as (Origin & { file?: string; isDefault?: boolean })[];
  const problems = cgroups
    ? cgroups.unsupported(plan.limits)
    : set.map((origin) => ({ origin, reason: noCgroup }));
  const warnings: string[] = [];
  let limits = plan.limits;
  for (const { origin, reason } of problems) {
    const limit = origin as CgroupLimit<unknown>;
    if (limit.isDefault) {
      if (cgroups) warnings.push(`${plan.file}: the default pids-max cannot be set (${reason}); the jail's processes are not limited`);
      const { pidsMax: _dropped, ...rest } = limits;
      limits = rest;
      continue;
    }
    throw new PlanError({ vassal: plan.vassal, field: origin.option, file: limit.file ?? plan.file!, ...(origin.line !== undefined ? { line: origin.line } : {}) }, reason);
  }
  return { plan: limits === plan.limits ? plan : Object.freeze({ ...plan, limits }), warnings };
}

