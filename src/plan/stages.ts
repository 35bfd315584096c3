// The launch stages, in order: the TypeScript side of native/executor/stage.c's table
// (test/addon/binding.test.ts checks they match).

export const LAUNCH_STAGES = [
  'prepare', 'clone', 'cgroup', 'helper', 'plan', 'join', 'oom_score_adj', 'mount', 'proc', 'tmpfs', 'hostname', 'loopback', 'hook', 'pivot_root', 'init',
  'rlimit', 'bounding', 'groups', 'gid', 'uid', 'caps', 'no_new_privs', 'dumpable', 'pdeathsig',
  'fds', 'tty', 'chdir', 'seccomp', 'exec',
] as const;

/** One stage of the executor's launch sequence. */
export type LaunchStage = (typeof LAUNCH_STAGES)[number];

/** The item of a `seccomp` failure for seccomp-allow entry i is this + i; for seccomp-deny
 *  entry i it is i (native/executor/jail.h JAIL_SECCOMP_ALLOW_ITEM). */
export const SECCOMP_ALLOW_ITEM = 1000;
