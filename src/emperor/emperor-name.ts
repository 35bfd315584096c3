// Several emperors on one host: each has a name (emperor-name, else one taken from its first
// source), and its default control socket and logs directory follow from it, so a second
// emperor starts without flags and `jailctl ps` finds the one it means.
//
//   /run/jailctl/emperors/NAME.sock    its control socket
//   /var/log/jailctl/NAME/             its vassals' logs
//   /var/lib/jailctl/NAME/             what its operators said (operator-state.ts)
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import picomatch from 'picomatch';

/** Where the emperors' control sockets are, one per name. */
export const EMPERORS_DIR = '/run/jailctl/emperors';
/** Where each emperor's vassal logs go, in a directory of its name. */
export const LOGS_ROOT = '/var/log/jailctl';
/** Where each emperor keeps its operators' stops, in a directory of its name. */
export const STATE_ROOT = '/var/lib/jailctl';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Why NAME cannot name an emperor, or undefined when it can. */
export function badEmperorName(name: string): string | undefined {
  return NAME_RE.test(name) ? undefined : 'an emperor\'s name is 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit (it names its socket and logs directory)';
}

// A name from what a source watches: `dir:///etc/jails` → jails, `glob:///srv/*/jail/*.ini`
// → srv (the fixed part), `pg://…dbname=hosting…` → hosting; `emperor` when nothing fits.
export function emperorNameOf(source: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(source);
  const scheme = m?.[1]?.toLowerCase();
  const rest = m ? m[2]! : source;
  let word: string;
  if (scheme === 'pg') word = pgDatabase(rest) ?? 'pg';
  else if (scheme === 'glob' || (!scheme && picomatch.scan(rest).isGlob)) word = basename(picomatch.scan(rest).base);
  else word = basename(rest.replace(/\/+$/, ''));
  const clean = word.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return clean === '' ? 'emperor' : clean;
}

// The database a pg:// conninfo names (`postgres://h/db?…` or `… dbname=db …`).
function pgDatabase(rest: string): string | undefined {
  const conninfo = rest.split(';')[0]!.trim();
  if (/^postgres(ql)?:\/\//i.test(conninfo)) {
    try {
      return decodeURIComponent(new URL(conninfo).pathname.slice(1)) || undefined;
    } catch {
      return undefined;
    }
  }
  return /(?:^|\s)dbname\s*=\s*'?([^'\s]+)/.exec(conninfo)?.[1];
}

export const defaultControlSocket = (name: string): string => join(EMPERORS_DIR, `${name}.sock`);
export const defaultLogsDir = (name: string): string => join(LOGS_ROOT, name);
export const defaultStateDir = (name: string): string => join(STATE_ROOT, name);

// The names of the emperors listening in EMPERORS_DIR now, read from the kernel's table of
// UNIX sockets (a socket file an emperor that died left behind is not listening).
export function runningEmperors(table = '/proc/net/unix'): string[] {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return [];
  }
  const prefix = `${EMPERORS_DIR}/`;
  const names = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; flags 00010000: listening.
    const f = line.trim().split(/\s+/);
    const path = f[7];
    if (!path || f[3] !== '00010000' || !path.startsWith(prefix) || !path.endsWith('.sock')) continue;
    const name = path.slice(prefix.length, -'.sock'.length);
    if (!name.includes('/')) names.add(name);
  }
  return [...names].sort();
}
