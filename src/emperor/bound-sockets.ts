// Sockets the emperor binds for a vassal before its jail starts, as the emperor (root, in the
// host's network namespace and filesystem), and hands over listening at fd 5, 6, …
// (JAIL_LISTEN_FDS lists them). uWSGI binds its sockets as root and then drops its
// privileges; under jailctl the jail has dropped to its uid already, so a uWSGI vassal's
// `socket` in a root-only directory, or on a port below 1024, would fail with EACCES. Its
// socket lines are bound here instead, and UWSGI_RELOADS=1 makes uWSGI take an inherited
// socket whose address matches its config. Any other program (nginx: `env = NGINX=5;`) asks
// with `bind-socket = ADDR`. A jail in an empty network namespace serves through them too.
import { chmodSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ConfigEntry } from '../config/types';
import { ConfigError } from '../errors';
import { checkTenantSocket } from './on-demand';

/** The fd the first bound socket gets in the jail (3 is the emperor pipe, 4 the config pipe). */
export const FIRST_BOUND_FD = 5;

/** A uWSGI file's lines that bind a socket of its own (uWSGI's names). */
export const UWSGI_SOCKET_OPTIONS = ['socket', 'uwsgi-socket', 'http-socket', 'http11-socket', 'fastcgi-socket', 'scgi-socket'];

export interface SocketToBind {
  readonly entry: ConfigEntry;
  readonly address: string;
  /** Its number in the jail. */
  readonly fd: number;
}

// `:8080`, `127.0.0.1:8080`, `[::1]:8080` or an absolute path: what the emperor binds. A
// relative path is uWSGI's own to resolve (from its chdir): left to it.
function bindable(address: string): boolean {
  return isAbsolute(address) || /^(?:\[[^\]]*\]|[^/:]*):\d+$/.test(address);
}

/** The sockets of `entries` the emperor binds: bind-socket lines, and with `uwsgi` its socket
 *  lines, at fd `first` on (behind held sockets with socket-activation = systemd). */
export function socketsToBind(entries: readonly ConfigEntry[], uwsgi: boolean, first = FIRST_BOUND_FD): SocketToBind[] {
  const keys = uwsgi ? ['bind-socket', ...UWSGI_SOCKET_OPTIONS] : ['bind-socket'];
  const seen = new Set<string>();
  const out: SocketToBind[] = [];
  for (const entry of entries) {
    const address = entry.value.trim().split(/\s*,\s*/)[0]!; // uWSGI: `socket = ADDR,PROTO…` forms
    if (!keys.includes(entry.key) || !bindable(address) || seen.has(address)) continue;
    seen.add(address);
    out.push({ entry, address, fd: first + out.length });
  }
  return out;
}

/** A tenant's sockets follow the rules of its on-demand sockets (ports, no host names). */
export function checkTenantSockets(file: string, sockets: readonly SocketToBind[], options: Parameters<typeof checkTenantSocket>[2]): void {
  for (const s of sockets) {
    try {
      checkTenantSocket(file, s.address, options);
    } catch (err: unknown) {
      throw new ConfigError(s.entry.file ?? file, s.entry.line, s.entry.key, (err as Error).message.replace(/^[^:]*: /, ''));
    }
  }
}

/** Binds one, naming the line when it cannot; `chmod-socket` (uWSGI's) applies to a path. */
export function bindOne(bind: (address: string) => number, s: SocketToBind, file: string, chmod: string | undefined): number {
  let fd: number;
  try {
    fd = bind(s.address);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(s.entry.file ?? file, s.entry.line, s.entry.key, `the emperor cannot bind ${s.address} for this vassal (${code})${code === 'EADDRINUSE' ? ': something else listens there' : ''}`);
  }
  if (isAbsolute(s.address) && chmod !== undefined) {
    const mode = chmod.trim() === '' ? 0o666 : Number.parseInt(chmod.trim(), 8);
    if (Number.isInteger(mode) && mode >= 0 && mode <= 0o777) chmodSync(s.address, mode);
  }
  return fd;
}
