// Tyrant mode: a tenant's vassal file runs as the file's owner, and the file cannot ask for
// more than a tenant may have. The owner is read from the open file itself (fstat), so a
// path swapped after the scan cannot lend the vassal someone else's identity; only then is
// the text parsed. Every refusal names the file, the line and what to do instead.
import { lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { openVassalFile, parseVassalText } from '../config/load';
import { excerpt } from '../config/limits';
import { ROOT_OPTIONS } from '../config/options';
import type { ConfigEntry, RawVassalConfig } from '../config/types';
import type { UserDb } from '../config/users';
import { ConfigError, PlanError } from '../errors';
import { CAPABILITY_NAMES, capabilityNumber } from '../plan/capabilities';
import { mountSourceOf } from '../plan/mounts';
import { DEFAULT_TMP_SIZE, parseSize } from '../plan/compile';
import type { EmperorOptions } from './options';
import { tenantLimitRefusal } from './tenant-limits';

/** Who a tenant's vassal runs as. */
export interface Tenant {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

type TyrantOptions = Pick<EmperorOptions, 'tyrantNofollow' | 'tyrantAllowRootHooks' | 'tyrantInitgroups' | 'vassalsCap' | 'vassalsMaxProcs' | 'vassalsTmpSize' | 'bindAllow'
  | 'vassalsMemoryMax' | 'vassalsMemoryHigh' | 'vassalsPidsMax' | 'vassalsCpuMax' | 'vassalsIoWeight'>;

/** The field of every refusal about who owns the file: the emperor stops a running vassal
 *  on it (its tenant lost the file), where other bad edits keep the old config running. */
export const OWNER_FIELD = 'owner';

function refuse(file: string, field: string, reason: string, line?: number): never {
  throw new PlanError({ vassal: basename(file, extname(file)), field, file, ...(line !== undefined && line > 0 ? { line } : {}) }, reason);
}

// The path as it is now; a path gone since it was opened is a config error, like any other.
function lstatOrGone(path: string): Stats {
  try {
    return lstatSync(path);
  } catch (err: unknown) {
    throw new ConfigError(path, undefined, undefined, `changed while read (${(err as NodeJS.ErrnoException).code}); read again at its next change`, { cause: err });
  }
}

function readlinkOr(path: string, fallback: string): string {
  try {
    return readlinkSync(path);
  } catch (err: unknown) {
    // Replaced since it was opened (ENOENT, EINVAL: no longer a link): the message says so.
    if (typeof (err as NodeJS.ErrnoException).code === 'string') return fallback;
    throw err;
  }
}

// Reads a tenant's file and says whose it is: the opened file's owner, or with nofollow the
// symlink's. Either way a link must belong to the owner of what it points at: a link of one
// tenant to another's file would run that file as its owner from a place the owner never
// chose, and a root-made link would lend a tenant's file root's trust.
export function readTenantFile(path: string, options: TyrantOptions): { raw: RawVassalConfig; owner: { uid: number; gid: number } } {
  const opened = openVassalFile(path);
  const link = lstatOrGone(opened.file);
  const isLink = link.isSymbolicLink();
  const target = opened.stat;
  const counted = options.tyrantNofollow ? link : target;
  const owner = { uid: counted.uid, gid: counted.gid };
  if (owner.uid === 0 || owner.gid === 0) {
    // chown without -h follows the link and gives away the target: name the right command.
    const fixes = isLink
      ? [...(link.uid === 0 || link.gid === 0 ? [`chown -h USER:GROUP ${opened.file}`] : []), ...(target.uid === 0 || target.gid === 0 ? [`chown USER:GROUP ${readlinkOr(opened.file, 'its target')}`] : [])]
      : [`chown USER:GROUP ${opened.file}`];
    refuse(opened.file, OWNER_FIELD,
      `${isLink && options.tyrantNofollow ? 'a symlink ' : ''}owned by ${owner.uid === 0 ? 'root (uid 0)' : 'group root (gid 0)'}: in tyrant mode a vassal runs as its file's owner, and never as root; give the file to its tenant (${fixes.join(', and ')}), it starts then`);
  }
  // Compared with the file actually read, so a path swapped meanwhile cannot slip through.
  if (!isLink && (link.ino !== target.ino || link.dev !== target.dev))
    refuse(opened.file, OWNER_FIELD, 'replaced while read; read again at its next change');
  if (link.uid !== target.uid) {
    const to = isLink ? readlinkOr(opened.file, '(replaced while read)') : '(replaced while read)';
    refuse(opened.file, OWNER_FIELD,
      `a symlink of uid ${link.uid} to ${to}, a file of uid ${target.uid}: in tyrant mode a link must belong to its target's owner (else it would run someone else's file${options.tyrantNofollow ? ', and read it as its own' : ' as them'}); if the link is right, chown -h ${target.uid}:${target.gid} ${opened.file}, else remove it`);
  }
  return { raw: parseVassalText(opened.file, opened.text), owner };
}

// The tenant's identity: the owner, and with emperor-tyrant-initgroups the groups
// /etc/group gives the owner's user name.
export function tenantOf(owner: { uid: number; gid: number }, options: TyrantOptions, users: UserDb): Tenant {
  const name = users.userById(owner.uid)?.name;
  const groups = options.tyrantInitgroups && name !== undefined ? users.groupsOf(name).filter((g) => g !== 0) : [];
  return { uid: owner.uid, gid: owner.gid, groups };
}

// The emperor's own hard RLIMIT_NOFILE (Node has no getrlimit); undefined when unlimited.
function hardNofile(): number | undefined {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m && /^\d+$/.test(m[1]!) ? Number(m[1]) : undefined;
}

// Refuses what a tenant's own lines may not ask for. Lines from the emperor's own layers
// (vassal-set, vassals-include, JAIL_VASSAL_*) are the sysadmin's and pass.
export function checkTenantEntries(file: string, entries: readonly ConfigEntry[], tenant: Tenant, options: TyrantOptions, users: UserDb): void {
  const who = users.userById(tenant.uid)?.name;
  const owner = `uid ${tenant.uid}${who ? ` (${who})` : ''}`;
  for (const e of entries) {
    // A sysadmin's line that took a tenant's value is checked as the tenant's (`cap = %(x)`
    // in an include), except root commands, where that value is quoted (config/expand.ts).
    const tenants = e.file === undefined;
    if (!tenants && !e.tainted) continue;
    const v = e.value.trim();
    const at = (reason: string): never => refuse(file, e.key, reason, e.line);
    switch (e.key) {
      case 'uid': {
        const uid = /^\d+$/.test(v) ? Number(v) : users.userByName(v)?.uid;
        if (uid === undefined) at(`unknown user \`${excerpt(v)}\` (not in /etc/passwd)`);
        if (uid !== tenant.uid)
          at(`${uid === 0 ? 'root' : `uid ${uid}`}: in tyrant mode this vassal runs as its file's owner, ${owner}; remove the line (or set uid = ${tenant.uid})`);
        break;
      }
      case 'gid': {
        const gid = /^\d+$/.test(v) ? Number(v) : users.groupByName(v);
        if (gid === undefined) at(`unknown group \`${excerpt(v)}\` (not in /etc/group)`);
        if (gid !== tenant.gid)
          at(`${gid === 0 ? 'root' : `gid ${gid}`}: in tyrant mode this vassal runs with its file's group, gid ${tenant.gid}; remove the line, or chgrp the file`);
        break;
      }
      case 'no-new-privs':
        if (['0', 'false', 'no', 'off'].includes(v.toLowerCase()))
          at('a tenant\'s jail always has no_new_privs in tyrant mode (a set-uid binary must not give it root); remove the line');
        break;
      case 'max-procs':
        if (options.vassalsMaxProcs !== undefined && !(Number(v) <= options.vassalsMaxProcs))
          at(`${excerpt(v)}: the emperor lets a tenant have at most ${options.vassalsMaxProcs} processes (vassals-max-procs); set it lower, or remove the line`);
        break;
      case 'tmp-size': {
        // tmpfs pages are RAM no limit counts: a tenant gets what the sysadmin allows.
        const most = options.vassalsTmpSize ?? DEFAULT_TMP_SIZE;
        const size = parseSize(v);
        if (size !== undefined && size > most)
          at(`${excerpt(v)}: the emperor lets a tenant's /tmp hold at most ${most / 1048576} MiB (vassals-tmp-size); set it lower, or remove the line`);
        break;
      }
      case 'oom-score-adj':
        // Below 0 the OOM killer would take another tenant, or the emperor, first.
        if (!(Number(v) >= 0))
          at(`${excerpt(v)}: a tenant's jail may only be made a likelier OOM victim (0 to 1000), never a less likely one; remove the line`);
        break;
      case 'max-fd': {
        // Root applies it before the drop, and may raise the hard limit: a tenant gets no
        // more than the emperor itself was given.
        const most = hardNofile();
        if (most !== undefined && !(Number(v) <= most))
          at(`${excerpt(v)}: a tenant may have at most ${most} open files (the emperor's own hard RLIMIT_NOFILE); set it lower, or remove the line`);
        break;
      }
      case 'bind':
      case 'rootfs':
      case 'chroot':
      case 'pivot_root':
      case 'overlay': {
        // Opened as root: only under what the sysadmin opened to tenants, with no symlink
        // on the way (the executor checks that, and a bind source's owner, at the mount).
        const src = mountSourceOf(e, file);
        const under = (dir: string): boolean => src !== undefined && (src === resolve(dir) || src.startsWith(`${resolve(dir).replace(/\/$/, '')}/`));
        if (src !== undefined && !options.bindAllow.some(under))
          at(options.bindAllow.length === 0
            ? `${src}: in tyrant mode a tenant's ${e.key} must lie under a directory the sysadmin allows (vassals-bind-allow), and the emperor allows none; ask the sysadmin, or remove the line`
            : `${src} is not under ${options.bindAllow.join(' or ')} (vassals-bind-allow): in tyrant mode a tenant's ${e.key} must lie there; move it, or remove the line`);
        break;
      }
      case 'cap':
        for (const word of v.split(/[\s,]+/).filter(Boolean)) {
          const n = capabilityNumber(word);
          const name = n === undefined ? word : CAPABILITY_NAMES[n]!;
          if (!options.vassalsCap.includes(name))
            at(`\`${excerpt(name)}\` is not among the capabilities the emperor lets tenants have (vassals-cap: ${options.vassalsCap.join(',') || 'none'}); ask the sysadmin, or remove it`);
        }
        break;
      default: {
        const refusal = tenantLimitRefusal(e, options);
        if (refusal) at(refusal);
        if (tenants && ROOT_OPTIONS.includes(e.key) && !options.tyrantAllowRootHooks)
          at('runs as root, which a tenant\'s file may not ask for in tyrant mode (the emperor\'s emperor-tyrant-allow-root-hooks allows it); use unprivileged-binary-patch-arg, which runs as you');
      }
    }
  }
}
