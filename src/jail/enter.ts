// jailctl enter: a plan that joins a running jail instead of creating one. Who the command
// runs as (uid, gid, groups, capabilities) comes from the vassal's launch plan, never from
// /proc: a tenant's program can make its /proc look like anything (`unshare -r` shows a full
// CapEff). The namespaces joined are those of the jail's first process (its init), which the
// tenant cannot move; the executor joins through a pidfd in a fresh child, never in this
// process.
import { readFileSync } from 'node:fs';
import { binding } from '../native/binding';
import { readPrivileges } from '../emperor/privileges';
import type { UserDb } from '../config/users';
import { DEFAULT_SECCOMP, NO_LIMITS, type FdMapping, type LaunchPlan, type Namespace, type SeccompPolicy } from '../plan/types';
import { closeLaunchFds, openLaunchFdsFor, type CgroupDirs } from './cgroup';

/** The host's own search path: what a command typed by root is looked up in. */
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnterTarget {
  readonly vassal: string;
  /** The jail's first pid (its init when pid-namespaced). */
  readonly pid: number;
  readonly namespaces: readonly Namespace[];
  /** The identity of the vassal, as its launch plan gave it (uid undefined: root). */
  readonly uid?: number;
  readonly gid?: number;
  readonly groups: readonly number[];
  readonly caps: readonly string[];
  /** The jail's cgroup: the command is created in it (and goes with the jail). */
  readonly cgroup?: CgroupDirs;
  /** The jail's seccomp filter: the command gets the same (a shell in the jail is the jail). */
  readonly seccomp?: SeccompPolicy;
}

export interface EnterOptions {
  /** The command; empty: the jail user's login shell, or /bin/sh. */
  readonly argv: readonly string[];
  /** As root with every capability, instead of the vassal's uid, gid and capabilities. */
  readonly root: boolean;
  /** Who asks is root (jailctl enter run by root): the command is looked up in the host's
   *  PATH, not in one the tenant's environment sets. */
  readonly rootCaller: boolean;
  /** 0, 1, 2 of the command (a pty's slave three times, or socket pairs). */
  readonly fds: readonly FdMapping[];
  readonly ctty: boolean;
  /** Variables added to the environment (TERM of the user's terminal). */
  readonly env: Readonly<Record<string, string>>;
}

// The process that is the vassal: the init's first child when the jail has one.
export function vassalProcess(target: Pick<EnterTarget, 'pid' | 'namespaces'>): number {
  if (!target.namespaces.includes('pid')) return target.pid;
  const children = readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return children.length > 0 ? Number(children[0]) : target.pid;
}

// The vassal's live environment, for a command that runs as the vassal's own uid (it could
// set any of it itself: nothing is gained), without the emperor's fd numbers.
function vassalEnvironment(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq > 0 && !/^(UWSGI|JAIL)_EMPEROR_FD/.test(kv)) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return env;
}

// What `enter --root` runs with: fixed, nothing read from the jail.
function rootEnvironment(users: UserDb, extra: Readonly<Record<string, string>>): Map<string, string> {
  const env = new Map<string, string>([['PATH', ROOT_PATH], ['HOME', users.userById(0)?.home ?? '/root'], ['USER', 'root'], ['LOGNAME', 'root']]);
  const lang = process.env.LANG;
  if (lang !== undefined && /^[A-Za-z0-9_.@-]+$/.test(lang)) env.set('LANG', lang);
  for (const [k, v] of Object.entries(extra)) env.set(k, v);
  return env;
}

// The plan; it holds a pidfd of the jail's init (the caller closes it once the launch is done).
export function enterPlan(target: EnterTarget, opts: EnterOptions, users: UserDb): LaunchPlan {
  const vassalPid = vassalProcess(target);
  const env = opts.root ? rootEnvironment(users, opts.env) : vassalEnvironment(vassalPid);
  if (!opts.root) for (const [k, v] of Object.entries(opts.env)) env.set(k, v);
  const who = opts.root ? 0 : (target.uid ?? 0);
  const shell = users.userById(who)?.shell;
  const argv = opts.argv.length > 0 ? opts.argv : [shell && !/(nologin|false)$/.test(shell) ? shell : '/bin/sh'];
  // Joined by a write of cgroup.procs: a running jail's cgroup may have been emptied by a
  // cgroup.kill before (see openLaunchFdsFor).
  const cgroup = target.cgroup ? openLaunchFdsFor(target.cgroup, true) : undefined;
  let pidfd: number;
  try {
    pidfd = binding.pidfdOpen(target.pid);
  } catch (err: unknown) {
    if (cgroup) closeLaunchFds(cgroup);
    throw err;
  }
  return {
    vassal: target.vassal,
    namespaces: target.namespaces,
    mounts: [],
    loopback: false,
    hooks: [],
    ...(opts.root ? { uid: 0, gid: 0 } : target.uid !== undefined ? { uid: target.uid, gid: target.gid ?? 0 } : {}),
    groups: opts.root ? [] : target.groups,
    // --root: every capability we hold ourselves (a root without some, in a container,
    // cannot give them); else exactly the vassal's.
    caps: opts.root ? [...readPrivileges().caps] : target.caps,
    noNewPrivs: !opts.root,
    // A pty makes its own session (ctty); pipes get one too, so the command never shares
    // the caller's session and terminal.
    ...(opts.ctty ? { ctty: true } : { newSession: true }),
    program: { option: 'enter', privileged: false, path: argv[0]!, argv },
    env: [...env].map(([k, v]) => `${k}=${v}`),
    ...(opts.rootCaller || opts.root ? { execPath: ROOT_PATH } : {}),
    // --root starts at the jail's root: a tenant's working directory is not root's to enter.
    ...(opts.root ? { chdir: '/' } : {}),
    fds: opts.fds,
    limits: NO_LIMITS,
    seccomp: target.seccomp ?? DEFAULT_SECCOMP,
    // The caller closes them (and the pidfd) once the launch is done.
    ...(cgroup ? { cgroup } : {}),
    join: { pidfd, ...(opts.root ? {} : { cwd: `/proc/${vassalPid}/cwd` }) },
  };
}
