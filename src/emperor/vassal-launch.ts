// A spawned jail (one JailSource): the fds the emperor shares with a vassal (emperor pipe,
// config pipe, stdout and stderr), its config built and its plan launched by the executor.
// Whatever fails, no fd is left open behind it; on success the caller gets our ends and the
// jail holds the others. prepareJail() and launched() serve the adopted source too.
import { closeSync } from 'node:fs';
import { isJailError, type JailError } from '../errors';
import { launchJail, type Jail } from '../jail/launch';
import { closeLaunchFds, type CgroupTree, type JailCgroup } from '../jail/cgroup';
import type { CgroupFds, LaunchPlan } from '../plan/types';
import type { JailSource } from './jail-source';
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

export const closeAll = (fds: ReadonlyArray<number | undefined>): void => fds.forEach((fd) => fd !== undefined && closeSync(fd));

/** A vassal's build with the fds it shares with the emperor, before its jail starts. */
export interface PreparedJail {
  readonly build: VassalBuild;
  /** Our ends (what the vassal keeps once its jail runs). */
  readonly fds: VassalFds & { readonly config: number };
  /** The jail's ends, in the plan: closed by the caller once the jail has them. */
  readonly theirs: { readonly emperor: number; readonly config: number; readonly stdout: number; readonly stderr: number; readonly bound: readonly number[] };
  /** Closes every fd (the start failed). */
  closeAll(): void;
}

// Makes the socket pairs and builds the plan around the jail's ends; a config error is
// returned (no fd left open), anything else thrown.
export function prepareJail(source: VassalSource, env: BuildEnv, held: HeldSocket | undefined): PreparedJail | { kind: 'config-error'; error: JailError } {
  const [ours, theirs] = binding.socketPair();
  // The config pipe; closed right after the launch when the program does not read one.
  const [configOurs, configTheirs] = binding.socketPair();
  // The vassal's stdout and stderr, read into its log (never the emperor's own stdio):
  // pipes, as a program expects (/dev/stderr of a socket cannot be opened: ENXIO).
  const [outOurs, outTheirs] = binding.pipe();
  const [errOurs, errTheirs] = binding.pipe();
  const everything = [ours, theirs, configOurs, configTheirs, outOurs, outTheirs, errOurs, errTheirs];
  // Sockets the emperor binds for the jail (bound-sockets.ts): its copies close after the launch.
  const bound: number[] = [];
  const bindSocket = (address: string): number => {
    const fd = binding.listenSocket(address);
    bound.push(fd);
    return fd;
  };
  try {
    // Our ends never block the emperor: a vassal that asks for its config again and again
    // without reading it fills its own pipe, and only its own config is then cut short.
    binding.setNonBlocking(ours);
    binding.setNonBlocking(configOurs);
    binding.setNonBlocking(outOurs);
    binding.setNonBlocking(errOurs);
    const build = buildVassal(source, {
      ...buildContext(env),
      emperorFd: theirs,
      configFd: configTheirs,
      stdio: { out: outTheirs, err: errTheirs },
      ...(held?.primary ? { onDemand: held } : {}),
      ...(held ? { heldFd: (address: string) => held.fdOf(address) } : {}),
      bindSocket,
    });
    return {
      build,
      fds: { emperor: ours, config: configOurs, stdout: outOurs, stderr: errOurs },
      theirs: { emperor: theirs, config: configTheirs, stdout: outTheirs, stderr: errTheirs, bound },
      closeAll: () => closeAll([...everything, ...bound]),
    };
  } catch (err: unknown) {
    closeAll([...everything, ...bound]);
    if (!isJailError(err)) throw err;
    return { kind: 'config-error', error: err };
  }
}

// Its cgroup, limits written, with the fds the executor places the jail by (the caller
// closes them with closeLaunchFds once the jail is placed). `slot` 1 is the directory
// beside it (NAME@1): a rolling re-adoption starts there, next to the old instance, so the
// old one's kill cannot touch it.
export function openCgroup(env: BuildEnv, name: string, plan: LaunchPlan, slot: 0 | 1 = 0): { cgroup?: JailCgroup; fds?: CgroupFds } {
  const segments = cgroupSegments(name, plan.uid, env.options.tyrant, slot);
  const cgroup = env.cgroups()?.create(segments, plan.limits);
  return cgroup ? { cgroup, fds: cgroup.openLaunchFds() } : {};
}

// Builds and launches; a config or launch error is returned, anything else thrown.
export function launchVassal(source: VassalSource, env: BuildEnv, onDemand: HeldSocket | undefined, name = source.name): VassalLaunch {
  const prepared = prepareJail(source, env, onDemand);
  if ('kind' in prepared) return prepared;
  const { build } = prepared;
  let jail: Jail;
  let cgroupFds: CgroupFds | undefined;
  try {
    // Its cgroup first, limits written: the executor places the jail in it at the clone.
    const { cgroup, fds } = openCgroup(env, name, build.plan);
    cgroupFds = fds;
    jail = launchJail(cgroupFds ? { ...build.plan, cgroup: cgroupFds } : build.plan, { ...(cgroup ? { cgroup } : {}), log: env.log });
  } catch (err: unknown) {
    prepared.closeAll();
    if (!isJailError(err)) throw err;
    return { kind: 'launch-error', build, error: err };
  } finally {
    if (cgroupFds) closeLaunchFds(cgroupFds);
  }
  return launched(prepared, jail);
}

// A start nobody wants any more (the vassal stopped, or its file changed, meanwhile): the
// jail is killed whole (and reaped through its pidfd), our ends closed.
export function discard(launch: VassalLaunch): void {
  if (launch.kind !== 'launched') return;
  launch.jail.signal('SIGKILL');
  closeAll([launch.fds.emperor, launch.fds.config, launch.fds.stdout, launch.fds.stderr]);
}

// The jail has its ends: ours are what the vassal keeps.
export function launched(prepared: PreparedJail, jail: Jail): VassalLaunch {
  const { build, fds, theirs } = prepared;
  closeAll([theirs.emperor, theirs.config, theirs.stdout, theirs.stderr, ...theirs.bound]);
  if (build.configText === undefined) closeAll([fds.config]);
  return { kind: 'launched', build, jail, fds: { ...fds, config: build.configText === undefined ? undefined : fds.config } };
}

/** A spawned vassal: its jail cloned by the executor, its program exec'd. */
export class SpawnSource implements JailSource {
  readonly mode = 'spawned';
  constructor(
    private readonly env: BuildEnv,
    private readonly name: string,
    readonly held: HeldSocket | undefined,
  ) {}

  get onDemand(): boolean {
    return this.held?.primary === true;
  }

  check(source: VassalSource): VassalBuild {
    return dryBuildVassal(source, this.env, this.held);
  }

  start(source: VassalSource): Promise<VassalLaunch> {
    return Promise.resolve(launchVassal(source, this.env, this.held, this.name));
  }
}

// Where a vassal's cgroup is in the emperor's subtree: vassals/NAME, or in tyrant mode
// tenant-UID/NAME (one directory per tenant; its name is OWNER/NAME, names.ts).
export function cgroupSegments(name: string, uid: number | undefined, tyrant: boolean, slot: 0 | 1 = 0): string[] {
  const file = name.slice(name.lastIndexOf('/') + 1) + (slot === 1 ? '@1' : '');
  return tyrant && uid !== undefined ? [`tenant-${uid}`, file] : ['vassals', file];
}

// The config compiled without launching anything (fds are placeholders); throws its error.
// `onDemand`: a held socket without a primary one (held-socket lines only) is no on-demand one.
export function dryBuildVassal(source: VassalSource, env: BuildEnv, onDemand: { readonly address: string; readonly primary?: boolean } | undefined): VassalBuild {
  return buildVassal(source, {
    ...buildContext(env),
    emperorFd: -1,
    configFd: -1,
    ...(onDemand && onDemand.primary !== false ? { onDemand: { address: onDemand.address, fd: -1 } } : {}),
  });
}

function buildContext(env: BuildEnv): { options: EmperorOptions; users: UserDb; privileges: EmperorPrivileges; baseEnv: Readonly<Record<string, string>>; env: Readonly<Record<string, string | undefined>>; cgroups?: LimitCheck } {
  const cgroups = env.cgroups();
  return { options: env.options, users: env.users(), privileges: env.privileges(), baseEnv: env.baseEnv, env: env.env, ...(cgroups ? { cgroups } : {}) };
}
