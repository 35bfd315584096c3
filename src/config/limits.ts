// What one vassal file may cost the emperor. In tyrant mode every file is hostile input, and
// the emperor reads it on its own event loop: each bound below keeps the work for one file
// linear and small, far above anything a sysadmin writes, and each refusal says which limit
// was hit and what to do instead. The file size itself is bounded in load.ts.
import { ConfigError } from '../errors';

/** Entries in one file (a list element counts as one): a real vassal has tens. */
export const MAX_ENTRIES_PER_FILE = 10_000;

/** Characters in a key: option names are under 40, placeholders are names too. */
export const MAX_KEY_LENGTH = 256;

/** Characters in one value, as written and after expansion. The executor's wire format
 *  holds at most 65535 bytes per value; a command line or an environment value is far less. */
export const MAX_VALUE_LENGTH = 32_768;

/** Characters all the expanded values of one vassal add up to (every layer). */
export const MAX_EXPANDED_TOTAL = 4 << 20;

/** How deep `%(a)` may refer to a value that itself came from `%(b)`, and so on. */
export const MAX_PLACEHOLDER_DEPTH = 32;

/** Nesting of lists and mappings in a YAML or JSON file: a vassal file needs 3 levels. */
export const MAX_NESTING_DEPTH = 64;

/** Warnings kept for one vassal (unresolved placeholders…); the rest are counted. */
export const MAX_WARNINGS = 50;

// `abc…` (the first few characters of a long or odd text), for messages.
export function excerpt(text: string, max = 60): string {
  const printable = text.replace(/[\0-\x1f\x7f]/g, (c) => (c === '\0' ? '\\0' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '?'));
  return printable.length > max ? `${printable.slice(0, max)}… (${text.length} characters)` : printable;
}

// Refuses an entry no sysadmin would write: a huge key or value, or a NUL byte (a C string
// ends there, so what ran would not be what the file says).
export function checkEntry(file: string, line: number | undefined, key: string, value: string): void {
  if (key.length > MAX_KEY_LENGTH)
    throw new ConfigError(file, line, undefined,
      `a key of ${key.length} characters (\`${excerpt(key, 40)}\`); the limit is ${MAX_KEY_LENGTH} (MAX_KEY_LENGTH): option and placeholder names are short`);
  if (value.length > MAX_VALUE_LENGTH)
    throw new ConfigError(file, line, key,
      `\`${key}\` has a value of ${value.length} characters; the limit is ${MAX_VALUE_LENGTH} (MAX_VALUE_LENGTH): put long data in a file the vassal reads`);
  if (key.includes('\0') || value.includes('\0'))
    throw new ConfigError(file, line, key, `\`${excerpt(key, 40)}\` contains a NUL byte; a vassal file is text: remove it`);
}

// Refuses the entry after the MAX_ENTRIES_PER_FILE-th, naming the line it is on.
export function checkEntryCount(file: string, line: number | undefined, count: number): void {
  if (count > MAX_ENTRIES_PER_FILE)
    throw new ConfigError(file, line, undefined,
      `more than ${MAX_ENTRIES_PER_FILE} entries (MAX_ENTRIES_PER_FILE); a vassal file has tens: split the vassal, or move data out of its config`);
}
