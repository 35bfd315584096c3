// Which cgroup hierarchies this process sees, where they are mounted and where the process
// sits in each: read from /proc/self/cgroup and /proc/self/mountinfo, never assumed.
// A host is pure v2 (one cgroup2 mount), hybrid (cgroup2 beside v1 hierarchies) or pure
// v1 (no cgroup2 mounted at all, even though /proc/self/cgroup still has its `0::` line).
import { readFileSync } from 'node:fs';

/** One mounted hierarchy and the process's own cgroup in it. */
export interface CgroupHierarchy {
  readonly version: 1 | 2;
  /** Where it is mounted (escapes such as `\040` decoded). */
  readonly mountPoint: string;
  /** The v1 controllers bound to it (`['cpu', 'cpuacct']`); v2: the own cgroup's
   *  cgroup.controllers when known (readLayout reads them), else empty. */
  readonly controllers: readonly string[];
  /** A named v1 hierarchy without controllers (`systemd` for `name=systemd`). */
  readonly name?: string;
  /** The process's cgroup as /proc/self/cgroup gives it, e.g. `/process_api/09db…`. */
  readonly ownPath: string;
  /** The cgroup the mount shows at its mount point (mountinfo field 4), `/` usually. */
  readonly mountRoot: string;
  /** The own cgroup's directory: mountPoint + ownPath below mountRoot. */
  readonly ownDir: string;
}

export interface CgroupLayout {
  readonly kind: 'v2' | 'hybrid' | 'v1' | 'none';
  readonly unified?: CgroupHierarchy;
  readonly v1: readonly CgroupHierarchy[];
  /** Hierarchies in /proc/self/cgroup whose own cgroup no mount reaches (a mount of a
   *  sibling subtree, a namespace root above the mount), e.g. `memory`, `unified`. */
  readonly unreachable: readonly string[];
}

/** The v1 controllers a jail uses, in the order they are described. */
export const V1_USED = ['memory', 'pids', 'cpu', 'cpuacct', 'blkio', 'freezer'] as const;

// mountinfo escapes space, tab, newline and backslash as three octal digits.
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

interface CgroupMount {
  readonly root: string;
  readonly mountPoint: string;
  readonly fstype: 'cgroup' | 'cgroup2';
  readonly superOptions: readonly string[];
}

function parseMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    // id parent major:minor root mountpoint options [optional fields…] - fstype source superoptions
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 4) continue;
    const fstype = fields[dash + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({
      root: unescapeMount(fields[3]!),
      mountPoint: unescapeMount(fields[4]!),
      fstype,
      superOptions: fields[dash + 3]!.split(','),
    });
  }
  return out;
}

interface OwnEntry {
  readonly controllers: readonly string[];
  readonly name?: string;
  readonly path: string;
}

// /proc/self/cgroup: `ID:CONTROLLERS:PATH`; the path may hold colons, so split twice only.
function parseOwn(procSelfCgroup: string): OwnEntry[] {
  const out: OwnEntry[] = [];
  for (const line of procSelfCgroup.split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const list = line.slice(a + 1, b);
    const path = line.slice(b + 1).replace(/ \(deleted\)$/, '');
    const named = list.split(',').find((c) => c.startsWith('name='));
    const controllers = list === '' ? [] : list.split(',').filter((c) => !c.startsWith('name='));
    out.push(named ? { controllers, name: named.slice(5), path } : { controllers, path });
  }
  return out;
}

// The own cgroup's directory under a mount, or undefined when the mount shows another subtree.
function dirUnder(mount: CgroupMount, ownPath: string): string | undefined {
  const root = mount.root;
  if (root.startsWith('/..')) return undefined; // the mount's root is outside our namespace
  let rest: string;
  if (root === '/') rest = ownPath;
  else if (ownPath === root) rest = '';
  else if (ownPath.startsWith(`${root}/`)) rest = ownPath.slice(root.length);
  else return undefined;
  if (rest === '/') rest = '';
  return rest === '' ? mount.mountPoint : `${mount.mountPoint.replace(/\/$/, '')}${rest}`;
}

// The first mount reaching the own cgroup, preferring one showing the whole hierarchy.
function pick(mounts: readonly CgroupMount[], ownPath: string): { mount: CgroupMount; dir: string } | undefined {
  const ordered = [...mounts.filter((m) => m.root === '/'), ...mounts.filter((m) => m.root !== '/')];
  for (const mount of ordered) {
    const dir = dirUnder(mount, ownPath);
    if (dir !== undefined) return { mount, dir };
  }
  return undefined;
}

// The layout described by the two /proc files (pure: unit-tested with fixture texts);
// `unifiedControllers` is the own cgroup's cgroup.controllers on the unified hierarchy.
export function parseLayout(procSelfCgroup: string, mountinfo: string, unifiedControllers?: string): CgroupLayout {
  const mounts = parseMounts(mountinfo);
  const own = parseOwn(procSelfCgroup);
  const unreachable: string[] = [];
  let unified: CgroupHierarchy | undefined;
  const v2mounts = mounts.filter((m) => m.fstype === 'cgroup2');
  const v2own = own.find((e) => e.controllers.length === 0 && e.name === undefined);
  if (v2mounts.length > 0 && v2own) {
    const found = pick(v2mounts, v2own.path);
    if (found) {
      const controllers = (unifiedControllers ?? '').split(/\s+/).filter((c) => c !== '');
      unified = { version: 2, mountPoint: found.mount.mountPoint, controllers, ownPath: v2own.path, mountRoot: found.mount.root, ownDir: found.dir };
    } else unreachable.push('unified');
  }
  const v1: CgroupHierarchy[] = [];
  for (const entry of own) {
    if (entry.controllers.length === 0 && entry.name === undefined) continue;
    const wanted = entry.name === undefined ? entry.controllers : [`name=${entry.name}`];
    const candidates = mounts.filter((m) => m.fstype === 'cgroup' && wanted.every((c) => m.superOptions.includes(c)));
    if (candidates.length === 0) continue; // a hierarchy nobody mounted: nothing to use
    const found = pick(candidates, entry.path);
    const label = entry.name === undefined ? entry.controllers.join(',') : `name=${entry.name}`;
    if (!found) {
      unreachable.push(label);
      continue;
    }
    const h: CgroupHierarchy = { version: 1, mountPoint: found.mount.mountPoint, controllers: entry.controllers, ownPath: entry.path, mountRoot: found.mount.root, ownDir: found.dir };
    v1.push(entry.name === undefined ? h : { ...h, name: entry.name });
  }
  const withControllers = v1.some((h) => h.controllers.length > 0);
  const kind = unified ? (withControllers ? 'hybrid' : 'v2') : v1.length > 0 ? 'v1' : 'none';
  return { kind, ...(unified ? { unified } : {}), v1, unreachable };
}

// This process's layout, with the unified own cgroup's controllers read from it.
export function readLayout(): CgroupLayout {
  const procSelfCgroup = readFileSync('/proc/self/cgroup', 'utf8');
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const first = parseLayout(procSelfCgroup, mountinfo);
  if (!first.unified) return first;
  return parseLayout(procSelfCgroup, mountinfo, readFileSync(`${first.unified.ownDir}/cgroup.controllers`, 'utf8'));
}

// The v1 hierarchy a controller is bound to, if one is mounted and reachable.
export function v1Holding(layout: CgroupLayout, controller: string): CgroupHierarchy | undefined {
  return layout.v1.find((h) => h.controllers.includes(controller));
}

// The v1 hierarchies a jail cgroup is made in: those holding a used controller, once each.
export function usedV1(layout: CgroupLayout): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const c of V1_USED) {
    const h = v1Holding(layout, c);
    if (h && !out.includes(h)) out.push(h);
  }
  return out;
}

// One line for logs and `jailctl emperor` start-up, e.g.
// `hybrid: unified at /sys/fs/cgroup/unified (controllers: hugetlb); v1: memory, pids, cpu, cpuacct, blkio, freezer`.
export function describeLayout(layout: CgroupLayout): string {
  const parts: string[] = [];
  const u = layout.unified;
  if (u) parts.push(`unified at ${u.mountPoint} (controllers: ${u.controllers.length > 0 ? u.controllers.join(' ') : 'none'})`);
  const v1 = usedV1(layout).map((h) => h.controllers.filter((c) => (V1_USED as readonly string[]).includes(c)).join(','));
  if (v1.length > 0) parts.push(u ? `v1: ${v1.join(', ')}` : v1.join(', '));
  if (layout.unreachable.length > 0) parts.push(`not reachable from this mount namespace: ${layout.unreachable.join(', ')}`);
  if (parts.length === 0) parts.push('no cgroup hierarchy mounted');
  return `${layout.kind}: ${parts.join('; ')}`;
}
