// parseYaml(): a YAML vassal file. js-yaml's CORE schema: `yes`/`on` stay strings (YAML 1.2),
// while `true`, `5` and `null` become values that we turn back into text.
import type * as JsYaml from 'js-yaml';
import { ConfigError } from '../errors';
import { MAX_NESTING_DEPTH } from './limits';
import { entriesOf, itemLocator, textLocator } from './structured';
import type { RawVassalConfig } from './types';

// Loaded on first use: js-yaml costs the emperor ~7 MB of RSS, and most hosts use ini.
let jsYaml: typeof JsYaml | undefined;

// The key a block mapping line starts with: `  "uid" : 1` → uid, `a:b: c` → a:b (a plain
// key ends at the first `:` followed by a space or the end of the line).
export function yamlLineKeys(line: string): string[] {
  const text = line.trimStart();
  const q = text[0];
  if (q === '"' || q === "'") {
    const end = text.indexOf(q, 1);
    if (end < 0) return [];
    let i = end + 1;
    while (text[i] === ' ' || text[i] === '\t') i++;
    return text[i] === ':' ? [text.slice(1, end)] : [];
  }
  for (let i = text.indexOf(':'); i > 0; i = text.indexOf(':', i + 1))
    if (i + 1 === text.length || text[i + 1] === ' ' || text[i + 1] === '\t') return [text.slice(0, i).trimEnd()];
  return [];
}

// Entries of the `jail:` (or `uwsgi:`) mapping, with the line of each key. Every failure of
// the parser is this file's config error, a stack overflow on deep nesting too.
export function parseYaml(text: string, file: string): RawVassalConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CORE_SCHEMA, load, YAMLException } = (jsYaml ??= require('js-yaml') as typeof JsYaml);
  const clean = text.replace(/^\uFEFF/, '');
  let doc: unknown;
  try {
    doc = load(clean, { schema: CORE_SCHEMA, filename: file, json: false });
  } catch (err: unknown) {
    if (err instanceof YAMLException)
      throw new ConfigError(file, err.mark ? err.mark.line + 1 : undefined, undefined, err.reason || 'YAML syntax error', { cause: err });
    if (err instanceof RangeError)
      throw new ConfigError(file, undefined, undefined,
        `nested too deeply for the YAML parser (${err.message}); a vassal file needs 3 levels, at most ${MAX_NESTING_DEPTH} are meant (MAX_NESTING_DEPTH)`, { cause: err });
    throw new ConfigError(file, undefined, undefined, `the YAML parser failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const keys = textLocator(clean, yamlLineKeys);
  const items = itemLocator(clean, (l) => /^\s*-(\s|$)/.test(l), (l) => /^\s*(#.*)?$/.test(l));
  return entriesOf(doc, file, 'yaml', keys, items);
}
