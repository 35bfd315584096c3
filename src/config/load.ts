// readVassalConfig(): reads a vassal file and picks its parser by extension.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { parseIni } from './ini';
import { parseJson } from './json';
import type { RawVassalConfig } from './types';
import { parseXml } from './xml';
import { parseYaml } from './yaml';

// The file extensions a vassal config may have.
export const VASSAL_EXTENSIONS: readonly string[] = ['.ini', '.yml', '.yaml', '.json', '.xml'];

// `/etc/jails/web.ini` → `web`.
export function vassalName(path: string): string {
  return basename(path, extname(path));
}

/** The largest vassal file read: a config is a few kilobytes; a bigger one is a mistake
 *  (or a tenant trying to make the emperor hold gigabytes). */
export const MAX_VASSAL_FILE_BYTES = 1 << 20;

/** open(2)'s O_PATH on Linux (Node does not export it). */
const O_PATH = 0o10000000;

/** A vassal file's text and the stat of what was actually read (owner, for tyrant mode). */
export interface OpenedVassalFile {
  readonly file: string;
  readonly text: string;
  readonly stat: Stats;
}

function readError(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
  return new ConfigError(file, undefined, undefined, `cannot read: ${why} (${code})`, { cause: err });
}

// Opens, checks and reads one file through one fd, so the stat describes the bytes read
// even if the path is swapped meanwhile. Non-blocking: a FIFO put in place of the file
// must not hang the emperor; only a regular file of sane size is read.
export function openVassalFile(path: string): OpenedVassalFile {
  const file = resolve(path);
  const ext = extname(file).toLowerCase();
  if (!VASSAL_EXTENSIONS.includes(ext))
    throw new ConfigError(file, undefined, undefined, `unsupported vassal file extension \`${ext || '(none)'}\`; use .ini, .yml, .yaml, .json or .xml`);
  return openTextFile(file, MAX_VASSAL_FILE_BYTES);
}

/** A file a vassal file names for the emperor to read (seccomp = FILE): the same care. */
export function readSideFile(path: string): string {
  return openTextFile(resolve(path), 64 * 1024).text;
}

function openTextFile(file: string, maxBytes: number): OpenedVassalFile {
  // First an O_PATH fd, which names the file without opening it: a path swapped for a
  // device (a tenant's pty would become the emperor's controlling terminal; /dev/watchdog
  // is armed by an open) or a FIFO is never opened. Only a regular file is then opened for
  // reading, through that same fd, without ever taking a terminal.
  let fd: number;
  let stat: Stats;
  try {
    const named = openSync(file, O_PATH);
    try {
      stat = fstatSync(named);
      if (!stat.isFile()) throw new ConfigError(file, undefined, undefined, 'not a regular file');
      fd = openSync(`/proc/self/fd/${named}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } finally {
      closeSync(named);
    }
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw err;
    throw readError(file, err);
  }
  try {
    if (stat.size > maxBytes)
      throw new ConfigError(file, undefined, undefined, `${stat.size} bytes; this file may have at most ${maxBytes} (${maxBytes >> 10} KiB)`);
    // At most what fstat said, plus one byte to see a file that grew meanwhile: a tenant
    // appending while the emperor reads must not make it read gigabytes.
    const buf = Buffer.alloc(stat.size + 1);
    let n = 0;
    try {
      for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    } catch (err: unknown) {
      throw readError(file, err);
    }
    if (n > stat.size)
      throw new ConfigError(file, undefined, undefined,
        `has more bytes than its size (${stat.size}): it grew while read, or is no plain file (/proc, /sys); write vassal files atomically (a temporary file, then mv), it is read again at its next change`);
    return { file, text: buf.toString('utf8', 0, n), stat };
  } finally {
    closeSync(fd);
  }
}

// Parses a vassal file's text with the parser its extension names.
export function parseVassalText(file: string, text: string): RawVassalConfig {
  const ext = extname(file).toLowerCase();
  if (ext === '.ini') return parseIni(text, file);
  if (ext === '.json') return parseJson(text, file);
  if (ext === '.xml') return parseXml(text, file);
  return parseYaml(text, file);
}

// Reads and parses one vassal file; every failure is a ConfigError naming the file.
export function readVassalConfig(path: string): RawVassalConfig {
  const { file, text } = openVassalFile(path);
  return parseVassalText(file, text);
}
