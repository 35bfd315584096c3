// What the YAML and JSON readers share: a parsed document → entries of `jail:` (or
// `uwsgi:`), with scalars as strings and lists as repeated keys.
import { ConfigError } from '../errors';
import { checkEntry, checkEntryCount } from './limits';
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
    checkEntry(file, line, key, '');
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      const at = Array.isArray(value) ? (locateItem(line, i) ?? line) : line;
      const s = scalar(v);
      if (s === undefined)
        throw new ConfigError(file, at, key, `\`${key}\` must be a value or a list of values, not a ${Array.isArray(v) ? 'nested list' : 'mapping'}`);
      checkEntryCount(file, at, entries.length + 1);
      checkEntry(file, at, key, s);
      entries.push({ key, value: s, line: at });
    });
  }
  return { file, format, section, entries };
}

// A locator built in one pass over the lines: `keysOf` names the keys a line holds (no
// pattern is ever built from the file's text), each key's lines are kept in order.
export function textLocator(text: string, keysOf: (line: string) => readonly string[]): KeyLocator {
  const lines = text.split(/\r?\n/);
  const at = new Map<string, number[]>();
  for (let i = 0; i < lines.length; i++)
    for (const key of keysOf(lines[i]!)) {
      const list = at.get(key);
      if (list) list.push(i + 1);
      else at.set(key, [i + 1]);
    }
  return (key, occurrence) => at.get(key)?.[occurrence];
}

// A locator for list elements: the index-th line after keyLine that `isItem` accepts,
// skipping blank and comment lines, stopping at the first line that is neither. Each line
// is classified once, so a list of n elements costs n, not n² (one scan per element).
export function itemLocator(text: string, isItem: (line: string) => boolean, isSkippable: (line: string) => boolean): ItemLocator {
  const lines = text.split(/\r?\n/);
  const items: number[] = []; // 0-based indexes of the item lines, in order
  const itemsBefore = new Int32Array(lines.length + 1); // item lines before index i
  const stopAt = new Int32Array(lines.length + 1); // first line at or after i that ends a list
  const kinds = new Uint8Array(lines.length); // 1 item, 2 skippable, 0 neither
  for (let i = 0; i < lines.length; i++) {
    itemsBefore[i] = items.length;
    const l = lines[i]!;
    if (isItem(l)) {
      kinds[i] = 1;
      items.push(i);
    } else if (isSkippable(l)) kinds[i] = 2;
  }
  itemsBefore[lines.length] = items.length;
  stopAt[lines.length] = lines.length;
  for (let i = lines.length - 1; i >= 0; i--) stopAt[i] = kinds[i] === 0 ? i : stopAt[i + 1]!;
  return (keyLine, index) => {
    if (keyLine < 0 || keyLine > lines.length) return undefined;
    const i = items[itemsBefore[keyLine]! + index];
    return i !== undefined && i < stopAt[keyLine]! ? i + 1 : undefined;
  };
}
