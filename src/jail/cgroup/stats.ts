// What a jail uses, read from its cgroup files: the replacement of usage.ts's /proc walk.
//
// It runs on the emperor's event loop for every `ps`, `top`, stats and metrics scrape, per
// jail: 6 to 9 files (memory.current, memory.peak, memory.events, cpu.stat, cgroup.procs,
// cgroup.stat and the three *.pressure on v2; the v1 equivalents on v1). No directory walk
// unless the jail has child cgroups (cgroup.stat nr_descendants on v2; a readdir on v1).
// A jail's files are held open between reads (statsReader) and read by one native call,
// a pread(2) each: ~9 µs a jail on the lab VM, where an open + read + close through
// Node's fs cost ~120 µs (9 files). An emperor that holds many fds already (an fd number
// above half its limit) opens the files for each read instead, so holding them never
// starves a launch of fds.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { binding, CgroupFileKind } from '../../native/binding';
import { childCgroups, errnoOf, keyed, readOptional, readPids } from './files';

/** The limits create() last wrote, in the vassal's units. */
export interface CgroupLimitValues {
  readonly memoryMax?: number;
  readonly memoryHigh?: number;
  readonly pidsMax?: number;
  /** Percent of one CPU. */
  readonly cpuMax?: number;
}

export interface CgroupStats {
  /** Memory charged to the jail now (page cache and kernel memory included). */
  readonly memoryBytes?: number;
  /** The most it was charged since the cgroup was made (v2: kernel >= 5.19). */
  readonly memoryPeakBytes?: number;
  /** CPU time of every process that ran in it, exited ones included. */
  readonly cpuSeconds?: number;
  /** Live processes (zombies are not listed in cgroup.procs; pids.current counts them and threads). */
  readonly processes: number;
  /** Processes the OOM killer took in it. */
  readonly oomKills: number;
  readonly limits: CgroupLimitValues;
  /** PSI `some avg10`: the share of the last 10 s some task waited on it, in percent (v2 only). */
  readonly pressure?: { readonly cpu?: number; readonly memory?: number; readonly io?: number };
}

/** Where a jail's numbers are, chosen once at create(). */
export interface StatsSources {
  readonly unified?: string;
  readonly memory?: { readonly version: 1 | 2; readonly dir: string };
  /** The v1 cpuacct directory, when there is no unified one (cpu.stat is on every v2 cgroup). */
  readonly cpuacct?: string;
  /** Where cgroup.procs is counted: the unified directory, else any v1 one. */
  readonly procs?: { readonly version: 1 | 2; readonly dir: string };
}

// The numbers of one jail's files, and where each goes in its CgroupStats.
const FIGURES = ['oomKills', 'memory', 'memoryPeak', 'cpuUsec', 'cpuNs', 'procs', 'descendants', 'cpuPressure', 'memoryPressure', 'ioPressure'] as const;
type Figure = (typeof FIGURES)[number];
interface StatsFile {
  readonly figure: Figure;
  readonly path: string;
  readonly kind: CgroupFileKind;
}

// The files a jail's stats read, in the order they are read.
function statsFiles(src: StatsSources): StatsFile[] {
  const files: StatsFile[] = [];
  const add = (figure: Figure, path: string, kind: CgroupFileKind): void => void files.push({ figure, path, kind });
  const mem = src.memory;
  if (mem?.version === 2) {
    add('oomKills', `${mem.dir}/memory.events`, CgroupFileKind.oomKill);
    add('memory', `${mem.dir}/memory.current`, CgroupFileKind.number);
    add('memoryPeak', `${mem.dir}/memory.peak`, CgroupFileKind.number);
  } else if (mem) {
    add('oomKills', `${mem.dir}/memory.oom_control`, CgroupFileKind.oomKill);
    add('memory', `${mem.dir}/memory.usage_in_bytes`, CgroupFileKind.number);
    add('memoryPeak', `${mem.dir}/memory.max_usage_in_bytes`, CgroupFileKind.number);
  }
  if (src.unified) add('cpuUsec', `${src.unified}/cpu.stat`, CgroupFileKind.usageUsec);
  else if (src.cpuacct) add('cpuNs', `${src.cpuacct}/cpuacct.usage`, CgroupFileKind.number);
  if (src.procs) {
    add('procs', `${src.procs.dir}/cgroup.procs`, CgroupFileKind.lines);
    if (src.procs.version === 2) add('descendants', `${src.procs.dir}/cgroup.stat`, CgroupFileKind.nrDescendants);
  }
  if (src.unified) {
    add('cpuPressure', `${src.unified}/cpu.pressure`, CgroupFileKind.avg10);
    add('memoryPressure', `${src.unified}/memory.pressure`, CgroupFileKind.avg10);
    add('ioPressure', `${src.unified}/io.pressure`, CgroupFileKind.avg10);
  }
  return files;
}

// Processes listed in the cgroups below a jail's own (its own are counted from cgroup.procs).
function childProcs(version: 1 | 2, dir: string): number {
  let n = 0;
  for (const child of childCgroups(dir)) {
    n += readPids(`${child}/cgroup.procs`).length;
    const descendants = version === 2 ? keyed(readOptional(`${child}/cgroup.stat`), 'nr_descendants') : undefined;
    if (version === 1 || (descendants ?? 0) > 0) n += childProcs(version, child);
  }
  return n;
}

// The CgroupStats of the numbers read (NaN: a file missing, its field left out). `at` gives
// each figure's place in `values`, -1 for a file this jail does not have.
function combine(src: StatsSources, limits: CgroupLimitValues, at: Readonly<Record<Figure, number>>, values: Float64Array): CgroupStats {
  const get = (figure: Figure): number | undefined => {
    const i = at[figure];
    return i < 0 || Number.isNaN(values[i]!) ? undefined : values[i];
  };
  const stats: { -readonly [K in keyof CgroupStats]: CgroupStats[K] } = { processes: get('procs') ?? 0, oomKills: get('oomKills') ?? 0, limits };
  const memory = get('memory');
  if (memory !== undefined) stats.memoryBytes = memory;
  const peak = get('memoryPeak');
  if (peak !== undefined) stats.memoryPeakBytes = peak;
  const usec = get('cpuUsec');
  const ns = get('cpuNs');
  if (usec !== undefined) stats.cpuSeconds = usec / 1e6;
  else if (ns !== undefined) stats.cpuSeconds = ns / 1e9;
  if (src.procs && (src.procs.version === 1 || (get('descendants') ?? 0) > 0)) stats.processes += childProcs(src.procs.version, src.procs.dir);
  const cpu = get('cpuPressure');
  const mem = get('memoryPressure');
  const io = get('ioPressure');
  if (cpu !== undefined || mem !== undefined || io !== undefined) {
    const pressure: { cpu?: number; memory?: number; io?: number } = {};
    if (cpu !== undefined) pressure.cpu = cpu;
    if (mem !== undefined) pressure.memory = mem;
    if (io !== undefined) pressure.io = io;
    stats.pressure = pressure;
  }
  return stats;
}

// An fd of the file, or -1 when it does not exist (a controller or kernel without it).
function openOptional(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err: unknown) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'EOPNOTSUPP' || code === 'ENODEV') return -1;
    throw err;
  }
}

function closeAll(fds: Int32Array): void {
  for (const fd of fds) if (fd >= 0) closeSync(fd);
  fds.fill(-1);
}

// The soft limit of open files of this process (read once: the emperor does not change it).
let fdLimit: number | undefined;
function softFdLimit(): number {
  if (fdLimit === undefined) {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    fdLimit = line?.[1] === undefined || line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
  }
  return fdLimit;
}

/** One jail's stats files, held open between reads. */
export interface StatsReader {
  read(): CgroupStats;
  /** Closes the files held (the cgroup is being removed); a later read opens them again. */
  close(): void;
}

export function statsReader(src: StatsSources, limits: CgroupLimitValues): StatsReader {
  const files = statsFiles(src);
  const kinds = Uint8Array.from(files, (f) => f.kind);
  const at = Object.fromEntries(FIGURES.map((figure) => [figure, files.findIndex((f) => f.figure === figure)])) as Record<Figure, number>;
  const out = new Float64Array(files.length);
  const fds = new Int32Array(files.length).fill(-1);
  let held = false;
  let highest = -1;
  const open = (): void => {
    try {
      files.forEach((f, i) => (fds[i] = openOptional(f.path)));
    } catch (err: unknown) {
      closeAll(fds);
      throw err;
    }
    highest = Math.max(...fds);
  };
  // A held file that reads nothing was removed with its cgroup (ENODEV).
  const stale = (): boolean => {
    for (let i = 0; i < fds.length; i++) if (fds[i]! >= 0 && Number.isNaN(out[i]!)) return true;
    return false;
  };
  return {
    read(): CgroupStats {
      const wasHeld = held;
      if (!held) open();
      binding.cgroupReadNumbers(fds, kinds, out);
      // One made again at the same path (a later launch) is a new file: open it again.
      if (wasHeld && stale()) {
        closeAll(fds);
        open();
        binding.cgroupReadNumbers(fds, kinds, out);
      }
      held = highest < softFdLimit() / 2;
      if (!held) closeAll(fds);
      return combine(src, limits, at, out);
    },
    close(): void {
      closeAll(fds);
      held = false;
    },
  };
}

// Processes the OOM killer took in it: one file (an exit, a poll).
export function readOomKills(src: StatsSources): number {
  const mem = src.memory;
  if (!mem) return 0;
  return keyed(readOptional(`${mem.dir}/${mem.version === 2 ? 'memory.events' : 'memory.oom_control'}`), 'oom_kill') ?? 0;
}
