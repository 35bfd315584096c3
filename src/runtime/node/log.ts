// The app server's log lines, on its stderr (under the emperor, the vassal's log pipe).
// Written with writeSync: process.stderr, a stream over that pipe, takes ~5 ms to set up,
// and a cold start is no time for it. A full pipe (EAGAIN) falls back to the stream.
import { writeSync } from 'node:fs';

// `text` as it is, on stderr.
export function writeStderr(text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(2, buf, off);
  } catch {
    process.stderr.write(buf.subarray(off));
  }
}

// One line, prefixed with the app server and its pid.
export function log(line: string): void {
  writeStderr(`[app-server ${process.pid}] ${line}\n`);
}
