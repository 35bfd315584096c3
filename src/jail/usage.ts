// What a running jail costs, read from /proc: every process descending from the jail's
// first pid (its init, or the vassal itself), their resident memory and CPU time.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux ABI). */
const USER_HZ = 100;

export interface JailUsage {
  /** Processes in the jail (its init included). */
  readonly processes: number;
  /** Resident memory of all of them, in bytes (shared pages count once per process). */
  readonly rssBytes: number;
  /** User + system CPU time of the live processes and of the children they reaped. */
  readonly cpuSeconds: number;
}

interface ProcStat {
  readonly ppid: number;
  readonly ticks: number;
}

// /proc/PID/stat fields after the command (which may hold spaces and parentheses).
function readStat(pid: string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

function rssOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

// The usage of each jail, by its first pid; one pass over /proc serves them all.
export function jailUsage(roots: readonly number[]): Map<number, JailUsage> {
  const out = new Map<number, JailUsage>();
  if (roots.length === 0) return out;
  const stats = new Map<number, ProcStat>();
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    const pid = Number(name);
    stats.set(pid, st);
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  for (const root of roots) {
    if (!stats.has(root)) continue;
    let processes = 0;
    let rssBytes = 0;
    let ticks = 0;
    for (const queue = [root]; queue.length > 0;) {
      const pid = queue.pop()!;
      processes++;
      rssBytes += rssOf(pid);
      ticks += stats.get(pid)?.ticks ?? 0;
      queue.push(...(children.get(pid) ?? []));
    }
    out.set(root, { processes, rssBytes, cpuSeconds: ticks / USER_HZ });
  }
  return out;
}
