// What the emperor itself may do, and dropping to its own user. A root emperor may do
// everything; one that runs as a user with a few capabilities (`uid`, `gid`, `cap` in its
// config, or systemd's User= with AmbientCapabilities=) can only launch what those allow,
// and a vassal that asks for more is refused up front, with the reason, instead of failing
// inside the executor with a bare EPERM.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { UserDb } from '../config/users';
import { PlanError } from '../errors';
import { binding } from '../native/binding';
import { CAPABILITY_NAMES } from '../plan/capabilities';
import { serializeCredentials, type Credentials } from '../plan/serialize';
import type { LaunchPlan } from '../plan/types';
import { EmperorOptionError, type EmperorOptions } from './options';

export interface EmperorPrivileges {
  readonly uid: number;
  readonly gid: number;
  /** The effective capabilities of the thread that launches (the main thread). */
  readonly caps: ReadonlySet<string>;
}

// The capability names set in a /proc status hex mask (`CapEff:\t000001ffffffffff`).
export function capabilitiesOfMask(hex: string): Set<string> {
  const mask = BigInt(`0x${hex}`);
  return new Set(CAPABILITY_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n));
}

// This thread's privileges (/proc/thread-self: capabilities are per thread).
export function readPrivileges(statusPath = '/proc/thread-self/status'): EmperorPrivileges {
  const status = readFileSync(statusPath, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '';
  return {
    uid: Number(field('Uid').split(/\s+/)[1]),
    gid: Number(field('Gid').split(/\s+/)[1]),
    caps: capabilitiesOfMask(field('CapEff') || '0'),
  };
}

// `root (all capabilities)`, or `uid 10000 with setgid,setuid`.
export function describePrivileges(p: EmperorPrivileges): string {
  if (p.uid === 0 && p.caps.has('sys_admin')) return 'root';
  return `uid ${p.uid} with ${p.caps.size > 0 ? [...p.caps].join(',') : 'no capabilities'}`;
}

// The emperor's `uid`/`gid`/`cap` as ids, checked before the emperor opens anything (a
// mistake must not leave a pidfile or a stats socket behind); undefined: it stays as is.
export function resolveEmperorCredentials(options: EmperorOptions, users: UserDb): Credentials | undefined {
  if (options.uid === undefined && options.gid === undefined && options.cap.length === 0) return undefined;
  if (options.uid === undefined) throw new EmperorOptionError('gid and cap need uid: the emperor keeps capabilities only when it drops to a user');
  const user = /^\d+$/.test(options.uid) ? users.userById(Number(options.uid)) : users.userByName(options.uid);
  const uid = /^\d+$/.test(options.uid) ? Number(options.uid) : user?.uid;
  if (uid === undefined) throw new EmperorOptionError(`uid (the emperor's own): unknown user \`${options.uid}\` (not in /etc/passwd); use a user name or a number`);
  const gid = options.gid === undefined ? user?.gid : /^\d+$/.test(options.gid) ? Number(options.gid) : users.groupByName(options.gid);
  if (gid === undefined)
    throw new EmperorOptionError(options.gid === undefined ? `uid ${uid} has no /etc/passwd entry to take a group from; set gid too` : `gid (the emperor's own): unknown group \`${options.gid}\``);
  const now = readPrivileges();
  if (now.uid !== 0) throw new EmperorOptionError(`uid = ${options.uid}: only a root emperor can drop to a user (this one is uid ${now.uid})`);
  return { uid, gid, groups: [], caps: options.cap };
}

// Drops to the emperor's own credentials now, keeping just its capabilities in the main
// thread (the one that launches) and as ambient ones, so the executor's helper it starts
// holds them too. Threads that exist lose every capability with the uid change.
export function dropEmperorPrivileges(creds: Credentials): EmperorPrivileges {
  // Loaded lazily elsewhere; the project's files may not be readable by the new user.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('js-yaml'), require('jsonc-parser');
  try {
    binding.dropSelf(serializeCredentials(creds));
  } catch (err: unknown) {
    const e = err as { stage?: string; message: string };
    throw new EmperorOptionError(`cannot drop to uid ${creds.uid}, gid ${creds.gid} keeping [${creds.caps.join(',')}] (stage ${e.stage ?? '?'}): ${e.message}`);
  }
  return readPrivileges();
}

// An emperor without CAP_KILL signals a tenant's jail as that tenant for one call; with
// fs.suid_dumpable = 1 its /proc files would be the tenant's meanwhile: refuse to start so.
export function checkSignalling(p: EmperorPrivileges, suidDumpable = readSuidDumpable()): void {
  if (p.uid === 0 || p.caps.has('kill') || !p.caps.has('setuid') || suidDumpable !== '1') return;
  throw new EmperorOptionError('fs.suid_dumpable is 1: this emperor (no CAP_KILL) could not stop tenants\' jails safely; add kill to its cap (cap = setgid,setuid,kill), or set fs.suid_dumpable to 0');
}

function readSuidDumpable(): string {
  try {
    return readFileSync('/proc/sys/fs/suid_dumpable', 'utf8').trim();
  } catch {
    return '0';
  }
}

// Refuses a plan the emperor cannot launch with what it holds, naming what is missing.
export function checkLaunchable(plan: LaunchPlan, p: EmperorPrivileges): void {
  if (p.uid === 0 && p.caps.has('sys_admin') && p.caps.has('setpcap')) return;
  const who = describePrivileges(p);
  const file = plan.file;
  const refuse = (field: string, reason: string): never => {
    throw new PlanError({ vassal: file ? basename(file, extname(file)) : plan.vassal, field, ...(file ? { file } : {}) }, `${reason}; this emperor runs as ${who}`);
  };
  if (plan.namespaces.length > 0 && !p.caps.has('sys_admin'))
    refuse('unshare', `namespaces (${plan.namespaces.join(',')}) need CAP_SYS_ADMIN: run the emperor as root, or give the vassal none (no unshare, no emperor-use-clone)`);
  if (plan.hooks.length > 0 && p.uid !== 0) refuse('exec-as-root', 'root hooks need a root emperor');
  if (plan.program.privileged && p.uid !== 0) refuse(plan.program.option, 'a privileged binary patch needs a root emperor');
  if (plan.uid === 0 || (plan.uid === undefined && plan.program.privileged))
    refuse('uid', 'an emperor that is not root does not start root vassals; set uid');
  if (plan.uid !== undefined && plan.uid !== p.uid && !p.caps.has('setuid')) refuse('uid', `running as uid ${plan.uid} needs CAP_SETUID (cap = setuid,setgid in the emperor's config)`);
  // The executor always sets the jail's supplementary groups (empty clears them).
  if (!p.caps.has('setgid')) refuse('gid', 'setting the jail\'s groups needs CAP_SETGID (cap = setuid,setgid in the emperor\'s config)');
  for (const cap of plan.caps) if (!p.caps.has(cap)) refuse('cap', `\`${cap}\`: the emperor cannot give a capability it does not hold`);
  if (!plan.noNewPrivs && !p.caps.has('setpcap')) refuse('no-new-privs', 'no-new-privs = false needs an emperor that can shrink the bounding set (CAP_SETPCAP)');
}
