// The emperor is a child subreaper (DESIGN.md, 4): a process whose parent dies below it is
// reparented to it. Jails' own orphans go to their init, but some do reach the emperor: the
// command of a `jailctl enter` whose forwarding parent was killed (its client went away),
// and a daemon left by a vassal without a pid namespace (an emperor that is not root). They
// must be reaped: a zombie of the jail's pid namespace keeps that jail's init from exiting
// (the kernel waits for every process of the namespace to be reaped), so its vassal never
// stops. Jails the emperor launched are reaped through their pidfds, never here.
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import { binding } from '../native/binding';

// The state letter (R, S, Z…) of a process, or undefined once it is gone.
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

// Our children, over every thread (a child belongs to the thread that made it).
function children(): number[] {
  const out: number[] = [];
  for (const task of readdirSync('/proc/self/task'))
    for (const c of readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
  return out;
}

// One pass: reaps every child that is a zombie, is not one of `known` (the top processes of
// the jails the emperor watches through pidfds), and was a zombie at the pass before too
// (a child Node's own runtime made is reaped by it at once). `zombies` carries that memory
// from pass to pass. Returns the pids reaped.
export function reapOrphans(known: ReadonlySet<number>, zombies: Set<number>): number[] {
  const reaped: number[] = [];
  const now = new Set<number>();
  // Known pids first: a pass reads /proc only for children that are no jail of ours.
  for (const pid of children()) {
    if (known.has(pid) || stateOf(pid) !== 'Z') continue;
    if (!zombies.has(pid)) {
      now.add(pid);
      continue;
    }
    let pidfd: number;
    try {
      pidfd = binding.pidfdOpen(pid);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue; // reaped meanwhile
      throw err;
    }
    try {
      if (binding.waitPidfd(pidfd) !== null) reaped.push(pid);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ECHILD') throw err; // someone else reaped it
    } finally {
      closeSync(pidfd);
    }
  }
  zombies.clear();
  for (const pid of now) zombies.add(pid);
  return reaped;
}
