// buildVassal(): one vassal file, read the way the emperor reads it (vassal-set, the file,
// vassals-include, JAIL_VASSAL_* from the environment, magic variables, placeholders), then
// compiled into the LaunchPlan of its jail. No side effects: the caller owns the fds.
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { environmentLayer, expandConfig, vassalSetLayer, type ConfigLayer } from '../config/expand';
import { excerpt, MAX_WARNINGS } from '../config/limits';
import { parseVassalText, readSideFile, readVassalConfig } from '../config/load';
import { bindOne, checkTenantSockets, socketsToBind } from './bound-sockets';
import { findOption, isJailOption } from '../config/options';
import { appServerCommand } from '../runtime/node/command';
import { jailexecLibrary, psgiHostCommand } from '../runtime/psgi/command';
import type { ConfigEntry, RawVassalConfig } from '../config/types';
import type { UserDb } from '../config/users';
import { compilePlan } from '../plan/compile';
import { NO_DIRECTORY } from '../plan/paths';
import { hasOwnRoot } from '../plan/mounts';
import { jailRuntime } from '../runtime/binds';
import type { FdMapping, LaunchPlan } from '../plan/types';
import { checkLimits, type LimitCheck } from '../plan/limits';
import type { VassalSource } from '../monitors/types';
import type { EmperorOptions } from './options';
import { checkNotRebound } from './on-demand';
import { ConfigError, isJailError } from '../errors';
import { socketLayout, type NamedAddress } from './socket-activation';
import { checkLaunchable, type EmperorPrivileges } from './privileges';
import { checkTenantEntries, OWNER_FIELD, readTenantFile, tenantOf, type Tenant } from './tyrant';
import { adoptedProgramEntries, baseEntries, forkRole, isForkBase, readBaseFile, type ForkRole } from './fork-rules';
import { checkTenantSocket } from './on-demand';

export interface VassalBuildContext {
  readonly options: EmperorOptions;
  /** The emperor's cgroup subtree; absent with emperor-cgroup = none. */
  readonly cgroups?: LimitCheck;
  readonly users: UserDb;
  readonly baseEnv: Readonly<Record<string, string>>;
  /** The emperor's own environment (for $(VAR) and JAIL_VASSAL_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Our ends' vassal-side fds, mapped to 3 (and 4) in the jail. */
  readonly emperorFd: number;
  readonly configFd?: number;
  /** Our ends' vassal-side fds for its stdout and stderr (the emperor keeps its log). */
  readonly stdio?: { readonly out: number; readonly err: number };
  /** What the emperor itself may do (a vassal asking for more is refused). */
  readonly privileges: EmperorPrivileges;
  /** The on-demand socket the emperor holds: the vassal gets it as fd 0. */
  readonly onDemand?: { readonly fd: number; readonly address: string };
  /** The fd the emperor holds for a held-socket address (held-socket.ts); absent in a dry build. */
  readonly heldFd?: (address: string) => number | undefined;
  /** Binds and listens on an address, for the jail (bound-sockets.ts); absent in a dry build. */
  readonly bindSocket?: (address: string) => number;
}

export interface VassalBuild {
  readonly plan: LaunchPlan;
  readonly warnings: readonly string[];
  /** The config text the vassal reads from the config pipe (uWSGI vassals), if any. */
  readonly configText?: string;
  /** Equal keys: the jail itself is unchanged, so a reload byte is enough. */
  readonly jailKey: string;
  /** A fork-server base, or a vassal adopted from one (fork-rules.ts). */
  readonly fork?: ForkRole;
  /** The sockets the emperor holds for it, the on-demand one first (socket-activation.ts). */
  readonly held: readonly NamedAddress[];
}

// The file's entries after every layer and expansion. A tenant's file (tyrant mode) does not
// get $(VAR) from the emperor's environment: that is the sysadmin's, not the tenant's to read;
// and its values land in the sysadmin's root commands only as one quoted word.
export function expandVassal(raw: RawVassalConfig, ctx: Pick<VassalBuildContext, 'options' | 'env'>, inline = false) {
  const layers: ConfigLayer[] = [
    ...(ctx.options.vassalsMaxProcs !== undefined
      ? [{ origin: 'vassals-max-procs', entries: [{ key: 'max-procs', value: String(ctx.options.vassalsMaxProcs), line: 0 }] }]
      : []),
    ...(ctx.options.vassalsTmpSize !== undefined
      ? [{ origin: 'vassals-tmp-size', entries: [{ key: 'tmp-size', value: String(ctx.options.vassalsTmpSize), line: 0 }] }]
      : []),
    ...limitDefaults(ctx.options),
    ...environmentLayer(ctx.env),
    ...(ctx.options.vassalSet.length > 0 ? [vassalSetLayer(ctx.options.vassalSet)] : []),
    // The tenant's own layer: what it sets reaches a root command only quoted (config/expand.ts).
    { file: raw.file, entries: raw.entries, ...(ctx.options.tyrant ? { env: {}, tenant: true } : {}) },
    ...ctx.options.vassalsInclude.map((f) => {
      const inc = readVassalConfig(f);
      return { file: inc.file, entries: inc.entries };
    }),
  ];
  return expandConfig(layers, { vassalFile: raw.file, env: ctx.env, ...(inline ? { notAFile: 'a database row' } : {}) });
}

// The emperor's vassals-memory-max, vassals-pids-max…: a layer each, before the file's own.
function limitDefaults(options: EmperorOptions): ConfigLayer[] {
  const defaults: Array<[string, string | undefined]> = [
    ['memory-max', options.vassalsMemoryMax], ['memory-high', options.vassalsMemoryHigh], ['pids-max', options.vassalsPidsMax],
    ['cpu-max', options.vassalsCpuMax], ['io-weight', options.vassalsIoWeight],
  ];
  return defaults.flatMap(([key, value]) => (value === undefined ? [] : [{ origin: `vassals-${key}`, entries: [{ key, value, line: 0 }] }]));
}

// What the program reads from the config pipe: every option that is not a jail option, as
// ini text, already expanded (uWSGI's own options, or the app server's).
export function foreignConfigText(entries: readonly ConfigEntry[]): string {
  const lines = entries.filter((e) => !isJailOption(e.key)).map((e) => `${e.key} = ${e.value}`);
  return `[uwsgi]\n${lines.join('\n')}\n`;
}

// The file, read as its tenant's in tyrant mode (owner checked before a line is parsed).
function readVassal(source: VassalSource, ctx: Pick<VassalBuildContext, 'options' | 'users'>): { raw: RawVassalConfig; tenant?: Tenant } {
  if (source.inline) return readRow(source, source.inline, ctx);
  if (!ctx.options.tyrant) return { raw: readVassalConfig(source.path) };
  // A base is the sysadmin's (root's) file, and runs as root: no tenant.
  if (isForkBase(source, ctx.options)) return { raw: readBaseFile(source.path) };
  const { raw, owner } = readTenantFile(source.path, ctx.options);
  return { raw, tenant: tenantOf(owner, ctx.options, ctx.users) };
}

// A database row's config (pg://): no file, no size cap beyond the parser's own limits; in
// tyrant mode it runs as its uid and gid columns, which must name a tenant, never root.
function readRow(source: VassalSource, row: NonNullable<VassalSource['inline']>, ctx: Pick<VassalBuildContext, 'options' | 'users'>): { raw: RawVassalConfig; tenant?: Tenant } {
  const raw = parseVassalText(source.path, row.text);
  if (!ctx.options.tyrant) return { raw };
  for (const [column, id] of [['uid', row.uid], ['gid', row.gid]] as const)
    if (id === null || id === 0)
      throw new ConfigError(source.path, undefined, OWNER_FIELD, `its ${column} column is ${id === null ? 'NULL' : '0 (root)'}: in tyrant mode a database vassal runs as its row's uid and gid, never as root; set them to the tenant's`);
  return { raw, tenant: tenantOf({ uid: row.uid!, gid: row.gid! }, ctx.options, ctx.users) };
}

/** One effective option, for `jailctl why`: its value and where it came from. */
export interface ExplainedEntry {
  readonly key: string;
  readonly value: string;
  /** FILE:LINE (the vassal's own, or an included file), vassal-set, environment JAIL_VASSAL_X, vassals-… */
  readonly from: string;
}

// The file's options as the emperor reads it now (tyrant mode's checks included), every layer
// applied and expanded, each with its origin, and the tenant it now belongs to (tyrant mode).
// Throws the file's JailError.
export function explainVassal(source: VassalSource, ctx: Pick<VassalBuildContext, 'options' | 'env' | 'users'>): { entries: ExplainedEntry[]; tenantUid?: number } {
  const { raw, tenant } = readVassal(source, ctx);
  const entries = expandVassal(raw, ctx, source.inline !== undefined).entries.map((e) => ({
    key: e.key, value: e.value, from: e.line > 0 ? `${e.file ?? raw.file}:${e.line}` : (e.file ?? raw.file),
  }));
  return { entries, ...(tenant ? { tenantUid: tenant.uid } : {}) };
}

// At most MAX_WARNINGS lines, and a count of the rest: one file must not flood the log.
function boundWarnings(warnings: string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return warnings;
  return [...warnings.slice(0, MAX_WARNINGS), `${warnings.length - MAX_WARNINGS} more warnings not shown`];
}

// Every failure is a JailError of this file: what the code below does not expect (a bug) is
// turned into this vassal's ConfigError too, with its cause, so one file never stops the
// emperor (invariant 7), and the fuzz test can tell it apart.
export function buildVassal(source: VassalSource, ctx: VassalBuildContext): VassalBuild {
  try {
    return buildChecked(source, ctx);
  } catch (err: unknown) {
    if (isJailError(err)) throw err;
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new ConfigError(source.path, undefined, undefined, `${INTERNAL_ERROR} (${excerpt(what, 200)}); please report it`, { cause: err });
  }
}

// Tyrant mode: which base a tenant's vassal is adopted from is the sysadmin's choice
// (emperor-use-fork-server, or a line of vassals-include): every vassal adopted from a base
// holds a copy of what it loaded, so a tenant must not pick another tenant's.
function checkTenantBase(file: string, entries: readonly ConfigEntry[], attr: string): void {
  const own = entries.filter((e) => e.key === attr && (e.file ?? file) === file).at(-1);
  if (own)
    throw new ConfigError(file, own.line, attr, `in tyrant mode a tenant's file does not choose its fork-server base (every vassal adopted from a base holds a copy of what it loaded): remove the ${attr} line; the emperor's emperor-use-fork-server applies`);
}

/** The keys whose value is a file the program loads, relative to the vassal file. */
const APP_FILES = ['app', 'psgi', 'early-psgi'];

/** The options that make a vassal the PSGI host's, in the order an error names them. */
const PSGI_OPTIONS = ['psgi', 'early-psgi'];

/** How an unexpected failure while building a vassal starts its message. */
export const INTERNAL_ERROR = 'internal error while reading this file';

function buildChecked(source: VassalSource, ctx: VassalBuildContext): VassalBuild {
  let read: ReturnType<typeof readVassal>;
  try {
    read = readVassal(source, ctx);
  } catch (err: unknown) {
    if (err instanceof ConfigError && err.message.includes('(EACCES)') && ctx.privileges.uid !== 0)
      err.message += `; this emperor runs as uid ${ctx.privileges.uid}: make the file readable by it (mode 0640 with the emperor's group), or give it cap dac_read_search`;
    throw err;
  }
  const { raw, tenant } = read;
  const expanded = expandVassal(raw, ctx, source.inline !== undefined);
  if (tenant) checkTenantEntries(raw.file, expanded.entries, tenant, ctx.options, ctx.users);
  // No binary patch: our app server when the file names an `app`, else the emperor's
  // binary-path (uWSGI, say), so one emperor hosts both. Either reads the config pipe.
  const patched = expanded.entries.some((e) => findOption(e.key) && /binary-patch/.test(e.key));
  const app = expanded.entries.some((e) => e.key === 'app');
  const fork = forkRole(source, raw.file, expanded.entries, ctx.options, { ownProgram: patched || app || expanded.entries.some((e) => e.key === 'psgi') });
  if (tenant && fork?.kind === 'adopted') checkTenantBase(raw.file, expanded.entries, ctx.options.forkServerAttr);
  const warnings: string[] = [];
  if (fork?.kind === 'base' && ctx.privileges.uid !== 0)
    throw new ConfigError(raw.file, undefined, 'vassal-fork-base', `a fork-server base runs as root (it applies other uids' jails), and this emperor runs as uid ${ctx.privileges.uid}; run the emperor as root, or spawn this app's vassals instead`);
  // The emperor's own attribute (emperor-fork-server-attr = KEY) is no option of the plan's.
  const notAttr = (e: ConfigEntry): boolean => e.key !== ctx.options.forkServerAttr || e.key === 'fork-server';
  const entries = fork?.kind === 'base' ? baseEntries(raw.file, expanded.entries, ctx.privileges.caps, (w) => warnings.push(w)) : expanded.entries.filter(notAttr);
  // A tenant's http-socket that the root emperor binds for it: the rules of an on-demand address.
  if (fork?.kind === 'adopted' && fork.listen !== undefined && tenant) checkTenantSocket(raw.file, fork.listen, ctx.options);
  // Held sockets at fd 0 (uWSGI's way) or 3… (systemd's), the emperor's pipes after them.
  const layout = socketLayout({
    file: raw.file, entries, adopted: fork?.kind === 'adopted', tenant: tenant !== undefined, options: ctx.options,
    ...(ctx.onDemand ? { primary: ctx.onDemand } : {}), ...(ctx.heldFd ? { heldFd: ctx.heldFd } : {}),
  });
  const fds: FdMapping[] = [{ src: ctx.emperorFd, dst: layout.emperorFd }];
  if (ctx.stdio) fds.push({ src: ctx.stdio.out, dst: 1 }, { src: ctx.stdio.err, dst: 2 });
  // An adopted vassal's held http-socket is that line itself (removed from what it reads).
  if (ctx.onDemand && fork?.kind !== 'adopted') checkNotRebound(entries, ctx.onDemand.address, raw.file);
  fds.push(...layout.fds);
  const extraEnv: Record<string, string> = { UWSGI_EMPEROR_FD: String(layout.emperorFd), JAIL_EMPEROR_FD: String(layout.emperorFd), JAIL_VASSAL: source.name };
  // An adopted vassal goes on as the PSGI host (the base's process, its app loaded). A uWSGI
  // file (`plugins = psgi`) under an emperor with binary-path is uWSGI's to serve, unchanged.
  const uwsgiFile = ctx.options.binaryPath !== undefined && fork === undefined && entries.some((e) => e.key === 'plugins' || e.key === 'plugin');
  const psgi = fork !== undefined || (!uwsgiFile && entries.some((e) => e.key === 'psgi' || e.key === 'early-psgi'));
  const stem = `emperor://${source.name.replace(extname(source.name), '')}.ini`;
  const ownProgram = patched ? undefined : app ? appServerCommand() : psgi ? psgiHostCommand() : undefined;
  // On a root of its own, the jail gets jailctl's runtime bound in (runtime/binds.ts).
  const runtime = ownProgram && jailRuntime(ownProgram, hasOwnRoot(entries), raw.file);
  const command = patched ? undefined : runtime?.argv ?? (ctx.options.binaryPath !== undefined ? [ctx.options.binaryPath] : undefined);
  if (runtime && psgi) extraEnv.JAIL_EXEC_LIB = runtime.inJail(jailexecLibrary());
  const readsConfigPipe = command !== undefined;
  // Sockets bound by the emperor, at fd 5 on (a uWSGI vassal's own socket lines included).
  const program = command?.[0] ?? entries.filter((e) => /binary-patch/.test(e.key)).at(-1)?.value.trim().split(/\s+/)[0] ?? '';
  const uwsgi = /(^|\/)uwsgi[^/]*$/.test(program);
  // Not for a base or an adopted vassal: those hold their sockets as the fork server does.
  const bound = fork ? [] : socketsToBind(entries, uwsgi, layout.firstBoundFd);
  if (tenant) checkTenantSockets(raw.file, bound, ctx.options);
  const chmod = entries.filter((e) => e.key === 'chmod-socket').at(-1)?.value;
  for (const s of bound) fds.push({ src: ctx.bindSocket ? bindOne(ctx.bindSocket, s, raw.file, chmod) : -1, dst: s.fd });
  if (bound.length > 0) {
    extraEnv.JAIL_LISTEN_FDS = bound.map((s) => s.fd).join(' ');
    if (uwsgi) extraEnv.UWSGI_RELOADS = '1'; // uWSGI looks for inherited sockets then
  }
  if (readsConfigPipe && ctx.configFd !== undefined) {
    fds.push({ src: ctx.configFd, dst: layout.configFd });
    extraEnv.UWSGI_EMPEROR_FD_CONFIG = String(layout.configFd);
    extraEnv.JAIL_EMPEROR_FD_CONFIG = String(layout.configFd);
  }
  const compiled = compilePlan(
    { ...raw, entries },
    {
      users: ctx.users,
      baseEnv: ctx.baseEnv,
      // Keys from vassal-set and JAIL_VASSAL_* were checked once at start: no warning per vassal.
      placeholders: new Set([...expanded.referenced, ...expanded.entries.filter((e) => e.line === 0 || e.file === 'vassal-set').map((e) => e.key)]),
      foreignOptions: readsConfigPipe && !app && !psgi,
      // Every vassal gets a pid namespace: stopping it must stop all of it (DESIGN.md, 8).
      // With a mount namespace, so it gets a /proc of its own: the host's would list every
      // host process (and the environ of those of its uid) inside the jail.
      // An emperor without CAP_SYS_ADMIN cannot: its vassals are stopped by session.
      // A base runs in the host's namespaces (fork-rules.ts): none are added to it.
      extraNamespaces: fork?.kind === 'base' ? [] : [...ctx.options.useClone, ...(ctx.privileges.caps.has('sys_admin') ? ['pid' as const, 'mount' as const] : [])],
      ...(tenant ? { credentials: tenant, tenantFile: true } : {}),
      ...(command ? { defaultProgram: { path: command[0]!, argv: [...command, '--ini', stem], ...(ownProgram ? { option: app ? 'app' : PSGI_OPTIONS.find((k) => entries.some((e) => e.key === k)) ?? 'psgi' } : {}) } } : {}),
      fds,
      extraEnv,
      ...(layout.names ? { socketActivation: { names: layout.names } } : {}),
      newSession: true,
      readFile: readSideFile,
      ...(runtime && runtime.binds.length > 0 ? { runtimeBinds: runtime.binds } : {}),
      capCeiling: [...ctx.privileges.caps].filter((c) => !tenant || ctx.options.vassalsCap.includes(c)),
    },
  );
  checkLaunchable(compiled.plan, ctx.privileges);
  const contained = checkLimits(compiled.plan, ctx.cgroups);
  // Under an emperor that runs as a user, the cgroup files it makes are that user's.
  const own = ctx.privileges.uid;
  if (own !== 0 && (compiled.plan.uid ?? own) === own)
    contained.warnings.push(`${raw.file}: runs as the emperor's own uid ${own}: it owns its cgroup's files, so it could raise its own limits or leave its cgroup (and it may signal the emperor); give it a uid of its own`);
  const { fds: _fds, ...jailPart } = compiled.plan;
  // The program reads `app` (`psgi`, `early-psgi`) from the pipe, with no file to be relative
  // to: make it absolute (relative to the jail's chdir, else to the vassal file's directory).
  // A database row has no directory: there, only chdir can make such a path absolute.
  const base = compiled.plan.chdir ?? (isAbsolute(raw.file) ? dirname(raw.file) : undefined);
  const absolute = (e: ConfigEntry): ConfigEntry => {
    if (!APP_FILES.includes(e.key) || isAbsolute(e.value.trim())) return e;
    if (base === undefined) throw new ConfigError(raw.file, e.line, e.key, `\`${excerpt(e.value.trim())}\` ${NO_DIRECTORY}, or set chdir`);
    return { ...e, value: resolve(base, e.value.trim()) };
  };
  const forProgram = (fork?.kind === 'adopted' ? adoptedProgramEntries(entries, ctx.options) : entries).map(absolute);
  return {
    plan: contained.plan,
    warnings: boundWarnings([...expanded.warnings, ...warnings, ...compiled.warnings, ...contained.warnings]),
    ...(readsConfigPipe ? { configText: foreignConfigText(forProgram) } : {}),
    jailKey: JSON.stringify(jailPart),
    ...(fork ? { fork } : {}),
    held: layout.held,
  };
}
