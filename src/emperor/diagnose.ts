// Why a vassal likely died, where its exit status alone does not say. Only hints: each names
// what it saw, and says "likely". And how an exit is told in the log.
import type { JailExit } from '../jail/launch';
import { formatBytes } from '../plan/limits';
import type { LaunchPlan } from '../plan/types';

// `killed by signal 9`, `exited with status 1`, `OOM-killed (memory-max 64m)`.
export function describeExit(exit: JailExit, plan?: LaunchPlan): string {
  const how = exit.signal !== null ? `killed by signal ${exit.signal}` : `exited with status ${exit.code}`;
  if (!exit.oomKills) return how;
  const max = plan?.limits.memoryMax;
  return `OOM-killed (${max ? `memory-max ${formatBytes(max.value)}` : 'out of memory'}${exit.oomKills > 1 ? `, ${exit.oomKills} processes` : ''}; ${how})`;
}

// The line to add when a vassal under pids-max died saying a fork or a thread was refused.
export function pidsMaxHint(plan: LaunchPlan, output: readonly string[], error?: string): string | undefined {
  const limit = plan.limits.pidsMax;
  const seen = limit && [...output, error ?? ''].find((l) => EAGAIN_SIGNS.some((re) => re.test(l)));
  if (!limit || seen === undefined) return undefined;
  return `likely cause: pids-max = ${limit.value}${limit.isDefault ? ' (the default)' : ''}: the jail may have that many processes and threads together (a Node process alone has about 10); raise it, or run fewer (it said: ${seen.trim().slice(0, 160)})`;
}

// What a process refused a fork or a thread prints (bash, perl, Python, Node's child_process,
// libuv's assertion when uv_thread_create fails, glibc's pthread_create).
const EAGAIN_SIGNS = [/Resource temporarily unavailable/i, /\bEAGAIN\b/, /uv_thread_create/, /pthread_create/, /Cannot fork/i];

// The line to add when a vassal that ran under max-procs died saying a fork or a thread was
// refused: RLIMIT_NPROC counts every process and thread of its uid on the whole host, so a
// Node app with a few workers needs far more than "a few processes".
export function maxProcsHint(maxProcs: number | undefined, uid: number | undefined, output: readonly string[], error?: string): string | undefined {
  if (maxProcs === undefined) return undefined;
  const seen = [...output, error ?? ''].find((l) => EAGAIN_SIGNS.some((re) => re.test(l)));
  if (seen === undefined) return undefined;
  return `likely cause: max-procs = ${maxProcs}: it counts every process and thread of uid ${uid ?? '?'} on the whole host, not only this jail's (a Node process alone has about 10 threads); raise it, or run fewer processes (it said: ${seen.trim().slice(0, 160)})`;
}

// The lines of a vassal log written since `sinceMs` (each starts with its ISO time stamp).
export function linesSince(lines: readonly string[], sinceMs: number): string[] {
  const since = new Date(sinceMs).toISOString();
  return lines.filter((l) => l.slice(0, since.length) >= since);
}

// What an exit may need explained (a limit the jail ran into), from its last lines and error.
export function exitHint(plan: LaunchPlan, said: readonly string[], error: string | undefined): string | undefined {
  return maxProcsHint(plan.maxProcs, plan.uid, said, error) ?? pidsMaxHint(plan, said, error);
}
