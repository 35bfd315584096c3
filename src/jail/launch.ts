// launchJail(): hands a plan to the executor and turns its status fd and pidfd into two
// promises: `started` (the vassal's exec worked, or a LaunchError) and `exited`.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { LaunchError } from '../errors';
import { binding, type FdWatcher, type StageRecord } from '../native/binding';
import { serializePlan, type FaultInjection } from '../plan/serialize';
import type { LaunchPlan } from '../plan/types';
import { describeFailure, errnoCode } from './describe';

/** How a jail's top process ended; exactly one of code and signal is set. */
export interface JailExit {
  readonly code: number | null;
  readonly signal: number | null;
}

/** A running (or starting) jail. */
export interface Jail {
  readonly plan: LaunchPlan;
  /** pid of the jail's top process (its init when pid-namespaced), in our namespace. */
  readonly pid: number;
  /** Resolves when the vassal's exec succeeded; rejects with a LaunchError naming the stage. */
  readonly started: Promise<void>;
  /** Resolves once the top process has been reaped. */
  readonly exited: Promise<JailExit>;
  /** Sends a signal through the pidfd; false if the jail is already gone. */
  signal(signal: NodeJS.Signals | number): boolean;
}

export interface LaunchOptions {
  /** Tests only: make one executor stage fail. */
  readonly fault?: FaultInjection;
}

function toLaunchError(plan: LaunchPlan, rec: StageRecord, cause?: unknown): LaunchError {
  const code = errnoCode(rec.errno);
  return new LaunchError(
    { vassal: plan.vassal, stage: rec.stage, errno: rec.errno, errnoCode: code, item: rec.item },
    `${plan.vassal}: ${describeFailure(plan, rec)}`,
    cause === undefined ? undefined : { cause },
  );
}

// Launches one jail. Throws LaunchError when the clone itself fails.
export function launchJail(plan: LaunchPlan, options: LaunchOptions = {}): Jail {
  let child;
  try {
    child = binding.launch(serializePlan(plan, options.fault));
  } catch (err: unknown) {
    const e = err as { errno?: number; stage?: string; item?: number };
    if (typeof e.errno !== 'number') throw err;
    throw toLaunchError(plan, { stage: e.stage ?? 'clone', errno: -e.errno, item: e.item ?? -1, status: 0 }, err);
  }
  const { pid, pidfd, statusFd } = child;
  let reaped = false;

  const started = new Promise<void>((resolve, reject) => {
    let watcher: FdWatcher | undefined;
    const check = (): void => {
      const rec = binding.readStatus(statusFd);
      if (rec === undefined) return; // woken early; wait for the record or EOF
      watcher?.close();
      closeSync(statusFd);
      if (rec === null) resolve();
      else reject(toLaunchError(plan, rec));
    };
    watcher = new binding.FdWatcher(statusFd, check);
  });
  // The caller may only care about `exited`; a failed start must not become an unhandled rejection.
  started.catch(() => undefined);

  const exited = new Promise<JailExit>((resolve) => {
    const watcher = new binding.FdWatcher(pidfd, () => {
      const r = binding.waitPidfd(pidfd);
      if (r === null) return;
      reaped = true;
      watcher.close();
      closeSync(pidfd);
      resolve({ code: r.code, signal: r.signal });
    });
  });

  return {
    plan,
    pid,
    started,
    exited,
    signal(sig) {
      if (reaped) return false;
      const n = typeof sig === 'number' ? sig : constants.signals[sig];
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
