// What a jail's filesystem holds, as an ordered list of mount operations (setup as data,
// as bubblewrap does it): compileMounts() builds it from a vassal file's rootfs, chroot,
// pivot_root, overlay, bind, rootfs-readonly and tmp lines; native/executor/mounts.c
// carries the list out one operation at a time and names the index of one that fails.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigEntry } from '../config/types';
import { excerpt } from '../config/limits';
import type { Namespace } from './types';
import { NO_DIRECTORY, pathFrom } from './paths';

/** One operation; see jail_mount_t in native/executor/jail.h for what each kind does. */
export type MountKind = 'root' | 'overlay' | 'bind' | 'tmpfs' | 'proc' | 'devpts' | 'sysfs' | 'mkdir' | 'symlink' | 'readonly';

/** `ro`: read-only; `dev`: device nodes work through it; `nosymlinks`: src is opened with
 *  no symlink on its path; `try`: a missing src skips it; `owner`: src must be `owner`'s;
 *  `hidepid`: a /proc with hidepid=invisible and subset=pid where the kernel has them. */
export type MountFlag = 'ro' | 'dev' | 'nosymlinks' | 'try' | 'owner' | 'hidepid';

/** A host path bound read-only into the jail at `dst` (jailctl's runtime: runtime/binds.ts). */
export interface HostBind {
  readonly src: string;
  readonly dst: string;
}

export interface MountOp {
  readonly kind: MountKind;
  /** A host path (root, overlay, bind) or a symlink's text. */
  readonly src?: string;
  /** The path in the jail. */
  readonly dst?: string;
  /** Bytes (tmpfs, and an overlay's writable layer). */
  readonly size?: number;
  /** Permission bits (tmpfs, mkdir). */
  readonly mode?: number;
  /** With the `owner` flag: the uid src must belong to. */
  readonly owner?: number;
  readonly flags: readonly MountFlag[];
  /** The option and line it came from (absent: jailctl's own, e.g. /dev). */
  readonly option?: string;
  readonly line?: number;
}

/** The device nodes a jail with its own root gets in its /dev, bound from the host's. */
export const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

/** A jail's /dev holds device nodes and links only. */
const DEV_SIZE = 256 * 1024;

type Fail = (entry: ConfigEntry | undefined, field: string, reason: string) => never;

interface Lookup {
  all(name: string): readonly ConfigEntry[];
  last(name: string): ConfigEntry | undefined;
}

export interface MountContext {
  readonly file: string;
  readonly namespaces: Namespace[];
  /** Bytes of the private /tmp (and of /dev/shm and an overlay's layer in a jail with its own root). */
  readonly tmpSize: number;
  /** A tenant's line (tyrant mode): its paths are opened with no symlink, a bind's source
   *  must be the tenant's own. */
  readonly isTenants: (e: ConfigEntry) => boolean;
  readonly tenantUid?: number;
  /** jailctl's own files the program needs in a jail with its own root (runtime/binds.ts),
   *  bound read-only on a private /run. */
  readonly runtimeBinds?: readonly HostBind[];
  readonly warnings: string[];
  readonly fail: Fail;
}

/** The options that give a jail a root of its own (at most one of them). */
export const ROOT_OPTIONS = ['rootfs', 'chroot', 'pivot_root', 'overlay'] as const;

/** Whether these entries give the jail a root of its own. */
export function hasOwnRoot(entries: readonly ConfigEntry[]): boolean {
  return entries.some((e) => (ROOT_OPTIONS as readonly string[]).includes(e.key));
}

/** The private /run of a jail with jailctl's runtime bound in: mount points, a pid file. */
const RUN_SIZE = 4 * 1024 * 1024;

// A host path of a line: absolute, or relative to the vassal file's directory.
function hostPath(ctx: MountContext, e: ConfigEntry, text: string): string {
  const v = text.trim();
  if (v === '') ctx.fail(e, e.key, 'empty path');
  if (v.includes('\0')) ctx.fail(e, e.key, 'a path cannot hold a NUL byte');
  return pathFrom(ctx.file, v) ?? ctx.fail(e, e.key, `\`${excerpt(v)}\` ${NO_DIRECTORY}`);
}

// A path in the jail: absolute, no `.` or `..`, no trailing slash (the executor makes each
// component as it is named).
function jailPath(ctx: MountContext, e: ConfigEntry, text: string): string {
  const v = text.trim();
  if (!isAbsolute(v)) ctx.fail(e, e.key, `\`${excerpt(v)}\` is a path in the jail: make it absolute (e.g. /srv/app)`);
  const parts = v.split('/').slice(1);
  if (v !== '/' && parts.some((p) => p === '' || p === '.' || p === '..'))
    ctx.fail(e, e.key, `\`${excerpt(v)}\`: a path in the jail has no empty, \`.\` or \`..\` component and no trailing slash`);
  return v;
}

// The jail's own root, if the file gives one: its operation, first of the list.
function rootOp(ctx: MountContext, lookup: Lookup): MountOp | undefined {
  const given = ROOT_OPTIONS.flatMap((name) => (lookup.last(name) ? [lookup.last(name)!] : []));
  if (given.length > 1)
    ctx.fail(given[1], given[1]!.key, `a jail has one root: \`${given[0]!.key}\` (line ${given[0]!.line}) already sets it; keep one of the two`);
  const e = given[0];
  if (!e) return undefined;
  // uWSGI's pivot_root = NEW OLD: OLD is where uWSGI leaves the old root; here it is detached.
  const text = e.key === 'pivot_root' ? e.value.trim().split(/\s+/)[0] ?? '' : e.value;
  const src = hostPath(ctx, e, text);
  const tenants = ctx.isTenants(e);
  return {
    kind: e.key === 'overlay' ? 'overlay' : 'root',
    src,
    ...(e.key === 'overlay' ? { size: ctx.tmpSize } : {}),
    flags: tenants ? ['nosymlinks'] : [],
    option: e.key,
    line: e.line,
  };
}

/** `bind = SRC[:DST][:ro|:rw]` → its parts; undefined when malformed. */
export function parseBind(value: string): { src: string; dst?: string; mode: 'ro' | 'rw' } | undefined {
  const parts = value.trim().split(':');
  let mode: 'ro' | 'rw' = 'rw';
  if (parts.length > 1 && (parts.at(-1) === 'ro' || parts.at(-1) === 'rw')) mode = parts.pop() as 'ro' | 'rw';
  if (parts.length > 2 || parts[0] === '') return undefined;
  return { src: parts[0]!, ...(parts[1] !== undefined ? { dst: parts[1] } : {}), mode };
}

/** The host path a bind, rootfs, chroot, pivot_root or overlay line names (absolute, or
 *  relative to the file's directory), or undefined for another line or a malformed one. */
export function mountSourceOf(e: ConfigEntry, file: string): string | undefined {
  const text = e.key === 'bind' ? parseBind(e.value)?.src
    : e.key === 'pivot_root' ? e.value.trim().split(/\s+/)[0]
    : (ROOT_OPTIONS as readonly string[]).includes(e.key) ? e.value.trim() : undefined;
  return text ? resolve(dirname(file), text) : undefined;
}

// bind = SRC[:DST][:ro|:rw]
function bindOp(ctx: MountContext, e: ConfigEntry): MountOp {
  const parsed = parseBind(e.value);
  if (!parsed) ctx.fail(e, 'bind', `expected SRC, SRC:DST or SRC:DST:ro, got \`${excerpt(e.value)}\` (a path with a colon cannot be bound)`);
  const mode = parsed.mode;
  const src = hostPath(ctx, e, parsed.src);
  const dst = jailPath(ctx, e, parsed.dst ?? src);
  if (dst === '/') ctx.fail(e, 'bind', 'cannot bind onto the jail\'s root: set rootfs = SRC instead');
  const tenants = ctx.isTenants(e);
  const flags: MountFlag[] = [...(mode === 'ro' ? ['ro' as const] : []), ...(tenants ? ['nosymlinks' as const] : [])];
  if (tenants && ctx.tenantUid !== undefined) flags.push('owner');
  return { kind: 'bind', src, dst, flags, ...(flags.includes('owner') ? { owner: ctx.tenantUid! } : {}), option: 'bind', line: e.line };
}

// A minimal /dev: a small tmpfs, the host's harmless device nodes, a devpts of its own, shm.
function devOps(ctx: MountContext): MountOp[] {
  return [
    { kind: 'tmpfs', dst: '/dev', size: DEV_SIZE, mode: 0o755, flags: [] },
    ...DEV_NODES.map((n): MountOp => ({ kind: 'bind', src: `/dev/${n}`, dst: `/dev/${n}`, flags: ['dev'] })),
    { kind: 'devpts', dst: '/dev/pts', flags: [] },
    { kind: 'symlink', src: 'pts/ptmx', dst: '/dev/ptmx', flags: [] },
    { kind: 'tmpfs', dst: '/dev/shm', size: ctx.tmpSize, mode: 0o1777, flags: [] },
    ...(['fd', 'stdin', 'stdout', 'stderr'] as const).map((n, i): MountOp => ({
      kind: 'symlink', src: n === 'fd' ? '/proc/self/fd' : `/proc/self/fd/${i - 1}`, dst: `/dev/${n}`, flags: [],
    })),
  ];
}

/** The jail's mount operations, in order; adds `mount` to namespaces when they need it. */
export function compileMounts(lookup: Lookup, ctx: MountContext, tmpPrivate: ConfigEntry | undefined): MountOp[] {
  const has = (ns: Namespace): boolean => ctx.namespaces.includes(ns);
  const root = rootOp(ctx, lookup);
  const binds = lookup.all('bind').map((e) => bindOp(ctx, e));
  const readonly = lookup.last('rootfs-readonly');
  const wantReadonly = readonly ? ['1', 'true', 'yes', 'on', ''].includes(readonly.value.trim().toLowerCase()) : false;
  if (readonly && !wantReadonly && !['0', 'false', 'no', 'off'].includes(readonly.value.trim().toLowerCase()))
    ctx.fail(readonly, 'rootfs-readonly', `expected true or false, got \`${excerpt(readonly.value)}\``);
  if (wantReadonly && !root) ctx.fail(readonly, 'rootfs-readonly', 'the jail has no root of its own: set rootfs = DIR too');
  if (wantReadonly && root?.kind === 'overlay')
    ctx.fail(readonly, 'rootfs-readonly', 'an overlay root is there to be written to (and thrown away); use rootfs = DIR for a read-only one');

  // Mounts of their own: a mount namespace, or they would change the host's.
  if ((root || binds.length > 0) && !has('mount')) ctx.namespaces.push('mount');
  const out: MountOp[] = [];
  if (root) out.push(root);
  // jailctl's runtime, before the file's binds (which may go beneath /run too).
  if (root && ctx.runtimeBinds && ctx.runtimeBinds.length > 0) {
    out.push({ kind: 'tmpfs', dst: '/run', size: RUN_SIZE, mode: 0o755, flags: [] });
    out.push(...ctx.runtimeBinds.map((b): MountOp => ({ kind: 'bind', src: b.src, dst: b.dst, flags: ['ro'] })));
  }
  out.push(...binds);
  if (has('pid') && has('mount')) out.push({ kind: 'proc', dst: '/proc', flags: root ? ['hidepid'] : [] });
  else if (root) ctx.warnings.push(`${ctx.file}:${root.line}: ${root.option} without unshare = pid: the jail gets no /proc (a new one would show the host's processes); add pid to unshare`);
  if (root) out.push(...devOps(ctx));
  // A jail with its own root always gets a private /tmp: its own root has none to share.
  if (root || tmpPrivate) out.push({ kind: 'tmpfs', dst: '/tmp', size: ctx.tmpSize, mode: 0o1777, flags: [], ...(tmpPrivate ? { option: 'tmp', line: tmpPrivate.line } : {}) });
  if (wantReadonly) out.push({ kind: 'readonly', dst: '/', flags: [], option: 'rootfs-readonly', line: readonly!.line });
  return out;
}

/** `bind /srv/app → /app (ro)`: one operation as a sysadmin reads it. */
export function describeMount(op: MountOp): string {
  const flags = op.flags.filter((f) => f === 'ro' || f === 'nosymlinks' || f === 'owner');
  const suffix = flags.length > 0 ? ` (${flags.join(', ')}${op.owner !== undefined ? ` ${op.owner}` : ''})` : '';
  switch (op.kind) {
    case 'root':
      return `the jail's root ${op.src}${suffix}`;
    case 'overlay':
      return `an overlay root on ${op.src}${suffix}`;
    case 'bind':
      return `bind ${op.src} → ${op.dst}${suffix}`;
    case 'symlink':
      return `symlink ${op.dst} → ${op.src}`;
    case 'readonly':
      return `making ${op.dst} read-only`;
    case 'mkdir':
      return `mkdir ${op.dst}`;
    default:
      return `mount ${op.kind} on ${op.dst}`;
  }
}
