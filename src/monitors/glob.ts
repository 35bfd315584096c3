// glob://PATTERN: every vassal config whose path matches PATTERN (`/srv/*/jail/*.ini`). Each
// directory that can hold a match is watched with inotify; any event there rescans the
// pattern (coalesced), and a rescan every `freq` seconds is the safety net.
import { readdirSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { diffOne, isVassalFileName, readSource } from './scan';
import type { Monitor, MonitorEvent, MonitorOptions, VassalSource } from './types';

const FULL_EVERY = 10;

export class GlobMonitor implements Monitor {
  readonly spec: string;
  readonly pattern: string;
  /** The pattern's directory part before its first wildcard. */
  readonly base: string;
  private readonly segments: string[];
  private readonly known = new Map<string, VassalSource>();
  private readonly watchers = new Map<string, FSWatcher>();
  private emit: (e: MonitorEvent) => void = () => undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  /** Paths inotify named since the last pass. */
  private readonly dirty = new Set<string>();
  private passes = 0;

  constructor(pattern: string, private readonly options: MonitorOptions) {
    this.pattern = isAbsolute(pattern) ? pattern : resolve(pattern);
    this.spec = `glob://${this.pattern}`;
    const parts = this.pattern.split(sep).filter(Boolean);
    const firstWild = parts.findIndex((p) => picomatch.scan(p).isGlob);
    const staticParts = firstWild < 0 ? parts.slice(0, -1) : parts.slice(0, firstWild);
    this.base = sep + staticParts.join(sep);
    this.segments = parts.slice(staticParts.length);
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    this.rescan();
    this.timer = setInterval(() => this.rescan(++this.passes % FULL_EVERY === 0), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  // Walks the pattern. As for dir://, a light pass stats only new files and symlinks
  // (inotify reports changes to the others); every FULL_EVERY-th periodic pass stats all.
  rescan(full = true): void {
    const dirs = new Set<string>();
    const files = new Map<string, boolean>();
    this.walk(this.base, 0, dirs, files);
    for (const [dir, w] of this.watchers) if (!dirs.has(dir)) { w.close(); this.watchers.delete(dir); }
    for (const dir of dirs) this.watchDir(dir);
    const thorough = full || this.watchers.size < dirs.size || this.dirty.has('');
    for (const [path, isLink] of files)
      if (thorough || isLink || !this.known.has(path) || this.dirty.has(path)) diffOne(this.known, path, readSource(path, this.spec, this.options.nofollow), this.emit);
    for (const path of [...this.known.keys()])
      if (!files.has(path)) diffOne(this.known, path, undefined, this.emit);
    this.dirty.clear();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
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
    if (this.watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        this.dirty.add(name === null ? '' : join(dir, name)); // '' : unknown, stat everything
        this.schedule();
      });
      w.on('error', () => {
        w.close();
        this.watchers.delete(dir);
        this.schedule();
      });
      this.watchers.set(dir, w);
    } catch {
      // unreadable now; the periodic rescan retries
    }
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
