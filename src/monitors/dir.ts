// dir://DIR: every vassal config directly in DIR. inotify (fs.watch) reports a change within
// milliseconds; a rescan every `freq` seconds catches what inotify cannot see (a symlink's
// target touched elsewhere, an overflowed event queue).
import { readdirSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import { diffOne, isVassalFileName, readSource } from './scan';
import type { Monitor, MonitorEvent, MonitorOptions, VassalSource } from './types';

/** One periodic pass in this many stats every file, not only the symlinks. */
const FULL_EVERY = 10;

export class DirMonitor implements Monitor {
  readonly spec: string;
  readonly dir: string;
  private readonly known = new Map<string, VassalSource>();
  private emit: (e: MonitorEvent) => void = () => undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private missing = false;
  private passes = 0;

  constructor(dir: string, private readonly options: MonitorOptions) {
    this.dir = resolve(dir);
    this.spec = `dir://${this.dir}`;
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    this.rescan();
    this.timer = setInterval(() => this.tick(), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  // The periodic pass. inotify already reports every change to a regular file in the
  // directory, so a light pass only lists the directory (new and vanished names) and stats
  // the symlinks, whose targets can change unseen; every FULL_EVERY-th pass, or when there is
  // no watcher, every file is stat'ed (an overflowed inotify queue loses events silently).
  rescan(full = true): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.dir, { withFileTypes: true });
    } catch (err: unknown) {
      if (!this.missing) this.options.warn(`${this.spec}: cannot read the directory (${(err as NodeJS.ErrnoException).code}); retrying every ${this.options.freq} s`);
      this.missing = true;
      this.closeWatcher();
      entries = [];
    }
    if (entries.length > 0 || !this.missing) {
      if (this.missing) this.options.warn(`${this.spec}: the directory is back`);
      this.missing = false;
      this.ensureWatcher();
    }
    const thorough = full || !this.watcher;
    const seen = new Set<string>();
    for (const entry of entries) {
      if (!isVassalFileName(entry.name)) continue;
      const path = join(this.dir, entry.name);
      seen.add(path);
      if (thorough || entry.isSymbolicLink() || !this.known.has(path)) this.check(path);
    }
    for (const path of [...this.known.keys()]) if (!seen.has(path)) this.check(path);
  }

  private tick(): void {
    this.passes++;
    this.rescan(this.passes % FULL_EVERY === 0);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.closeWatcher();
  }

  private check(path: string): void {
    diffOne(this.known, path, readSource(path, this.spec, this.options.nofollow), this.emit);
  }

  private ensureWatcher(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name === null) this.rescan();
        else if (isVassalFileName(name)) this.check(join(this.dir, name));
      });
      this.watcher.on('error', () => {
        this.closeWatcher();
        this.rescan();
      });
    } catch {
      this.watcher = undefined; // the periodic rescan still works
    }
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
