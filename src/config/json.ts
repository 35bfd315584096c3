// parseJson(): a JSON vassal file, same shape as YAML: { "jail": { "option": value | [values] } }.
import type * as JsoncParser from 'jsonc-parser';
import { ConfigError } from '../errors';
import { entriesOf, escapeRe, itemLocator, textLocator } from './structured';
import type { RawVassalConfig } from './types';

function lineOfPosition(text: string, position: number): number {
  return text.slice(0, position).split('\n').length;
}

// `ValueExpected` → `value expected`.
function describeJsonError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

// Entries of the `jail` (or `uwsgi`) object, with the line of each key.
export function parseJson(text: string, file: string): RawVassalConfig {
  const clean = text.replace(/^\uFEFF/, '');
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
  const keys = textLocator(clean, (key) => new RegExp(`"${escapeRe(key)}"\\s*:`));
  // One element per line in a multi-line array; an inline array keeps the key's line.
  const items = itemLocator(clean, (l) => /^\s*("|-?\d|true|false|null)/.test(l), (l) => l.trim() === '');
  return entriesOf(doc, file, 'json', keys, items);
}
