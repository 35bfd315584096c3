// Small synchronous reads and writes of cgroup interface files. Each file is a few bytes
// read in one read(2) through one shared buffer: open + read + close, no stat, no
// allocation beyond the returned string.
import { closeSync, openSync, readdirSync, readSync, rmdirSync, writeSync } from 'node:fs';

let buf = Buffer.alloc(16384);

// errno code of a failed fs call (`ENOENT`), or undefined for anything else.
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).code : undefined;
}

// The whole file. cgroupfs files are seq_files: one read(2) fills the caller's buffer up to
// the end of the file, so a read shorter than the buffer is the whole file and the read of
// EOF is skipped (it costs as much as the data: ~10 µs a system call on the lab VM). A full
// buffer (cgroup.procs of a big jail) grows it and reads on until EOF.
export function readCgroupFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let n = readSync(fd, buf, 0, buf.length, null);
    while (n === buf.length) {
      const bigger = Buffer.alloc(buf.length * 2);
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}

// The file, or undefined when it does not exist (a controller or kernel without it).
export function readOptional(path: string): string | undefined {
  try {
    return readCgroupFile(path);
  } catch (err: unknown) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'EOPNOTSUPP' || code === 'ENODEV') return undefined;
    throw err;
  }
}

// `key value` lines (cgroup.events, memory.events, cpu.stat, memory.oom_control): one value.
export function keyed(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  let at: number;
  if (text.startsWith(`${key} `)) at = 0;
  else {
    at = text.indexOf(`\n${key} `);
    if (at < 0) return undefined;
    at += 1;
  }
  const end = text.indexOf('\n', at);
  const value = Number(text.slice(at + key.length + 1, end < 0 ? undefined : end));
  return Number.isFinite(value) ? value : undefined;
}

// One write(2) of the whole value: cgroupfs takes a value per write, never a partial one.
export function writeCgroupFile(path: string, value: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

// The pids listed in a cgroup.procs or tasks file.
export function readPids(path: string): number[] {
  const text = readOptional(path);
  if (text === undefined) return [];
  const out: number[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(Number(line));
  return out;
}

// The child cgroups of a cgroup directory (its subdirectories; interface files are files).
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${dir}/${e.name}`);
  } catch (err: unknown) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

// rmdir of a cgroup and every cgroup below it, deepest first. Returns the directories that
// stayed (populated: EBUSY, or not ours: EACCES) with the reason; a missing one is gone.
export function removeCgroupTree(dir: string): { path: string; code: string }[] {
  const stayed: { path: string; code: string }[] = [];
  for (const child of childCgroups(dir)) stayed.push(...removeCgroupTree(child));
  try {
    rmdirSync(dir);
  } catch (err: unknown) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return stayed;
    if (code === 'EBUSY' || code === 'EACCES' || code === 'EPERM' || code === 'ENOTEMPTY') stayed.push({ path: dir, code });
    else throw err;
  }
  return stayed;
}
