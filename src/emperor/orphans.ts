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

/** A pass runs at each SIGCHLD, and again this long after one that saw a zombie (two passes
 *  before a reap); at rest nothing runs per vassal on a timer. */
const ORPHAN_PASS_MS = 1000;
/** The slow safety net for a child that dies without SIGCHLD (exit signal 0). */
const IDLE_ORPHAN_PASS_MS = 30_000;
/** SIGCHLDs within this long share one pass (a storm of exits, a launch under way). */
const SIGCHLD_COALESCE_MS = 100;

// The emperor's orphan passes: on SIGCHLD (coalesced), again while a zombie waits for its
// second look, and a slow net. `known`: the children pidfds of the emperor's reap.
export class OrphanReaper {
  private readonly zombies = new Set<number>();
  /** The next pass, once a SIGCHLD (or a pass that saw a zombie) asked for one. */
  private next: NodeJS.Timeout | undefined;
  private net: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly known: () => Set<number>, private readonly log: (line: string) => void) {}

  start(): void {
    this.net = setInterval(() => this.pass(), IDLE_ORPHAN_PASS_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.next);
    clearInterval(this.net);
  }

  childExited(): void {
    this.soon(SIGCHLD_COALESCE_MS);
  }

  // One pass `ms` from now (a pass already due stays due).
  private soon(ms: number): void {
    if (this.next || this.stopped) return;
    this.next = setTimeout(() => {
      this.next = undefined;
      this.pass();
    }, ms);
  }

  private pass(): void {
    try {
      const reaped = reapOrphans(this.known(), this.zombies);
      if (reaped.length > 0) this.log(`reaped ${reaped.length} orphan(s) reparented to the emperor: ${reaped.join(', ')}`);
    } catch (err: unknown) {
      this.log(`orphan reaping failed, ignoring: ${(err as Error).message}`);
    }
    // A zombie seen once is reaped at the next pass, if nobody else reaped it by then.
    if (this.zombies.size > 0) this.soon(ORPHAN_PASS_MS);
  }
}
