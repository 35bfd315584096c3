// parseYaml(): a YAML vassal file. js-yaml's CORE schema: `yes`/`on` stay strings (YAML 1.2),
// while `true`, `5` and `null` become values that we turn back into text.
import type * as JsYaml from 'js-yaml';
import { ConfigError } from '../errors';
import { entriesOf, escapeRe, itemLocator, textLocator } from './structured';
import type { RawVassalConfig } from './types';

// Entries of the `jail:` (or `uwsgi:`) mapping, with the line of each key.
// Loaded on first use: js-yaml costs the emperor ~7 MB of RSS, and most hosts use ini.
let jsYaml: typeof JsYaml | undefined;

export function parseYaml(text: string, file: string): RawVassalConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CORE_SCHEMA, load, YAMLException } = (jsYaml ??= require('js-yaml') as typeof JsYaml);
  let doc: unknown;
  try {
    doc = load(text.replace(/^\uFEFF/, ''), { schema: CORE_SCHEMA, filename: file, json: false });
  } catch (err: unknown) {
    if (err instanceof YAMLException)
      throw new ConfigError(file, err.mark ? err.mark.line + 1 : undefined, undefined, err.reason || 'YAML syntax error', { cause: err });
    throw err;
  }
  const keys = textLocator(text, (key) => new RegExp(`^\\s*["']?${escapeRe(key)}["']?\\s*:`));
  const items = itemLocator(text, (l) => /^\s*-(\s|$)/.test(l), (l) => /^\s*(#.*)?$/.test(l));
  return entriesOf(doc, file, 'yaml', keys, items);
}
