// `jailctl why VASSAL`: what a support ticket needs to know of one vassal, in one answer.
// Its state and since when, its source and file, the options it runs with and where each
// came from, whom it runs as and why, its last failure (stage, errno, file:line), the
// blacklist and when the next attempt comes, its on-demand socket, the warnings about its
// file and its last log lines.
import { isJailError } from '../errors';
import type { UserDb } from '../config/users';
import type { EmperorOptions } from './options';
import type { ExplainedEntry } from './vassal-config';
import type { Failure } from './failure';
import type { VassalSnapshot } from './vassal-snapshot';

/** Log lines `why` shows. */
export const WHY_LOG_LINES = 10;

export interface WhyDocument {
  readonly vassal: string;
  readonly state: string;
  /** Seconds since the epoch. */
  readonly since: number;
  readonly pid: number;
  readonly source: { readonly monitor: string; readonly path: string };
  readonly runsAs: { readonly uid: number | null; readonly gid: number | null; readonly user: string | null; readonly why: string };
  /** The effective options now, or why the file cannot be read (configError). */
  readonly config: readonly ExplainedEntry[];
  readonly configError: string | null;
  /** Options from the sysadmin's layers not shown to a tenant. */
  readonly hidden: number;
  readonly failure: Failure | null;
  readonly lastExit: string | null;
  readonly blacklist: { readonly attempt: number; readonly throttleMs: number; readonly firstAttempt: number; readonly lastAttempt: number } | null;
  /** When its next attempt comes (ms since the epoch), while one is due. */
  readonly nextAttempt: number | null;
  /** The emperor's throttle: the wait added at each death before loyalty, and its most. */
  readonly throttle: { readonly stepMs: number; readonly maxMs: number };
  readonly onDemand: string | null;
  readonly warnings: readonly string[];
  readonly log: readonly string[];
  readonly logPath: string | null;
}

export interface WhyFacts {
  readonly snapshot: VassalSnapshot;
  readonly log: { tail(n: number): string[]; readonly path: string | undefined };
  /** The file's options as the emperor reads it now, and its tenant in tyrant mode (throws
   *  the file's error). */
  explain(): { entries: ExplainedEntry[]; tenantUid?: number };
  /** Who asks is root: the sysadmin's layers are shown too. */
  readonly root: boolean;
  readonly options: Pick<EmperorOptions, 'tyrant' | 'tyrantNofollow' | 'throttle' | 'maxThrottle'>;
  readonly users: UserDb;
  /** The emperor's own uid (what a vassal without `uid` runs as). */
  readonly emperorUid: number;
}

// Whom it runs as, and which rule decided.
function runsAs(f: WhyFacts, config: readonly ExplainedEntry[]): WhyDocument['runsAs'] {
  const { uid = null, gid = null } = f.snapshot;
  const user = uid === null ? null : (f.users.userById(uid)?.name ?? null);
  const line = (key: string): ExplainedEntry | undefined => config.filter((e) => e.key === key).at(-1);
  let why: string;
  if (f.options.tyrant)
    why = f.snapshot.source.inline
      ? 'tyrant mode: the uid and gid columns of its database row'
      : `tyrant mode: the owner of ${f.snapshot.source.path}${f.options.tyrantNofollow ? ' (a symlink: its own owner)' : ''}; a uid line in the file cannot change it`;
  else if (line('uid')) why = `uid = ${line('uid')!.value} (${line('uid')!.from})${line('gid') ? `, gid = ${line('gid')!.value} (${line('gid')!.from})` : ''}`;
  else why = `no uid line: it runs as the emperor's own user (uid ${f.emperorUid})`;
  return { uid, gid, user, why };
}

export function whyDocument(f: WhyFacts): WhyDocument {
  const s = f.snapshot;
  let hidden = 0;
  let config: ExplainedEntry[] = [];
  let configError: string | null = null;
  try {
    const explained = f.explain();
    // The path may lead to another tenant's file by now (a directory swapped for a link): a
    // tenant is shown its own file only.
    if (f.options.tyrant && explained.tenantUid !== undefined && explained.tenantUid !== s.uid) configError = `the file at ${s.source.path} is no longer uid ${s.uid}'s; not shown`;
    // A tenant sees its own lines only: the sysadmin's layers (vassal-set, vassals-include,
    // JAIL_VASSAL_*, the emperor's limits) may hold root's commands and secrets.
    else config = f.root ? explained.entries : explained.entries.filter((e) => e.from.startsWith(`${s.source.path}:`));
    if (!f.root && configError === null && config.length < explained.entries.length) hidden = explained.entries.length - config.length;
  } catch (err: unknown) {
    if (!isJailError(err)) throw err;
    configError = err.message;
  }
  return {
    vassal: s.name,
    state: s.state,
    since: s.since,
    pid: s.pid,
    source: { monitor: s.source.monitor, path: s.source.path },
    runsAs: runsAs(f, config),
    config,
    configError,
    hidden,
    failure: s.failure ?? null,
    lastExit: s.lastExit ?? null,
    blacklist: s.blacklist ?? null,
    nextAttempt: s.nextAttempt ?? null,
    throttle: { stepMs: f.options.throttle, maxMs: f.options.maxThrottle },
    onDemand: s.onDemand ?? null,
    warnings: s.warnings,
    log: f.log.tail(WHY_LOG_LINES),
    logPath: f.log.path ?? null,
  };
}
