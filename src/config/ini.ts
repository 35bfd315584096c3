// parseIni(): the uWSGI ini dialect. Unlike the npm `ini` package, repeated keys accumulate
// in order (`exec-as-root` appears many times), every entry keeps its line number, and values
// are literal: commands contain `;`, `#`, `=` and quotes that must reach the shell untouched.
import { ConfigError } from '../errors';
import { checkEntry, checkEntryCount, excerpt } from './limits';
import type { ConfigEntry, RawVassalConfig } from './types';

const SECTION_RE = /^\[([^\]]*)\]\s*$/;

// One vassal file's `[jail]` section (or `[uwsgi]` when there is no `[jail]`).
export function parseIni(text: string, file: string): RawVassalConfig {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const sections = new Map<string, ConfigEntry[]>();
  let current: ConfigEntry[] | undefined;
  let count = 0;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const lineNo = i + 1;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = SECTION_RE.exec(line);
    if (section) {
      const name = section[1]!.trim();
      current = sections.get(name) ?? [];
      sections.set(name, current);
      return;
    }
    if (current === undefined)
      throw new ConfigError(file, lineNo, undefined, `\`${excerpt(line)}\` comes before any section; a vassal file starts with [jail]`);
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigError(file, lineNo, undefined, `expected "key = value", got "${excerpt(line)}"`);
    const key = line.slice(0, eq).trim();
    if (key === '') throw new ConfigError(file, lineNo, undefined, `missing key before "=" in "${excerpt(line)}"`);
    const value = line.slice(eq + 1).trim();
    checkEntryCount(file, lineNo, ++count);
    checkEntry(file, lineNo, key, value);
    current.push({ key, value, line: lineNo });
  });
  const name = sections.has('jail') ? 'jail' : sections.has('uwsgi') ? 'uwsgi' : undefined;
  if (name === undefined) throw new ConfigError(file, undefined, undefined, 'no [jail] or [uwsgi] section; a vassal file starts with [jail]');
  return { file, format: 'ini', section: name, entries: sections.get(name)! };
}
