// Killing every process of a jail cgroup, whatever it did to escape a signal to its leader
// (setsid, double fork, SIGTERM ignored) and whoever the emperor is.
//
// In order of preference:
//   cgroup.kill   unified, kernel >= 5.14: the kernel SIGKILLs the whole subtree and checks
//                 no signal permission, so a non-root emperor kills a tenant's jail;
//   freeze        unified without cgroup.kill: cgroup.freeze 1 (nothing forks any more),
//                 SIGKILL each pid of cgroup.procs, thaw;
//   freezer       v1 only: freezer.state FROZEN, SIGKILL each pid, THAWED (v1 frozen tasks
//                 die at the thaw);
//   signal        no freezer at all: SIGKILL each pid until none is left.
// The last three signal as the caller: without CAP_KILL a pid of another uid gives EPERM,
// reported as such.
import { CgroupError } from '../../errors';
import { childCgroups, errnoOf, keyed, readOptional, readPids, writeCgroupFile } from './files';

export type KillMethod = 'cgroup.kill' | 'freeze' | 'freezer' | 'signal';

/** A jail's cgroup directories, as kill needs them. */
export interface KillTarget {
  readonly unified?: string;
  /** The jail's directory on the v1 freezer hierarchy. */
  readonly freezer?: string;
  /** Any v1 directory of the jail (listed pids), used when there is no unified one. */
  readonly v1: readonly string[];
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

// A short synchronous wait (freezing takes microseconds to a few milliseconds).
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

// The method this jail's cgroups allow, best first.
export function chooseKillMethod(t: KillTarget, exists: (path: string) => boolean): KillMethod {
  if (t.unified && exists(`${t.unified}/cgroup.kill`)) return 'cgroup.kill';
  if (t.unified && exists(`${t.unified}/cgroup.freeze`)) return 'freeze';
  if (t.freezer) return 'freezer';
  return 'signal';
}

// Every cgroup.procs file of a cgroup and its descendants.
function procsFiles(dir: string): string[] {
  const out = [`${dir}/cgroup.procs`];
  for (const child of childCgroups(dir)) out.push(...procsFiles(child));
  return out;
}

function fail(path: string, code: string | undefined, what: string, fix: string, cause?: unknown): CgroupError {
  return new CgroupError({ path, errnoCode: code }, `cgroup kill: ${what} ${path}: ${code ?? 'failed'} (${fix})`, cause === undefined ? undefined : { cause });
}

// SIGKILL every pid listed now; returns how many were signalled and the ones refused.
function signalAll(files: readonly string[], refused: Set<number>): number {
  let sent = 0;
  for (const file of files) {
    for (const pid of readPids(file)) {
      try {
        process.kill(pid, 'SIGKILL');
        sent++;
      } catch (err: unknown) {
        const code = errnoOf(err);
        if (code === 'EPERM') refused.add(pid);
        else if (code !== 'ESRCH') throw err; // ESRCH: it exited meanwhile
      }
    }
  }
  return sent;
}

function checkRefused(refused: Set<number>, where: string): void {
  if (refused.size === 0) return;
  const pids = [...refused].slice(0, 5).join(', ');
  throw new CgroupError({ path: where, errnoCode: 'EPERM' },
    `cgroup kill: SIGKILL to pid ${pids}${refused.size > 5 ? ', …' : ''} in ${where}: EPERM (this emperor, uid ${process.geteuid?.()}, may not signal another uid's processes; cgroup.kill needs no permission but this kernel has none (< 5.14): give the emperor CAP_KILL)`);
}

// Signals until nothing is listed, for a bounded number of rounds (a fork loop between a
// read and a kill is caught at the next round).
function signalUntilEmpty(files: () => string[], where: string, rounds = 200): void {
  const refused = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    if (signalAll(files(), refused) === 0) break;
    sleepMs(1);
  }
  checkRefused(refused, where);
}

function waitState(path: string, done: (text: string | undefined) => boolean, ms: number): void {
  for (const end = Date.now() + ms; Date.now() < end; sleepMs(1)) if (done(readOptional(path))) return;
}

// Freezes `dir` (v2 cgroup.freeze, or the v1 freezer), SIGKILLs what it lists, thaws, and
// signals again until it is empty (frozen tasks die at the thaw).
function frozenKill(dir: string, file: string, freeze: string, thaw: string, stateFile: string, frozen: (text: string | undefined) => boolean): void {
  try {
    writeCgroupFile(`${dir}/${file}`, freeze);
  } catch (err: unknown) {
    if (errnoOf(err) === 'ENOENT') return; // the cgroup is gone: nothing left in it
    throw fail(`${dir}/${file}`, errnoOf(err), `write ${freeze} to`, 'the jail cgroup must be this emperor\'s', err);
  }
  waitState(`${dir}/${stateFile}`, frozen, 200);
  try {
    signalUntilEmpty(() => procsFiles(dir), dir, 1);
  } finally {
    writeCgroupFile(`${dir}/${file}`, thaw);
  }
  signalUntilEmpty(() => procsFiles(dir), dir);
}

// SIGKILL to everything in the jail's cgroup and below; returns once it is all signalled
// (the processes may take a moment to exit: whenEmpty() waits for that).
export function killCgroup(t: KillTarget, method: KillMethod): void {
  switch (method) {
    case 'cgroup.kill': {
      const path = `${t.unified}/cgroup.kill`;
      try {
        writeCgroupFile(path, '1');
      } catch (err: unknown) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return; // the cgroup is gone: nothing left in it
        throw fail(path, code, 'write 1 to', code === 'EACCES' ? 'the jail cgroup is not this emperor\'s: it must create it, or own it' : 'see dmesg', err);
      }
      return;
    }
    case 'freeze':
      return frozenKill(t.unified!, 'cgroup.freeze', '1', '0', 'cgroup.events', (text) => keyed(text, 'frozen') !== 0);
    case 'freezer':
      // FREEZING until every task is frozen; a child cgroup reports its own state.
      return frozenKill(t.freezer!, 'freezer.state', 'FROZEN', 'THAWED', 'freezer.state', (text) => text === undefined || text.startsWith('FROZEN'));
    case 'signal': {
      const dir = t.unified ?? t.v1[0];
      if (dir !== undefined) signalUntilEmpty(() => procsFiles(dir), dir);
      return;
    }
  }
}
