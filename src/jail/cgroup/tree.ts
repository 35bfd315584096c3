// The emperor's (or `jailctl run`'s) cgroup subtree: R = <own cgroup>/<name> in every
// hierarchy it uses, beneath the process's own cgroup, and the jail cgroups inside it.
//
// Unified hierarchy, in order:
//   1. R/emperor is made and, with moveSelf, the process moves into it. The no-internal-
//      processes rule: a non-root cgroup with processes cannot give controllers to its
//      children, so the own cgroup must be left first. It also keeps migrations possible
//      after a drop to a non-root uid: moving a process needs write access to cgroup.procs
//      of the common ancestor of source and destination, and that is R (owned) rather
//      than the own cgroup (root's).
//   2. The own cgroup's cgroup.subtree_control gets those of memory, pids, cpu, io its
//      cgroup.controllers lists (EBUSY: other processes share it; we go on with what R
//      already has), then R's gets what R has, and create() gives each inner node what R has.
// The v1 hierarchies need neither: any cgroup there can hold processes and every
// controller of the hierarchy is in every cgroup of it.
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { CgroupError } from '../../errors';
import type { CgroupLimits, Origin } from '../../plan/types';
import { childCgroups, errnoOf, readCgroupFile, readOptional, removeCgroupTree, writeCgroupFile } from './files';
import { jailCgroup, type CgroupDirs, type JailCgroup } from './jail';
import type { KillMethod } from './kill';
import { type CgroupHierarchy, type CgroupLayout, usedV1, v1Holding } from './layout';
import { type CgroupSupport, homeOf, UNIFIED_WANTED, limitWrites, type LimitWrite, type Unsupported, unsupportedLimits } from './limits';
import type { CgroupLimitValues } from './stats';


export interface PrepareOptions {
  /** The subtree's name beneath the own cgroup, e.g. `jailctl-<pid>`. */
  readonly name: string;
  /** Who the subtree is handed to (what systemd's Delegate= gives a unit's user). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Move this process into R/emperor on the unified hierarchy (the emperor: yes). */
  readonly moveSelf: boolean;
  /** One line per thing worth telling the sysadmin (stale subtrees, missing delegation). */
  readonly log?: (line: string) => void;
  /** Tests only: force a kill method on every jail cgroup. */
  readonly killMethod?: KillMethod;
}

interface Used {
  readonly hierarchy: CgroupHierarchy;
  /** The own cgroup R is made in (the one before R/emperor for an emperor re-executed in place). */
  readonly ownDir: string;
  readonly ownPath: string;
  /** R in this hierarchy. */
  readonly root: string;
}

const STALE = /^jailctl-(\d+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return errnoOf(err) !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

// A failed cgroup call, with the fix the errno points at.
function cgroupFailure(path: string, err: unknown, what: string, origin?: Origin): CgroupError {
  const code = errnoOf(err);
  const fixes: Record<string, string> = {
    EACCES: `uid ${process.geteuid?.()} may not write it: run the emperor as root, or hand it the subtree (owner, or systemd Delegate=yes)`,
    EPERM: `uid ${process.geteuid?.()} may not write it: run the emperor as root, or hand it the subtree (owner, or systemd Delegate=yes)`,
    EROFS: 'cgroupfs is mounted read-only here (a container without cgroup delegation)',
    EINVAL: 'the kernel refused the value: check its range',
    EBUSY: 'in use: a limit below what the jail uses now, or processes in an inner cgroup',
    ENOENT: 'the file does not exist on this kernel or controller',
    ENOSPC: 'cgroup.max.descendants or cgroup.max.depth of an ancestor is reached',
    EOPNOTSUPP: 'not supported by this kernel',
  };
  const at = origin ? `${origin.option}${origin.line === undefined ? '' : ` (line ${origin.line})`}: ` : '';
  return new CgroupError({ path, errnoCode: code, option: origin?.option, line: origin?.line },
    `${at}${what} ${path}: ${code ?? String(err)} (${(code && fixes[code]) ?? 'see the kernel log'})`, { cause: err });
}

function mkdirOnce(path: string): boolean {
  // Most calls find it there (a respawn): no exception to build for EEXIST.
  if (existsSync(path)) return false;
  try {
    mkdirSync(path);
    return true;
  } catch (err: unknown) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw err;
  }
}

function checkSegment(segment: string): void {
  if (segment === '' || segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\n') || segment.includes('\0'))
    throw new CgroupError({ path: segment }, `jail cgroup name segment \`${JSON.stringify(segment)}\` is not a directory name (empty, . or .., or holds / or a newline)`);
}

export class CgroupTree {
  readonly layout: CgroupLayout;
  readonly name: string;
  private readonly used: readonly Used[];
  private readonly support: CgroupSupport;
  private readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  private readonly log: (line: string) => void;
  private readonly killMethod: KillMethod | undefined;
  /** The unified own cgroup we left for R/emperor, and the controllers we enabled in it. */
  /** This process sits in an `emperor` cgroup it made itself (see prepare()). */
  private readonly cloneSafe: boolean;
  /** What create() last wrote to each limit file (writeLimits). */
  private readonly written = new Map<string, string>();
  private readonly moved: { readonly from: string; readonly enabled: readonly string[] } | undefined;

  private constructor(init: {
    layout: CgroupLayout; name: string; used: Used[]; support: CgroupSupport; opts: PrepareOptions;
    moved: { from: string; enabled: string[] } | undefined;
    cloneSafe: boolean;
  }) {
    this.cloneSafe = init.cloneSafe;
    this.layout = init.layout;
    this.name = init.name;
    this.used = init.used;
    this.support = init.support;
    this.owner = init.opts.owner;
    this.log = init.opts.log ?? (() => undefined);
    this.killMethod = init.opts.killMethod;
    this.moved = init.moved;
  }

  // Makes (or takes back) R in every used hierarchy; see the file comment for the order.
  static prepare(layout: CgroupLayout, opts: PrepareOptions): CgroupTree {
    checkSegment(opts.name);
    const log = opts.log ?? (() => undefined);
    const hierarchies = [...(layout.unified ? [layout.unified] : []), ...usedV1(layout)];
    if (hierarchies.length === 0) throw new CgroupError({ path: '/proc/self/mountinfo' }, 'no cgroup hierarchy is mounted: mount cgroup2 at /sys/fs/cgroup (jails need a cgroup to be contained)');
    const used: Used[] = [];
    const skipped: { hierarchy: CgroupHierarchy; reason: string }[] = [];
    const stale = new Map<string, { removed: number; stayed: string[] }>();
    for (const found of hierarchies) {
      const h = adopted(found, opts.name);
      removeStale(h.ownDir, opts.name, stale);
      const root = `${h.ownDir}/${opts.name}`;
      try {
        mkdirOnce(root);
      } catch (err: unknown) {
        const code = errnoOf(err);
        // A v1 hierarchy we may not write is left out (its limits are refused by
        // unsupported()); the unified one holds the kill, so it is not optional.
        if (h.version === 1 && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
          const reason = `mkdir ${root}: ${code} (run the emperor as root, or delegate ${h.ownDir} to uid ${process.geteuid?.()})`;
          skipped.push({ hierarchy: found, reason });
          log(`cgroup: v1 ${h.controllers.join(',')} left out: ${reason}`);
          continue;
        }
        throw cgroupFailure(root, err, 'mkdir');
      }
      used.push({ hierarchy: found, ownDir: h.ownDir, ownPath: h.ownPath, root });
    }
    if (used.length === 0) throw new CgroupError({ path: hierarchies[0]!.ownDir }, `no cgroup hierarchy is writable here: ${skipped.map((k) => k.reason).join('; ')}`);
    // One line per dead emperor, not one per hierarchy.
    for (const [pid, s] of stale)
      log(s.stayed.length > 0
        ? `cgroup: the subtree of a dead emperor (pid ${pid}) stays in ${s.stayed.length} place(s), something still runs there: ${s.stayed.slice(0, 3).join(', ')}${s.stayed.length > 3 ? ', …' : ''}`
        : `cgroup: removed the subtree of a dead emperor (pid ${pid}) from ${s.removed} hierarchies`);
    let moved: { from: string; enabled: string[] } | undefined;
    let cloneSafe = false;
    let enabled: string[] = [];
    let offered: string[] = [];
    let notEnabled: string | undefined;
    const u = used.find((x) => x.hierarchy.version === 2);
    if (u) {
      const own = u.ownDir;
      const emperor = `${u.root}/emperor`;
      let madeEmperor: boolean;
      try {
        madeEmperor = mkdirOnce(emperor);
      } catch (err: unknown) {
        throw cgroupFailure(emperor, err, 'mkdir');
      }
      // Linux 6.18 compares a CLONE_INTO_CGROUP child's target with the kill sequence of
      // the *launcher's* cgroup: only from a cgroup made now (never killed) is that safe.
      cloneSafe = opts.moveSelf && madeEmperor;
      if (opts.moveSelf) {
        try {
          writeCgroupFile(`${emperor}/cgroup.procs`, String(process.pid));
        } catch (err: unknown) {
          throw cgroupFailure(`${emperor}/cgroup.procs`, err, `move the emperor (pid ${process.pid}) into`);
        }
      }
      offered = words(readCgroupFile(`${own}/cgroup.controllers`));
      const already = words(readCgroupFile(`${own}/cgroup.subtree_control`));
      const want = UNIFIED_WANTED.filter((c) => offered.includes(c) && !already.includes(c));
      const turnedOn: string[] = [];
      if (want.length > 0) {
        try {
          writeCgroupFile(`${own}/cgroup.subtree_control`, want.map((c) => `+${c}`).join(' '));
          turnedOn.push(...want);
        } catch (err: unknown) {
          const code = errnoOf(err);
          if (code !== 'EBUSY' && code !== 'EACCES' && code !== 'EPERM') throw cgroupFailure(`${own}/cgroup.subtree_control`, err, `enable ${want.join(' ')} in`);
          notEnabled = code === 'EBUSY'
            ? `EBUSY: other processes are in ${u.ownPath}`
            : `${code}: uid ${process.geteuid?.()} may not write ${own}/cgroup.subtree_control`;
          log(`cgroup: could not enable ${want.join(', ')} for the jails in ${own}/cgroup.subtree_control (${notEnabled}); going on with what it gives already (${already.join(', ') || 'nothing'}); fix: run under systemd with Delegate=yes, or \`systemd-run --scope -p Delegate=yes jailctl …\``);
        }
      }
      if (opts.moveSelf) moved = { from: own, enabled: turnedOn };
      const inR = words(readCgroupFile(`${u.root}/cgroup.controllers`)).filter((c) => (UNIFIED_WANTED as readonly string[]).includes(c));
      enableIn(u.root, inR);
      enabled = words(readCgroupFile(`${u.root}/cgroup.subtree_control`));
    }
    if (opts.owner) for (const x of used) handOver(x, opts.owner);
    const files = new Map<string, boolean>();
    const rootOf = new Map(used.map((x) => [x.hierarchy, x.root]));
    const support: CgroupSupport = {
      layout,
      unifiedEnabled: enabled,
      unifiedOffered: offered,
      ...(notEnabled !== undefined ? { unifiedNotEnabled: notEnabled } : {}),
      skipped,
      bfqActive: bfqActive(),
      // R has the files a jail cgroup gets: the same controllers, also not a root cgroup.
      hasFile(h: CgroupHierarchy, file: string): boolean {
        const root = rootOf.get(h);
        if (root === undefined) return false;
        const path = `${root}/${file}`;
        let known = files.get(path);
        if (known === undefined) files.set(path, (known = existsSync(path)));
        return known;
      },
    };
    return new CgroupTree({ layout, name: opts.name, used, support, opts, moved, cloneSafe });
  }

  // Each limit of `limits` this host cannot honour, with the controller, hierarchy and fix.
  unsupported(limits: CgroupLimits): Unsupported[] {
    return unsupportedLimits(this.support, limits);
  }

  // R in each used hierarchy.
  paths(): CgroupDirs {
    const u = this.used.find((x) => x.hierarchy.version === 2);
    return { ...(u ? { unified: u.root } : {}), v1: this.used.filter((x) => x.hierarchy.version === 1).map((x) => x.root) };
  }

  // mkdir -p R/…segments in each used hierarchy and write `limits` (all of them, an absent
  // one set back to its default): called again at each respawn.
  create(segments: readonly string[], limits: CgroupLimits): JailCgroup {
    if (segments.length === 0) throw new CgroupError({ path: segments.join('/') }, 'jail cgroup: no name segments (the subtree root itself is not a jail cgroup)');
    for (const s of segments) checkSegment(s);
    if (segments[0] === 'emperor') throw new CgroupError({ path: segments.join('/') }, 'jail cgroup: `emperor` is where the emperor itself runs, not a jail');
    const refused = this.unsupported(limits);
    if (refused.length > 0) {
      const first = refused[0]!.origin;
      throw new CgroupError({ path: this.used[0]!.root, option: first.option, line: first.line }, refused.map((r) => `${r.origin.line === undefined ? '' : `line ${r.origin.line}: `}${r.reason}`).join('; '));
    }
    const dirOf = new Map<CgroupHierarchy, string>();
    const madeLeaves = new Set<string>();
    let fresh = false;
    const wanted = v1Wanted(this.layout, limits);
    if (this.killMethod === 'freezer') wanted.add('freezer'); // tests of the v1 kill
    for (const x of this.used) {
      // A v1 hierarchy only where the jail needs it: every directory is a cost at each
      // first start (a default jail needs memory and pids; cpu with cpu-max…).
      if (x.hierarchy.version === 1 && !x.hierarchy.controllers.some((c) => wanted.has(c))) continue;
      // A respawn finds its directory (and so every parent) there: one look, no mkdir.
      const leaf = `${x.root}/${segments.join('/')}`;
      if (existsSync(leaf)) {
        dirOf.set(x.hierarchy, leaf);
        continue;
      }
      let dir = x.root;
      for (let i = 0; i < segments.length; i++) {
        dir = `${dir}/${segments[i]}`;
        let made: boolean;
        try {
          made = mkdirOnce(dir);
        } catch (err: unknown) {
          throw cgroupFailure(dir, err, 'mkdir');
        }
        if (made && this.owner && process.geteuid?.() === 0) handOverDir(x.hierarchy.version, dir, this.owner);
        if (made && i === segments.length - 1) {
          madeLeaves.add(dir);
          if (x.hierarchy.version === 2) fresh = true;
        }
        // Inner nodes pass on what R has; the jail's own cgroup keeps its controllers.
        if (x.hierarchy.version === 2 && i < segments.length - 1) enableIn(dir, this.support.unifiedEnabled);
      }
      dirOf.set(x.hierarchy, dir);
    }
    writeLimits(limitWrites(this.support, limits), dirOf, madeLeaves, this.written);
    const unified = this.layout.unified && dirOf.get(this.layout.unified);
    const v1 = this.used.filter((x) => x.hierarchy.version === 1 && dirOf.has(x.hierarchy)).map((x) => dirOf.get(x.hierarchy)!);
    const mem = homeOf(this.support, 'memory');
    const cpuacct = v1Holding(this.layout, 'cpuacct');
    const freezer = v1Holding(this.layout, 'freezer');
    const procsHome = unified !== undefined ? { version: 2 as const, dir: unified } : v1[0] !== undefined ? { version: 1 as const, dir: v1[0] } : undefined;
    const values: CgroupLimitValues = {
      ...(limits.memoryMax ? { memoryMax: limits.memoryMax.value } : {}),
      ...(limits.memoryHigh ? { memoryHigh: limits.memoryHigh.value } : {}),
      ...(limits.pidsMax ? { pidsMax: limits.pidsMax.value } : {}),
      ...(limits.cpuMax ? { cpuMax: limits.cpuMax.value } : {}),
    };
    return jailCgroup({
      dirs: { ...(unified !== undefined ? { unified } : {}), v1 },
      // CLONE_INTO_CGROUP only into a cgroup made now, from a cgroup of ours made at start
      // (Linux 6.18: see openLaunchFdsFor); else the clone child joins by a write.
      fresh: fresh && this.cloneSafe,
      ...(freezer && dirOf.has(freezer) ? { freezer: dirOf.get(freezer)! } : {}),
      stats: {
        ...(unified !== undefined ? { unified } : {}),
        ...(mem && dirOf.has(mem.hierarchy) ? { memory: { version: mem.version, dir: dirOf.get(mem.hierarchy)! } } : {}),
        ...(cpuacct && dirOf.has(cpuacct) ? { cpuacct: dirOf.get(cpuacct)! } : {}),
        ...(procsHome ? { procs: procsHome } : {}),
      },
      limits: values,
      ...(this.killMethod ? { killMethod: this.killMethod } : {}),
    });
  }

  // At exit: rmdir everything it can, deepest first. On the unified hierarchy the process
  // first moves back to the cgroup it came from, which works for root only, and only once
  // that cgroup gives no controllers any more (the no-internal-processes rule): the ones
  // we enabled are taken back when no other child needs them. Otherwise R/emperor (with
  // us in it) stays for the next emperor's stale cleanup. True when nothing is left.
  remove(): boolean {
    let gone = true;
    for (const x of this.used) {
      for (const child of childCgroups(x.root)) {
        if (x.hierarchy.version === 2 && child === `${x.root}/emperor`) continue;
        for (const s of removeCgroupTree(child)) {
          gone = false;
          this.log(`cgroup: ${s.path} stays (${s.code === 'EBUSY' ? 'processes still in it' : s.code})`);
        }
      }
      if (x.hierarchy.version === 2 && this.moved && !this.moveBack(x.root)) {
        gone = false;
        continue;
      }
      for (const s of removeCgroupTree(x.root)) {
        gone = false;
        this.log(`cgroup: ${s.path} stays (${s.code === 'EBUSY' ? 'processes still in it' : s.code}); the next emperor's stale cleanup removes it`);
      }
    }
    return gone;
  }

  private moveBack(root: string): boolean {
    const { from, enabled } = this.moved!;
    const others = childCgroups(from).filter((c) => c !== root);
    try {
      if (enabled.length > 0 && others.length === 0) writeCgroupFile(`${from}/cgroup.subtree_control`, enabled.map((c) => `-${c}`).join(' '));
      writeCgroupFile(`${from}/cgroup.procs`, String(process.pid));
      return true;
    } catch (err: unknown) {
      const code = errnoOf(err);
      if (code !== 'EBUSY' && code !== 'EACCES' && code !== 'EPERM' && code !== 'EOPNOTSUPP') throw cgroupFailure(`${from}/cgroup.procs`, err, 'move the emperor back to');
      this.log(`cgroup: ${root}/emperor stays (cannot move back to ${from}: ${code}); the next emperor's stale cleanup removes it`);
      return false;
    }
  }
}

// Whether some block device has bfq as its scheduler (`none [bfq] …`).
function bfqActive(): boolean {
  let names: string[];
  try {
    names = readdirSync('/sys/block');
  } catch (err: unknown) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw err;
  }
  return names.some((n) => readOptional(`/sys/block/${n}/queue/scheduler`)?.includes('[bfq]') ?? false);
}

// An emperor that re-executes itself in place is still in R/emperor: R is its subtree
// again, seen from the cgroup it first came from (not R/emperor/<name>).
function adopted(h: CgroupHierarchy, name: string): CgroupHierarchy {
  const tail = `/${name}/emperor`;
  if (h.version !== 2 || !h.ownPath.endsWith(tail) || !h.ownDir.endsWith(tail)) return h;
  const ownPath = h.ownPath.slice(0, -tail.length) || '/';
  return { ...h, ownPath, ownDir: h.ownDir.slice(0, -tail.length) };
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

// Gives a node's children the controllers it has (idempotent: only missing ones are written).
function enableIn(dir: string, controllers: readonly string[]): void {
  const have = words(readOptional(`${dir}/cgroup.subtree_control`) ?? '');
  const want = controllers.filter((c) => !have.includes(c));
  if (want.length === 0) return;
  try {
    writeCgroupFile(`${dir}/cgroup.subtree_control`, want.map((c) => `+${c}`).join(' '));
  } catch (err: unknown) {
    throw cgroupFailure(`${dir}/cgroup.subtree_control`, err, `enable ${want.join(' ')} in`);
  }
}

// The v1 controllers a jail with `limits` needs a cgroup in: memory and pids always (the
// accounting, OOM kills, the default pids-max), cpu, blkio and the ones its cgroup-opt keys
// name when asked; without a unified hierarchy also cpuacct (CPU time) and freezer (kill).
function v1Wanted(layout: CgroupLayout, limits: CgroupLimits): Set<string> {
  const wanted = new Set<string>(['memory', 'pids']);
  if (limits.cpuMax) wanted.add('cpu');
  if (limits.ioWeight) wanted.add('blkio');
  if (!layout.unified) {
    wanted.add('cpuacct');
    wanted.add('freezer');
  }
  for (const opt of limits.opts) wanted.add(opt.key.slice(0, opt.key.indexOf('.')));
  return wanted;
}

// Siblings `jailctl-<pid>` of a dead pid, left by an emperor killed with SIGKILL: rmdir
// only, so a populated one (something still runs there) stays and is logged. A pid alive
// in another pid namespace cannot be told from a dead one; its subtree is not empty
// (its emperor is in it), so rmdir leaves it alone.
function removeStale(ownDir: string, name: string, into: Map<string, { removed: number; stayed: string[] }>): void {
  for (const dir of childCgroups(ownDir)) {
    const base = dir.slice(ownDir.length + 1);
    const m = STALE.exec(base);
    if (!m || base === name || alive(Number(m[1]))) continue;
    const stayed = removeCgroupTree(dir);
    const seen = into.get(m[1]!) ?? { removed: 0, stayed: [] };
    if (stayed.length > 0) seen.stayed.push(...stayed.map((s) => `${s.path} ${s.code}`));
    else seen.removed++;
    into.set(m[1]!, seen);
  }
}

// What systemd's Delegate= hands a unit's user: the directory and the files that move
// processes and give controllers, so the subtree stays its own after the emperor drops.
function handOverDir(version: 1 | 2, dir: string, owner: { uid: number; gid: number }): void {
  const files = version === 2 ? ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'] : ['', 'cgroup.procs', 'tasks'];
  for (const f of files) {
    const path = f === '' ? dir : `${dir}/${f}`;
    try {
      chownSync(path, owner.uid, owner.gid);
    } catch (err: unknown) {
      throw cgroupFailure(path, err, `chown ${owner.uid}:${owner.gid}`);
    }
  }
}

function handOver(x: Used, owner: { uid: number; gid: number }): void {
  handOverDir(x.hierarchy.version, x.root, owner);
  if (x.hierarchy.version !== 2) return;
  for (const path of [`${x.root}/emperor`, `${x.root}/emperor/cgroup.procs`]) {
    try {
      chownSync(path, owner.uid, owner.gid);
    } catch (err: unknown) {
      throw cgroupFailure(path, err, `chown ${owner.uid}:${owner.gid}`);
    }
  }
}

// v1 memory: memsw.limit_in_bytes must stay >= limit_in_bytes after every write, so the
// pair is written memsw first when the limit grows, limit first when it shrinks.
function ordered(writes: readonly LimitWrite[], dirOf: ReadonlyMap<CgroupHierarchy, string>): LimitWrite[] {
  const out = [...writes];
  const i = out.findIndex((w) => w.file === 'memory.limit_in_bytes');
  const j = out.findIndex((w) => w.file === 'memory.memsw.limit_in_bytes');
  if (i < 0 || j < 0) return out;
  const dir = dirOf.get(out[i]!.hierarchy)!;
  const current = BigInt((readOptional(`${dir}/memory.limit_in_bytes`) ?? '0').trim() || '0');
  const next = out[i]!.value === '-1' ? BigInt('0x7fffffffffffffff') : BigInt(out[i]!.value);
  if (next >= current) {
    const memsw = out.splice(j, 1)[0]!;
    out.splice(i, 0, memsw);
  }
  return out;
}

// `written`: what the last create() wrote to each file; a directory that existed already
// (a respawn) is written only where the value changed. A new one is written whole.
function writeLimits(writes: readonly LimitWrite[], dirOf: ReadonlyMap<CgroupHierarchy, string>, made: ReadonlySet<string>, written: Map<string, string>): void {
  for (const w of ordered(writes, dirOf)) {
    const dir = dirOf.get(w.hierarchy);
    if (dir === undefined) continue;
    const path = `${dir}/${w.file}`;
    if (!made.has(dir) && written.get(path) === w.value) continue;
    written.set(path, w.value);
    if (w.ifExists && !existsSync(path)) continue;
    try {
      writeCgroupFile(path, w.value);
    } catch (err: unknown) {
      throw cgroupFailure(path, err, `write ${w.value} to`, w.origin);
    }
  }
}
