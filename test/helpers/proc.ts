// The process table as tests look at it: who is whose parent, and in which state.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  /** R, S, D, Z, … */
  readonly state: string;
  readonly comm: string;
}

export function procTable(): Map<number, ProcEntry> {
  const out = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue; // gone
      throw err;
    }
    const close = text.lastIndexOf(')');
    const f = text.slice(close + 2).split(' ');
    out.set(Number(name), { pid: Number(name), ppid: Number(f[1]), state: f[0]!, comm: text.slice(text.indexOf('(') + 1, close) });
  }
  return out;
}

// Every process below `root` (not root itself).
export function descendants(root: number, table = procTable()): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>();
  for (const p of table.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcEntry[] = [];
  for (const queue = [root]; queue.length > 0;) for (const c of children.get(queue.pop()!) ?? []) {
    out.push(c);
    queue.push(c.pid);
  }
  return out;
}

// Zombies below `root`: children that nobody has reaped yet.
export function zombiesUnder(root: number, table = procTable()): ProcEntry[] {
  return descendants(root, table).filter((p) => p.state === 'Z');
}

// What a process is doing, for a test that timed out waiting on it: its state, where it
// sleeps in the kernel, and its threads' kernel stacks (root reads those).
export function processState(pid: number): string {
  const read = (file: string): string => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
    } catch (err: unknown) {
      return `(${(err as NodeJS.ErrnoException).code})`;
    }
  };
  const state = /^State:\s*(.*)$/m.exec(read('status'))?.[1] ?? '?';
  return `pid ${pid} ${read('cmdline').replace(/\0/g, ' ')}: state ${state}, wchan ${read('wchan')}\n${read('stack')}`;
}
