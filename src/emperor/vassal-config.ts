// buildVassal(): one vassal file, read the way the emperor reads it (vassal-set, the file,
// vassals-include, JAIL_VASSAL_* from the environment, magic variables, placeholders), then
// compiled into the LaunchPlan of its jail. No side effects: the caller owns the fds.
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { environmentLayer, expandConfig, vassalSetLayer, type ConfigLayer } from '../config/expand';
import { readVassalConfig } from '../config/load';
import { findOption, isJailOption } from '../config/options';
import { appServerCommand } from '../runtime/node/command';
import type { ConfigEntry } from '../config/types';
import type { UserDb } from '../config/users';
import { compilePlan } from '../plan/compile';
import type { FdMapping, LaunchPlan } from '../plan/types';
import type { VassalSource } from '../monitors/types';
import type { EmperorOptions } from './options';
import { checkNotRebound } from './on-demand';
import { CONFIG_FD, EMPEROR_FD } from './protocol';

export interface VassalBuildContext {
  readonly options: EmperorOptions;
  readonly users: UserDb;
  readonly baseEnv: Readonly<Record<string, string>>;
  /** The emperor's own environment (for $(VAR) and JAIL_VASSAL_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Our ends' vassal-side fds, mapped to 3 (and 4) in the jail. */
  readonly emperorFd: number;
  readonly configFd?: number;
  /** The on-demand socket the emperor holds: the vassal gets it as fd 0. */
  readonly onDemand?: { readonly fd: number; readonly address: string };
}

export interface VassalBuild {
  readonly plan: LaunchPlan;
  readonly warnings: readonly string[];
  /** The config text the vassal reads from the config pipe (uWSGI vassals), if any. */
  readonly configText?: string;
  /** Equal keys: the jail itself is unchanged, so a reload byte is enough. */
  readonly jailKey: string;
}

// The file's entries after every layer and expansion (exported for tests and --print-plan).
export function expandVassal(source: VassalSource, ctx: Pick<VassalBuildContext, 'options' | 'env'>) {
  const raw = readVassalConfig(source.path);
  const layers: ConfigLayer[] = [
    ...environmentLayer(ctx.env),
    ...(ctx.options.vassalSet.length > 0 ? [vassalSetLayer(ctx.options.vassalSet)] : []),
    { file: raw.file, entries: raw.entries },
    ...ctx.options.vassalsInclude.map((f) => {
      const inc = readVassalConfig(f);
      return { file: inc.file, entries: inc.entries };
    }),
  ];
  const expanded = expandConfig(layers, { vassalFile: raw.file, env: ctx.env });
  return { raw, expanded };
}

// What the program reads from the config pipe: every option that is not a jail option, as
// ini text, already expanded (uWSGI's own options, or the app server's).
export function foreignConfigText(entries: readonly ConfigEntry[]): string {
  const lines = entries.filter((e) => !isJailOption(e.key)).map((e) => `${e.key} = ${e.value}`);
  return `[uwsgi]\n${lines.join('\n')}\n`;
}

export function buildVassal(source: VassalSource, ctx: VassalBuildContext): VassalBuild {
  const { raw, expanded } = expandVassal(source, ctx);
  const fds: FdMapping[] = [{ src: ctx.emperorFd, dst: EMPEROR_FD }];
  if (ctx.onDemand) {
    checkNotRebound(expanded.entries, ctx.onDemand.address, raw.file);
    fds.push({ src: ctx.onDemand.fd, dst: 0 });
  }
  const extraEnv: Record<string, string> = { UWSGI_EMPEROR_FD: String(EMPEROR_FD), JAIL_EMPEROR_FD: String(EMPEROR_FD), JAIL_VASSAL: source.name };
  // No binary patch: our app server when the file names an `app`, else the emperor's
  // binary-path (uWSGI, say), so one emperor hosts both. Either reads the config pipe.
  const patched = expanded.entries.some((e) => findOption(e.key) && /binary-patch/.test(e.key));
  const app = expanded.entries.some((e) => e.key === 'app');
  const stem = `emperor://${source.name.replace(extname(source.name), '')}.ini`;
  const command = patched ? undefined : app ? appServerCommand() : ctx.options.binaryPath !== undefined ? [ctx.options.binaryPath] : undefined;
  const readsConfigPipe = command !== undefined;
  if (readsConfigPipe && ctx.configFd !== undefined) {
    fds.push({ src: ctx.configFd, dst: CONFIG_FD });
    extraEnv.UWSGI_EMPEROR_FD_CONFIG = String(CONFIG_FD);
    extraEnv.JAIL_EMPEROR_FD_CONFIG = String(CONFIG_FD);
  }
  const compiled = compilePlan(
    { ...raw, entries: expanded.entries },
    {
      users: ctx.users,
      baseEnv: ctx.baseEnv,
      // Keys from vassal-set and JAIL_VASSAL_* were checked once at start: no warning per vassal.
      placeholders: new Set([...expanded.referenced, ...expanded.entries.filter((e) => e.line === 0 || e.file === 'vassal-set').map((e) => e.key)]),
      foreignOptions: readsConfigPipe && !app,
      // Every vassal gets a pid namespace: stopping it must stop all of it (DESIGN.md, 8).
      extraNamespaces: [...ctx.options.useClone, 'pid'],
      ...(command ? { defaultProgram: { path: command[0]!, argv: [...command, '--ini', stem] } } : {}),
      fds,
      extraEnv,
      newSession: true,
    },
  );
  const { fds: _fds, ...jailPart } = compiled.plan;
  // The program reads `app` from the pipe, with no file to be relative to: make it absolute
  // (relative to the jail's chdir, else to the vassal file's directory).
  const base = compiled.plan.chdir ?? dirname(raw.file);
  const forProgram = expanded.entries.map((e) => (e.key === 'app' && !isAbsolute(e.value.trim()) ? { ...e, value: resolve(base, e.value.trim()) } : e));
  return {
    plan: compiled.plan,
    warnings: [...expanded.warnings, ...compiled.warnings],
    ...(readsConfigPipe ? { configText: foreignConfigText(forProgram) } : {}),
    jailKey: JSON.stringify(jailPart),
  };
}
