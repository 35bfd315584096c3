// parseJson(): a JSON vassal file, same shape as YAML: { "jail": { "option": value | [values] } }.
import { ConfigError } from '../errors';
import { entriesOf, escapeRe, itemLocator, textLocator } from './structured';
import type { RawVassalConfig } from './types';

function lineOfPosition(text: string, position: number): number {
  return text.slice(0, position).split('\n').length;
}

// Entries of the `jail` (or `uwsgi`) object, with the line of each key.
export function parseJson(text: string, file: string): RawVassalConfig {
  const clean = text.replace(/^\uFEFF/, '');
  let doc: unknown;
  try {
    doc = JSON.parse(clean);
  } catch (err: unknown) {
    if (!(err instanceof SyntaxError)) throw err;
    const pos = /at position (\d+)/.exec(err.message);
    const line = pos ? lineOfPosition(clean, Number(pos[1])) : undefined;
    throw new ConfigError(file, line, undefined, `JSON syntax error: ${err.message.replace(/ in JSON at position \d+.*$/, '')}`, { cause: err });
  }
  const keys = textLocator(clean, (key) => new RegExp(`"${escapeRe(key)}"\\s*:`));
  // One element per line in a multi-line array; an inline array keeps the key's line.
  const items = itemLocator(clean, (l) => /^\s*("|-?\d|true|false|null)/.test(l), (l) => l.trim() === '');
  return entriesOf(doc, file, 'json', keys, items);
}
