// Directory watches on an inotify instance of the monitor's own (native/binding/inotify.cc).
// fs.watch cannot serve a monitor that rescans only when it must: libuv drops IN_Q_OVERFLOW
// silently, so a monitor on it never learns that it lost events. Here a lost event always
// says so: the queue overflowed (every directory of this instance), or a directory's watch
// is gone (the directory removed, moved away or unmounted); the monitor then rescans in full.
import { closeSync } from 'node:fs';
import { binding, type FdWatcher } from '../native/binding';

// <sys/inotify.h>, the kernel's ABI.
const IN_MODIFY = 0x2;
const IN_ATTRIB = 0x4;
const IN_MOVED_FROM = 0x40;
const IN_MOVED_TO = 0x80;
const IN_CREATE = 0x100;
const IN_DELETE = 0x200;
const IN_DELETE_SELF = 0x400;
const IN_MOVE_SELF = 0x800;
const IN_UNMOUNT = 0x2000;
const IN_Q_OVERFLOW = 0x4000;
const IN_IGNORED = 0x8000;
const IN_ONLYDIR = 0x01000000;

/** What fs.watch asks for (libuv's set), on directories only. */
const DIR_MASK = IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;

export interface DirWatchEvents {
  /** Something happened to the entry `name` of the watched directory `dir`. */
  changed(dir: string, name: string): void;
  /** Events were lost: rescan in full. `dir` is the directory whose watch is gone (no longer
   *  watched; add it again once it is back), undefined when the queue overflowed. */
  lost(why: string, dir?: string): void;
}

export class DirWatches {
  private fd: number | undefined;
  private poll: FdWatcher | undefined;
  private readonly byDir = new Map<string, number>();
  /** Two paths of one directory (a symlink, a bind mount) share a watch descriptor. */
  private readonly byWd = new Map<number, Set<string>>();

  constructor(private readonly on: DirWatchEvents) {}

  get size(): number {
    return this.byDir.size;
  }

  has(dir: string): boolean {
    return this.byDir.has(dir);
  }

  /** The watched directories. */
  dirs(): IterableIterator<string> {
    return this.byDir.keys();
  }

  // Watches `dir`: undefined once it is watched, else the errno code of the refusal (ENOENT,
  // EACCES, ENOTDIR; ENOSPC: fs.inotify.max_user_watches is used up; EMFILE: no instance left).
  add(dir: string): string | undefined {
    if (this.byDir.has(dir)) return undefined;
    try {
      const fd = this.open();
      const wd = binding.inotifyAddWatch(fd, dir, DIR_MASK);
      this.byDir.set(dir, wd);
      const paths = this.byWd.get(wd) ?? new Set<string>();
      paths.add(dir);
      this.byWd.set(wd, paths);
      return undefined;
    } catch (err: unknown) {
      return (err as NodeJS.ErrnoException).code ?? 'EIO';
    }
  }

  // Stops watching `dir` (its IN_IGNORED, still to come, then names nothing).
  remove(dir: string): void {
    const wd = this.byDir.get(dir);
    if (wd === undefined) return;
    this.byDir.delete(dir);
    const paths = this.byWd.get(wd);
    paths?.delete(dir);
    if (paths && paths.size > 0) return;
    this.byWd.delete(wd);
    if (this.fd !== undefined) binding.inotifyRmWatch(this.fd, wd);
  }

  close(): void {
    this.poll?.close();
    if (this.fd !== undefined) closeSync(this.fd);
    this.poll = this.fd = undefined;
    this.byDir.clear();
    this.byWd.clear();
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    const fd = binding.inotifyInit();
    this.fd = fd;
    this.poll = new binding.FdWatcher(fd, () => this.read(fd));
    this.poll.unref(); // as fs.watch's persistent: false: the emperor keeps itself alive
    return fd;
  }

  private read(fd: number): void {
    if (this.fd !== fd) return;
    let events;
    try {
      events = binding.inotifyRead(fd);
    } catch (err: unknown) {
      this.on.lost(`cannot read inotify events (${(err as NodeJS.ErrnoException).code})`);
      return;
    }
    for (const e of events) {
      if (e.mask & IN_Q_OVERFLOW) {
        this.on.lost('the inotify queue overflowed (fs.inotify.max_queued_events), events were lost');
        continue;
      }
      const paths = this.byWd.get(e.wd);
      if (!paths) continue; // a watch removed meanwhile
      if (e.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        for (const dir of [...paths]) {
          this.remove(dir);
          this.on.lost(`the watch of ${dir} is gone (${e.mask & IN_MOVE_SELF ? 'moved away' : e.mask & IN_UNMOUNT ? 'unmounted' : 'removed'})`, dir);
        }
        continue;
      }
      if (e.name !== '') for (const dir of paths) this.on.changed(dir, e.name);
    }
  }
}
