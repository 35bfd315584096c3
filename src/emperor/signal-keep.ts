// An upgrade keeps the signals the emperor handles (HUP, INT, QUIT, TERM, USR1, USR2) across
// its execve: one that comes while the new program starts would otherwise end it with its
// default action, and every jail with it. native/binding/sigkeep.c says how: the old emperor
// execs with them blocked and jail-sigkeep.so preloaded (from a sealed memfd of the addon's),
// whose constructor catches them before Node's start would unblock them; the new emperor
// acts on what it caught once its own handlers are installed.
import { closeSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { binding } from '../native/binding';

/** The memfd's number, for the new emperor to close. */
export const SIGKEEP_FD_ENV = 'JAILCTL_SIGKEEP_FD';
/** LD_PRELOAD as it was before the exec, when there was one. */
export const PRELOAD_WAS_ENV = 'JAILCTL_LD_PRELOAD_WAS';

// What the exec's environment gets: the preload of memfd `fd`, before any the emperor had.
export function keepEnv(fd: number, env: NodeJS.ProcessEnv): Record<string, string> {
  const was = env.LD_PRELOAD;
  return { LD_PRELOAD: `/proc/self/fd/${fd}${was ? `:${was}` : ''}`, [SIGKEEP_FD_ENV]: String(fd), ...(was !== undefined ? { [PRELOAD_WAS_ENV]: was } : {}) };
}

// In the new emperor, first thing: the environment as it was before the exec (nothing it
// starts is preloaded), and the memfd closed. True when this is an exec that kept signals.
export function restoreAfterExec(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[SIGKEEP_FD_ENV];
  if (value === undefined) return false;
  if (env[PRELOAD_WAS_ENV] !== undefined) env.LD_PRELOAD = env[PRELOAD_WAS_ENV];
  else delete env.LD_PRELOAD;
  delete env[SIGKEEP_FD_ENV];
  delete env[PRELOAD_WAS_ENV];
  // Only the memfd it names is closed: never stdio, never another fd of this process.
  if (/^\d{1,9}$/.test(value) && Number(value) > 2) {
    let link: string | undefined;
    try {
      link = readlinkSync(`/proc/self/fd/${value}`);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (link?.startsWith('/memfd:jail-sigkeep')) closeSync(Number(value));
  }
  return true;
}

// Once the emperor's handlers are installed: each signal caught during the exec is acted on
// now, as if it came now (a second one of a kind while the first was pending is one, as the
// kernel counts them). A no-op outside an upgrade's exec.
export function replayKeptSignals(expected: boolean, log: (line: string) => void): void {
  const caught = binding.takeKeptSignals();
  if (caught === null) {
    if (expected) log('warning: jail-sigkeep.so was not preloaded into this exec: a signal that came during it was not kept');
    return;
  }
  for (const n of caught) {
    const name = (Object.keys(constants.signals) as NodeJS.Signals[]).find((s) => constants.signals[s] === n);
    if (!name) continue;
    log(`${name} came during the upgrade's exec; acting on it now`);
    process.emit(name, name);
  }
}
