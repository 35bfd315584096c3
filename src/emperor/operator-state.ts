// What operators said with `jailctl stop` / `jailctl start`, kept on disk so that it holds
// across emperor restarts and upgrades: emperor-state-dir/stopped.json, a list of the
// vassals' names, root's only. The emperor is root when it reads and writes it, so nothing
// on the way there may be a tenant's: every directory from / down is root's (or the
// emperor's own user's), and none is writable by others unless sticky (/tmp).
import { chownSync, closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EmperorOptionError } from './options';

const FILE = 'stopped.json';
/** More than any list of names a sane emperor has (1,000 names of 64 bytes is 66 kB). */
const MAX_BYTES = 4 * 1024 * 1024;

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

// Why `path` (a directory on the way to the state) could be changed by someone else than
// root or `uid`, or undefined when it cannot.
function untrusted(path: string, uid: number, last: boolean): string | undefined {
  const st = lstatSync(path);
  if (!st.isDirectory()) return `${path} is not a directory`;
  if (st.uid !== 0 && st.uid !== uid) return `${path} belongs to uid ${st.uid}, not root`;
  const sticky = (st.mode & 0o1000) !== 0; // S_ISVTX
  if ((st.mode & 0o022) !== 0 && (last || !sticky)) return `${path} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}

/** The names operators stopped, as kept in emperor-state-dir. */
export class OperatorState {
  private readonly stopped: Set<string>;

  private constructor(readonly dir: string | undefined, names: readonly string[], private readonly owner: Owner | undefined) {
    this.stopped = new Set(names);
  }

  /** Nothing kept (emperor-state-dir = none). */
  static none(): OperatorState {
    return new OperatorState(undefined, [], undefined);
  }

  // Makes the directory (0700) if need be, checks the way to it, reads what is there.
  // `owner`: the user the emperor drops to, who must still write it. Throws
  // EmperorOptionError naming the path and the fix.
  static open(dir: string, owner?: Owner): OperatorState {
    const where = `emperor-state-dir ${dir}`;
    let real: string;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (owner) chownSync(dir, owner.uid, owner.gid);
      real = realpathSync(dir);
    } catch (err: unknown) {
      throw new EmperorOptionError(`${where}: cannot create it (${(err as NodeJS.ErrnoException).code}); give another, or none`);
    }
    for (let p = real, last = true; ; p = dirname(p), last = false) {
      const why = untrusted(p, owner?.uid ?? process.geteuid!(), last);
      if (why) throw new EmperorOptionError(`${where}: ${why}: someone else could change what the emperor, as root, reads there; use a directory only root can write (chmod go-w, chown root), or none`);
      if (p === '/') break;
    }
    const state = new OperatorState(real, [], owner);
    for (const name of state.read()) state.stopped.add(name);
    return state;
  }

  has(name: string): boolean {
    return this.stopped.has(name);
  }

  get names(): string[] {
    return [...this.stopped].sort();
  }

  // Records a stop (`stopped` true) or a start; throws an Error naming the file, the
  // errno and the fix when it could not be written (the list in memory is changed anyway).
  set(name: string, stopped: boolean): void {
    if (this.stopped.has(name) === stopped) return;
    if (stopped) this.stopped.add(name);
    else this.stopped.delete(name);
    this.write();
  }

  // The list, written whole to a new file renamed over the old one: a crash leaves the
  // old list or the new one, never half of either.
  private write(): void {
    if (!this.dir) return;
    const path = join(this.dir, FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      try {
        unlinkSync(tmp);
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ stopped: this.names })}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new Error(`cannot write ${path} (${code}): this stop or start is not kept across a restart of the emperor; free the disk or fix the directory's permissions, then stop or start the vassal again`, { cause: err });
    }
  }

  // What the file says; none when there is none. Anything but a small regular file of
  // ours, not readable by others, is refused (with the path and the fix).
  private read(): string[] {
    const path = join(this.dir!, FILE);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new EmperorOptionError(`emperor-state-dir: cannot read ${path} (${(err as NodeJS.ErrnoException).code}); remove it (every vassal then starts), or give another emperor-state-dir`);
    }
    let text: string;
    try {
      const st = fstatSync(fd);
      const uid = this.owner?.uid ?? process.geteuid!();
      if (!st.isFile() || st.size > MAX_BYTES) throw new EmperorOptionError(`emperor-state-dir: ${path} is not a regular file of at most ${MAX_BYTES} bytes; remove it`);
      if ((st.uid !== 0 && st.uid !== uid) || (st.mode & 0o077) !== 0)
        throw new EmperorOptionError(`emperor-state-dir: ${path} is uid ${st.uid}'s with mode ${(st.mode & 0o777).toString(8)}, not root's own (0600); remove it, or chown root and chmod 600 it`);
      const buf = Buffer.alloc(st.size);
      const n = st.size === 0 ? 0 : readSync(fd, buf, 0, st.size, 0);
      text = buf.toString('utf8', 0, n);
    } finally {
      closeSync(fd);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err: unknown) {
      throw new EmperorOptionError(`emperor-state-dir: ${path}: not JSON (${(err as Error).message}); remove it (every vassal then starts)`);
    }
    const list = (parsed as { stopped?: unknown } | null)?.stopped;
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string'))
      throw new EmperorOptionError(`emperor-state-dir: ${path}: expected {"stopped": [names]}; remove it (every vassal then starts)`);
    return list as string[];
  }
}
