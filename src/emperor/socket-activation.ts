// How the sockets the emperor holds reach a vassal's program (`socket-activation`):
//   uwsgi    (default) the on-demand socket at fd 0, as uWSGI's emperor passes it;
//   systemd  sd_listen_fds(3): every held socket at fd 3, 4, … in order, LISTEN_FDS,
//            LISTEN_FDNAMES; the executor adds LISTEN_PID in the exec'ing process, where
//            the program's pid in its pid namespace is known (native/executor/listen.c).
// With systemd the emperor pipe, the config pipe and bind-socket sockets move up behind the
// held ones (UWSGI_EMPEROR_FD and JAIL_EMPEROR_FD say where). `held-socket = NAME=ADDRESS`
// (repeatable) adds named sockets the emperor holds across reloads.
import type { ConfigEntry } from '../config/types';
import { ConfigError } from '../errors';
import type { FdMapping } from '../plan/types';
import { FIRST_BOUND_FD } from './bound-sockets';
import { PRIMARY_NAME } from './held-socket';
import { checkTenantSocket } from './on-demand';
import type { EmperorOptions } from './options';
import { CONFIG_FD, EMPEROR_FD } from './protocol';

export type ActivationMode = 'uwsgi' | 'systemd';

/** A `held-socket = NAME=ADDRESS` line. */
export interface NamedAddress {
  readonly name: string;
  readonly address: string;
}

/** Where the jail's fds go, and what socket activation hands over. */
export interface SocketLayout {
  readonly emperorFd: number;
  readonly configFd: number;
  /** The first fd of bind-socket sockets (bound-sockets.ts). */
  readonly firstBoundFd: number;
  /** The held sockets' mappings (fd 0, or 3…). */
  readonly fds: readonly FdMapping[];
  /** systemd: the LISTEN_FDNAMES entries, fd 3 first. */
  readonly names?: readonly string[];
  /** Every socket the emperor must hold for this file, the primary one first. */
  readonly held: readonly NamedAddress[];
}

/** What the layout needs from the build. */
export interface LayoutInput {
  readonly file: string;
  readonly entries: readonly ConfigEntry[];
  /** The on-demand socket (or an adopted vassal's http-socket). */
  readonly primary?: { readonly address: string; readonly fd: number };
  /** The fd the emperor holds for a named socket; absent in a dry build (-1). */
  readonly heldFd?: (address: string) => number | undefined;
  readonly adopted: boolean;
  readonly tenant: boolean;
  readonly options: Pick<EmperorOptions, 'vassalsCap'>;
}

// systemd's rule for a name (sd_listen_fds_with_names): 1-255 printable ASCII, no colon.
const VALID_NAME = /^[\x20-\x39\x3b-\x7e]{1,255}$/;
const BINDABLE = /^(?:\/.+|(?:\[[^\]]*\]|[^/:]*):\d+)$/;

// The file's socket-activation mode (the last line wins), checked.
export function activationMode(file: string, entries: readonly ConfigEntry[]): ActivationMode {
  const e = entries.filter((x) => x.key === 'socket-activation').at(-1);
  const v = e?.value.trim() ?? 'uwsgi';
  if (e && v !== 'uwsgi' && v !== 'systemd')
    throw new ConfigError(e.file ?? file, e.line, e.key, `\`${v}\`: expected uwsgi (the on-demand socket at fd 0) or systemd (held sockets at fd 3… with LISTEN_FDS)`);
  return v as ActivationMode;
}

// The file's held-socket lines, checked: unique names, an address the emperor binds.
export function heldSocketLines(input: Pick<LayoutInput, 'file' | 'entries' | 'tenant' | 'options'>): NamedAddress[] {
  const out: NamedAddress[] = [];
  for (const e of input.entries.filter((x) => x.key === 'held-socket')) {
    const at = (why: string): never => {
      throw new ConfigError(e.file ?? input.file, e.line, e.key, why);
    };
    const m = /^([^=]*)=(.*)$/.exec(e.value.trim());
    if (!m) at(`\`${e.value.trim()}\`: expected NAME=ADDRESS, e.g. web=127.0.0.1:8080`);
    const name = m![1]!.trim();
    const address = m![2]!.trim();
    if (!VALID_NAME.test(name)) at(`\`${name}\`: a socket's name is 1 to 255 printable characters without a colon (it goes into LISTEN_FDNAMES)`);
    if (name === PRIMARY_NAME || out.some((o) => o.name === name)) at(`\`${name}\`: the name is taken${name === PRIMARY_NAME ? ' (by the on-demand socket)' : ' by an earlier held-socket line'}; give each socket its own`);
    if (!BINDABLE.test(address)) at(`\`${address}\`: expected host:port, :port or an absolute path`);
    if (out.some((o) => o.address === address)) at(`${address} is held already by an earlier held-socket line`);
    if (input.tenant) {
      try {
        checkTenantSocket('', address, input.options);
      } catch (err: unknown) {
        at((err as Error).message.replace(/^[^:]*: /, ''));
      }
    }
    out.push({ name, address });
  }
  return out;
}

// The jail's fd numbers for the emperor's pipes and sockets, for the file's mode.
export function socketLayout(input: LayoutInput): SocketLayout {
  const mode = activationMode(input.file, input.entries);
  const named = heldSocketLines(input);
  const line = input.entries.filter((x) => x.key === (named.length > 0 && mode === 'uwsgi' ? 'held-socket' : 'socket-activation')).at(-1);
  const fail = (why: string): never => {
    throw new ConfigError(line?.file ?? input.file, line?.line, line?.key, why);
  };
  const held: NamedAddress[] = [...(input.primary ? [{ name: PRIMARY_NAME, address: input.primary.address }] : []), ...named];
  if (mode === 'uwsgi') {
    if (named.length > 0) fail('held-socket needs socket-activation = systemd: uWSGI\'s way passes one socket only, at fd 0');
    return { emperorFd: EMPEROR_FD, configFd: CONFIG_FD, firstBoundFd: FIRST_BOUND_FD, fds: input.primary ? [{ src: input.primary.fd, dst: 0 }] : [], held };
  }
  if (input.adopted) fail('an adopted vassal cannot use socket-activation = systemd: the fork-server base applies its jail in-process and execs nothing that LISTEN_PID could name; use the default (fd 0)');
  if (held.length === 0) fail('socket-activation = systemd with no socket to pass: hold one with held-socket = NAME=ADDRESS, or run the vassal on demand');
  const fds = held.map((h, i) => ({ src: i === 0 && input.primary ? input.primary.fd : input.heldFd?.(h.address) ?? -1, dst: 3 + i }));
  const n = held.length;
  return { emperorFd: 3 + n, configFd: 4 + n, firstBoundFd: 5 + n, fds, names: held.map((h) => h.name), held };
}
