// buildVassal(): one vassal file, read the way the emperor reads it (vassal-set, the file,
// vassals-include, JAIL_VASSAL_* from the environment, magic variables, placeholders), then
// compiled into the LaunchPlan of its jail. No side effects: the caller owns the fds.
import { extname } from 'node:path';
import { environmentLayer, expandConfig, vassalSetLayer, type ConfigLayer } from '../config/expand';
import { readVassalConfig } from '../config/load';
import { findOption } from '../config/options';
import type { ConfigEntry } from '../config/types';
import type { UserDb } from '../config/users';
import { compilePlan } from '../plan/compile';
import type { FdMapping, LaunchPlan } from '../plan/types';
import type { VassalSource } from '../monitors/types';
import type { EmperorOptions } from './options';
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

// The uWSGI side of a file: every option that is not ours, as ini text, already expanded.
export function foreignConfigText(entries: readonly ConfigEntry[]): string {
  const lines = entries.filter((e) => !findOption(e.key)).map((e) => `${e.key} = ${e.value}`);
  return `[uwsgi]\n${lines.join('\n')}\n`;
}

export function buildVassal(source: VassalSource, ctx: VassalBuildContext): VassalBuild {
  const { raw, expanded } = expandVassal(source, ctx);
  const fds: FdMapping[] = [{ src: ctx.emperorFd, dst: EMPEROR_FD }];
  const extraEnv: Record<string, string> = { UWSGI_EMPEROR_FD: String(EMPEROR_FD), JAIL_EMPEROR_FD: String(EMPEROR_FD), JAIL_VASSAL: source.name };
  const binary = ctx.options.binaryPath;
  const usesBinary = binary !== undefined && !expanded.entries.some((e) => findOption(e.key) && /binary-patch/.test(e.key));
  if (usesBinary && ctx.configFd !== undefined) {
    fds.push({ src: ctx.configFd, dst: CONFIG_FD });
    extraEnv.UWSGI_EMPEROR_FD_CONFIG = String(CONFIG_FD);
    extraEnv.JAIL_EMPEROR_FD_CONFIG = String(CONFIG_FD);
  }
  const compiled = compilePlan(
    { ...raw, entries: expanded.entries },
    {
      users: ctx.users,
      baseEnv: ctx.baseEnv,
      placeholders: expanded.referenced,
      foreignOptions: usesBinary,
      // Every vassal gets a pid namespace: stopping it must stop all of it (DESIGN.md, 8).
      extraNamespaces: [...ctx.options.useClone, 'pid'],
      ...(usesBinary ? { defaultProgram: { path: binary, argv: [binary, '--ini', `emperor://${source.name.replace(extname(source.name), '')}.ini`] } } : {}),
      fds,
      extraEnv,
      newSession: true,
    },
  );
  const { fds: _fds, ...jailPart } = compiled.plan;
  return {
    plan: compiled.plan,
    warnings: [...expanded.warnings, ...compiled.warnings],
    ...(usesBinary ? { configText: foreignConfigText(expanded.entries) } : {}),
    jailKey: JSON.stringify(jailPart),
  };
}
