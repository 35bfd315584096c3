// jailctl enter: a plan that joins a running jail instead of creating one. Everything about
// the jail is read from /proc (its vassal's namespaces, cwd, environment, ids and
// capabilities); the executor joins through a pidfd in a fresh child, never in this process.
import { readFileSync } from 'node:fs';
import { binding } from '../native/binding';
import { capabilitiesOfMask, readPrivileges } from '../emperor/privileges';
import type { UserDb } from '../config/users';
import type { FdMapping, LaunchPlan, Namespace } from '../plan/types';

export interface EnterTarget {
  readonly vassal: string;
  /** The jail's first pid (its init when pid-namespaced). */
  readonly pid: number;
  readonly namespaces: readonly Namespace[];
}

export interface EnterOptions {
  /** The command; empty: the jail user's login shell, or /bin/sh. */
  readonly argv: readonly string[];
  /** As root with every capability, instead of the vassal's uid, gid and capabilities. */
  readonly root: boolean;
  /** 0, 1, 2 of the command (a pty's slave three times, or our own stdio). */
  readonly fds: readonly FdMapping[];
  readonly ctty: boolean;
  /** Variables added to the vassal's environment (TERM of the user's terminal). */
  readonly env: Readonly<Record<string, string>>;
}

// The process that is the vassal: the init's first child when the jail has one.
export function vassalProcess(target: EnterTarget): number {
  if (!target.namespaces.includes('pid')) return target.pid;
  const children = readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return children.length > 0 ? Number(children[0]) : target.pid;
}

function status(pid: number, field: string): string {
  return new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

// The plan and the pidfd it holds (the caller closes it once the launch is done).
export function enterPlan(target: EnterTarget, opts: EnterOptions, users: UserDb): LaunchPlan {
  const pid = vassalProcess(target);
  const uid = Number(status(pid, 'Uid').split(/\s+/)[0]);
  const gid = Number(status(pid, 'Gid').split(/\s+/)[0]);
  const groups = status(pid, 'Groups').split(/\s+/).filter(Boolean).map(Number);
  const caps = [...capabilitiesOfMask(status(pid, 'CapEff') || '0')];
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    const eq = kv.indexOf('=');
    // The emperor's fds of that process mean nothing to the command.
    if (eq > 0 && !/^(UWSGI|JAIL)_EMPEROR_FD/.test(kv)) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(opts.env)) env.set(k, v);
  const who = opts.root ? 0 : uid;
  const shell = users.userById(who)?.shell;
  const argv = opts.argv.length > 0 ? opts.argv : [shell && !/(nologin|false)$/.test(shell) ? shell : '/bin/sh'];
  const pidfd = binding.pidfdOpen(pid);
  return {
    vassal: target.vassal,
    namespaces: target.namespaces,
    mountProc: false,
    tmpfs: [],
    loopback: false,
    hooks: [],
    ...(opts.root ? { uid: 0, gid: 0 } : { uid, gid }),
    groups: opts.root ? [] : groups,
    // Every capability we hold ourselves (a root without some, in a container, cannot give them).
    caps: opts.root ? [...readPrivileges().caps] : caps,
    noNewPrivs: !opts.root,
    program: { option: 'enter', privileged: false, path: argv[0]!, argv },
    env: [...env].map(([k, v]) => `${k}=${v}`),
    fds: opts.fds,
    join: { pidfd, cwd: `/proc/${pid}/cwd` },
    ...(opts.ctty ? { ctty: true } : {}),
  };
}
