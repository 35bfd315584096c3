// What the YAML and JSON readers share: a parsed document → entries of `jail:` (or
// `uwsgi:`), with scalars as strings and lists as repeated keys.
import { ConfigError } from '../errors';
import type { ConfigEntry, ConfigFormat, RawVassalConfig } from './types';

/** Finds the 1-based line of the n-th occurrence (0-based) of a key in the file text. */
export type KeyLocator = (key: string, occurrence: number) => number | undefined;

function scalar(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

// Entries of the `jail` (else `uwsgi`) mapping of a parsed YAML or JSON document.
export function entriesOf(doc: unknown, file: string, format: ConfigFormat, locate: KeyLocator): RawVassalConfig {
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
    for (const v of values) {
      const s = scalar(v);
      if (s === undefined)
        throw new ConfigError(file, line, key, `\`${key}\` must be a value or a list of values, not a ${Array.isArray(v) ? 'nested list' : 'mapping'}`);
      entries.push({ key, value: s, line });
    }
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

// Escapes a key for use inside a RegExp.
export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
