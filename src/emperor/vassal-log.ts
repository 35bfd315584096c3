// A vassal's stdout and stderr, captured by the emperor: each line stamped with the time
// and its stream and appended to DIR/NAME.log, which is rotated to NAME.log.1 when it
// grows past its cap; `jailctl logs` reads the tail and follows new lines.
//
//   2026-11-22T23:59:18.123Z stdout listening on 127.0.0.1:8081
//
// The path is bounded, because one vassal writing as fast as it can must not take the
// emperor's core: a vassal's output costs the emperor at most BYTES_PER_SECOND (beyond it we
// stop reading, the socket fills, and the vassal's own writes block: it is slowed, the emperor
// is not), a chunk is stamped and written in one go, and at most ECHO_LINES_PER_SECOND lines
// a second are echoed to the emperor's output, the rest counted in a "N lines dropped" note.
//
// Without a directory (emperor-logs-dir = none) nothing is written to disk: the lines are
// still read through the vassal's own pipes (it never gets the emperor's terminal), echoed,
// and the last MEMORY_LINES kept for `jailctl logs`.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { binding, type FdWatcher } from '../native/binding';

export type Stream = 'stdout' | 'stderr';

/** The longest line kept whole; a longer one is cut into pieces of this size. */
const MAX_LINE = 16 * 1024;
/** Lines kept in memory when there is no log file. */
const MEMORY_LINES = 200;
/** What one wake-up reads at most. */
const READ_BYTES = 64 * 1024;

// One read of what the vassal wrote into its pipe (our end is non-blocking: EAGAIN is thrown).
function readSome(fd: number): Buffer {
  const buf = Buffer.allocUnsafe(READ_BYTES);
  return buf.subarray(0, readSync(fd, buf, 0, READ_BYTES, null));
}
/** What a vassal's output may cost the emperor, both streams together. */
export const BYTES_PER_SECOND = 1024 * 1024;
/** Lines a second echoed to the emperor's own output; the log file keeps every line. */
export const ECHO_LINES_PER_SECOND = 100;

interface Reader {
  readonly fd: number;
  readonly stream: Stream;
  watcher: FdWatcher | undefined;
  /** Set while the reader waits for the budget to refill (not reading is the backpressure). */
  resume: NodeJS.Timeout | undefined;
}

export class VassalLog {
  /** DIR/NAME.log; undefined without a directory (lines are kept in memory only). */
  readonly path: string | undefined;
  private fd: number | undefined;
  private readonly memory: string[] = [];
  private size = 0;
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };
  private readonly followers = new Set<(line: string) => void>();
  private readonly readers = new Set<Reader>();
  /** Bytes that may still be read now (a token bucket, refilled at BYTES_PER_SECOND). */
  private budget = READ_BYTES;
  private refilled = Date.now();
  private echoWindow = 0;
  private echoed = 0;
  private dropped = 0;
  private dropNote: NodeJS.Timeout | undefined;

  constructor(dir: string | undefined, private readonly name: string, private readonly maxBytes: number, private readonly echo: (stream: Stream, line: string) => void) {
    this.path = dir === undefined ? undefined : join(dir, `${name}.log`);
  }

  // Reads `fd` (our end of the vassal's stdout or stderr) until EOF, then closes it.
  attach(fd: number, stream: Stream): void {
    const reader: Reader = { fd, stream, watcher: undefined, resume: undefined };
    this.readers.add(reader);
    this.watch(reader);
  }

  private watch(reader: Reader): void {
    reader.resume = undefined;
    const watcher: FdWatcher = new binding.FdWatcher(reader.fd, (events) => this.onReadable(reader, events));
    watcher.unref();
    reader.watcher = watcher;
  }

  private onReadable(reader: Reader, events: number): void {
    const now = Date.now();
    this.budget = Math.min(READ_BYTES, this.budget + ((now - this.refilled) * BYTES_PER_SECOND) / 1000);
    this.refilled = now;
    if (this.budget <= 0) {
      this.pause(reader);
      return;
    }
    let data: Buffer | undefined;
    try {
      data = events < 0 ? undefined : readSome(reader.fd);
    } catch (err: unknown) {
      // The vassal's end is broken (ECONNRESET): as good as EOF. A wake-up without data
      // (EAGAIN) waits for the next one.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
      data = undefined;
    }
    if (data && data.length > 0) {
      this.budget -= data.length;
      this.take(reader.stream, data.toString('utf8'));
      if (this.budget <= 0) this.pause(reader);
      return;
    }
    // EOF (the jail is gone) or an error: what is left is a last line without newline.
    this.closeReader(reader);
    if (this.partial[reader.stream] !== '') this.lines(reader.stream, [this.partial[reader.stream]]);
    this.partial[reader.stream] = '';
  }

  // Over budget: not reading until it refills.
  private pause(reader: Reader): void {
    reader.watcher?.close();
    reader.watcher = undefined;
    const wait = Math.ceil(((READ_BYTES / 4 - this.budget) * 1000) / BYTES_PER_SECOND);
    reader.resume = setTimeout(() => this.watch(reader), Math.max(1, wait));
    reader.resume.unref();
  }

  private closeReader(reader: Reader): void {
    reader.watcher?.close();
    if (reader.resume) clearTimeout(reader.resume);
    closeSync(reader.fd);
    this.readers.delete(reader);
  }

  private take(stream: Stream, text: string): void {
    const parts = (this.partial[stream] + text).split('\n');
    let rest = parts.pop()!;
    const out: string[] = [];
    for (const p of parts) {
      if (p.length <= MAX_LINE) out.push(p);
      else for (let i = 0; i < p.length; i += MAX_LINE) out.push(p.slice(i, i + MAX_LINE));
    }
    while (rest.length > MAX_LINE) {
      out.push(rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.partial[stream] = rest;
    if (out.length > 0) this.lines(stream, out);
  }

  // Lines read together share one stamp: they arrived in the same read.
  private lines(stream: Stream, texts: readonly string[]): void {
    const head = `${new Date().toISOString()} ${stream} `;
    const records = texts.map((t) => head + (t.endsWith('\r') ? t.slice(0, -1) : t));
    for (const t of texts) this.echoLine(stream, t);
    this.append(records);
    for (const f of this.followers) for (const r of records) f(r);
  }

  private echoLine(stream: Stream, text: string): void {
    const window = Math.floor(Date.now() / 1000);
    if (window !== this.echoWindow) {
      this.noteDropped();
      this.echoWindow = window;
      this.echoed = 0;
    }
    if (this.echoed < ECHO_LINES_PER_SECOND) {
      this.echoed++;
      this.echo(stream, text);
      return;
    }
    this.dropped++;
    // Said at the next line of a later second, or a second from now if none comes.
    if (!this.dropNote) {
      this.dropNote = setTimeout(() => this.noteDropped(), 1000);
      this.dropNote.unref();
    }
  }

  private noteDropped(): void {
    if (this.dropNote) clearTimeout(this.dropNote);
    this.dropNote = undefined;
    if (this.dropped === 0) return;
    this.echo('stderr', `${this.dropped} line(s) dropped from the emperor's output (more than ${ECHO_LINES_PER_SECOND} a second)${this.path ? `; ${this.name}.log has them all` : ''}`);
    this.dropped = 0;
  }

  // Written in as few writes as the cap allows: one per chunk, two when it rotates.
  private append(records: readonly string[]): void {
    if (this.path === undefined) {
      this.memory.push(...records.slice(-MEMORY_LINES));
      if (this.memory.length > MEMORY_LINES) this.memory.splice(0, this.memory.length - MEMORY_LINES);
      return;
    }
    try {
      if (this.fd === undefined) {
        this.fd = openSync(this.path, 'a', 0o640);
        this.size = fstatSync(this.fd).size;
      }
      let batch = '';
      for (const r of records) {
        if (this.size + batch.length + r.length + 1 > this.maxBytes && this.size + batch.length > 0) {
          if (batch !== '') this.size += writeSync(this.fd!, batch);
          batch = '';
          this.rotate();
        }
        batch += `${r}\n`;
      }
      if (batch !== '') this.size += writeSync(this.fd!, batch);
    } catch (err: unknown) {
      // A full disk must not stop the vassal or the emperor: the lines are still echoed.
      void err;
    }
  }

  private rotate(): void {
    const path = this.path!;
    if (this.fd !== undefined) closeSync(this.fd);
    renameSync(path, `${path}.1`);
    this.fd = openSync(path, 'a', 0o640);
    this.size = 0;
  }

  // The last `n` lines (the rotated file first, if the current one holds fewer).
  tail(n: number): string[] {
    if (this.path === undefined) return this.memory.slice(Math.max(0, this.memory.length - n));
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
    for (const r of [...this.readers]) this.closeReader(r);
    this.noteDropped();
    this.followers.clear();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
