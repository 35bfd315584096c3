// dir://DIR: every vassal config directly in DIR. inotify (fs.watch) reports a change within
// milliseconds; a rescan every `freq` seconds catches what inotify cannot see (a symlink's
// target touched elsewhere, an overflowed event queue).
import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import { diffOne, isVassalFileName, readSource } from './scan';
import type { Monitor, MonitorEvent, MonitorOptions, VassalSource } from './types';

export class DirMonitor implements Monitor {
  readonly spec: string;
  readonly dir: string;
  private readonly known = new Map<string, VassalSource>();
  private emit: (e: MonitorEvent) => void = () => undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private missing = false;

  constructor(dir: string, private readonly options: MonitorOptions) {
    this.dir = resolve(dir);
    this.spec = `dir://${this.dir}`;
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    this.rescan();
    this.timer = setInterval(() => this.rescan(), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  rescan(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err: unknown) {
      if (!this.missing) this.options.warn(`${this.spec}: cannot read the directory (${(err as NodeJS.ErrnoException).code}); retrying every ${this.options.freq} s`);
      this.missing = true;
      this.closeWatcher();
      names = [];
    }
    if (names.length > 0 || !this.missing) {
      if (this.missing) this.options.warn(`${this.spec}: the directory is back`);
      this.missing = false;
      this.ensureWatcher();
    }
    const seen = new Set<string>();
    for (const name of names) {
      if (!isVassalFileName(name)) continue;
      const path = join(this.dir, name);
      seen.add(path);
      this.check(path);
    }
    for (const path of [...this.known.keys()]) if (!seen.has(path)) this.check(path);
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
