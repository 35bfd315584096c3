// LaunchPlan: what one jail is, as plain read-only data. compile.ts builds it from a vassal
// file; serialize.ts turns it into the executor's wire format.
import type { MountOp } from './mounts';

/** A Linux namespace a jail can get (uWSGI's `unshare` names; `fs` is read as `mount`). */
export type Namespace = 'mount' | 'pid' | 'net' | 'ipc' | 'uts';

/** Where an option came from, for messages that name the file and line. */
export interface Origin {
  readonly option: string;
  readonly line?: number;
}

/** An `exec-as-root` hook: run as root inside the new namespaces through `/bin/sh -c`. */
export interface Hook extends Origin {
  readonly command: string;
}

/** What the jail execs: a binary patch, privileged (before the uid drop) or not. */
export interface Program extends Origin {
  readonly privileged: boolean;
  /** Looked up in the jail's PATH when it has no slash. */
  readonly path: string;
  readonly argv: readonly string[];
}

/** One fd handed to the vassal: `src` in the launching process becomes `dst` in the jail. */
export interface FdMapping {
  readonly src: number;
  readonly dst: number;
}

/** systemd socket activation (sd_listen_fds(3)): the plan's fds 3, 4, … are listening
 *  sockets, one per name. The executor sets LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID in
 *  the process that execs the program, just before the exec, so LISTEN_PID is the
 *  program's pid as its pid namespace numbers it (native/executor/listen.c). */
export interface SocketActivation {
  /** LISTEN_FDNAMES, fd 3 first: 1-255 printable ASCII characters each, no colon. */
  readonly names: readonly string[];
}

/** One cgroup limit and the line that set it (for errors that name the file and line). */
export interface CgroupLimit<T> extends Origin {
  readonly value: T;
  /** The layer it came from when not the vassal file (vassals-include, vassals-pids-max…). */
  readonly file?: string;
  /** Nobody wrote it: jailctl's own default (DEFAULT_PIDS_MAX), dropped with a warning
   *  where the host cannot honour it. */
  readonly isDefault?: boolean;
}

/** What the jail's cgroup may use; an absent limit is not written (the parent's applies).
 *  Written by src/jail/cgroup/ in the v2 or the v1 file of each controller. */
export interface CgroupLimits {
  /** Bytes of memory (and swap) before the OOM killer takes the jail (`memory-max`). */
  readonly memoryMax?: CgroupLimit<number>;
  /** Bytes above which the jail is throttled and reclaimed (`memory-high`, cgroup v2 only). */
  readonly memoryHigh?: CgroupLimit<number>;
  /** Processes and threads in the jail (`pids-max`). */
  readonly pidsMax?: CgroupLimit<number>;
  /** CPU time as a percentage of one CPU: 50 is half a CPU, 200 two CPUs (`cpu-max`). */
  readonly cpuMax?: CgroupLimit<number>;
  /** Proportional I/O weight, 1..10000, 100 the default (`io-weight`). */
  readonly ioWeight?: CgroupLimit<number>;
  /** `cgroup-opt = KEY=VALUE`: any other interface file of the jail's cgroup, written as is. */
  readonly opts: readonly (Origin & { readonly key: string; readonly value: string })[];
}

/** The jail's cgroup as the launcher holds it: fds opened just before the launch. */
export interface CgroupFds {
  /** The jail's directory on the unified (v2) hierarchy: clone3(CLONE_INTO_CGROUP). */
  readonly dirFd?: number;
  /** `cgroup.procs` of its v1 cgroups (O_WRONLY): the clone child writes "0" to each
   *  before it execs the helper. */
  readonly procsFds: readonly number[];
}

/** The jail's seccomp filter (`seccomp = default | none | FILE`). */
export interface SeccompPolicy extends Partial<Origin> {
  /** `default`: the executor's deny list, plus `deny`, minus `allow`; `none`: no filter. */
  readonly mode: 'default' | 'none';
  /** System call names that fail with EPERM on top of the default list. */
  readonly deny: readonly string[];
  /** System call names taken off the default list. */
  readonly allow: readonly string[];
  /** The FILE the lists came from. */
  readonly file?: string;
}

/** A compiled, validated vassal. Nothing in it needs the config file any more. */
export interface LaunchPlan {
  /** The vassal's name: its file name without the extension. */
  readonly vassal: string;
  /** The config file it was compiled from, if any. */
  readonly file?: string;
  readonly namespaces: readonly Namespace[];
  /** The jail's mount operations, in order (mounts.ts): its root, binds, /proc, /dev, /tmp. */
  readonly mounts: readonly MountOp[];
  /** RLIMIT_NPROC for the vassal's uid (`max-procs`). */
  readonly maxProcs?: number;
  /** RLIMIT_NOFILE, soft and hard (`max-fd`); absent: soft 1024, the host's hard limit. */
  readonly nofile?: number;
  /** The vassal's oom_score_adj, -1000..1000 (`oom-score-adj`); absent: 0. */
  readonly oomScoreAdj?: number;
  /** Bring `lo` up (net namespace). */
  readonly loopback: boolean;
  readonly hostname?: string;
  readonly hooks: readonly Hook[];
  readonly uid?: number;
  readonly gid?: number;
  /** Supplementary groups; empty clears them. */
  readonly groups: readonly number[];
  /** Capability names kept (permitted, effective, inheritable, ambient, bounding). */
  readonly caps: readonly string[];
  readonly noNewPrivs: boolean;
  /** Start a new session (setsid), also when joining: signals from the launcher's terminal
   *  do not reach the jail. The emperor sets it; `jailctl run` does not, so Ctrl-C works as usual. */
  readonly newSession?: boolean;
  readonly program: Program;
  /** The complete environment, `KEY=VALUE`. */
  readonly env: readonly string[];
  /** The environment of root hooks and of a privileged program, `KEY=VALUE`; absent: `env`. */
  readonly rootEnv?: readonly string[];
  /** Directories the program is looked up in when it has no slash; absent: PATH of `env`. */
  readonly execPath?: string;
  readonly chdir?: string;
  /** The fds the jail gets; 0-2 not among the targets are /dev/null in it. */
  readonly fds: readonly FdMapping[];
  /** The fds from 3 on are sockets handed over the systemd way. */
  readonly socketActivation?: SocketActivation;
  /** jailctl enter: join `namespaces` of the process behind this pidfd (a launcher fd)
   *  instead of creating them; `cwd` is opened first (/proc/PID/cwd). */
  readonly join?: { readonly pidfd: number; readonly cwd?: string };
  /** fd 0 is a pty: make it the controlling terminal of a new session. */
  readonly ctty?: boolean;
  /** The limits of the jail's cgroup. */
  readonly limits: CgroupLimits;
  /** The jail's cgroup, placed at creation; absent: the launcher's own (no cgroup). */
  readonly cgroup?: CgroupFds;
  readonly seccomp: SeccompPolicy;
  /** For the emperor, not the executor: the signal a touch sends a program that does not
   *  speak the protocol instead of a restart (`reload-signal`), and the one that stops it
   *  (`stop-signal`, default SIGTERM). */
  readonly reloadSignal?: NodeJS.Signals;
  readonly stopSignal?: NodeJS.Signals;
}

/** A plan without cgroup limits. */
export const NO_LIMITS: CgroupLimits = { opts: [] };

/** The filter every jail gets unless its file says otherwise. */
export const DEFAULT_SECCOMP: SeccompPolicy = { mode: 'default', deny: [], allow: [] };
