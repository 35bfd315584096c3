// The emperor works in its first vassal directory, as uWSGI's does, and its jails start
// there. A directory removed (and made again) would leave the process in the deleted one,
// whose jails then have no working directory (Node's uv_cwd() fails, and a vassal without
// `chdir` crash-loops): so the emperor moves to / while it is gone, and back in once it is back.
import { statSync } from 'node:fs';

export class WorkingDir {
  private inRoot = false;

  constructor(private readonly dir: string | undefined, private readonly log: (line: string) => void) {}

  enter(): void {
    if (this.dir === undefined) return;
    try {
      process.chdir(this.dir);
    } catch {
      this.log(`cannot chdir to ${this.dir}; staying in ${process.cwd()}`);
    }
  }

  /** Cheap (one stat): call before launches and now and then. */
  check(): void {
    if (this.dir === undefined) return;
    if (!this.inRoot && !deleted('.')) return;
    try {
      if (deleted(this.dir)) throw new Error('gone');
      process.chdir(this.dir);
      if (this.inRoot) this.log(`${this.dir} is back: working in it again`);
      else this.log(`${this.dir} was removed and made again: working in the new one`);
      this.inRoot = false;
    } catch {
      if (this.inRoot) return;
      process.chdir('/');
      this.inRoot = true;
      this.log(`${this.dir} is gone: working in / until it is back (jails started meanwhile start in /)`);
    }
  }
}

// A directory that no longer exists, or was unlinked while still open (nlink 0).
function deleted(path: string): boolean {
  try {
    return statSync(path).nlink === 0;
  } catch {
    return true;
  }
}
