// expandConfig(): uWSGI's value expansion over the layers of one vassal, in uWSGI's order:
// the emperor's environment options (JAIL_VASSAL_*), `vassal-set`, the vassal file, then each
// `vassals-include` file. Every value is expanded when it is read, so `%(key)` sees what was
// set before it, whichever layer set it:
//   %n %p %d %e %x %s %c %h   magic variables of the layer's own file (see MAGIC below)
//   %(key)                    the value last given to `key` (an option or a placeholder)
//   $(NAME)                   the environment variable NAME; left as it is when NAME is
//                             unset (uWSGI's rule), so a shell's $(id -un) survives
//   %%                        a literal %
// In tyrant mode the vassal file is the tenant's: every value its lines produce is tainted,
// and so is each value built from a tainted one. A tainted value that lands in a root-run
// option of a sysadmin's layer is inserted quoted as one shell word, or refused.
import { hostname as osHostname } from 'node:os';
import { basename, dirname, extname } from 'node:path';
import { ConfigError } from '../errors';
import { excerpt, MAX_EXPANDED_TOTAL, MAX_PLACEHOLDER_DEPTH, MAX_VALUE_LENGTH, MAX_WARNINGS } from './limits';
import { ROOT_OPTIONS, ROOT_PATH_OPTIONS } from './options';
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
  /** A tenant's file (tyrant mode): what its lines produce is tainted, and its magic
   *  variables are too wherever another layer borrows them. */
  readonly tenant?: boolean;
}

export interface ExpandContext {
  /** The vassal's own config file (absolute). */
  readonly vassalFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly hostname?: string;
  /** The vassal's config is no file (`a row of pg://…`): its magic variables that name a
   *  file or a directory (%p, %d, %c) are refused, saying so. */
  readonly notAFile?: string;
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

/** The magic variables a tenant chooses by naming the file (%h is the host's). */
const TENANT_MAGIC = new Set(['n', 'p', 'd', 'e', 'x', 's', 'c']);

/** The magic variables that name a file or its directory. */
const FILE_MAGIC = new Set(['p', 'd', 'c']);

// `it's` → `'it'\''s'`: one word for /bin/sh and for plan/words.ts splitWords, whatever it holds.
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** A value so far: its text, how many placeholders deep it was built, and where the tenant
 *  text in it came from (undefined when none did). */
interface Known {
  readonly value: string;
  readonly depth: number;
  readonly taint?: string;
}

// Where a shell would be at the end of a command's text: at the top level, inside one pair
// of quotes, or somewhere a quoted word would not hold (a `$(…)`, `${…}`, backquotes, quotes
// within those, after a `<<`: a here-document expands its body). Scanned incrementally, each
// character once. /bin/sh's rules; plan/words.ts knows only quotes and backslashes, so what
// is safe here is safe there.
/** Before a command's name: the start of the value, after `;`, `&`, `|`, `(`, a line break,
 *  or a keyword that starts a command. */
const COMMAND_WORD_RE = /(^|[;&|(\n]|(^|\s)(then|do|else|elif|if|while|until|!|exec|command|env|sudo|nice|nohup|xargs|time))\s*$/;

class ShellScan {
  private readonly stack: Array<"'" | '"' | '$(' | '${' | '`' | '(' | "$'"> = [];
  private heredoc = false;
  private comment = false;
  private pos = 0;
  private skip = false;

  // Scans text[pos..] and says where its end is.
  contextAt(text: string): 'top' | "'" | '"' | 'nested' {
    for (; this.pos < text.length; this.pos++) {
      if (this.skip) {
        this.skip = false;
        continue;
      }
      const c = text[this.pos]!;
      const next = text[this.pos + 1];
      const top = this.stack.at(-1);
      if (this.comment) {
        if (c === '\n') this.comment = false;
        continue;
      }
      if (top === "'") {
        if (c === "'") this.stack.pop();
        continue;
      }
      // bash's $'…' (ANSI-C quoting, also as /bin/sh): backslashes escape inside it.
      if (top === "$'") {
        if (c === '\\') this.skip = true;
        else if (c === "'") this.stack.pop();
        continue;
      }
      if (c === '#' && top === undefined && /^$|[\s;&|(]$/.test(text.slice(Math.max(0, this.pos - 1), this.pos))) this.comment = true;
      else if (c === '$' && next === "'" && top !== '"') {
        this.stack.push("$'");
        this.skip = true;
      } else if (c === '\\') this.skip = true;
      else if (c === '$' && (next === '(' || next === '{')) {
        this.stack.push(next === '(' ? '$(' : '${');
        this.skip = true;
      } else if (c === '`') {
        if (top === '`') this.stack.pop();
        else this.stack.push('`');
      } else if (top === '"') {
        if (c === '"') this.stack.pop();
      } else if (c === "'" || c === '"') this.stack.push(c);
      else if (c === '(' && (top === '$(' || top === '(')) this.stack.push('(');
      else if (c === ')' && (top === '$(' || top === '(')) this.stack.pop();
      else if (c === '}' && top === '${') this.stack.pop();
      else if (c === '<' && next === '<') this.heredoc = true;
    }
    if (this.heredoc || this.comment || this.skip || this.stack.length > 1) return 'nested';
    const top = this.stack[0];
    // A `$` right before the word would make it `$'…'` (ANSI-C quoting) or a parameter.
    if (top !== "'" && top !== '"' && text.endsWith('$')) return 'nested';
    return top === undefined ? 'top' : top === "'" || top === '"' ? top : 'nested';
  }

  // Past a word inserted where contextAt said (it leaves the shell where it was).
  skipTo(pos: number): void {
    this.pos = pos;
  }
}

// $(NAME) from an environment: its own variables only (`$(constructor)` is not Object's).
function lookupEnv(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const v = Object.hasOwn(env, name) ? env[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}

export function expandConfig(layers: readonly ConfigLayer[], ctx: ExpandContext): ExpandedConfig {
  const host = ctx.hostname ?? osHostname();
  const values = new Map<string, Known>();
  const referenced = new Set<string>();
  const warnings: string[] = [];
  let unshown = 0;
  const warn = (text: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(text);
    else unshown++;
  };
  const out: ConfigEntry[] = [];
  let total = 0;
  // The tenant's file names the magic variables every layer without a file borrows.
  const tenantMagic = layers.some((l) => l.tenant && (l.file ?? ctx.vassalFile) === ctx.vassalFile);
  for (const layer of layers) {
    const magic = magicVariables(layer.file ?? ctx.vassalFile, host);
    const magicTaint = !layer.tenant && layer.file === undefined && tenantMagic ? `the name of ${ctx.vassalFile}` : undefined;
    const where = layer.file ?? layer.origin ?? ctx.vassalFile;
    for (const entry of layer.entries) {
      const fail = (reason: string): never => {
        throw new ConfigError(where, entry.line > 0 ? entry.line : undefined, entry.key, `\`${excerpt(entry.key, 40)}\` ${reason}`);
      };
      // Root runs this line, written by the sysadmin: a tenant's value goes in as one word.
      const guarded = !layer.tenant && ROOT_OPTIONS.includes(entry.key);
      const scan = guarded ? new ShellScan() : undefined;
      let value = '';
      let depth = 0;
      let taint = layer.tenant ? `${where}:${entry.line}` : undefined;
      let last = 0;
      const append = (text: string): void => {
        if (value.length + text.length > MAX_VALUE_LENGTH)
          fail(`expands to more than ${MAX_VALUE_LENGTH} characters (MAX_VALUE_LENGTH); placeholders that repeat each other grow without end: write the value out`);
        value += text;
      };
      const insert = (text: string, from: string | undefined, token: string): void => {
        if (from === undefined) return append(text);
        taint ??= from;
        if (!guarded) return append(text);
        const what = `gets ${token}, which holds a tenant's value (from ${from})`;
        if (ROOT_PATH_OPTIONS.includes(entry.key))
          fail(`${what}: root would run a program the tenant names; name the program in the sysadmin's file, and pass tenant values as arguments of privileged-binary-patch-arg`);
        if (/[\0\n\r]/.test(text)) fail(`${what}, and it has a NUL or line break, which a root command cannot take as one word: refused`);
        // One word wherever it lands: bare, or closing and reopening the quotes around it.
        const at = scan!.contextAt(value);
        if (at === 'nested')
          fail(`${what} inside \`$(…)\`, \`\${…}\`, backquotes or a here-document, where no quoting holds; write ${token} as a word of its own (bare or in quotes): the emperor quotes a tenant's value as one word`);
        // Where the command's name goes, the tenant would choose the program root runs.
        if (at === 'top' && COMMAND_WORD_RE.test(value))
          fail(`${what} where a command's name goes: root would run a program the tenant names; put the program in the sysadmin's line and ${token} after it, as an argument`);
        // At the start of a word, `-x` would be an option of the root command.
        if (text.startsWith('-') && /(^|\s)['"]?$/.test(value) && !/(^|\s)--\s/.test(value))
          fail(`${what}, which starts with \`-\`: the root command would read it as an option; refused (a command taking \`--\` before ${token} is safe, and the tenant's value must not start with -)`);
        append(at === 'top' ? shellQuote(text) : `${at}${shellQuote(text)}${at}`);
        scan!.skipTo(value.length);
      };
      for (const m of entry.value.matchAll(TOKEN_RE)) {
        const [token, key, letter, env] = m;
        append(entry.value.slice(last, m.index));
        last = m.index! + token.length;
        if (token === '%%') append('%');
        else if (key !== undefined) {
          referenced.add(key);
          const known = values.get(key);
          if (known === undefined) {
            warn(`${where}:${entry.line}: \`%(${excerpt(key, 40)})\` is not set before this line; left as it is`);
            append(token);
          } else {
            depth = Math.max(depth, known.depth + 1);
            if (depth > MAX_PLACEHOLDER_DEPTH)
              fail(`has placeholders nested more than ${MAX_PLACEHOLDER_DEPTH} deep (MAX_PLACEHOLDER_DEPTH): %(${excerpt(key, 40)}) is built from %(…) ${known.depth} times over; write the value out`);
            insert(known.value, known.taint, token);
          }
        } else if (letter !== undefined) {
          if (ctx.notAFile !== undefined && FILE_MAGIC.has(letter) && (layer.file ?? ctx.vassalFile) === ctx.vassalFile)
            fail(`uses %${letter}, which names the vassal's file or directory, and this config is ${ctx.notAFile}: write the path out (%n, %e and %h still work)`);
          const v = magic[letter];
          if (v === undefined) append(token);
          else insert(v, TENANT_MAGIC.has(letter) ? magicTaint : undefined, token);
        } else append(lookupEnv(layer.env ?? ctx.env, env!) ?? token);
      }
      append(entry.value.slice(last));
      total += value.length;
      if (total > MAX_EXPANDED_TOTAL)
        fail(`expands the vassal's values to more than ${MAX_EXPANDED_TOTAL} characters in all (MAX_EXPANDED_TOTAL); placeholders repeat too much text: write the values out`);
      values.set(entry.key, { value, depth, ...(taint !== undefined ? { taint } : {}) });
      out.push({ key: entry.key, value, line: entry.line, ...(where !== ctx.vassalFile ? { file: where } : {}), ...(taint !== undefined ? { tainted: true } : {}) });
    }
  }
  if (unshown > 0) warnings.push(`${ctx.vassalFile}: ${unshown} more unresolved placeholders not shown`);
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
