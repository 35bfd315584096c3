// A vassal's stdout and stderr, captured by the emperor: each line stamped with the time
// and its stream and appended to DIR/NAME.log, which is rotated to NAME.log.1 when it
// grows past its cap; `jailctl logs` reads the tail and follows new lines.
//
//   2026-11-22T23:59:18.123Z stdout listening on 127.0.0.1:8081
import { closeSync, existsSync, fstatSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { binding, type FdWatcher } from '../native/binding';

export type Stream = 'stdout' | 'stderr';

/** The longest line kept whole; a longer one is cut into pieces of this size. */
const MAX_LINE = 16 * 1024;

export class VassalLog {
  readonly path: string;
  private fd: number | undefined;
  private size = 0;
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };
  private readonly followers = new Set<(line: string) => void>();
  private readonly watchers = new Map<FdWatcher, number>();

  constructor(dir: string, name: string, private readonly maxBytes: number, private readonly echo: (stream: Stream, line: string) => void) {
    this.path = join(dir, `${name}.log`);
  }

  // Reads `fd` (our end of the vassal's stdout or stderr) until EOF, then closes it.
  attach(fd: number, stream: Stream): void {
    const watcher: FdWatcher = new binding.FdWatcher(fd, (events) => {
      let data: Buffer | undefined;
      try {
        data = events < 0 ? undefined : binding.recvFds(fd, 65536, 0).data;
      } catch {
        data = undefined;
      }
      if (data && data.length > 0) {
        this.take(stream, data.toString('utf8'));
        return;
      }
      // EOF (the jail is gone) or an error: what is left is a last line without newline.
      watcher.close();
      this.watchers.delete(watcher);
      closeSync(fd);
      if (this.partial[stream] !== '') this.line(stream, this.partial[stream]);
      this.partial[stream] = '';
    });
    watcher.unref();
    this.watchers.set(watcher, fd);
  }

  private take(stream: Stream, text: string): void {
    let rest = this.partial[stream] + text;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      this.line(stream, rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
    while (rest.length > MAX_LINE) {
      this.line(stream, rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.partial[stream] = rest;
  }

  private line(stream: Stream, text: string): void {
    const record = `${new Date().toISOString()} ${stream} ${text.replace(/\r$/, '')}`;
    this.echo(stream, text);
    this.append(`${record}\n`);
    for (const f of this.followers) f(record);
  }

  private append(text: string): void {
    try {
      if (this.fd === undefined) {
        this.fd = openSync(this.path, 'a', 0o640);
        this.size = fstatSync(this.fd).size;
      }
      if (this.size + text.length > this.maxBytes) this.rotate();
      this.size += writeSync(this.fd!, text);
    } catch {
      // A full disk must not stop the vassal or the emperor: the line is still echoed.
    }
  }

  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = 0;
  }

  // The last `n` lines (the rotated file first, if the current one holds fewer).
  tail(n: number): string[] {
    const lines: string[] = [];
    for (const file of [this.path, `${this.path}.1`]) {
      if (lines.length >= n || !existsSync(file)) continue;
      const got = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      lines.unshift(...got.slice(Math.max(0, got.length - (n - lines.length))));
    }
    return lines;
  }

  follow(f: (line: string) => void): () => void {
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  close(): void {
    for (const [w, fd] of this.watchers) {
      w.close();
      closeSync(fd);
    }
    this.watchers.clear();
    this.followers.clear();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
