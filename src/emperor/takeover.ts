// The new emperor's side of an upgrade (handover.ts has the old one's): each vassal of the
// record becomes a Vassal again around the jail that still runs, its pipes and its held
// socket; nothing is launched.
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { superviseJail } from '../jail/launch';
import type { CgroupTree } from '../jail/cgroup';
import { chooseKillMethod, killCgroup } from '../jail/cgroup/kill';
import { binding } from '../native/binding';
import type { CgroupSubtree } from './vassal-launch';
import { cgroupSegments } from './vassal-launch';
import { HeldSocket } from './held-socket';
import { sourceOf, type HandoverRecord, type VassalRecord } from './handover';
import { Vassal, type VassalContext } from './vassal';

/** What taking the record back gave: the vassals, and what they were. */
export interface TakenBack {
  readonly vassals: Vassal[];
  /** The mtime each file had at the upgrade: the same at the first scan is no change. */
  readonly mtimes: Map<string, bigint>;
}

// Closes every fd a record names that nobody will use (a vassal that could not be taken back).
function closeRecordFds(r: VassalRecord): void {
  for (const fd of [r.fds?.emperor, r.fds?.config, r.fds?.stdout, r.fds?.stderr, ...(r.held?.entries.map((e) => e.fd) ?? [])]) {
    if (fd === undefined) continue;
    try {
      closeSync(fd);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EBADF') throw err;
    }
  }
}

// One vassal back. A jail that cannot be watched any more (its pidfd refused: it is not our
// child) is killed through its cgroup and the vassal starts afresh from its file.
function takeBackOne(r: VassalRecord, ctx: VassalContext, tree: CgroupSubtree | undefined, log: (line: string) => void): Vassal {
  const v = new Vassal(sourceOf(r), ctx, r.name);
  const held = r.held ? HeldSocket.adopt(r.held.entries, r.held.primary) : undefined;
  // Close-on-exec again: they were cleared for the upgrade only.
  for (const fd of [...(r.held?.entries.map((e) => e.fd) ?? []), r.fds?.emperor, r.fds?.config, r.fds?.stdout, r.fds?.stderr]) if (fd !== undefined) binding.setCloseOnExec(fd, true);
  const base = { flags: r.flags, times: r.times, counts: r.counts, ...(held ? { held } : {}) };
  if (r.state === 'stopped') v.takeBack({ state: 'stopped' });
  else if (r.state === 'on-demand') v.takeBack({ ...base, state: 'on-demand' });
  else {
    const plan = r.build!.plan;
    let pidfd: number;
    try {
      pidfd = binding.pidfdOpen(r.pid);
    } catch (err: unknown) {
      log(`${r.name}: its jail (pid ${r.pid}) is gone (${(err as NodeJS.ErrnoException).code}); starting it again`);
      held?.close();
      closeRecordFds({ ...r, held: undefined });
      v.start();
      return v;
    }
    const cgroup = tree?.create(cgroupSegments(r.name, plan.uid, ctx.options.tyrant, 0), plan.limits);
    const jail = superviseJail(plan, { pid: r.pid, pidfd, statusFd: -1 }, { ...(cgroup ? { cgroup } : {}), log });
    v.takeBack({ ...base, state: 'running', jail, fds: r.fds!, build: r.build! });
  }
  return v;
}

/** The emperor's cgroup subtree, as taking back (and killing what it cannot) needs it. */
export type TakeoverTree = CgroupSubtree & Pick<CgroupTree, 'paths'>;

// The parent of `pid` (its /proc status), or undefined once it is gone.
function parentOf(pid: number): number | undefined {
  try {
    return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}

// A jail the new emperor could not take back is killed whole, never left running unwatched
// (DESIGN.md, 5 and 8): every process of its cgroup (cgroup.kill where the kernel has it),
// then its top process through a pidfd (a jail's init takes its pid namespace with it). Only
// a child of ours: the pidfd is opened first, so the process checked is the one signalled.
// Its zombie is the orphan reaper's (it is no vassal's). Returns what was done, for the log.
export function killUntaken(r: VassalRecord, tyrant: boolean, tree: TakeoverTree | undefined): string {
  if (r.pid <= 0) return 'no jail ran';
  let pidfd: number;
  try {
    pidfd = binding.pidfdOpen(r.pid);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return `its jail (pid ${r.pid}) is gone already`;
    throw err;
  }
  try {
    if (parentOf(r.pid) !== process.pid) return `pid ${r.pid} is not a child of this emperor (no jail of ours), left alone`;
    const done: string[] = [];
    if (tree) {
      const { unified, v1 } = tree.paths();
      const segments = cgroupSegments(r.name, r.build?.plan.uid, tyrant, 0);
      const target = { ...(unified !== undefined ? { unified: join(unified, ...segments) } : {}), v1: v1.map((root) => join(root, ...segments)).filter((d) => existsSync(d)) };
      try {
        killCgroup(target, chooseKillMethod(target, existsSync));
        done.push(`its cgroup ${target.unified ?? target.v1[0] ?? segments.join('/')} killed`);
      } catch (err: unknown) {
        done.push(`its cgroup could not be killed (${(err as Error).message})`);
      }
    }
    try {
      binding.pidfdSendSignal(pidfd, 9);
      done.push(`SIGKILL to its top process (pid ${r.pid})`);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    return done.join(', ') || `its jail (pid ${r.pid}) had ended`;
  } finally {
    closeSync(pidfd);
  }
}

// Every vassal of the record, taken back; one that cannot be is killed (killUntaken) and
// starts afresh from its file at the first scan, as a new one.
export function takeBackVassals(record: HandoverRecord, ctx: VassalContext, tree: TakeoverTree | undefined, log: (line: string) => void): TakenBack {
  const vassals: Vassal[] = [];
  const mtimes = new Map<string, bigint>();
  for (const r of record.vassals) {
    try {
      vassals.push(takeBackOne(r, ctx, tree, log));
      mtimes.set(r.name, BigInt(r.source.mtimeNs));
    } catch (err: unknown) {
      let killed: string;
      try {
        killed = killUntaken(r, ctx.options.tyrant, tree);
      } catch (kill: unknown) {
        killed = `and killing its jail (pid ${r.pid}) failed: ${(kill as Error).message}`;
      }
      log(`${r.name}: could not be taken back after the upgrade (${(err as Error).message}): ${killed}; it starts afresh from its file`);
      // An internal error (not a system call's): its stack, for the report.
      if ((err as NodeJS.ErrnoException).code === undefined) log(`${r.name}: ${(err as Error).stack ?? String(err)}`);
      closeRecordFds(r);
    }
  }
  return { vassals, mtimes };
}
