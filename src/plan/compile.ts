// compilePlan(): a parsed vassal file → a validated, read-only LaunchPlan. No I/O: users and
// the base environment come in as arguments. Every error names the file, line and option.
import { constants } from 'node:os';
import { basename, extname, isAbsolute } from 'node:path';
import type { ConfigEntry, RawVassalConfig } from '../config/types';
import { excerpt } from '../config/limits';
import { findOption, isUwsgiOption, suggestOption, VASSAL_OPTIONS } from '../config/options';
import type { UserDb } from '../config/users';
import { PlanError } from '../errors';
import { CAPABILITY_NAMES, capabilityNumber, PRIVILEGED_DEFAULT_CAPS } from './capabilities';
import type { FdMapping, Hook, LaunchPlan, Namespace, Program, SocketActivation } from './types';
import { compileLimits, compileSeccomp } from './limits';
import { compileMounts, ROOT_OPTIONS, type HostBind } from './mounts';
import { splitWords, WordsError } from './words';
import { NO_DIRECTORY, pathFrom } from './paths';

export interface CompileOptions {
  readonly users: UserDb;
  /** The environment the jail starts from; `env` options are added on top. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Keys used as `%(key)` placeholders: not options, but not typos either. */
  readonly placeholders?: ReadonlySet<string>;
  /** The program is uWSGI (or another reader of the same file): options we do not know are
   *  its own, so they get no warning. */
  readonly foreignOptions?: boolean;
  /** Namespaces every vassal gets on top of its own `unshare` (emperor-use-clone). */
  readonly extraNamespaces?: readonly Namespace[];
  /** What to run when the file sets no binary patch (the emperor's binary-path). */
  readonly defaultProgram?: {
    readonly path: string;
    readonly argv: readonly string[];
    /** The option that chose it (`app`: our app server); absent: binary-path. */
    readonly option?: string;
  };
  /** Fds handed to the jail, and the environment that tells the vassal about them. */
  readonly fds?: readonly FdMapping[];
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** systemd socket activation of the fds at 3… (see LaunchPlan.socketActivation). */
  readonly socketActivation?: SocketActivation;
  /** The identity the jail runs as whatever the file says (tyrant mode: the file's owner,
   *  checked against the file's own uid/gid before compiling). */
  readonly credentials?: { readonly uid: number; readonly gid: number; readonly groups: readonly number[] };
  /** The vassal file's own lines are a tenant's (tyrant mode): none of them reaches a step
   *  that runs as root. Lines of the sysadmin's layers (vassal-set, vassals-include) carry a
   *  `file` and do. */
  readonly tenantFile?: boolean;
  /** Put the jail in a session of its own (see LaunchPlan.newSession). */
  readonly newSession?: boolean;
  /** The capabilities a privileged patch without `cap` may get at most (what the emperor
   *  holds; in tyrant mode, also only vassals-cap for a tenant's file); absent: no bound. */
  readonly capCeiling?: readonly string[];
  /** jailctl's own files its program needs when the jail has a root of its own (bound
   *  read-only; runtime/binds.ts). */
  readonly runtimeBinds?: readonly HostBind[];
  /** Reads a `seccomp = FILE` (the only file a compile reads); absent: FILE is refused. */
  readonly readFile?: (path: string) => string;
}

export interface CompiledVassal {
  readonly plan: LaunchPlan;
  /** Things worth a line in the log that do not stop the launch (unknown options…). */
  readonly warnings: readonly string[];
}

const NAMESPACE_NAMES: Readonly<Record<string, Namespace>> = {
  fs: 'mount', mount: 'mount', pid: 'pid', net: 'net', ipc: 'ipc', uts: 'uts',
};

const PATCH_OPTIONS = [
  'privileged-binary-patch', 'privileged-binary-patch-arg',
  'unprivileged-binary-patch', 'unprivileged-binary-patch-arg',
] as const;

/** A private /tmp holds 64 MiB unless `tmp-size` says otherwise: tmpfs pages are RAM. */
export const DEFAULT_TMP_SIZE = 64 * 1024 * 1024;

// `64m` → 67108864: bytes, or a number with k, m or g (powers of 1024); at least 4 KiB.
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*([kmg]?)b?$/i.exec(text.trim());
  const size = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  return size >= 4096 && Number.isSafeInteger(size) ? size : undefined;
}

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

// Written in the vassal file or an included one, not set by the emperor for every vassal.
const isWritten = (e: ConfigEntry): boolean => e.line > 0 && e.file !== 'vassal-set';

// The options of one file, grouped by name; single-valued ones keep their last value.
class Entries {
  private readonly byName = new Map<string, ConfigEntry[]>();
  constructor(entries: readonly ConfigEntry[]) {
    for (const e of entries) {
      const list = this.byName.get(e.key) ?? [];
      list.push(e);
      this.byName.set(e.key, list);
    }
  }
  all(name: string): readonly ConfigEntry[] {
    return this.byName.get(name) ?? [];
  }
  last(name: string): ConfigEntry | undefined {
    return this.all(name).at(-1);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }
}

// Compiles one vassal file into a LaunchPlan, or throws PlanError naming file, line, option.
export function compilePlan(raw: RawVassalConfig, options: CompileOptions): CompiledVassal {
  const vassal = basename(raw.file, extname(raw.file));
  const entries = new Entries(raw.entries);
  const warnings: string[] = [];
  const fail = (entry: ConfigEntry | undefined, field: string, reason: string): never => {
    throw new PlanError({ vassal, field, file: entry?.file ?? raw.file, ...(entry && entry.line > 0 ? { line: entry.line } : {}) }, reason);
  };
  const at = (e: ConfigEntry): string => `${e.file ?? raw.file}${e.line > 0 ? `:${e.line}` : ''}`;

  for (const name of entries.names()) {
    const spec = findOption(name);
    const first = entries.all(name)[0]!;
    if (!spec) {
      if (options.placeholders?.has(name) || (options.foreignOptions && isUwsgiOption(name))) continue;
      // A name this long is no typo of an option (and a distance costs its length).
      const hint = name.length <= 64 ? suggestOption(name, options.foreignOptions) : undefined;
      const whose = options.foreignOptions ? ', neither jailctl\'s nor uWSGI 2.0\'s' : '';
      warnings.push(`${at(first)}: unknown option \`${name}\`${whose}${hint ? ` (did you mean \`${hint}\`?)` : ''}; ${options.foreignOptions ? 'uWSGI ignores it silently' : 'ignored'}`);
    } else if (spec.kind === 'single' && entries.all(name).filter(isWritten).length > 1) {
      // Defaults the emperor puts first (vassal-set, vassals-max-procs, JAIL_VASSAL_*) are
      // there to be overridden: only values written in files count as repeats.
      const written = entries.all(name).filter(isWritten);
      warnings.push(`${at(written.at(-1)!)}: \`${name}\` is set ${written.length} times; the last one counts`);
    }
  }

  // A fatal error below may well be caused by a misspelt option (`unpriviliged-…`): say so
  // in the error itself, since the warnings are never shown when the compile fails.
  try {
    return compileChecked(raw, entries, options, vassal, warnings, fail);
  } catch (err: unknown) {
    const typos = warnings.filter((w) => w.includes('did you mean'));
    if (err instanceof PlanError && typos.length > 0)
      err.message += `; note: ${typos.slice(0, 3).join('; ')}${typos.length > 3 ? `; and ${typos.length - 3} more` : ''}`;
    throw err;
  }
}

function compileChecked(
  raw: RawVassalConfig,
  entries: Entries,
  options: CompileOptions,
  vassal: string,
  warnings: string[],
  fail: Fail,
): CompiledVassal {
  const namespaces = compileNamespaces(entries, fail);
  const has = (ns: Namespace): boolean => namespaces.includes(ns);
  const ownPid = has('pid');
  for (const ns of options.extraNamespaces ?? []) if (!namespaces.includes(ns)) namespaces.push(ns);

  const hostnameEntry = entries.last('hostname');
  let hostname: string | undefined;
  if (hostnameEntry) {
    hostname = hostnameEntry.value.trim();
    if (!HOSTNAME_RE.test(hostname) || hostname.length > 64)
      fail(hostnameEntry, 'hostname', `\`${excerpt(hostname)}\` is not a valid hostname (letters, digits, '-' and '.', at most 64 characters)`);
    if (!has('uts'))
      fail(hostnameEntry, 'hostname', 'needs its own uts namespace, or it would rename the host: add uts to unshare');
  }

  const tmpEntry = entries.last('tmp');
  let tmpPrivate: ConfigEntry | undefined;
  if (tmpEntry) {
    const v = tmpEntry.value.trim().toLowerCase();
    if (v === 'private') {
      if (!has('mount')) fail(tmpEntry, 'tmp', 'a private /tmp needs its own mount namespace, or it would hide the host\'s /tmp: add fs to unshare');
      tmpPrivate = tmpEntry;
    } else if (v !== 'shared' && v !== '') {
      fail(tmpEntry, 'tmp', `expected \`private\` (a fresh tmpfs) or \`shared\` (the host's /tmp, the default), got \`${excerpt(tmpEntry.value)}\``);
    }
  }
  const ownRoot = ROOT_OPTIONS.some((name) => entries.last(name));
  if (ownRoot && tmpEntry?.value.trim().toLowerCase() === 'shared')
    fail(tmpEntry, 'tmp', 'a jail with a root of its own gets a private /tmp (its root has no host /tmp to share); for the host\'s, add bind = /tmp:/tmp, else remove the line');
  const tmpSizeEntry = entries.last('tmp-size');
  let tmpSize = DEFAULT_TMP_SIZE;
  if (tmpSizeEntry && (tmpPrivate || ownRoot)) {
    const size = parseSize(tmpSizeEntry.value);
    if (size === undefined)
      fail(tmpSizeEntry, 'tmp-size', `expected a size of 4k or more (bytes, or a number with k, m or g), got \`${excerpt(tmpSizeEntry.value)}\``);
    tmpSize = size;
  } else if (tmpSizeEntry && isWritten(tmpSizeEntry)) {
    warnings.push(`${tmpSizeEntry.file ?? raw.file}:${tmpSizeEntry.line}: tmp-size without tmp = private (or a rootfs) does nothing`);
  }
  const maxProcsEntry = entries.last('max-procs');
  let maxProcs: number | undefined;
  if (maxProcsEntry) {
    const v = maxProcsEntry.value.trim();
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 0x7fffffff)
      fail(maxProcsEntry, 'max-procs', `expected a number of processes (1 or more), got \`${excerpt(maxProcsEntry.value)}\``);
    maxProcs = Number(v);
  }
  const nofile = compileInt(entries.last('max-fd'), 1, 0x7fffffff, 'a number of open files (1 or more)', fail);
  const oomScoreAdj = compileInt(entries.last('oom-score-adj'), -1000, 1000, 'a number from -1000 to 1000', fail);

  const hooks: Hook[] = entries.all('exec-as-root').map((e) => {
    if (e.value.trim() === '') fail(e, 'exec-as-root', 'empty command');
    return { option: 'exec-as-root', line: e.line, command: e.value };
  });

  const { uid, gid, home } = options.credentials
    ? { ...options.credentials, home: options.users.userById(options.credentials.uid)?.home }
    : compileCredentials(entries, options.users, fail);
  if (maxProcsEntry && maxProcsEntry.file === undefined && uid === undefined && !options.credentials)
    warnings.push(`${maxProcsEntry.file ?? raw.file}:${maxProcsEntry.line}: max-procs limits the processes of the jail's uid, and root is exempt: set uid for it to count`);
  let caps = compileCaps(entries, fail);
  const noNewPrivs = compileBool(entries.last('no-new-privs'), true, fail);

  const env = new Map<string, string>(Object.entries(options.baseEnv));
  if (uid !== undefined) {
    const user = options.users.userById(uid);
    env.set('HOME', home ?? '/');
    if (user) {
      env.set('USER', user.name);
      env.set('LOGNAME', user.name);
    }
  }
  // Root hooks and a privileged program run as root: they get the base environment and what
  // the sysadmin's own lines set, never a tenant's (LD_PRELOAD, PATH, BASH_ENV would be root).
  const rootEnv = new Map<string, string>(Object.entries(options.baseEnv));
  const tenantsLine = (e: ConfigEntry): boolean => options.tenantFile === true && (e.file === undefined || e.tainted === true);
  for (const e of entries.all('env')) {
    const eq = e.value.indexOf('=');
    if (eq <= 0) fail(e, 'env', `expected KEY=VALUE, got \`${excerpt(e.value)}\``);
    env.set(e.value.slice(0, eq).trim(), e.value.slice(eq + 1));
    if (!tenantsLine(e)) rootEnv.set(e.value.slice(0, eq).trim(), e.value.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(options.extraEnv ?? {})) {
    env.set(k, v);
    // JAIL_VASSAL is the file's name: a tenant's choice in tyrant mode.
    if (!(options.tenantFile && k === 'JAIL_VASSAL')) rootEnv.set(k, v);
  }

  const chdirEntry = entries.last('chdir');
  const chdir = chdirEntry ? pathFrom(raw.file, chdirEntry.value.trim()) ?? fail(chdirEntry, 'chdir', `\`${excerpt(chdirEntry.value.trim())}\` ${NO_DIRECTORY}`) : undefined;
  if (chdirEntry && chdirEntry.value.trim() === '') fail(chdirEntry, 'chdir', 'empty directory');

  const program = compileProgram(raw, entries, fail, options.defaultProgram);
  // A privileged patch (nginx's master) without `cap` keeps a container's default set, as
  // the docs' recipe expects; `cap` narrows it.
  if (program.privileged && entries.all('cap').length === 0)
    caps = PRIVILEGED_DEFAULT_CAPS.filter((c) => !options.capCeiling || options.capCeiling.includes(c));
  const reloadSignal = compileSignal(entries.last('reload-signal'), fail);
  const stopSignal = compileSignal(entries.last('stop-signal'), fail);
  const mounts = compileMounts(entries, {
    file: raw.file, namespaces, tmpSize, isTenants: tenantsLine, warnings, fail,
    ...(options.runtimeBinds ? { runtimeBinds: options.runtimeBinds } : {}),
    ...(options.credentials ? { tenantUid: options.credentials.uid } : {}),
  }, tmpPrivate);
  // After the mounts, which add a mount namespace when they need one.
  if (ownPid && !has('mount'))
    warnings.push(`${raw.file}: unshare = pid without fs: /proc inside the jail still shows the host's processes; add fs`);

  const plan: LaunchPlan = Object.freeze({
    vassal,
    file: raw.file,
    namespaces: Object.freeze(namespaces),
    mounts: Object.freeze(mounts),
    ...(maxProcs !== undefined ? { maxProcs } : {}),
    ...(nofile !== undefined ? { nofile } : {}),
    ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
    loopback: has('net'),
    ...(hostname !== undefined ? { hostname } : {}),
    hooks: Object.freeze(hooks),
    limits: compileLimits(entries, fail),
    seccomp: compileSeccomp(entries, raw.file, options.readFile, fail),
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    groups: Object.freeze([...(options.credentials?.groups ?? [])]),
    caps: Object.freeze(caps),
    noNewPrivs,
    ...(options.newSession ? { newSession: true } : {}),
    program,
    env: Object.freeze([...env].map(([k, v]) => `${k}=${v}`)),
    ...(hooks.length > 0 || program.privileged ? { rootEnv: Object.freeze([...rootEnv].map(([k, v]) => `${k}=${v}`)) } : {}),
    ...(chdir !== undefined ? { chdir } : {}),
    fds: Object.freeze([...(options.fds ?? [])]),
    ...(options.socketActivation ? { socketActivation: { names: Object.freeze([...options.socketActivation.names]) } } : {}),
    ...(reloadSignal ? { reloadSignal } : {}),
    ...(stopSignal ? { stopSignal } : {}),
  });
  return { plan, warnings };
}

type Fail = (entry: ConfigEntry | undefined, field: string, reason: string) => never;

function compileNamespaces(entries: Entries, fail: Fail): Namespace[] {
  const out: Namespace[] = [];
  for (const e of entries.all('unshare')) {
    for (const word of e.value.split(/[\s,]+/).filter(Boolean)) {
      const ns = NAMESPACE_NAMES[word.toLowerCase()];
      if (!ns) fail(e, 'unshare', `unknown namespace \`${excerpt(word)}\`; valid: fs (or mount), pid, net, ipc, uts`);
      if (!out.includes(ns)) out.push(ns);
    }
  }
  return out;
}

function compileCredentials(entries: Entries, users: UserDb, fail: Fail): { uid?: number; gid?: number; home?: string } {
  const uidEntry = entries.last('uid');
  const gidEntry = entries.last('gid');
  let uid: number | undefined;
  let gid: number | undefined;
  let home: string | undefined;
  if (uidEntry) {
    const v = uidEntry.value.trim();
    const user = /^\d+$/.test(v) ? users.userById(Number(v)) : users.userByName(v);
    if (/^\d+$/.test(v)) uid = checkId(Number(v), uidEntry, 'uid', fail);
    else if (user) uid = user.uid;
    else fail(uidEntry, 'uid', `unknown user \`${excerpt(v)}\` (not in /etc/passwd); use a user name or a number`);
    home = user?.home;
    // uWSGI leaves the gid at root's when only uid is set; a sysadmin expects the user's group.
    if (!gidEntry && user) gid = user.gid;
  }
  if (gidEntry) {
    const v = gidEntry.value.trim();
    if (/^\d+$/.test(v)) gid = checkId(Number(v), gidEntry, 'gid', fail);
    else {
      const g = users.groupByName(v);
      if (g === undefined) fail(gidEntry, 'gid', `unknown group \`${excerpt(v)}\` (not in /etc/group); use a group name or a number`);
      gid = g;
    }
  }
  if (uid !== undefined && gid === undefined)
    fail(uidEntry, 'gid', `uid ${uid} has no /etc/passwd entry to take a group from; set gid too`);
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}), ...(home !== undefined ? { home } : {}) };
}

// An integer option in [min, max], or undefined when absent.
function compileInt(entry: ConfigEntry | undefined, min: number, max: number, what: string, fail: Fail): number | undefined {
  if (!entry) return undefined;
  const v = entry.value.trim();
  if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(entry, entry.key, `expected ${what}, got \`${entry.value}\``);
  return Number(v);
}

function checkId(n: number, entry: ConfigEntry, field: string, fail: Fail): number {
  if (!Number.isSafeInteger(n) || n >= 0xffffffff) fail(entry, field, `${n} is out of range`);
  return n;
}

function compileCaps(entries: Entries, fail: Fail): string[] {
  const out: string[] = [];
  for (const e of entries.all('cap')) {
    for (const word of e.value.split(/[\s,]+/).filter(Boolean)) {
      const n = capabilityNumber(word);
      if (n === undefined) {
        const hint = CAPABILITY_NAMES.find((c) => word.toLowerCase().replace(/^cap_/, '').startsWith(c.slice(0, 4)));
        fail(e, 'cap', `unknown capability \`${excerpt(word)}\`${hint ? ` (did you mean \`${hint}\`?)` : ''}; see capabilities(7)`);
      }
      const name = CAPABILITY_NAMES[n]!;
      if (!out.includes(name)) out.push(name);
    }
  }
  return out;
}

// `SIGHUP`, `hup` or `1` → 'SIGHUP'; SIGKILL and SIGSTOP cannot be a vassal's choice here.
function compileSignal(entry: ConfigEntry | undefined, fail: Fail): NodeJS.Signals | undefined {
  if (!entry) return undefined;
  const v = entry.value.trim().toUpperCase();
  const byName = (v.startsWith('SIG') ? v : `SIG${v}`) as NodeJS.Signals;
  const name = /^\d+$/.test(v) ? (Object.entries(constants.signals).find(([, n]) => n === Number(v))?.[0] as NodeJS.Signals | undefined)
    : byName in constants.signals ? byName : undefined;
  if (!name) return fail(entry, entry.key, `unknown signal \`${excerpt(entry.value)}\`; e.g. SIGHUP, SIGQUIT, SIGUSR1 (see signal(7))`);
  if (name === 'SIGKILL' || name === 'SIGSTOP') return fail(entry, entry.key, `${name} cannot be caught: it would not reload or stop the program gracefully; the emperor kills a jail that does not stop by itself`);
  return name;
}

function compileBool(entry: ConfigEntry | undefined, fallback: boolean, fail: Fail): boolean {
  if (!entry) return fallback;
  const v = entry.value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(entry, entry.key, `expected true or false, got \`${excerpt(entry.value)}\``);
}

// uWSGI's vassal command line, which the plain patch forms receive as their argv.
function vassalArgv(path: string, raw: RawVassalConfig): string[] {
  return [path, `--${raw.format}`, raw.file];
}

function compileProgram(raw: RawVassalConfig, entries: Entries, fail: Fail, fallback: CompileOptions['defaultProgram']): Program {
  const given = PATCH_OPTIONS.filter((name) => entries.last(name));
  if (given.length === 0 && fallback) {
    const option = fallback.option ?? 'binary-path';
    const line = entries.last(option)?.line;
    return Object.freeze({ option, ...(line ? { line } : {}), privileged: false, path: fallback.path, argv: Object.freeze([...fallback.argv]) });
  }
  if (given.length === 0 && raw.section === 'uwsgi')
    fail(undefined, 'binary-path',
      'this is a [uwsgi] file, for uWSGI to run: give the program, as the uWSGI Emperor does (jailctl run --binary-path /usr/bin/uwsgi FILE, or the emperor\'s --binary-path /usr/bin/uwsgi), or set unprivileged-binary-patch-arg = PROGRAM ARGS… to run something else');
  if (given.length === 0)
    fail(undefined, 'unprivileged-binary-patch-arg',
      'nothing to run: set unprivileged-binary-patch-arg = PROGRAM ARGS… (or privileged-binary-patch-arg to start it as root; under the emperor, binary-path)');
  if (given.length > 1) {
    const second = entries.last(given[1]!)!;
    fail(second, given[1]!, `only one program can run; \`${given[0]}\` is already set`);
  }
  const option = given[0]!;
  const entry = entries.last(option)!;
  const privileged = option.startsWith('privileged');
  let argv: string[];
  if (option.endsWith('-arg')) {
    try {
      argv = splitWords(entry.value);
    } catch (err: unknown) {
      if (err instanceof WordsError) return fail(entry, option, `${err.message} at column ${err.column}`);
      throw err;
    }
    if (argv.length === 0) fail(entry, option, 'empty command line');
  } else {
    const path = entry.value.trim();
    if (path === '') fail(entry, option, 'empty program path');
    argv = vassalArgv(path, raw);
  }
  const path = argv[0]!;
  if (path.includes('/') && !isAbsolute(path))
    fail(entry, option, `\`${excerpt(path)}\` is relative to a directory that differs inside the jail; give an absolute path or a bare name looked up in PATH`);
  return Object.freeze({ option, line: entry.line, privileged, path, argv: Object.freeze(argv) });
}

// Every option name a vassal file may use (for --help).
export const OPTION_NAMES: readonly string[] = VASSAL_OPTIONS.map((o) => o.name);
