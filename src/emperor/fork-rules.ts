// The fork server's rules for one vassal file (docs/FORK-SERVER.md): whether it is a base,
// adopted from a base, or neither; what a base may not ask for and what it is given; what an
// adopted vassal's program reads. Pure: entries in, entries or a ConfigError out.
import { lstatSync, statSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { ConfigError } from '../errors';
import { openVassalFile, parseVassalText } from '../config/load';
import type { ConfigEntry, RawVassalConfig } from '../config/types';
import { CAPABILITY_NAMES } from '../plan/capabilities';
import type { VassalSource } from '../monitors/types';
import type { EmperorOptions } from './options';

/** A base serves adoptions on `socket`; an adopted vassal is forked from the base of
 *  `server`, and `listen` is the http-socket the emperor holds for it (fd 0 of its jail). */
export type ForkRole =
  | { readonly kind: 'base'; readonly socket: string }
  | { readonly kind: 'adopted'; readonly server: string; readonly listen?: string };

/** Where the lines the emperor adds to a base come from (named in the messages). */
const BASE_ORIGIN = 'vassal-fork-base';

type ForkOptions = Pick<EmperorOptions, 'forkBases' | 'useForkServer' | 'forkServerAttr'>;

// Is this file named by vassal-fork-base (its file name, `perlbase.ini`)?
export function isForkBase(source: Pick<VassalSource, 'name' | 'path'>, options: Pick<EmperorOptions, 'forkBases'>): boolean {
  return options.forkBases.some((b) => b === basename(source.path) || b === source.name || b === basename(source.name));
}

// Tyrant mode: a base runs as root with every capability, so it must be the sysadmin's file.
// The link and what it points at both count (a tenant's symlink named perlbase.ini is refused).
export function readBaseFile(path: string): RawVassalConfig {
  const link = lstatSync(path);
  const target = statSync(path);
  const opened = openVassalFile(path);
  // A hard link keeps the owner: a tenant could link root's base file into a directory of
  // their own under a base's name, where its relative early-psgi would name the tenant's app.
  if (opened.stat.nlink !== 1)
    throw new ConfigError(opened.file, undefined, BASE_ORIGIN, `named by vassal-fork-base, but the file has ${opened.stat.nlink} hard links: a fork-server base runs as root, so it must be one root-owned file with a single link`);
  for (const [what, st] of [['the file', link], ['its target', target], ['the file read', opened.stat]] as const)
    if (st.uid !== 0)
      throw new ConfigError(opened.file, undefined, BASE_ORIGIN, `named by vassal-fork-base, but ${what} is owned by uid ${st.uid}: in tyrant mode a fork-server base runs as root and must be a root-owned file (a tenant's file is never a base); chown root ${opened.file}`);
  return parseVassalText(opened.file, opened.text);
}

interface ProgramFacts {
  /** A binary patch, `app` or `psgi`: a program of its own. */
  readonly ownProgram: boolean;
}

// What the file is to the fork server, checked. `entries` are the expanded ones.
export function forkRole(source: Pick<VassalSource, 'name' | 'path'>, file: string, entries: readonly ConfigEntry[], options: ForkOptions, facts: ProgramFacts): ForkRole | undefined {
  const last = (key: string): ConfigEntry | undefined => entries.filter((e) => e.key === key).at(-1);
  if (isForkBase(source, options)) {
    const need = (key: string, what: string): string => {
      const e = last(key);
      if (!e || e.value.trim() === '') throw new ConfigError(file, undefined, key, `a fork-server base (vassal-fork-base) needs ${key} = ${what}`);
      return e.value.trim();
    };
    need('early-psgi', 'APP.psgi (the app it loads once for every vassal adopted from it)');
    const socket = need('fork-server', 'PATH (the UNIX socket it serves adoptions on)');
    if (!isAbsolute(socket)) throw new ConfigError(entryFile(last('fork-server')!, file), last('fork-server')!.line, 'fork-server', `fork-server = ${socket}: the base's socket must be an absolute path (in a directory only root can enter)`);
    if (last('psgi')) throw new ConfigError(entryFile(last('psgi')!, file), last('psgi')!.line, 'psgi', 'a fork-server base loads its app with early-psgi, not psgi; remove the psgi line');
    return { kind: 'base', socket };
  }
  const early = last('early-psgi');
  if (early && last('fork-server'))
    throw new ConfigError(entryFile(early, file), early.line, 'early-psgi', `early-psgi with fork-server makes a fork-server base, but the emperor has no vassal-fork-base naming ${basename(source.path)}: add \`vassal-fork-base = ${basename(source.path)}\` to the emperor (a base runs as root), or use psgi = APP for an app of its own`);
  const attr = last(options.forkServerAttr);
  const server = attr?.value.trim() || options.useForkServer;
  if (server === undefined || facts.ownProgram) return undefined;
  if (!isAbsolute(server)) throw new ConfigError(attr ? entryFile(attr, file) : file, attr?.line, options.forkServerAttr, `fork server ${server}: must be an absolute path (the socket a base serves)`);
  const sockets = entries.filter((e) => e.key === 'http-socket');
  if (sockets.length > 1)
    throw new ConfigError(entryFile(sockets[1]!, file), sockets[1]!.line, 'http-socket', `an adopted vassal (fork server ${server}) gets one listening socket, which the emperor holds and passes as fd 0: keep one http-socket line`);
  const listen = sockets[0]?.value.trim();
  return { kind: 'adopted', server, ...(listen ? { listen } : {}) };
}

const entryFile = (e: ConfigEntry, file: string): string => e.file ?? file;

// A base's entries: what it may not ask for refused with the line, what it needs added.
// It runs in the host's namespaces (an orphan must reach the emperor, and each adopted
// vassal makes its own), as root with every capability (it applies other uids' jails),
// and with no seccomp filter (a filter would stack onto every vassal adopted from it).
// `caps`: what the emperor holds (all of it, as root), which is what the base gets.
export function baseEntries(file: string, entries: readonly ConfigEntry[], caps: ReadonlySet<string>, warn: (line: string) => void): ConfigEntry[] {
  for (const e of entries) {
    const at = (reason: string): never => {
      throw new ConfigError(entryFile(e, file), e.line, e.key, reason);
    };
    if (e.key === 'unshare')
      at('a fork-server base runs in the host\'s namespaces: an orphan must reach the emperor (a child subreaper), not a pid namespace\'s init, and every vassal adopted from it makes its own; remove the unshare line');
    if (e.key === 'uid' || e.key === 'gid')
      at(`a fork-server base runs as root: it applies the jails of other uids (each adopted vassal sets its own ${e.key}); remove the ${e.key} line`);
    if (e.key === 'cap')
      at('a fork-server base keeps every capability (it applies other jails\' credentials); remove the cap line: each adopted vassal sets its own');
    // Its own v1 cgroups beyond memory and pids (cpu, blkio, a cgroup-opt's) would hold every
    // vassal adopted from it that needs none of its own there: limits apply per vassal.
    // The emperor's vassals-* defaults (line 0) are every vassal's, so each gets its own.
    if ((e.key === 'cpu-max' || e.key === 'io-weight' || e.key === 'cgroup-opt') && e.line > 0)
      at(`a fork-server base takes no ${e.key}: the vassals adopted from it would stay in the base's own ${e.key === 'cgroup-opt' ? 'cgroup of that controller' : e.key === 'cpu-max' ? 'cpu cgroup' : 'blkio cgroup'} wherever they set none of their own; set it in the adopted vassals' files${e.key === 'cgroup-opt' ? '' : ` (or the emperor's vassals-${e.key})`} instead`);
    if (e.key === 'seccomp' && e.value.trim() !== 'none')
      warn(`${entryFile(e, file)}:${e.line}: seccomp = ${e.value.trim()} ignored: a fork-server base gets no filter (it would stack onto every vassal adopted from it, each of which loads its own)`);
  }
  const kept = entries.filter((e) => e.key !== 'seccomp' && e.key !== 'seccomp-deny' && e.key !== 'seccomp-allow');
  return [
    ...kept,
    { key: 'cap', value: CAPABILITY_NAMES.filter((c) => caps.has(c)).join(','), line: 0, file: BASE_ORIGIN },
    { key: 'seccomp', value: 'none', line: 0, file: BASE_ORIGIN },
  ];
}

// What an adopted vassal's program reads from the config pipe: no http-socket (the emperor
// holds it: fd 0) and no fork-server attribute (it is no base).
export function adoptedProgramEntries(entries: readonly ConfigEntry[], options: Pick<EmperorOptions, 'forkServerAttr'>): ConfigEntry[] {
  return entries.filter((e) => e.key !== 'http-socket' && e.key !== options.forkServerAttr && e.key !== 'fork-server');
}
