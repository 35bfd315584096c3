// The Node app server's options, read from the vassal's config: from the emperor's config
// pipe (a uwsgi packet, as uWSGI reads `emperor://`), or from the file itself under
// `jailctl run`. Values arrive expanded; only the app server's own keys matter here.
import { readFileSync, readSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseIni } from '../../config/ini';
import type { ConfigEntry } from '../../config/types';

export interface AppOptions {
  /** Absolute path of the app module. */
  readonly app: string;
  /** `host:port` or UNIX paths to listen on; empty when fd 0 is the listening socket. */
  readonly sockets: readonly string[];
  readonly processes: number;
  /** Seconds between heartbeats (byte 26) from each worker; 0: none. */
  readonly heartbeat: number;
  /** Seconds without a request before the workers stop (cheap mode); 0: never. */
  readonly idle: number;
  /** With idle: leave altogether (byte 22) instead of waiting with no workers. */
  readonly dieOnIdle: boolean;
}

export class AppOptionError extends Error {}

// Reads one uwsgi packet (4-byte header, then the body) from a blocking fd.
export function readConfigPacket(fd: number): string {
  const read = (n: number): Buffer => {
    const buf = Buffer.alloc(n);
    for (let off = 0; off < n; ) {
      const got = readSync(fd, buf, off, n - off, null);
      if (got === 0) throw new AppOptionError('the emperor closed the config pipe before sending the config');
      off += got;
    }
    return buf;
  };
  const head = read(4);
  return read(head.readUInt16LE(1)).toString('utf8');
}

const bool = (v: string | undefined): boolean => v !== undefined && ['', '1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());

function number(e: ConfigEntry | undefined, fallback: number, min: number): number {
  if (!e) return fallback;
  const n = Number(e.value.trim());
  if (!Number.isInteger(n) || n < min) throw new AppOptionError(`line ${e.line}: ${e.key}: expected a whole number ≥ ${min}, got \`${e.value}\``);
  return n;
}

// The app server's options from config entries; `base` resolves a relative app path.
export function appOptions(entries: readonly ConfigEntry[], base: string): AppOptions {
  const last = (k: string): ConfigEntry | undefined => entries.filter((e) => e.key === k).at(-1);
  const app = last('app');
  if (!app || app.value.trim() === '') throw new AppOptionError('no `app = MODULE` in the config: nothing to serve');
  const protocol = last('protocol');
  if (protocol && protocol.value.trim() !== 'http')
    throw new AppOptionError(`line ${protocol.line}: protocol: only \`http\` is supported, got \`${protocol.value}\``);
  const path = app.value.trim();
  return {
    app: isAbsolute(path) ? path : resolve(base, path),
    sockets: entries.filter((e) => e.key === 'http-socket').map((e) => e.value.trim()).filter(Boolean),
    processes: number(last('processes') ?? last('workers'), 1, 1),
    heartbeat: number(last('heartbeat'), 0, 0),
    idle: number(last('idle'), 0, 0),
    dieOnIdle: bool(last('die-on-idle')?.value),
  };
}

// Where the config comes from: the emperor's config pipe, else the file named on argv.
export function loadAppOptions(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): AppOptions {
  const pipe = env.JAIL_EMPEROR_FD_CONFIG ?? env.UWSGI_EMPEROR_FD_CONFIG;
  // From the emperor, `app` arrives absolute. From a file, a relative `app` is relative to
  // the file's `chdir`, else to the file's directory.
  if (pipe !== undefined) return appOptions(parseIni(readConfigPacket(Number(pipe)), '(config pipe)').entries, cwd);
  const i = argv.indexOf('--ini');
  if (i < 0 || !argv[i + 1]) throw new AppOptionError('usage: app-server --ini FILE (or run under the emperor)');
  const file = resolve(cwd, argv[i + 1]!);
  const entries = parseIni(readFileSync(file, 'utf8'), file).entries;
  const chdir = entries.filter((e) => e.key === 'chdir').at(-1)?.value.trim();
  return appOptions(entries, chdir ? resolve(dirname(file), chdir) : dirname(file));
}
