// The new emperor's side of an upgrade (handover.ts has the old one's): each vassal of the
// record becomes a Vassal again around the jail that still runs, its pipes and its held
// socket; nothing is launched.
import { closeSync } from 'node:fs';
import { superviseJail } from '../jail/launch';
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

// Every vassal of the record, taken back.
export function takeBackVassals(record: HandoverRecord, ctx: VassalContext, tree: CgroupSubtree | undefined, log: (line: string) => void): TakenBack {
  const vassals: Vassal[] = [];
  const mtimes = new Map<string, bigint>();
  for (const r of record.vassals) {
    try {
      vassals.push(takeBackOne(r, ctx, tree, log));
      mtimes.set(r.name, BigInt(r.source.mtimeNs));
    } catch (err: unknown) {
      log(`${r.name}: could not be taken back after the upgrade: ${(err as Error).stack ?? String(err)}`);
      closeRecordFds(r);
    }
  }
  return { vassals, mtimes };
}
