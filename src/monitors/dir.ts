// dir://DIR: every vassal config directly in DIR. inotify reports a change within
// milliseconds. At rest the monitor does next to nothing: while its watch is healthy, a full
// rescan comes only every SAFETY_NET_PERIODS × emperor-freq (30 s by default), and each
// emperor-freq only the symlinks are stat'ed (a target changed elsewhere is nothing inotify
// on DIR sees). Whatever says events were lost (the queue overflowed, the watch is gone)
// rescans in full at once; with no watch (DIR missing, no inotify watch left) it polls: a
// full rescan every emperor-freq, as uWSGI does.
import { readdirSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { DirWatches } from './inotify';
import { diffOne, isVassalFileName, readSource, SAFETY_NET_PERIODS } from './scan';
import type { Monitor, MonitorEvent, MonitorOptions, VassalSource } from './types';

export class DirMonitor implements Monitor {
  readonly spec: string;
  readonly dir: string;
  private readonly known = new Map<string, VassalSource>();
  private emit: (e: MonitorEvent) => void = () => undefined;
  private readonly watches: DirWatches;
  private timer: NodeJS.Timeout | undefined;
  private missing = false;
  /** Why the directory is not watched (an errno code), said once until that changes. */
  private unwatched: string | undefined;
  private periods = 0;

  constructor(dir: string, private readonly options: MonitorOptions) {
    this.dir = resolve(dir);
    this.spec = `dir://${this.dir}`;
    this.watches = new DirWatches({
      changed: (_dir, name) => {
        if (isVassalFileName(name)) this.check(join(this.dir, name));
      },
      lost: (why) => {
        this.options.warn(`${this.spec}: ${why}; rescanning every file now`);
        this.rescan();
      },
    });
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    this.rescan();
    this.timer = setInterval(() => this.tick(), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  // A full pass: the directory listed, every file stat'ed (the first scan, the safety net,
  // a SIGHUP, and whenever events may have been lost).
  rescan(): void {
    this.periods = 0;
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(this.dir, { withFileTypes: true });
      if (this.missing) this.options.warn(`${this.spec}: the directory is back`);
      this.missing = false;
      this.watch();
    } catch (err: unknown) {
      if (!this.missing) this.options.warn(`${this.spec}: cannot read the directory (${(err as NodeJS.ErrnoException).code}); retrying every ${this.options.freq} s`);
      this.missing = true;
      this.watches.remove(this.dir);
    }
    const seen = new Set<string>();
    for (const entry of entries) {
      if (!isVassalFileName(entry.name)) continue;
      const path = join(this.dir, entry.name);
      seen.add(path);
      this.check(path);
    }
    for (const path of [...this.known.keys()]) if (!seen.has(path)) this.check(path);
  }

  // Every emperor-freq. Unwatched, this is all there is: a full pass. Watched, only the
  // symlinks are looked at, and every SAFETY_NET_PERIODS-th period is a full pass.
  private tick(): void {
    if (!this.watches.has(this.dir) || ++this.periods >= SAFETY_NET_PERIODS) {
      this.rescan();
      return;
    }
    for (const [path, source] of this.known) if (source.link) this.check(path);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.watches.close();
  }

  private check(path: string): void {
    diffOne(this.known, path, readSource(path, this.spec, this.options.nofollow), this.emit);
  }

  private watch(): void {
    const refused = this.watches.add(this.dir);
    if (refused === this.unwatched) return;
    this.unwatched = refused;
    if (refused === undefined) return;
    const fix = refused === 'ENOSPC' ? ': raise fs.inotify.max_user_watches (sysctl)' : refused === 'EMFILE' ? ': raise fs.inotify.max_user_instances (sysctl)' : '';
    this.options.warn(`${this.spec}: cannot watch the directory with inotify (inotify_add_watch: ${refused}); rescanning every ${this.options.freq} s instead${fix}`);
  }
}
