// What the benchmarks share: percentiles, and reading processes from /proc (to find and
// kill exactly the processes a bench started, by pid and start time, never by name).
import { readdirSync, readFileSync } from 'node:fs';

// Nearest-rank percentile.
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
}

// "R", "S", "Z"… and the start time (field 22) of a process; undefined once it is gone.
export function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

// The children of a process, over all its threads.
export function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`))
      for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (c) out.push(Number(c));
  } catch {
    // gone
  }
  return out;
}
