// glob://PATTERN: every vassal config whose path matches PATTERN (`/srv/*/jail/*.ini`). Each
// directory that can hold a match is watched with inotify (inotify.ts); any event there
// rescans the pattern (coalesced), stat'ing only what inotify named. At rest, as for dir://:
// while every directory is watched, each emperor-freq stats only the symlinks and a full
// pass comes every SAFETY_NET_PERIODS-th period; lost events (an overflow, a watch gone)
// bring a full pass at once, and a directory inotify refuses means a full pass every period.
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { DirWatches } from './inotify';
import { diffOne, isVassalFileName, readSource, SAFETY_NET_PERIODS } from './scan';
import type { Monitor, MonitorEvent, MonitorOptions, VassalSource } from './types';

export class GlobMonitor implements Monitor {
  readonly spec: string;
  readonly pattern: string;
  /** The pattern's directory part before its first wildcard. */
  readonly base: string;
  private readonly segments: string[];
  private readonly known = new Map<string, VassalSource>();
  private readonly watches: DirWatches;
  private emit: (e: MonitorEvent) => void = () => undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  /** Paths inotify named since the last pass ('': events were lost, stat everything). */
  private readonly dirty = new Set<string>();
  /** Directories of the last walk that inotify refused (their errno code, said once). */
  private readonly refused = new Map<string, string>();
  private periods = 0;

  constructor(pattern: string, private readonly options: MonitorOptions) {
    this.pattern = isAbsolute(pattern) ? pattern : resolve(pattern);
    this.spec = `glob://${this.pattern}`;
    const parts = this.pattern.split(sep).filter(Boolean);
    const firstWild = parts.findIndex((p) => picomatch.scan(p).isGlob);
    const staticParts = firstWild < 0 ? parts.slice(0, -1) : parts.slice(0, firstWild);
    this.base = sep + staticParts.join(sep);
    this.segments = parts.slice(staticParts.length);
    this.watches = new DirWatches({
      changed: (dir, name) => {
        this.dirty.add(join(dir, name));
        this.schedule();
      },
      lost: (why) => {
        this.options.warn(`${this.spec}: ${why}; rescanning every file now`);
        this.dirty.add('');
        this.schedule();
      },
    });
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    this.rescan();
    this.timer = setInterval(() => this.tick(), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  // Walks the pattern. A light pass (after inotify events) stats only new files, symlinks
  // and what inotify named; a full one (the first scan, the safety net, a SIGHUP, lost
  // events, a directory inotify refused) stats all.
  rescan(full = true): void {
    if (full) this.periods = 0;
    const dirs = new Set<string>();
    const files = new Map<string, boolean>();
    this.walk(this.base, 0, dirs, files);
    for (const dir of [...this.watches.dirs()]) if (!dirs.has(dir)) this.watches.remove(dir);
    for (const dir of [...this.refused.keys()]) if (!dirs.has(dir)) this.refused.delete(dir);
    for (const dir of dirs) this.watchDir(dir);
    const thorough = full || this.watches.size < dirs.size || this.dirty.has('');
    for (const [path, isLink] of files)
      if (thorough || isLink || !this.known.has(path) || this.dirty.has(path)) diffOne(this.known, path, readSource(path, this.spec, this.options.nofollow), this.emit);
    for (const path of [...this.known.keys()])
      if (!files.has(path)) diffOne(this.known, path, undefined, this.emit);
    this.dirty.clear();
  }

  // Every emperor-freq: a full pass while a directory is not watched, or at the safety net's
  // period; else only the symlinks (their targets change where no watch of ours sees it).
  private tick(): void {
    if (this.refused.size > 0 || this.watches.size === 0 || ++this.periods >= SAFETY_NET_PERIODS) {
      this.rescan();
      return;
    }
    for (const [path, source] of this.known) if (source.link) diffOne(this.known, path, readSource(path, this.spec, this.options.nofollow), this.emit);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.watches.close();
  }

  // Collects the directories to watch and the matching files under dir, segment by segment.
  private walk(dir: string, depth: number, dirs: Set<string>, files: Map<string, boolean>): void {
    const segment = this.segments[depth];
    if (segment === undefined) return;
    dirs.add(dir);
    const last = depth === this.segments.length - 1;
    const isMatch = picomatch(segment, { dot: false });
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const name = entry.name;
      if (!isMatch(name)) continue;
      const path = join(dir, name);
      if (last) {
        if (isVassalFileName(name)) files.set(path, entry.isSymbolicLink());
      } else {
        try {
          if (statSync(path).isDirectory()) this.walk(path, depth + 1, dirs, files);
        } catch {
          // gone since readdir
        }
      }
    }
  }

  private watchDir(dir: string): void {
    const refused = this.watches.add(dir);
    if (refused === undefined) {
      this.refused.delete(dir);
      return;
    }
    if (this.refused.get(dir) === refused) return;
    this.refused.set(dir, refused);
    // Gone since the walk (ENOENT) is no news: the next pass sees it.
    if (refused === 'ENOENT') return;
    const fix = refused === 'ENOSPC' ? ': raise fs.inotify.max_user_watches (sysctl)' : refused === 'EMFILE' ? ': raise fs.inotify.max_user_instances (sysctl)' : '';
    this.options.warn(`${this.spec}: cannot watch ${dir} with inotify (inotify_add_watch: ${refused}); rescanning every ${this.options.freq} s instead${fix}`);
  }

  // Many events arrive in one burst (a checkout, a tarball): one rescan answers them all.
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.rescan(false);
    });
  }
}
