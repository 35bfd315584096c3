// `jailctl emperor`: options from the command line and/or an --ini/--yaml/--json file (the
// same names in both), then the emperor runs until SIGINT/SIGTERM/SIGQUIT.
import { resolve } from 'node:path';
import { expandConfig, vassalSetLayer } from '../../config/expand';
import { readUserDb } from '../../config/users';
import { compilePlan } from '../../plan/compile';
import { readVassalConfig } from '../../config/load';
import { isJailError } from '../../errors';
import { SdNotify } from '../../emperor/sd-notify';
import { Emperor } from '../../emperor/emperor';
import { HANDOVER_ENV, readHandover } from '../../emperor/handover';
import { restoreAfterExec } from '../../emperor/signal-keep';
import { MonitorSpecError } from '../../monitors';
import { badEmperorName, defaultControlSocket, defaultLogsDir, defaultStateDir, emperorNameOf } from '../../emperor/emperor-name';
import {
  applyEmperorOption,
  DEFAULT_EMPEROR_OPTIONS,
  EmperorOptionError,
  emperorOptionsFromEntries,
  type EmperorOptions,
  type EmperorOptionSpec,
} from '../../emperor/options';
import { baseEnvironment, EXIT_SETUP } from './run';
import { checkAnswer, checkEmperorStart } from '../../emperor/upgrade-check';
import { VERSION } from '../../version';

export interface EmperorCliInput {
  /** Config files given with --ini/--yaml/--json, in order. */
  readonly files: readonly string[];
  /** Command-line options as [spec, value] in the order given. */
  readonly flags: ReadonlyArray<readonly [EmperorOptionSpec, string]>;
}

export interface EmperorCliIo {
  error(line: string): void;
}

// Defaults ← files ← command line (lists accumulate in that order).
export function resolveEmperorOptions(input: EmperorCliInput, warn: (m: string) => void): EmperorOptions {
  const acc: Record<string, unknown> = { ...DEFAULT_EMPEROR_OPTIONS };
  for (const file of input.files) {
    // Read as a vassal file is: magic variables, %(key) placeholders, $(ENV).
    const raw = readVassalConfig(file);
    const expanded = expandConfig([{ file: raw.file, entries: raw.entries }], { vassalFile: raw.file, env: process.env });
    for (const w of expanded.warnings) warn(w);
    emperorOptionsFromEntries(expanded.entries, raw.file, acc, warn, expanded.referenced);
  }
  for (const [spec, value] of input.flags) applyEmperorOption(acc, spec, value, 'command line');
  // The emperor chdirs to the vassal directory: paths given relative to where it was
  // started must not change meaning then.
  const abs = (p: string): string => resolve(p);
  if (typeof acc.pidfile === 'string') acc.pidfile = abs(acc.pidfile);
  if (typeof acc.stats === 'string' && acc.stats.includes('/')) acc.stats = abs(acc.stats);
  if (typeof acc.binaryPath === 'string' && acc.binaryPath.includes('/')) acc.binaryPath = abs(acc.binaryPath);
  acc.vassalsInclude = (acc.vassalsInclude as string[]).map(abs);
  if (typeof acc.onDemandDirectory === 'string') acc.onDemandDirectory = abs(acc.onDemandDirectory);
  const sources = acc.emperor as string[];
  if (sources.length === 0)
    throw new EmperorOptionError('no vassal source: give --emperor DIR (or dir://DIR, glob://PATTERN), or `emperor = DIR` in the --ini file');
  // Its name, and what follows from it unless given (several emperors on one host).
  if (acc.name === '') acc.name = emperorNameOf(sources[0]!);
  const bad = badEmperorName(acc.name as string);
  if (bad) throw new EmperorOptionError(`emperor-name ${acc.name as string}: ${bad}`);
  if (acc.controlSocket === '') acc.controlSocket = defaultControlSocket(acc.name as string);
  if (acc.logsDir === '') acc.logsDir = defaultLogsDir(acc.name as string);
  if (acc.stateDir === '') acc.stateDir = defaultStateDir(acc.name as string);
  if (acc.stateDir !== 'none') acc.stateDir = abs(acc.stateDir as string);
  if (acc.controlSocket !== 'none') acc.controlSocket = abs(acc.controlSocket as string);
  if (acc.logsDir !== 'none') acc.logsDir = abs(acc.logsDir as string);
  return acc as unknown as EmperorOptions;
}

// vassal-set applies to every vassal: check it once, now, rather than blame each vassal
// file for it later. Its unknown keys are a typo unless a binary-path program reads them.
function checkVassalSet(options: EmperorOptions, warn: (m: string) => void): void {
  if (options.vassalSet.length === 0) return;
  const layer = vassalSetLayer(options.vassalSet);
  const compiled = compilePlan(
    { file: 'vassal-set', format: 'ini', section: 'jail', entries: layer.entries },
    {
      users: readUserDb(),
      baseEnv: {},
      foreignOptions: options.binaryPath !== undefined,
      defaultProgram: { path: '/bin/true', argv: ['/bin/true'] },
    },
  );
  for (const w of compiled.warnings) warn(w);
}

// The options as a start takes them, vassal-set checked; or the exit status of a refusal
// (said on io.error).
function startOptions(input: EmperorCliInput, io: EmperorCliIo): EmperorOptions | number {
  let options: EmperorOptions;
  try {
    options = resolveEmperorOptions(input, (m) => io.error(`jailctl: warning: ${m}`));
  } catch (err: unknown) {
    if (err instanceof EmperorOptionError || isJailError(err)) {
      io.error(`jailctl: ${err.message}`);
      return EXIT_SETUP;
    }
    throw err;
  }
  try {
    checkVassalSet(options, (m) => io.error(`jailctl: warning: ${m}`));
  } catch (err: unknown) {
    if (!isJailError(err)) throw err;
    io.error(`jailctl: ${err.message} (from --vassal-set: fix it there; no vassal file can)`);
    return EXIT_SETUP;
  }
  return options;
}

// `jailctl emperor … --upgrade-check`: an upgrade's pre-flight (emperor/upgrade-check.ts),
// run by the emperor about to exec this version. Loads and checks what a start would, opens
// nothing, and answers one JSON line on stdout; a refusal exits 125 with the reason.
export function runUpgradeCheck(input: EmperorCliInput, io: EmperorCliIo & { out(line: string): void }): number {
  const options = startOptions(input, io);
  if (typeof options === 'number') return options;
  try {
    checkEmperorStart(options, readUserDb());
  } catch (err: unknown) {
    if (err instanceof MonitorSpecError || err instanceof EmperorOptionError || isJailError(err)) {
      io.error(`jailctl: ${err.message}`);
      return EXIT_SETUP;
    }
    throw err;
  }
  io.out(JSON.stringify(checkAnswer(VERSION)));
  return 0;
}

export async function runEmperor(input: EmperorCliInput, io: EmperorCliIo): Promise<number> {
  const options = startOptions(input, io);
  if (typeof options === 'number') return options;
  try {
    const sd = SdNotify.fromEnvironment();
    const notify = (fields: Readonly<Record<string, string | number>>): void => {
      const failed = sd.send(fields);
      if (failed) io.error(`jailctl: warning: ${failed}`);
    };
    // An upgrade's exec (handover.ts): the record's fd, read and gone from the environment
    // before anything (a vassal's environment included) is made from it.
    const handover = process.env[HANDOVER_ENV];
    delete process.env[HANDOVER_ENV];
    const keptSignals = restoreAfterExec();
    const emperor = new Emperor(options, { log: (line) => io.error(line), ...(sd.enabled ? { notify } : {}) }, baseEnvironment());
    if (handover !== undefined) {
      try {
        emperor.takeOver(readHandover(handover), keptSignals);
      } catch (err: unknown) {
        io.error(`jailctl: ${(err as Error).message}`);
        return EXIT_SETUP;
      }
    }
    return await emperor.run();
  } catch (err: unknown) {
    if (err instanceof MonitorSpecError || err instanceof EmperorOptionError || (err as NodeJS.ErrnoException).code !== undefined) {
      io.error(`jailctl: ${(err as Error).message}`);
      return EXIT_SETUP;
    }
    throw err;
  }
}
