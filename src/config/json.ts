// parseJson(): a JSON vassal file, same shape as YAML: { "jail": { "option": value | [values] } }.
import type * as JsoncParser from 'jsonc-parser';
import { ConfigError } from '../errors';
import { MAX_NESTING_DEPTH } from './limits';
import { entriesOf, itemLocator, textLocator } from './structured';
import type { RawVassalConfig } from './types';

function lineOfPosition(text: string, position: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < position; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

// `ValueExpected` → `value expected`.
function describeJsonError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

// Refuses nesting deeper than MAX_NESTING_DEPTH before any parser recurses into it (jsonc-parser,
// which locates syntax errors, is recursive: 200,000 `[` would overflow its stack).
function checkNesting(text: string, file: string): void {
  let depth = 0;
  let line = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) line++;
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING_DEPTH)
        throw new ConfigError(file, line, undefined, `nested more than ${MAX_NESTING_DEPTH} levels deep (MAX_NESTING_DEPTH); a vassal file needs 3`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

// The keys on one line: each `"…"` followed by `:`, found by one scan (no pattern is built
// from the file, and a line of a million quotes costs a million steps).
export function jsonLineKeys(line: string): string[] {
  const keys: string[] = [];
  for (let i = line.indexOf('"'); i >= 0; i = line.indexOf('"', i + 1)) {
    let end = i + 1;
    while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
    if (end >= line.length) break;
    let j = end + 1;
    while (line[j] === ' ' || line[j] === '\t') j++;
    if (line[j] === ':') keys.push(line.slice(i + 1, end));
    i = end;
  }
  return keys;
}

// Entries of the `jail` (or `uwsgi`) object, with the line of each key.
export function parseJson(text: string, file: string): RawVassalConfig {
  const clean = text.replace(/^\uFEFF/, '');
  checkNesting(clean, file);
  let doc: unknown;
  try {
    doc = JSON.parse(clean);
  } catch (err: unknown) {
    if (!(err instanceof SyntaxError)) throw err;
    // V8's messages carry a position only sometimes; jsonc-parser always knows the offset.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parse: locateErrors, printParseErrorCode } = require('jsonc-parser') as typeof JsoncParser; // only on errors
    const errors: JsoncParser.ParseError[] = [];
    locateErrors(clean, errors, { allowTrailingComma: false, disallowComments: true });
    const first = errors[0];
    const line = first ? lineOfPosition(clean, first.offset) : undefined;
    const what = first ? describeJsonError(printParseErrorCode(first.error)) : err.message.replace(/ in JSON at position \d+.*$/s, '');
    throw new ConfigError(file, line, undefined, `JSON syntax error: ${what}`, { cause: err });
  }
  const keys = textLocator(clean, jsonLineKeys);
  // One element per line in a multi-line array; an inline array keeps the key's line.
  const lines = clean.split(/\r?\n/);
  const below = itemLocator(clean, (l) => /^\s*("|-?\d|true|false|null)/.test(l), (l) => l.trim() === '');
  const inline = new Map<number, boolean>(); // once per line, however many keys it holds
  const items = (keyLine: number, index: number): number | undefined => {
    let open = inline.get(keyLine);
    if (open === undefined) inline.set(keyLine, (open = /\[\s*[^\s\]]/.test(lines[keyLine - 1] ?? '')));
    return open ? keyLine : below(keyLine, index);
  };
  return entriesOf(doc, file, 'json', keys, items);
}
