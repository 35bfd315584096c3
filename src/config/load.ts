// readVassalConfig(): reads a vassal file and picks its parser by extension.
import { readFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { parseIni } from './ini';
import { parseJson } from './json';
import type { RawVassalConfig } from './types';
import { parseYaml } from './yaml';

// The file extensions a vassal config may have.
export const VASSAL_EXTENSIONS: readonly string[] = ['.ini', '.yml', '.yaml', '.json'];

// `/etc/jails/web.ini` → `web`.
export function vassalName(path: string): string {
  return basename(path, extname(path));
}

// Reads and parses one vassal file; every failure is a ConfigError naming the file.
export function readVassalConfig(path: string): RawVassalConfig {
  const file = resolve(path);
  const ext = extname(file).toLowerCase();
  if (!VASSAL_EXTENSIONS.includes(ext))
    throw new ConfigError(file, undefined, undefined, `unsupported vassal file extension \`${ext || '(none)'}\`; use .ini, .yml, .yaml or .json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ConfigError(file, undefined, undefined, `cannot read: ${why} (${code})`, { cause: err });
  }
  if (ext === '.ini') return parseIni(text, file);
  if (ext === '.json') return parseJson(text, file);
  return parseYaml(text, file);
}
