// What the YAML and JSON readers share: a parsed document → entries of `jail:` (or
// `uwsgi:`), with scalars as strings and lists as repeated keys.
import { ConfigError } from '../errors';
import type { ConfigEntry, ConfigFormat, RawVassalConfig } from './types';

/** Finds the 1-based line of the n-th occurrence (0-based) of a key in the file text. */
export type KeyLocator = (key: string, occurrence: number) => number | undefined;

/** Finds the line of the index-th element of a list whose key is on keyLine. */
export type ItemLocator = (keyLine: number, index: number) => number | undefined;

function scalar(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

// Entries of the `jail` (else `uwsgi`) mapping of a parsed YAML or JSON document.
export function entriesOf(doc: unknown, file: string, format: ConfigFormat, locate: KeyLocator, locateItem: ItemLocator): RawVassalConfig {
  const top = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  const section = top && 'jail' in top ? 'jail' : top && 'uwsgi' in top ? 'uwsgi' : undefined;
  if (!top || !section)
    throw new ConfigError(file, undefined, undefined, `no top-level \`jail:\` (or \`uwsgi:\`) key; a ${format} vassal file is a mapping under \`jail\``);
  const sectionLine = locate(section, 0);
  const body = top[section];
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ConfigError(file, sectionLine, section, `\`${section}\` must be a mapping of option: value`);
  const seen = new Map<string, number>();
  const entries: ConfigEntry[] = [];
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    const line = locate(key, occurrence) ?? sectionLine ?? 1;
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      const at = Array.isArray(value) ? (locateItem(line, i) ?? line) : line;
      const s = scalar(v);
      if (s === undefined)
        throw new ConfigError(file, at, key, `\`${key}\` must be a value or a list of values, not a ${Array.isArray(v) ? 'nested list' : 'mapping'}`);
      entries.push({ key, value: s, line: at });
    });
  }
  return { file, format, section, entries };
}

// A locator that finds `key` by a per-format pattern, in order of appearance.
export function textLocator(text: string, pattern: (key: string) => RegExp): KeyLocator {
  const lines = text.split(/\r?\n/);
  return (key, occurrence) => {
    const re = pattern(key);
    let seen = 0;
    for (let i = 0; i < lines.length; i++) if (re.test(lines[i]!) && seen++ === occurrence) return i + 1;
    return undefined;
  };
}

// A locator for list elements: the index-th line after keyLine that `isItem` accepts,
// skipping blank and comment lines, stopping at the first line that is neither.
export function itemLocator(text: string, isItem: (line: string) => boolean, isSkippable: (line: string) => boolean): ItemLocator {
  const lines = text.split(/\r?\n/);
  return (keyLine, index) => {
    let seen = 0;
    for (let i = keyLine; i < lines.length; i++) {
      const l = lines[i]!;
      if (isItem(l)) {
        if (seen++ === index) return i + 1;
      } else if (!isSkippable(l)) return undefined;
    }
    return undefined;
  };
}

// Escapes a key for use inside a RegExp.
export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
