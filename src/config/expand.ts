// expandConfig(): uWSGI's value expansion over the layers of one vassal, in uWSGI's order:
// the emperor's environment options (JAIL_VASSAL_*), `vassal-set`, the vassal file, then each
// `vassals-include` file. Every value is expanded when it is read, so `%(key)` sees what was
// set before it, whichever layer set it:
//   %n %p %d %e %x %s %c %h   magic variables of the layer's own file (see MAGIC below)
//   %(key)                    the value last given to `key` (an option or a placeholder)
//   $(NAME)                   the environment variable NAME; left as it is when NAME is
//                             unset (uWSGI's rule), so a shell's $(id -un) survives
//   %%                        a literal %
import { hostname as osHostname } from 'node:os';
import { basename, dirname, extname } from 'node:path';
import type { ConfigEntry } from './types';

/** One source of entries. `file` gives the magic variables; layers without one (vassal-set,
 *  environment) borrow the vassal file's, so `UWSGI_VASSAL_SOCKET=/tmp/%n.sock` works. */
export interface ConfigLayer {
  readonly file?: string;
  /** How to name the layer in messages when it has no file: `vassal-set`, `env JAIL_VASSAL_X`. */
  readonly origin?: string;
  readonly entries: readonly ConfigEntry[];
  /** The environment $(NAME) reads in this layer, instead of the context's. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ExpandContext {
  /** The vassal's own config file (absolute). */
  readonly vassalFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly hostname?: string;
}

export interface ExpandedConfig {
  /** Every entry of every layer, in order, with its value expanded and its origin set. */
  readonly entries: readonly ConfigEntry[];
  /** Keys some `%(key)` referred to: placeholders, not typos. */
  readonly referenced: ReadonlySet<string>;
  readonly warnings: readonly string[];
}

// The magic variables of a file, by letter (uWSGI's table, with %d keeping its trailing slash).
export function magicVariables(file: string, host: string): Readonly<Record<string, string>> {
  const dir = dirname(file);
  const ext = extname(file);
  return {
    n: basename(file, ext),
    p: file,
    d: dir.endsWith('/') ? dir : `${dir}/`,
    e: ext.replace(/^\./, ''),
    x: basename(file),
    s: basename(file),
    c: basename(dir),
    h: host,
  };
}

const TOKEN_RE = /%%|%\(([^)]*)\)|%([A-Za-z])|\$\(([^)]*)\)/g;

export function expandConfig(layers: readonly ConfigLayer[], ctx: ExpandContext): ExpandedConfig {
  const host = ctx.hostname ?? osHostname();
  const values = new Map<string, string>();
  const referenced = new Set<string>();
  const warnings: string[] = [];
  const out: ConfigEntry[] = [];
  for (const layer of layers) {
    const magic = magicVariables(layer.file ?? ctx.vassalFile, host);
    const where = layer.file ?? layer.origin ?? ctx.vassalFile;
    for (const entry of layer.entries) {
      const value = entry.value.replace(TOKEN_RE, (token: string, key?: string, letter?: string, env?: string) => {
        if (token === '%%') return '%';
        if (key !== undefined) {
          referenced.add(key);
          const v = values.get(key);
          if (v !== undefined) return v;
          warnings.push(`${where}:${entry.line}: \`%(${key})\` is not set before this line; left as it is`);
          return token;
        }
        if (letter !== undefined) return magic[letter] ?? token;
        return (layer.env ?? ctx.env)[env!] ?? token;
      });
      values.set(entry.key, value);
      out.push({ key: entry.key, value, line: entry.line, ...(where !== ctx.vassalFile ? { file: where } : {}) });
    }
  }
  return { entries: out, referenced, warnings };
}

// JAIL_VASSAL_SOCKET=x (or UWSGI_VASSAL_SOCKET=x) in the emperor's environment → `socket = x`.
export function environmentLayer(env: Readonly<Record<string, string | undefined>>): ConfigLayer[] {
  const layers: ConfigLayer[] = [];
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    const m = /^(?:JAIL|UWSGI)_VASSAL_(.+)$/.exec(name);
    if (!m || value === undefined) continue;
    layers.push({ origin: `environment ${name}`, entries: [{ key: m[1]!.toLowerCase().replace(/_/g, '-'), value, line: 0 }] });
  }
  return layers;
}

// `vassal-set = key=value` lines → one layer of entries.
export function vassalSetLayer(sets: readonly string[]): ConfigLayer {
  const entries: ConfigEntry[] = sets.map((s, i) => {
    const eq = s.indexOf('=');
    return eq > 0 ? { key: s.slice(0, eq).trim(), value: s.slice(eq + 1).trim(), line: i + 1 } : { key: s.trim(), value: '', line: i + 1 };
  });
  return { origin: 'vassal-set', entries };
}
