/* jail.h: the public API of the jail executor.
 *
 * The executor turns a serialised launch plan (a uwsgi keyval body, see plan.c) into a
 * running jail. It is pure C with no Node headers: the N-API binding, the jail-helper
 * binary, the C tests and the benchmark loop all link this same code.
 *
 * Functions return 0 (or a non-negative value) on success and -errno on failure, and
 * never exit the calling process. Only the helper's and the clone child's entry points
 * call _exit(). */
#ifndef JAIL_H
#define JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The launch sequence, in the order it runs. A failure reports the stage it happened
 * in; jail_stage_to_string() gives the stable name shared with TypeScript. */
typedef enum {
        JAIL_STAGE_PREPARE = 0,   /* the caller's checks, status pipe, plan memfd and pidfd */
        JAIL_STAGE_CLONE,         /* clone3(CLONE_PIDFD | namespaces) in the caller */
        JAIL_STAGE_CGROUP,        /* placing the child in the jail's cgroups, item = index of
                                   * a v1 cgroup.procs fd, -1 for the unified directory */
        JAIL_STAGE_HELPER,        /* exec of jail-helper inside the new namespaces; its PR_SET_DUMPABLE(0) */
        JAIL_STAGE_PLAN,          /* reading and parsing the serialised plan */
        JAIL_STAGE_JOIN,          /* setns() into a running jail's namespaces (jailctl enter) */
        JAIL_STAGE_OOM_SCORE_ADJ, /* /proc/self/oom_score_adj, while the host's /proc is there;
                                   * the jail's init and vassal inherit it */
        JAIL_STAGE_MOUNT,         /* making the new mount namespace private (item -1), then
                                   * each mount operation but proc and tmpfs, item = index */
        JAIL_STAGE_PROC,          /* a mount operation: a fresh /proc, item = index */
        JAIL_STAGE_TMPFS,         /* a mount operation: a fresh tmpfs, item = index */
        JAIL_STAGE_HOSTNAME,      /* sethostname() in the new uts namespace */
        JAIL_STAGE_LOOPBACK,      /* bringing `lo` up in the new net namespace */
        JAIL_STAGE_HOOK,          /* exec-as-root hooks, item = index */
        JAIL_STAGE_PIVOT_ROOT,    /* the jail's root (a root or overlay operation) becomes /,
                                   * the host's is detached; item = the operation's index */
        JAIL_STAGE_INIT,          /* forking the vassal under the jail's pid 1 */
        JAIL_STAGE_RLIMIT,        /* setrlimit(), item = the resource (RLIMIT_NOFILE, RLIMIT_NPROC) */
        JAIL_STAGE_BOUNDING,      /* dropping capabilities from the bounding set */
        JAIL_STAGE_GROUPS,        /* setgroups() */
        JAIL_STAGE_GID,           /* setresgid() */
        JAIL_STAGE_UID,           /* setresuid() */
        JAIL_STAGE_CAPS,          /* capset() + ambient capabilities */
        JAIL_STAGE_NO_NEW_PRIVS,  /* PR_SET_NO_NEW_PRIVS */
        JAIL_STAGE_DUMPABLE,      /* PR_SET_DUMPABLE(0) again after the last credential change */
        JAIL_STAGE_PDEATHSIG,     /* PR_SET_PDEATHSIG + the parent-alive check */
        JAIL_STAGE_FDS,           /* mapping the plan's fds, item = index */
        JAIL_STAGE_TTY,           /* fd 0 becomes the controlling terminal of a new session */
        JAIL_STAGE_CHDIR,         /* chdir() */
        JAIL_STAGE_SECCOMP,       /* loading the seccomp filter, item = index of an unknown name
                                   * (JAIL_SECCOMP_ALLOW_ITEM + index for seccomp-allow) */
        JAIL_STAGE_EXEC,          /* execve() of the vassal */
        _JAIL_STAGE_MAX,
} jail_stage_t;

/* What the launch reports through the status fd: integers only, so the child can write
 * it without formatting anything. A failure record names the stage that failed; status
 * is a wait status (hooks) or 0. A progress record (stage | JAIL_PROGRESS, errnum 0)
 * says a stage has begun, item its index (hooks); the one for JAIL_STAGE_EXEC is written
 * just before execve(). EOF without that one means the launch died on the way (killed
 * by a signal): it failed at the last stage reported. */
typedef struct {
        uint32_t stage;
        int32_t errnum;
        int32_t item;
        int32_t status;
} jail_error_t;

#define JAIL_PROGRESS UINT32_C(0x80000000)

/* Exit codes of the helper when setup fails (the status fd is the diagnosis; these are
 * the fallback, following the container CLI convention). */
#define JAIL_EXIT_SETUP 125
#define JAIL_EXIT_NOEXEC 126
#define JAIL_EXIT_NOTFOUND 127

#define JAIL_MAX_HOOKS 256
#define JAIL_MAX_ARGV 1024
#define JAIL_MAX_ENV 4096
#define JAIL_MAX_ROOT_ENV 256
#define JAIL_MAX_FDS 64
#define JAIL_MAX_FD_NUMBER (1 << 20) /* the largest target fd number a plan may name */
#define JAIL_MAX_GROUPS 64
#define JAIL_LISTEN_FDNAME_MAX 255 /* systemd's limit on one LISTEN_FDNAMES entry */
#define JAIL_MAX_MOUNTS 256
#define JAIL_MAX_CGROUP_PROCS 16    /* v1 hierarchies: far fewer than this exist */
#define JAIL_MAX_SECCOMP_NAMES 256  /* each of seccomp-deny and seccomp-allow */
/* A seccomp stage failure's item for seccomp-allow entry i is this + i (deny: i). */
#define JAIL_SECCOMP_ALLOW_ITEM 1000

/* The plan's `seccomp`. */
typedef enum {
        JAIL_SECCOMP_DEFAULT = 0, /* the executor's deny list (seccomp.c), the plan's changes */
        JAIL_SECCOMP_NONE,        /* no filter */
} jail_seccomp_mode_t;

typedef struct {
        int src; /* fd number in the launching process */
        int dst; /* fd number the vassal sees */
} jail_fd_map_t;

/* One mount operation of the plan (mounts.c runs them in order, root, in the jail's new
 * mount namespace). Paths in the jail (dst) are resolved inside the jail's root, never
 * through a symlink out of it; src is a path on the host. */
typedef enum {
        JAIL_MOUNT_ROOT = 0, /* src, a directory, becomes the jail's root: bound onto itself
                              * (nosuid, nodev) for the operations after it, and made / by
                              * pivot_root once the hooks have run */
        JAIL_MOUNT_OVERLAY,  /* the same, with src the read-only lower layer of an overlay
                              * whose upper layer is a fresh tmpfs of `size` bytes */
        JAIL_MOUNT_BIND,     /* src (file or directory, with what is mounted below it) onto
                              * dst, created if missing; nosuid, and nodev unless F_DEV */
        JAIL_MOUNT_TMPFS,    /* a fresh tmpfs of `size` bytes and `mode` on dst */
        JAIL_MOUNT_PROC,     /* a fresh proc for the jail's pid namespace on dst */
        JAIL_MOUNT_DEVPTS,   /* a new devpts instance on dst (ptmxmode 0666) */
        JAIL_MOUNT_SYSFS,    /* a read-only sysfs on dst */
        JAIL_MOUNT_MKDIR,    /* the directory dst, of `mode`, if missing */
        JAIL_MOUNT_SYMLINK,  /* dst, a symlink whose text is src */
        JAIL_MOUNT_READONLY, /* the mount whose root is dst ("/": the jail's root) read-only */
        _JAIL_MOUNT_MAX,
} jail_mount_kind_t;

#define JAIL_MOUNT_F_RDONLY UINT32_C(0x01)     /* bind: read-only, the mounts below it too */
#define JAIL_MOUNT_F_DEV UINT32_C(0x02)        /* bind: device nodes work through it */
#define JAIL_MOUNT_F_NOSYMLINKS UINT32_C(0x04) /* src: no symlink on its path (a tenant's) */
#define JAIL_MOUNT_F_TRY UINT32_C(0x08)        /* bind: a missing src skips the operation */
#define JAIL_MOUNT_F_OWNER UINT32_C(0x10)      /* bind: src must be owned by `owner` */
#define JAIL_MOUNT_F_HIDEPID UINT32_C(0x20)    /* proc: hidepid=invisible and subset=pid,
                                                * each where the kernel has it */

typedef struct {
        jail_mount_kind_t kind;
        uint32_t flags;
        const char *src;
        const char *dst;
        unsigned long long size; /* tmpfs, overlay: bytes (> 0) */
        unsigned int mode;       /* tmpfs, mkdir */
        uid_t owner;             /* with JAIL_MOUNT_F_OWNER */
} jail_mount_t;

/* A parsed plan. Strings point into `arena`, owned by the plan (jail_plan_free). */
typedef struct {
        int namespaces; /* CLONE_NEW* flags */
        size_t n_mounts;
        jail_mount_t mounts[JAIL_MAX_MOUNTS]; /* in order; a root or overlay one comes first */
        bool loopback;
        const char *hostname;
        size_t n_hooks;
        const char *hooks[JAIL_MAX_HOOKS];
        bool set_uid, set_gid;
        uid_t uid;
        gid_t gid;
        size_t n_groups;
        gid_t groups[JAIL_MAX_GROUPS];
        uint64_t caps; /* bit n = capability n, kept; all others dropped */
        bool set_nproc;
        unsigned long nproc; /* RLIMIT_NPROC, soft and hard: processes of the vassal's uid. The
                              * kernel checks it only at fork and execve: an adopted vassal
                              * (forked as root, then setresuid()) starts even when its uid
                              * is over it, and only its later forks fail. The cgroup's
                              * pids.max is the real bound on a jail's processes. */
        bool set_nofile;
        unsigned long nofile; /* RLIMIT_NOFILE, soft and hard; unset: soft 1024, hard kept */
        bool set_oom_score_adj;
        int oom_score_adj; /* unset: 0, the host's default */
        bool no_new_privs;
        bool new_session; /* setsid(): no terminal signals from whoever started the launcher */
        int join_fd;          /* -1, or a launcher fd: the pidfd of a running jail's process to
                               * join (its `namespaces`) instead of creating new ones */
        const char *join_cwd; /* with join: a directory opened before the setns (/proc/PID/cwd) */
        bool ctty;            /* fd 0 (a pty) becomes the controlling terminal of a new session */
        bool privileged; /* program is a privileged binary patch: exec before the drop */
        const char *path;
        size_t n_argv;
        const char *argv[JAIL_MAX_ARGV + 1];
        size_t n_env;
        const char *envp[JAIL_MAX_ENV + 1];
        size_t n_root_env; /* > 0: the environment of the hooks and a privileged program */
        const char *root_envp[JAIL_MAX_ROOT_ENV + 1];
        const char *exec_path; /* NULL, or the directories a slash-less path is searched in */
        const char *chdir;
        size_t n_fds;
        jail_fd_map_t fds[JAIL_MAX_FDS];
        size_t n_listen_fds; /* systemd socket activation (listen.c): 0, or N when the plan's
                              * fds 3..3+N-1 are listening sockets; the process that execs
                              * the program sets LISTEN_FDS=N, LISTEN_FDNAMES and LISTEN_PID
                              * (its own pid, as its pid namespace numbers it) */
        const char *listen_fdnames[JAIL_MAX_FDS]; /* in fd order */
        int cgroup_fd;        /* -1, or a launcher fd: the jail's directory on the unified
                               * hierarchy, which the child is cloned into */
        size_t n_cgroup_procs;
        int cgroup_procs[JAIL_MAX_CGROUP_PROCS]; /* launcher fds: v1 cgroup.procs, O_WRONLY */
        jail_seccomp_mode_t seccomp;
        size_t n_seccomp_deny;
        const char *seccomp_deny[JAIL_MAX_SECCOMP_NAMES];  /* fail with EPERM too */
        size_t n_seccomp_allow;
        const char *seccomp_allow[JAIL_MAX_SECCOMP_NAMES]; /* taken off the default list */
        bool no_clone3;  /* a -DJAIL_FAULTS build only: act as if clone3 gave ENOSYS */
        int fault_stage; /* fault injection (a -DJAIL_FAULTS build only): -1, or the stage to fail */
        int fault_errno;
        int pause_stage; /* a -DJAIL_FAULTS build only: -1, or the stage to SIGSTOP itself at */
        char *arena;
} jail_plan_t;

/* Parses a serialised plan. On failure returns -EINVAL (malformed), -E2BIG (a list is
 * over its limit) or -ENOMEM, and sets *ret_item to the index of the offending entry. */
int jail_plan_parse(const uint8_t *buf, size_t len, jail_plan_t *ret_plan, int *ret_item);
void jail_plan_free(jail_plan_t *plan);

/* A launched jail: its pid (in the caller's pid namespace), a pidfd, and the read end
 * of the status pipe (O_CLOEXEC|O_NONBLOCK; the helper writes progress records, then EOF means its exec succeeded),
 * sizeof(jail_error_t) bytes mean a stage failed. */
typedef struct {
        pid_t pid;
        int pidfd;
        int status_fd;
} jail_child_t;

/* Launches the plan: a vfork-style clone3 into the plan's namespaces and cgroup whose
 * child execs the helper (helper_fd: an executable fd, e.g. a sealed memfd) with the
 * plan on an fd.
 * The calling thread is blocked only until that exec. Only the process's main thread
 * may launch (the helper's PR_SET_PDEATHSIG follows the launching thread): any other
 * gets -EINVAL. Returns 0, or -errno with *reterr telling the stage (prepare, plan,
 * fds, join or cgroup for a source fd that is not open, clone, cgroup). */
int jail_launch(const uint8_t *plan, size_t plan_len, int helper_fd, jail_child_t *ret_child, jail_error_t *reterr);

/* Runs the launch sequence in the calling (single-threaded) process, as the helper does:
 * never returns on success (the program is exec'd), returns -errno with *reterr set on a
 * failure. *status_fd (close-on-exec, may be -1) can be moved to another number on the
 * way: report errors to its final value. parent_pidfd may be -1. Used by jail-helper. */
int jail_run(const jail_plan_t *plan, int *status_fd, int parent_pidfd, jail_error_t *reterr);

/* The plain C entry point of the shared library (docs/FORK-SERVER.md steps 4-6): the
 * launch sequence for a single-threaded host running as root that goes on as the vassal
 * in place, with nothing exec'd. In the caller: places the caller in the plan's cgroups
 * (its pid into each v1 `cgroup-procs` fd and into the unified `cgroup` directory's
 * cgroup.procs), unshares the plan's namespaces and forks the jail's top process, whose
 * pid it returns (> 0); the caller must then exit soon: the jail waits for that. In the
 * top process (pid 1 of the new pid namespace, if any), once the caller is gone and it
 * has been reparented to the nearest child subreaper: PR_SET_PDEATHSIG, a check that
 * watch_pidfd is not readable (-1: watch the caller's parent), then exactly jail_run()'s
 * stages (setup, the init, rlimits, the credential drop, PDEATHSIG again, fds, nofile,
 * chdir, seccomp) and the progress record for JAIL_STAGE_EXEC; returns 0 in the vassal.
 * There every fd but the plan's targets is closed (status_fd and watch_pidfd too: EOF
 * after the exec record means success), and jail_adopted_env() gives the plan's env.
 *
 * fds: the plan's launcher fds (`fd SRC:DST`, `cgroup`, `cgroup-procs`) are indexes into
 * this table of n_fds (at most JAIL_MAX_FDS) fds; NULL: they are fd numbers. status_fd
 * (-1: none) gets progress records and, from the jail's side, the failure record, as
 * jail-helper writes them; the failing jail process then exits with JAIL_EXIT_SETUP. In
 * the caller nothing is written to it: a failure there returns -errno with *reterr set
 * (stage plan: malformed, or EINVAL for privileged, join, join-cwd or ctty; fds or
 * cgroup: EBADF for a slot past the table or not open; prepare: EINVAL for a caller with
 * more than one thread (/proc/self/task); cgroup; clone). Without a pid namespace the top
 * process must be reparented to the watched process itself: if not (a subreaper in
 * between), it fails at stage pdeathsig, ESRCH. */
int jail_apply(const uint8_t *plan, size_t plan_len, const int *fds, size_t n_fds, int status_fd, int watch_pidfd,
               jail_error_t *reterr);

/* The fork server's base (docs/FORK-SERVER.md), root, single-threaded: binds path, a
 * UNIX stream socket of mode 0600, and returns the close-on-exec listening fd or -errno:
 * -EINVAL: path is not absolute or names no file; -ENOTDIR: its directory is not one (a
 * symlink included); -EPERM: the directory is not owned by root or is open to group or
 * others (it must be mode 0700 or stricter; a missing one is created 0700, its parent
 * must exist, else -ENOENT); -EADDRINUSE: something other than a socket is at path (a
 * stale socket is replaced); -ENAMETOOLONG; or bind/listen's errno. */
int jail_fork_server_listen(const char *path);

/* The base, single-threaded, once its code is loaded and before it serves: readies its
 * memory for the forks to come (settle.c): builds the default seccomp filter once, which
 * adopted vassals then load without building their own, and takes up the free holes in
 * its heap, so that a vassal's allocations come from pages of its own rather than copy
 * pages of the base. Returns 0, or -errno when the filter could not be built (adoptions
 * still work then, each vassal building its own). Call it again after loading more. */
int jail_fork_server_settle(void);

/* accept4() on the listening fd, restarted on EINTR: a close-on-exec connection, or -errno. */
int jail_fork_server_accept(int listen_fd);

/* Serves one adoption request on an accepted connection (docs/FORK-SERVER.md steps 1-7).
 * In the base returns the pid (> 0) of the middle process, which replies on conn and
 * exits at once (reap it with waitpid()), or -errno with nothing forked:
 * -EPERM: the peer (SO_PEERCRED) is not emperor_pid with emperor_uid, or emperor_pid is
 * not our parent; -EBADMSG: a malformed request (header, argv, mask, fds; more than
 * JAIL_MAX_FDS fds); -ETIMEDOUT: no whole request within 10 s of the call (one deadline,
 * however the bytes trickle in); -ESRCH: the emperor is gone; -EINVAL: the base has more
 * than one thread (then `pid` 0 and a failure record at stage prepare, EINVAL, are sent
 * on conn). M fails at stage prepare with EBUSY (item -1, `pid` 0) when the base has a
 * writable shared mapping (MAP_SHARED with PROT_WRITE, SysV shm: /proc/self/maps perms
 * `w` and `s`), which every vassal adopted from it would share; read-only ones are
 * allowed. M gives the jail the emperor's umask and nice value, as a spawned jail has.
 * Every fd received is closed again in the base; conn stays the caller's to close.
 * Returns 0 in the adopted vassal, with the plan applied, conn and every fd not in the
 * plan closed (do not close their numbers again: the plan's targets may reuse them). */
int jail_fork_server_serve(int conn, pid_t emperor_pid, uid_t emperor_uid);

/* In the adopted vassal: the request's argv (only in a process that
 * jail_fork_server_serve() returned 0 in) and the plan's environment (any jail_apply()
 * vassal), entry i, NULL past the last one. */
const char *jail_adopted_argv(int i);
const char *jail_adopted_env(int i);

/* Lowers the calling process to the plan's credentials in place (bounding set, groups,
 * gid, uid, capabilities, which stay permitted, effective, inheritable and ambient so the
 * processes it launches get them too) without exec'ing anything. For a multi-threaded
 * caller: ids change in every thread (glibc), so threads that exist lose every
 * capability; the calling thread keeps the plan's (and threads it creates later inherit
 * them), so it must be the one that launches. The bounding set shrinks in the calling
 * thread only (the others hold no capability to use it). A plan with anything but
 * uid, gid, groups and caps is refused (EINVAL). Used by the emperor to run unprivileged. */
int jail_drop_self(const uint8_t *plan, size_t plan_len, jail_error_t *reterr);

/* Stable stage names, shared with TypeScript's LaunchStage union. */
const char *jail_stage_to_string(jail_stage_t stage);
int jail_stage_from_string(const char *name);

/* SCM_RIGHTS over a UNIX socket: sends len bytes of data with n_fds fds attached;
 * receives up to max_fds fds (O_CLOEXEC) into ret_fds. Return bytes or -errno. */
ssize_t jail_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds);
ssize_t jail_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds, size_t *ret_n_fds);

#ifdef __cplusplus
}
#endif

#endif
