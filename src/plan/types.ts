// LaunchPlan: what one jail is, as plain read-only data. compile.ts builds it from a vassal
// file; serialize.ts turns it into the executor's wire format.

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

/** A compiled, validated vassal. Nothing in it needs the config file any more. */
export interface LaunchPlan {
  /** The vassal's name: its file name without the extension. */
  readonly vassal: string;
  /** The config file it was compiled from, if any. */
  readonly file?: string;
  readonly namespaces: readonly Namespace[];
  /** Mount a fresh /proc (pid + mount namespaces). */
  readonly mountProc: boolean;
  /** Directories that get a fresh, private tmpfs (mount namespace): `tmp = private`. */
  readonly tmpfs: readonly string[];
  /** Bytes each of them may hold (`tmp-size`; required when tmpfs is not empty). */
  readonly tmpfsSize?: number;
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
  /** jailctl enter: join `namespaces` of the process behind this pidfd (a launcher fd)
   *  instead of creating them; `cwd` is opened first (/proc/PID/cwd). */
  readonly join?: { readonly pidfd: number; readonly cwd?: string };
  /** fd 0 is a pty: make it the controlling terminal of a new session. */
  readonly ctty?: boolean;
}
