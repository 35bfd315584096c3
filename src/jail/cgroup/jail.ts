// One jail's cgroup (a directory in each used hierarchy): the fds the launcher places the
// jail with, kill, emptiness, stats and removal.
import { closeSync, constants, existsSync, openSync, watch, type FSWatcher } from 'node:fs';
import { CgroupError } from '../../errors';
import type { CgroupFds } from '../../plan/types';
import { childCgroups, errnoOf, keyed, readOptional, readPids, removeCgroupTree } from './files';
import { chooseKillMethod, killCgroup, type KillMethod } from './kill';
import { type CgroupLimitValues, type CgroupStats, readOomKills, statsReader, type StatsSources } from './stats';

/** A jail cgroup's directories: what ps records carry and `jailctl enter` re-opens. */
export interface CgroupDirs {
  /** On the unified hierarchy. */
  readonly unified?: string;
  /** On each used v1 hierarchy. */
  readonly v1: readonly string[];
}

export interface JailCgroup {
  readonly dirs: CgroupDirs;
  /** Opens the fds the executor places the jail with; close them after the launch (closeLaunchFds). */
  openLaunchFds(): CgroupFds;
  /** create() made its directory now (not one a previous launch used). */
  readonly fresh: boolean;
  /** SIGKILL to every process in the jail cgroup and below. */
  kill(): void;
  /** Any process left in it (zombies do not count: they leave the cgroup at exit). */
  populated(): boolean;
  /** Resolves true once it is empty, false when timeoutMs pass first. */
  whenEmpty(timeoutMs: number): Promise<boolean>;
  stats(): CgroupStats;
  /** Where stats() reads (the metrics exporter reads the same files in a process of its own). */
  readonly statsSources: StatsSources;
  /** Processes the OOM killer took in it so far (one file: cheap enough to poll). */
  oomKills(): number;
  /** rmdir in each hierarchy, deepest first; false when something is still in it. */
  remove(): boolean;
}

// The launch fds of a jail cgroup: the unified directory (O_RDONLY|O_DIRECTORY, for
// clone3 CLONE_INTO_CGROUP) and each v1 cgroup.procs (O_WRONLY, the clone child writes "0").
//
// `joinUnified`: place the jail on the unified hierarchy by writing its cgroup.procs too
// (the clone child does, as for v1) instead of CLONE_INTO_CGROUP. For a cgroup that a
// cgroup.kill ever emptied: Linux 6.18 SIGKILLs a child cloned into such a cgroup (the
// kill sequence compared at fork is the parent cgroup's, not the target's: test/jail/
// cgroup-reuse.test.ts shows it), while a migration into it is fine.
export function openLaunchFdsFor(dirs: CgroupDirs, joinUnified = false): CgroupFds {
  const opened: number[] = [];
  const open = (path: string, flags: number): number => {
    try {
      const fd = openSync(path, flags);
      opened.push(fd);
      return fd;
    } catch (err: unknown) {
      for (const fd of opened) closeSync(fd);
      const code = errnoOf(err);
      throw new CgroupError({ path, errnoCode: code }, `jail cgroup: open ${path}: ${code ?? 'failed'} (${code === 'ENOENT' ? 'the jail cgroup was removed' : 'it must be this emperor\'s'})`, { cause: err });
    }
  };
  if (joinUnified && dirs.unified !== undefined)
    return { procsFds: [dirs.unified, ...dirs.v1].map((dir) => open(`${dir}/cgroup.procs`, constants.O_WRONLY)) };
  const dirFd = dirs.unified === undefined ? undefined : open(dirs.unified, constants.O_RDONLY | constants.O_DIRECTORY);
  const procsFds = dirs.v1.map((dir) => open(`${dir}/cgroup.procs`, constants.O_WRONLY));
  return dirFd === undefined ? { procsFds } : { dirFd, procsFds };
}

// Closes what openLaunchFds opened (after the launch, success or not).
export function closeLaunchFds(fds: CgroupFds): void {
  if (fds.dirFd !== undefined) closeSync(fds.dirFd);
  for (const fd of fds.procsFds) closeSync(fd);
}

// Zombies, measured on this lab's kernel (6.18) on both hierarchies: a process that has
// exited but is not reaped yet is no longer listed in cgroup.procs, cgroup.events says
// `populated 0`, and rmdir succeeds (the task leaves its css_set at exit, not at reap).
// Only the pids controller still charges it (pids.current) until its parent reaps it.
// So populated(), whenEmpty() and remove() do not wait for the emperor's reaping.

// Any pid in the cgroup or below it.
function anyPid(dir: string): boolean {
  if (readPids(`${dir}/cgroup.procs`).length > 0) return true;
  return childCgroups(dir).some(anyPid);
}

/** What create() knows about a jail cgroup beyond its directories. */
export interface JailCgroupParts {
  readonly dirs: CgroupDirs;
  readonly freezer?: string;
  readonly stats: StatsSources;
  readonly limits: CgroupLimitValues;
  /** Forces a kill method (tests of the fallbacks); absent: the best one there is. */
  readonly killMethod?: KillMethod;
  /** Its unified directory was made by this create() (see openLaunchFdsFor). */
  readonly fresh: boolean;
}

/** How long one read of a jail's cgroup files answers stats() (ps, top and stats together). */
const STATS_TTL_MS = 100;

// The JailCgroup over directories create() made.
export function jailCgroup(parts: JailCgroupParts): JailCgroup {
  const { dirs } = parts;
  const populated = (): boolean => {
    if (dirs.unified !== undefined) {
      const events = readOptional(`${dirs.unified}/cgroup.events`);
      // No cgroup.events: removed (nothing in it), or a kernel before 4.x: count pids.
      if (events !== undefined) return keyed(events, 'populated') === 1;
      if (!existsSync(dirs.unified)) return false;
      return anyPid(dirs.unified);
    }
    return dirs.v1.some(anyPid);
  };
  let last: { at: number; stats: CgroupStats } | undefined;
  const reader = statsReader(parts.stats, parts.limits);
  return {
    dirs,
    // A directory a previous launch used may have been emptied by cgroup.kill.
    openLaunchFds: () => openLaunchFdsFor(dirs, !parts.fresh),
    fresh: parts.fresh,
    kill(): void {
      const target = { ...(dirs.unified !== undefined ? { unified: dirs.unified } : {}), ...(parts.freezer !== undefined ? { freezer: parts.freezer } : {}), v1: dirs.v1 };
      killCgroup(target, parts.killMethod ?? chooseKillMethod(target, existsSync));
    },
    populated,
    whenEmpty(timeoutMs: number): Promise<boolean> {
      if (!populated()) return Promise.resolve(true);
      return new Promise((resolve) => {
        let watcher: FSWatcher | undefined;
        // inotify on cgroup.events fires at each populated/frozen change (v2); v1 has
        // no such file, and a watch can fail (inotify limits): poll then, more often.
        if (dirs.unified !== undefined) {
          try {
            watcher = watch(`${dirs.unified}/cgroup.events`, { persistent: false }, () => check());
            watcher.on('error', () => undefined); // the directory was removed: the poll sees it
          } catch (err: unknown) {
            const code = errnoOf(err);
            if (code !== 'ENOENT' && code !== 'ENOSPC' && code !== 'EMFILE') throw err;
            watcher = undefined; // gone already, or no inotify watch left: poll
          }
        }
        const poll = setInterval(() => check(), watcher ? 100 : 10);
        const timer = setTimeout(() => finish(!populated()), timeoutMs);
        function finish(value: boolean): void {
          clearInterval(poll);
          clearTimeout(timer);
          watcher?.close();
          resolve(value);
        }
        function check(): void {
          if (!populated()) finish(true);
        }
      });
    },
    // Many clients polling ps/top/stats at once share one read of the files.
    stats(): CgroupStats {
      const now = Date.now();
      if (!last || now - last.at >= STATS_TTL_MS) last = { at: now, stats: reader.read() };
      return last.stats;
    },
    statsSources: parts.stats,
    oomKills: () => readOomKills(parts.stats),
    remove(): boolean {
      reader.close();
      let gone = true;
      for (const dir of [...(dirs.unified !== undefined ? [dirs.unified] : []), ...dirs.v1]) {
        if (removeCgroupTree(dir).length > 0) gone = false;
      }
      return gone;
    },
  };
}
