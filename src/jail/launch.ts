// launchJail(): hands a plan to the executor and turns its status fd and pidfd into two
// promises: `started` (the vassal's exec worked, or a LaunchError) and `exited`.
import { closeSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { LaunchError } from '../errors';
import { binding, testBinding, type FdWatcher, type LaunchedChild, type StageRecord } from '../native/binding';
import { serializePlan, type FaultInjection } from '../plan/serialize';
import type { LaunchPlan } from '../plan/types';
import type { JailCgroup } from './cgroup';
import { describeFailure, errnoCode } from './describe';

/** How a jail's top process ended; exactly one of code and signal is set. */
export interface JailExit {
  readonly code: number | null;
  readonly signal: number | null;
  /** Processes of the jail the OOM killer took while it ran (its cgroup's count). */
  readonly oomKills?: number;
}

/** What a launch needs of the jail's cgroup (src/jail/cgroup's JailCgroup). */
export type JailCgroupHandle = Pick<JailCgroup, 'dirs' | 'kill' | 'stats' | 'statsSources' | 'oomKills'>;

/** How often the OOM kills of a jail with memory-max are looked at: cgroup v1 kills one
 *  process, not the jail (v2's memory.oom.group does; there the look finds nothing left). */
const OOM_POLL_MS = 1000;


/** A running (or starting) jail. */
export interface Jail {
  readonly plan: LaunchPlan;
  /** pid of the jail's top process (its init when pid-namespaced), in our namespace. */
  readonly pid: number;
  /** Resolves when the vassal's exec succeeded; rejects with a LaunchError naming the stage. */
  readonly started: Promise<void>;
  /** Resolves once the top process has been reaped. */
  readonly exited: Promise<JailExit>;
  /** Sends a signal through the pidfd; false if the jail is already gone. SIGKILL goes to
   *  the whole jail: every process of its cgroup, also those that left the top one's tree. */
  signal(signal: NodeJS.Signals | number): boolean;
  /** Its cgroup, when it has one. */
  readonly cgroup?: JailCgroupHandle;
  /** The program's pid once it runs (the init's child when pid-namespaced), else 0. */
  programPid(): number;
}

export interface LaunchOptions {
  /** Tests only: make one executor stage fail (launches through the test build of the addon). */
  readonly fault?: FaultInjection;
  /** The jail's cgroup (plan.cgroup holds its fds): emptied when the top process ends and
   *  killed whole on SIGKILL and on an OOM kill. It stays for the next launch (a respawn
   *  reuses it); whoever made it removes it. */
  readonly cgroup?: JailCgroupHandle;
  /** Where trouble with the cgroup is told (a kill that failed). */
  readonly log?: (line: string) => void;
}

// The cgroup's side of a jail: an OOM kill takes the whole jail where the kernel does not
// (v1), and the top process's end takes what is left.
function watchCgroup(plan: LaunchPlan, cgroup: JailCgroupHandle, log: (line: string) => void): { killAll(): void; ended(): number } {
  const killAll = (): void => {
    try {
      cgroup.kill();
    } catch (err: unknown) {
      log(`${plan.vassal}: cannot kill the processes of its cgroup ${cgroup.dirs.unified ?? cgroup.dirs.v1[0] ?? ''}: ${(err as Error).message}`);
    }
  };
  const read = (): number => {
    try {
      return cgroup.oomKills();
    } catch {
      return 0;
    }
  };
  const before = read();
  const poll = plan.limits.memoryMax
    ? setInterval(() => {
      if (read() > before) killAll();
    }, OOM_POLL_MS)
    : undefined;
  poll?.unref();
  return {
    killAll,
    ended() {
      if (poll) clearInterval(poll);
      const oom = read() - before;
      killAll();
      return oom;
    },
  };
}

function toLaunchError(plan: LaunchPlan, rec: StageRecord, cause?: unknown): LaunchError {
  const code = errnoCode(rec.errno);
  return new LaunchError(
    { vassal: plan.vassal, stage: rec.stage, errno: rec.errno, errnoCode: code, item: rec.item, signal: rec.died?.signal ?? undefined },
    `${plan.vassal}: ${describeFailure(plan, rec)}`,
    cause === undefined ? undefined : { cause },
  );
}

// The failure of a launch that ended before its exec without a failure record. The top
// process is the helper (a signal shows as one) or a jail's init, which exits 128 + N
// for a vassal-to-be killed by signal N.
function diedAt(last: { stage: string; item: number }, exit: JailExit): StageRecord {
  const signal = exit.signal ?? (exit.code !== null && exit.code > 128 ? exit.code - 128 : null);
  return {
    stage: last.stage,
    errno: signal !== null ? constants.errno.EINTR : 0,
    item: last.item,
    status: signal !== null ? signal : ((exit.code ?? 0) & 0xff) << 8,
    died: { code: signal !== null ? null : exit.code, signal },
  };
}

// Launches one jail. Throws LaunchError when the clone itself fails.
export function launchJail(plan: LaunchPlan, options: LaunchOptions = {}): Jail {
  let child;
  try {
    // Only the test build of the addon takes a `fault` key.
    child = (options.fault ? testBinding() : binding).launch(serializePlan(plan, options.fault));
  } catch (err: unknown) {
    const e = err as { errno?: number; stage?: string; item?: number };
    if (typeof e.errno !== 'number') throw err;
    throw toLaunchError(plan, { stage: e.stage ?? 'clone', errno: -e.errno, item: e.item ?? -1, status: 0 }, err);
  }
  return superviseJail(plan, child, options);
}

/** How often a top process that is not our child yet is looked at again (adopted: its
 *  middle process has not exited, so it has not been reparented to the emperor). */
const NOT_OURS_YET_MS = 20;

/** What superviseJail needs besides the launch's options. */
export interface SuperviseOptions extends LaunchOptions {
  /** The top process was forked by someone else (a fork-server base) and becomes our
   *  child only once its parent exits: ECHILD from waitid means "not yet" while it exists. */
  readonly adopted?: boolean;
}

// The process behind a pidfd still exists (running, or a zombie nobody reaped): its fdinfo
// names its pid until it is reaped, -1 after. Asked of the pidfd, not of /proc/PID, whose
// number another process may have taken meanwhile.
function stillThere(pidfd: number): boolean {
  try {
    return Number(/^Pid:\s*(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8'))?.[1] ?? -1) > 0;
  } catch {
    return false;
  }
}

// Watches a jail that runs (or starts): `statusFd` carries the executor's status records
// (a launch's status pipe, or an adoption's connection after its pid packet), `pidfd` its
// top process. Takes both fds over. A statusFd of -1: the jail has started already (one an
// emperor before an upgrade launched: handover.ts).
export function superviseJail(plan: LaunchPlan, child: LaunchedChild, options: SuperviseOptions = {}): Jail {
  const { pid, pidfd, statusFd } = child;
  let reaped = false;
  const cg = options.cgroup ? watchCgroup(plan, options.cgroup, options.log ?? (() => undefined)) : undefined;

  const exited = new Promise<JailExit>((resolve) => {
    const finish = (r: { code: number | null; signal: number | null }): void => {
      reaped = true;
      closeSync(pidfd);
      // The jail is over when its top process is: what it left behind goes too.
      const oomKills = cg?.ended() ?? 0;
      resolve({ code: r.code, signal: r.signal, ...(oomKills > 0 ? { oomKills } : {}) });
    };
    const watch = (): void => {
      const watcher = new binding.FdWatcher(pidfd, () => {
        let r: ReturnType<typeof binding.waitPidfd>;
        try {
          r = binding.waitPidfd(pidfd);
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code !== 'ECHILD') throw err;
          if (options.adopted && stillThere(pidfd)) {
            // Exited before its middle process did: it is not our child yet. Look again
            // shortly (the pidfd stays readable: watching it now would spin).
            watcher.close();
            setTimeout(watch, NOT_OURS_YET_MS);
            return;
          }
          // Reaped by someone else (the emperor's orphan pass, after a long stall): it is
          // gone, its status unknown.
          r = { pid, code: null, signal: 9 };
        }
        if (r === null) return;
        watcher.close();
        finish(r);
      });
    };
    watch();
  });

  const started = statusFd < 0 ? Promise.resolve() : readStatusRecords(plan, statusFd, exited);
  // The caller may only care about `exited`; a failed start must not become an unhandled rejection.
  started.catch(() => undefined);

  // With a pid namespace the top process is the jail's init and the program its child, read
  // once the exec has succeeded (before, a child may be a hook).
  const namespaced = plan.namespaces.includes('pid');
  let program = namespaced ? 0 : pid;
  let execd = false;
  started.then(() => (execd = true), () => undefined);
  return {
    plan,
    pid,
    started,
    exited,
    programPid() {
      if (program === 0 && execd && !reaped) program = firstChild(pid);
      return reaped ? 0 : program;
    },
    ...(options.cgroup ? { cgroup: options.cgroup } : {}),
    signal(sig) {
      if (reaped) return false;
      const n = typeof sig === 'number' ? sig : constants.signals[sig];
      if (n === constants.signals.SIGKILL) cg?.killAll();
      try {
        try {
          binding.pidfdSendSignal(pidfd, n);
        } catch (err: unknown) {
          // A launcher without CAP_KILL (an unprivileged emperor) signals as the jail's user.
          if ((err as NodeJS.ErrnoException).code !== 'EPERM' || !plan.uid) throw err;
          binding.pidfdSendSignal(pidfd, n, plan.uid);
        }
        return true;
      } catch (err: unknown) {
        // Gone; or not ours to signal (EPERM), which the caller's curse timer reports.
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ESRCH' || code === 'EPERM') return false;
        throw err;
      }
    },
  };
}

// The oldest child of a process (0: none, or gone).
function firstChild(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ')[0]) || 0;
  } catch {
    return 0;
  }
}

// Progress records name each stage as it begins; a failure record ends the launch; EOF
// after the exec's progress record is the exec's success. EOF before it: the launch died
// (killed by a signal) at the last stage reached, which `exited` then explains. A record
// that cannot be read (a short one: EPROTO) fails the start at the last stage reached.
// Takes `statusFd` over. `abort` gives up waiting: the fd is closed and the promise
// rejects with the signal's reason.
export function readStatusRecords(plan: LaunchPlan, statusFd: number, exited: Promise<JailExit>, abort?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let last: { stage: string; item: number } = { stage: 'helper', item: -1 };
    let execReached = false;
    let watcher: FdWatcher | undefined;
    let ended = false;
    const end = (): void => {
      ended = true;
      abort?.removeEventListener('abort', onAbort);
      watcher?.close();
      closeSync(statusFd);
    };
    // Given up (the caller's deadline): the fd is closed, the caller's reason is the error.
    const onAbort = (): void => {
      if (ended) return;
      end();
      reject(abort!.reason);
    };
    const check = (): void => {
      for (;;) {
        let rec: ReturnType<typeof binding.readStatus>;
        try {
          rec = binding.readStatus(statusFd);
        } catch (err: unknown) {
          end();
          const errno = (err as { errno?: number }).errno;
          reject(toLaunchError(plan, { stage: last.stage, errno: typeof errno === 'number' ? Math.abs(errno) : constants.errno.EPROTO, item: last.item, status: 0 }, err));
          return;
        }
        if (rec === undefined) return; // woken early; wait for more
        if (rec !== null && rec.progress) {
          last = { stage: rec.stage, item: rec.item };
          execReached = rec.stage === 'exec';
          continue;
        }
        end();
        if (rec !== null) reject(toLaunchError(plan, rec));
        else if (execReached) resolve();
        else void exited.then((exit) => reject(toLaunchError(plan, diedAt(last, exit))));
        return;
      }
    };
    watcher = new binding.FdWatcher(statusFd, check);
    if (abort?.aborted) onAbort();
    else abort?.addEventListener('abort', onAbort, { once: true });
  });
}
