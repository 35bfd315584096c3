// `pg://CONNINFO;QUERY`, as uWSGI writes it: CONNINFO is a URL (postgres://user@host/db) or
// libpq's key=value words (host=db dbname=hosting password='a;b'); the first `;` outside a
// quoted value ends it. QUERY returns name, config, ts[, uid, gid[, socket]]; `%h` in it is
// this host's name (emperor-hostname), so one table serves many servers.
import type { ClientConfig } from 'pg';
import { MonitorSpecError } from './errors';

export interface PgSpec {
  readonly config: ClientConfig;
  readonly query: string;
  /** The source as messages and stats name it: no password. */
  readonly label: string;
}

/** libpq's keywords jailctl passes on (node-postgres's names on the right). */
const KEYWORDS: Readonly<Record<string, keyof ClientConfig | 'sslmode'>> = {
  host: 'host', hostaddr: 'host', port: 'port', user: 'user', password: 'password', dbname: 'database',
  application_name: 'application_name', connect_timeout: 'connectionTimeoutMillis', sslmode: 'sslmode',
};

/** Where Debian's PostgreSQL listens when CONNINFO names no host (libpq's default). */
const DEFAULT_SOCKET_DIR = '/var/run/postgresql';

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;

// `rest` is what follows `pg://`; `host` replaces %h in the query.
export function parsePgSpec(rest: string, host: string): PgSpec {
  const url = /^postgres(ql)?:\/\//i.test(rest.trim());
  const cut = url ? rest.indexOf(';') : unquotedSemicolon(rest);
  const where = `pg://${url ? '…' : ''}`;
  if (cut < 0) throw new MonitorSpecError(`${where}: expected pg://CONNINFO;QUERY (a \`;\` between the connection and the query)`);
  const conninfo = rest.slice(0, cut).trim();
  const query = rest.slice(cut + 1).trim();
  if (query === '') throw new MonitorSpecError(`${where}: no query after the \`;\` (SELECT name, config, ts FROM …)`);
  if (query.includes('%h') && !HOSTNAME_RE.test(host))
    throw new MonitorSpecError(`${where}: the query uses %h, and the host's name \`${host}\` is not a plain hostname; set emperor-hostname`);
  const config: ClientConfig = url ? { connectionString: conninfo } : keywordConfig(conninfo);
  return { config, query: query.replace(/%h/g, host), label: labelOf(config) };
}

// The index of the first `;` outside a single-quoted value (libpq quotes with '…', \' and \\).
function unquotedSemicolon(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === "'") quoted = !quoted;
    else if (c === ';' && !quoted) return i;
  }
  return -1;
}

// `host=db port=5433 password='a b'` → node-postgres's config.
function keywordConfig(conninfo: string): ClientConfig {
  const out: Record<string, unknown> = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*('((?:[^'\\]|\\.)*)'|[^\s']*)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < conninfo.length && (m = re.exec(conninfo)) !== null) {
    at = re.lastIndex;
    const key = m[1]!.toLowerCase();
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
    const field = KEYWORDS[key];
    if (!field) throw new MonitorSpecError(`pg://: unknown connection keyword \`${key}\`; jailctl passes on ${Object.keys(KEYWORDS).join(', ')}`);
    if (field === 'sslmode') {
      if (value !== 'disable') out.ssl = value === 'verify-full' || value === 'verify-ca' ? { rejectUnauthorized: true } : { rejectUnauthorized: false };
    } else if (field === 'port' || field === 'connectionTimeoutMillis') {
      if (!/^\d+$/.test(value)) throw new MonitorSpecError(`pg://: ${key} = \`${value}\` is not a number`);
      out[field] = field === 'port' ? Number(value) : Number(value) * 1000;
    } else out[field] = value;
  }
  if (conninfo.slice(at).trim() !== '')
    throw new MonitorSpecError(`pg://: cannot read the connection words near \`${conninfo.slice(at).trim().slice(0, 30)}\`; write key=value pairs, quoting a value with spaces or ; as 'a value'`);
  out.host ??= DEFAULT_SOCKET_DIR;
  return out as ClientConfig;
}

function labelOf(config: ClientConfig): string {
  if (config.connectionString) {
    try {
      const u = new URL(config.connectionString);
      return `pg://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
    } catch {
      return 'pg://(connection string)';
    }
  }
  const user = typeof config.user === 'string' ? `${config.user}@` : '';
  return `pg://${user}${config.host ?? ''}${config.port ? `:${config.port}` : ''}/${config.database ?? ''}`;
}
