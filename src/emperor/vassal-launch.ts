// One jail for a vassal: the fds the emperor shares with it (emperor pipe, config pipe,
// stdout and stderr), its config built and its plan launched. Whatever fails, no fd is left
// open behind it; on success the caller gets our ends and the jail holds the others.
import { closeSync } from 'node:fs';
import { isJailError, type JailError } from '../errors';
import { launchJail, type Jail } from '../jail/launch';
import { closeLaunchFds, type CgroupTree } from '../jail/cgroup';
import type { CgroupFds } from '../plan/types';
import { binding } from '../native/binding';
import type { VassalSource } from '../monitors/types';
import type { UserDb } from '../config/users';
import type { EmperorOptions } from './options';
import type { EmperorPrivileges } from './privileges';
import type { HeldSocket } from './held-socket';
import { buildVassal, type VassalBuild } from './vassal-config';
import type { LimitCheck } from '../plan/limits';

/** The emperor's cgroup subtree (src/jail/cgroup's CgroupTree). */
export type CgroupSubtree = LimitCheck & Pick<CgroupTree, 'create'>;

/** What building a vassal's plan needs from the emperor. */
export interface BuildEnv {
  readonly options: EmperorOptions;
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host's users and groups, as of now. */
  users(): UserDb;
  /** What the emperor itself may do (after it dropped to its own user, if it did). */
  privileges(): EmperorPrivileges;
  /** Its cgroup subtree; undefined with emperor-cgroup = none. */
  cgroups(): CgroupSubtree | undefined;
  log(line: string): void;
}

/** Our ends of what the jail was given. */
export interface VassalFds {
  readonly emperor: number;
  /** Only when the program reads its config from the emperor. */
  readonly config: number | undefined;
  readonly stdout: number | undefined;
  readonly stderr: number | undefined;
}

export type VassalLaunch =
  | { readonly kind: 'launched'; readonly build: VassalBuild; readonly jail: Jail; readonly fds: VassalFds }
  | { readonly kind: 'config-error'; readonly error: JailError }
  | { readonly kind: 'launch-error'; readonly build: VassalBuild; readonly error: JailError };

const closeAll = (fds: ReadonlyArray<number | undefined>): void => fds.forEach((fd) => fd !== undefined && closeSync(fd));

// Builds and launches; a config or launch error is returned, anything else thrown.
export function launchVassal(source: VassalSource, env: BuildEnv, onDemand: HeldSocket | undefined, name = source.name): VassalLaunch {
  const [ours, theirs] = binding.socketPair();
  // The config pipe; closed right after the launch when the program does not read one.
  const [configOurs, configTheirs] = binding.socketPair();
  // The vassal's stdout and stderr, read into its log (never the emperor's own stdio).
  const [outOurs, outTheirs] = binding.socketPair();
  const [errOurs, errTheirs] = binding.socketPair();
  const everything = [ours, theirs, configOurs, configTheirs, outOurs, outTheirs, errOurs, errTheirs];

  let build: VassalBuild;
  try {
    build = buildVassal(source, {
      ...buildContext(env),
      emperorFd: theirs,
      configFd: configTheirs,
      ...(outTheirs !== undefined && errTheirs !== undefined ? { stdio: { out: outTheirs, err: errTheirs } } : {}),
      ...(onDemand ? { onDemand } : {}),
    });
  } catch (err: unknown) {
    closeAll(everything);
    if (!isJailError(err)) throw err;
    return { kind: 'config-error', error: err };
  }
  let jail: Jail;
  let cgroupFds: CgroupFds | undefined;
  try {
    // Its cgroup first, limits written: the executor places the jail in it at the clone.
    const cgroup = env.cgroups()?.create(cgroupSegments(name, build.plan.uid, env.options.tyrant), build.plan.limits);
    cgroupFds = cgroup?.openLaunchFds();
    jail = launchJail(cgroupFds ? { ...build.plan, cgroup: cgroupFds } : build.plan, { ...(cgroup ? { cgroup } : {}), log: env.log });
  } catch (err: unknown) {
    closeAll(everything);
    if (!isJailError(err)) throw err;
    return { kind: 'launch-error', build, error: err };
  } finally {
    if (cgroupFds) closeLaunchFds(cgroupFds);
  }
  closeAll([theirs, configTheirs, outTheirs, errTheirs]);
  if (build.configText === undefined) closeAll([configOurs]);
  return {
    kind: 'launched', build, jail,
    fds: { emperor: ours, config: build.configText === undefined ? undefined : configOurs, stdout: outOurs, stderr: errOurs },
  };
}

// Where a vassal's cgroup is in the emperor's subtree: vassals/NAME, or in tyrant mode
// tenant-UID/NAME (one directory per tenant; its name is OWNER/NAME, names.ts).
export function cgroupSegments(name: string, uid: number | undefined, tyrant: boolean): string[] {
  const file = name.slice(name.lastIndexOf('/') + 1);
  return tyrant && uid !== undefined ? [`tenant-${uid}`, file] : ['vassals', file];
}

// The config compiled without launching anything (fds are placeholders); throws its error.
export function dryBuildVassal(source: VassalSource, env: BuildEnv, onDemand: HeldSocket | undefined): VassalBuild {
  return buildVassal(source, {
    ...buildContext(env),
    emperorFd: -1,
    configFd: -1,
    ...(onDemand ? { onDemand: { address: onDemand.address, fd: -1 } } : {}),
  });
}

function buildContext(env: BuildEnv): { options: EmperorOptions; users: UserDb; privileges: EmperorPrivileges; baseEnv: Readonly<Record<string, string>>; env: Readonly<Record<string, string | undefined>>; cgroups?: LimitCheck } {
  const cgroups = env.cgroups();
  return { options: env.options, users: env.users(), privileges: env.privileges(), baseEnv: env.baseEnv, env: env.env, ...(cgroups ? { cgroups } : {}) };
}
