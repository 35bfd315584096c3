// What a running jail costs, read from /proc: every process descending from the jail's
// first pid (its init, or the vassal itself), their resident memory and CPU time.
//
// This runs on the emperor's event loop for every `ps` (and every `top` refresh), so it
// must stay cheap at hundreds of jails: one pass over /proc/PID/stat serves every jail
// (the resident size is in it too: no second file per process), read through one buffer,
// and a pass younger than TABLE_TTL_MS is reused by the requests that follow it.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux ABI). */
const USER_HZ = 100;
/** How long one /proc pass answers for: many clients polling at once share it. */
const TABLE_TTL_MS = 250;

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
  readonly rssPages: number;
}

interface ProcTable {
  readonly at: number;
  readonly stats: Map<number, ProcStat>;
  readonly children: Map<number, number[]>;
}

// A stat line is < 1 KiB; the command (field 2) is at most 64 bytes.
const buf = Buffer.alloc(4096);

// /proc/PID/stat fields after the command (which may hold spaces and parentheses).
function readStat(pid: string): ProcStat | undefined {
  let n: number;
  try {
    const fd = openSync(`/proc/${pid}/stat`, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined; // gone meanwhile
    throw err;
  }
  const text = buf.toString('latin1', 0, n);
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17, rss field 24.
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), rssPages: Number(f[21]) };
}

let pageBytes: number | undefined;

// stat counts resident pages; the page size is what makes our own VmRSS of our own rss
// (Node has no sysconf; 4 KiB on x86-64, 4, 16 or 64 KiB on arm64).
function pageSize(): number {
  if (pageBytes !== undefined) return pageBytes;
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  const pages = readStat('self')?.rssPages ?? 0;
  const guess = pages > 0 ? (kb * 1024) / pages : 4096;
  pageBytes = [4096, 16384, 65536].reduce((best, p) => (Math.abs(p - guess) < Math.abs(best - guess) ? p : best), 4096);
  return pageBytes;
}

let cached: ProcTable | undefined;

function procTable(now: number): ProcTable {
  if (cached && now - cached.at < TABLE_TTL_MS && now >= cached.at) return cached;
  const stats = new Map<number, ProcStat>();
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a pid
    const st = readStat(name);
    if (!st) continue;
    const pid = Number(name);
    stats.set(pid, st);
    const list = children.get(st.ppid);
    if (list) list.push(pid);
    else children.set(st.ppid, [pid]);
  }
  cached = { at: now, stats, children };
  return cached;
}

// The usage of each jail, by its first pid; one pass over /proc serves them all.
export function jailUsage(roots: readonly number[], now = Date.now()): Map<number, JailUsage> {
  const out = new Map<number, JailUsage>();
  if (roots.length === 0) return out;
  const { stats, children } = procTable(now);
  const page = pageSize();
  for (const root of roots) {
    if (!stats.has(root)) continue;
    let processes = 0;
    let rssPages = 0;
    let ticks = 0;
    for (const queue = [root]; queue.length > 0;) {
      const pid = queue.pop()!;
      const st = stats.get(pid);
      processes++;
      rssPages += st?.rssPages ?? 0;
      ticks += st?.ticks ?? 0;
      for (const c of children.get(pid) ?? []) queue.push(c);
    }
    out.set(root, { processes, rssBytes: rssPages * page, cpuSeconds: ticks / USER_HZ });
  }
  return out;
}
