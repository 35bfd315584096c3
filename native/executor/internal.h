/* internal.h: what the executor's files share and nothing outside them uses. */
#ifndef JAIL_INTERNAL_H
#define JAIL_INTERNAL_H

#include "jail.h"

/* Fills *reterr and returns -errnum (or -ECANCELED when errnum is 0, e.g. a hook that
 * exited non-zero). */
int jail__fail(jail_error_t *reterr, jail_stage_t stage, int errnum, int item, int status);

/* jail_plan_parse(), except that a plan without a program (path, argv) is accepted when
 * need_program is false (jail_drop_self() runs nothing). */
int jail__plan_parse(const uint8_t *buf, size_t len, jail_plan_t *ret_plan, int *ret_item, bool need_program);

/* Fault injection, compiled in a -DJAIL_FAULTS test build only (always false otherwise):
 * true (with errno set) when the plan asks `stage` to fail, so stages the kernel never
 * refuses to root still have their report tested. A plan's `pause` stops the process
 * (SIGSTOP) at that stage's check, for a test to look at it. */
bool jail__fault(const jail_plan_t *plan, jail_stage_t stage);

/* The mount (with proc and tmpfs), hostname, loopback, hook and pivot_root stages. With status_fd (may be
 * NULL), each reports its progress there (see jail_error_t). */
int jail__setup(const jail_plan_t *plan, const int *status_fd, jail_error_t *reterr);

/* The plan's mount operations, in order (mounts.c), each failure reported at its stage
 * (proc, tmpfs, else mount) with its index. With a root or overlay operation, returns in
 * *ret_root_fd the jail's root for jail__switch_root(), else -1. */
int jail__mount_ops(const jail_plan_t *plan, int *ret_root_fd, jail_error_t *reterr);

/* After the hooks: root_fd (if >= 0, closed here) becomes / and the host's root is
 * detached. Reports JAIL_STAGE_PIVOT_ROOT. */
int jail__switch_root(const jail_plan_t *plan, int root_fd, jail_error_t *reterr);

/* Writes a progress record for stage (item: a hook's index) to *status_fd, if any. */
void jail__progress(const int *status_fd, jail_stage_t stage, int item);

/* RLIMIT_NOFILE and oom_score_adj: the host's defaults or the plan's (creds.c). */
int jail__set_limits(const jail_plan_t *plan, jail_error_t *reterr);

/* oom_score_adj: 0 or the plan's (creds.c); for the jail's init, then again in the vassal. */
int jail__set_oom_score_adj(const jail_plan_t *plan, jail_error_t *reterr);

/* PR_SET_DUMPABLE(0) after the last credential change (creds.c). */
int jail__set_undumpable(const jail_plan_t *plan, jail_error_t *reterr);

/* RLIMIT_NOFILE to the host's default or the plan's, after map_fds(). */
int jail__set_nofile(const jail_plan_t *plan, jail_error_t *reterr);

/* The rlimit, bounding set, groups, gid, uid, capabilities and no_new_privs stages. */
int jail__drop(const jail_plan_t *plan, jail_error_t *reterr);

/* The seccomp filter, last before the exec (seccomp.c). Reports JAIL_STAGE_SECCOMP. */
int jail__load_seccomp(const jail_plan_t *plan, jail_error_t *reterr);

/* A fork-server base, before it forks anything: builds the default filter (no
 * seccomp-allow, no seccomp-deny) once, which jail__load_seccomp() then loads as it is.
 * 0 or -errno (then every jail builds its own, as without it). */
int jail__seccomp_build_default(void);

/* The default filter once built (for the tests to compare), or NULL. */
struct sock_fprog;
const struct sock_fprog *jail__seccomp_default(void);

/* The base, around each fork (settle.c): takes up its heap's holes (up to max blocks,
 * recorded in list; returns how many), so that the child allocates from pages of its own,
 * then gives them back in the base. */
size_t jail__hold_holes(void **list, size_t max);
void jail__release_holes(void **list, size_t n);

/* In a new pid namespace: forks; the parent becomes the jail's init and never returns,
 * the child returns 0 and goes on to become the vassal. Reports JAIL_STAGE_INIT. */
int jail__fork_init(const jail_plan_t *plan, jail_error_t *reterr);

/* Root, in the jail's new namespaces (not yet in a new pid namespace's), after whatever
 * placed the process there: every stage of a new jail from the setup to the seccomp
 * filter, in order (jail__setup(), the init in a new pid namespace, limits and the
 * credential drop, PR_SET_PDEATHSIG checked against parent_pidfd when no init stays
 * behind, map_fds() with `devnull`, nofile, tty, chdir, seccomp), each reporting its
 * progress to *status_fd, which map_fds() may move. jail_run() execs after it and
 * jail_apply() goes on in place: the one launch sequence of both. */
int jail__launch_stages(const jail_plan_t *plan, int *status_fd, int parent_pidfd, int devnull, jail_error_t *reterr);

/* Root, in the launcher's mount namespace: /dev/null for unmapped stdio (JAIL_STAGE_FDS). */
int jail__open_devnull(int *ret_fd, jail_error_t *reterr);

/* jail_apply() (apply.c), for the fork server: watch_pid is the pid behind watch_pidfd
 * (0: read it from the pidfd), which G must be reparented to when it has no pid
 * namespace. With ret_go_fd (may be NULL), the caller gets the sending end of the go
 * channel (close-on-exec): G goes on only once one byte comes on it, and exits silently
 * at its EOF without one. */
int jail__apply(const uint8_t *buf, size_t len, const int *fds, size_t n_fds, int status_fd, int watch_pidfd,
                pid_t watch_pid, int *ret_go_fd, jail_error_t *reterr);

/* 0 when /proc/self/task has one entry, -EINVAL when more, or -errno. */
int jail__single_threaded(void);

/* The plan a successful jail_apply() left this process (the vassal) with, or NULL. */
const jail_plan_t *jail__applied_plan(void);

/* The program's environment under systemd socket activation (listen.c): sized for the
 * most a plan can name, so nothing is allocated; lives on the exec'ing stack frame. */
typedef struct {
        char fds[sizeof("LISTEN_FDS=") + 20];
        char pid[sizeof("LISTEN_PID=") + 20];
        char names[sizeof("LISTEN_FDNAMES=") + JAIL_MAX_FDS * (JAIL_LISTEN_FDNAME_MAX + 1)];
        const char *envp[JAIL_MAX_ENV + 4]; /* the plan's (at most JAIL_MAX_ENV), 3 more, NULL */
} jail_listen_env_t;

/* Final credentials, in the process that execs the program (the child of the jail's init
 * when the jail has a pid namespace), after every other stage. When the plan activates
 * sockets (n_listen_fds > 0), *ret_envp becomes out->envp: envp without any LISTEN_FDS,
 * LISTEN_FDNAMES or LISTEN_PID of its own, then those three for the plan's sockets, with
 * LISTEN_PID this process's pid in its pid namespace; otherwise envp itself. Reports
 * JAIL_STAGE_EXEC (E2BIG: envp holds JAIL_MAX_ENV entries already). */
int jail__listen_env(const jail_plan_t *plan, char *const *envp, jail_listen_env_t *out, char *const **ret_envp,
                     jail_error_t *reterr);

/* True when the process behind pidfd has exited (pidfd < 0: unknown, false). */
bool jail__parent_gone(int pidfd);
/* Empties the signal mask (before an exec, or when not a namespace's pid 1). */
void jail__unblock_signals(void);

#endif
