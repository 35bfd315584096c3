// `jailctl run FILE`: one vassal as a jail in the foreground, like `uwsgi --ini FILE`.
import { fstatSync } from 'node:fs';
import { expandConfig } from '../../config/expand';
import { readVassalConfig } from '../../config/load';
import { appServerCommand } from '../../runtime/node/command';
import { jailRuntime } from '../../runtime/binds';
import { hasOwnRoot } from '../../plan/mounts';
import { readUserDb } from '../../config/users';
import { isJailError, LaunchError } from '../../errors';
import { launchJail, type Jail } from '../../jail/launch';
import { compilePlan } from '../../plan/compile';
import { checkLimits, formatBytes } from '../../plan/limits';
import { CgroupTree, closeLaunchFds, readLayout, type JailCgroup } from '../../jail/cgroup';
import { readSideFile } from '../../config/load';
import type { FdMapping, LaunchPlan } from '../../plan/types';

// Exit codes, as container CLIs (docker, podman, crun) use them.
export const EXIT_SETUP = 125;
export const EXIT_NOEXEC = 126;
export const EXIT_NOTFOUND = 127;

const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  readonly printPlan?: boolean;
  /** The program of a file without a binary patch or an app (uWSGI: `--ini FILE`). */
  readonly binaryPath?: string;
}

/** Where run's messages go; a test can collect them. */
export interface RunIo {
  error(line: string): void;
  out(line: string): void;
}

// The environment a vassal starts from: a clean one, with the few variables that describe
// the terminal and locale of whoever runs it.
export function baseEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const base: Record<string, string> = { PATH: env.PATH || DEFAULT_PATH };
  for (const key of ['TERM', 'LANG', 'LC_ALL', 'TZ']) {
    const v = env[key];
    if (v !== undefined) base[key] = v;
  }
  return base;
}

function exitCodeOf(err: LaunchError): number {
  if (err.stage !== 'exec') return EXIT_SETUP;
  return err.errnoCode === 'ENOENT' ? EXIT_NOTFOUND : EXIT_NOEXEC;
}

// Loads and compiles FILE; on bad input prints one line naming the file and line.
export function loadPlan(file: string, io: RunIo, cgroups?: CgroupTree, cgroupTrouble?: string, binaryPath?: string): LaunchPlan | undefined {
  try {
    // Read as the emperor reads it (magic variables, placeholders, $(ENV)), so a vassal
    // behaves the same under `run` and under the emperor.
    const raw = readVassalConfig(file);
    const expanded = expandConfig([{ file: raw.file, entries: raw.entries }], { vassalFile: raw.file, env: process.env });
    // A file that names an `app` and no binary patch runs our Node app server on it.
    const app = expanded.entries.some((e) => e.key === 'app');
    // On a root of its own, the jail gets jailctl's runtime bound in (runtime/binds.ts).
    const runtime = app ? jailRuntime(appServerCommand(), hasOwnRoot(expanded.entries), raw.file) : undefined;
    const server = [...(runtime?.argv ?? []), '--ini', raw.file];
    const compiled = compilePlan({ ...raw, entries: expanded.entries }, {
      users: readUserDb(),
      baseEnv: baseEnvironment(),
      placeholders: expanded.referenced,
      ...(app ? { defaultProgram: { path: server[0]!, argv: server, option: 'app' } } : binaryPath ? { defaultProgram: { path: binaryPath, argv: [binaryPath, '--ini', raw.file] } } : {}),
      ...(binaryPath && !app ? { foreignOptions: true } : {}),
      ...(runtime && runtime.binds.length > 0 ? { runtimeBinds: runtime.binds } : {}),
      readFile: readSideFile,
    });
    const contained = checkLimits(compiled.plan, cgroups, `jailctl run has no cgroup for the jail here${cgroupTrouble ? ` (${cgroupTrouble})` : ''}, so no limits`);
    for (const w of [...expanded.warnings, ...compiled.warnings, ...contained.warnings]) io.error(`jailctl: warning: ${w}`);
    return contained.plan;
  } catch (err: unknown) {
    if (!isJailError(err)) throw err;
    io.error(`jailctl: ${err.message}`);
    return undefined;
  }
}

/** Our control signals, caught from before the launch and forwarded to the jail. */
interface SignalForwarder {
  // Sets the jail and delivers what arrived before it existed.
  attach(jail: Jail): void;
  stop(): void;
}

// Installed before the launch: the jail may be running (and be signalled by whoever
// watches its output) before this thread is scheduled again after the clone.
function forwardSignals(): SignalForwarder {
  let target: Jail | undefined;
  const early: NodeJS.Signals[] = [];
  const handlers = FORWARDED.map((sig) => {
    const handler = (): void => {
      if (target) void target.signal(sig);
      else early.push(sig);
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return {
    attach(jail) {
      target = jail;
      for (const sig of early.splice(0)) void jail.signal(sig);
    },
    stop() {
      handlers.forEach(([sig, handler]) => process.off(sig, handler));
    },
  };
}

// jailctl's own fds 0-2 that are open: `run` forwards its terminal on purpose (the
// executor gives a jail /dev/null for any stdio its plan does not map).
function ownStdio(): FdMapping[] {
  return [0, 1, 2].filter((fd) => {
    try {
      fstatSync(fd);
      return true;
    } catch {
      return false;
    }
  }).map((fd) => ({ src: fd, dst: fd }));
}

// Runs the vassal and resolves with the exit code jailctl should exit with.
// The jail's cgroup subtree beneath ours (jailctl-PID, as an emperor's); undefined with
// the reason when this host or user cannot have one.
function runCgroups(): { tree?: CgroupTree; trouble?: string } {
  try {
    return { tree: CgroupTree.prepare(readLayout(), { name: `jailctl-${process.pid}`, moveSelf: false }) };
  } catch (err: unknown) {
    if (!isJailError(err)) throw err;
    return { trouble: err.message };
  }
}

export async function runVassal(file: string, options: RunOptions, io: RunIo): Promise<number> {
  const { tree, trouble } = options.printPlan ? {} : runCgroups();
  try {
    return await runIn(file, options, io, tree, trouble);
  } finally {
    tree?.remove();
  }
}

async function runIn(file: string, options: RunOptions, io: RunIo, tree: CgroupTree | undefined, trouble: string | undefined): Promise<number> {
  const plan = loadPlan(file, io, tree, trouble, options.binaryPath);
  if (!plan) return EXIT_SETUP;
  if (options.printPlan) {
    io.out(JSON.stringify(plan, null, 2));
    return 0;
  }
  const forwarder = forwardSignals();
  let jail: Jail;
  let cgroup: JailCgroup | undefined;
  const { fds } = plan;
  try {
    cgroup = tree?.create(['vassals', plan.vassal], plan.limits);
    const cgroupFds = cgroup?.openLaunchFds();
    const mapped = new Set(fds.map((fd) => fd.dst));
    try {
      jail = launchJail({ ...plan, fds: [...ownStdio().filter((fd) => !mapped.has(fd.dst)), ...fds], ...(cgroupFds ? { cgroup: cgroupFds } : {}) }, {
        ...(cgroup ? { cgroup } : {}),
        log: (line) => io.error(`jailctl: ${line}`),
      });
    } finally {
      if (cgroupFds) closeLaunchFds(cgroupFds);
    }
  } catch (err: unknown) {
    forwarder.stop();
    if (!isJailError(err)) throw err;
    io.error(`jailctl: ${err.message}`);
    return EXIT_SETUP;
  }
  forwarder.attach(jail);
  let failure: LaunchError | undefined;
  try {
    await jail.started;
  } catch (err: unknown) {
    if (!(err instanceof LaunchError)) throw err;
    failure = err;
    io.error(`jailctl: ${err.message}`);
  }
  const exit = await jail.exited;
  forwarder.stop();
  if (exit.oomKills) io.error(`jailctl: ${plan.vassal}: OOM-killed${plan.limits.memoryMax ? ` (memory-max ${formatBytes(plan.limits.memoryMax.value)})` : ''}`);
  // Its cgroup goes before the subtree (runVassal removes that).
  if (cgroup) await cgroup.whenEmpty(5000);
  if (failure) return exitCodeOf(failure);
  return exit.code ?? 128 + (exit.signal ?? 0);
}
