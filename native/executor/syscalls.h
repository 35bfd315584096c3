/* syscalls.h: raw system calls glibc 2.36 does not wrap, each wrapped once. */
#ifndef JAIL_SYSCALLS_H
#define JAIL_SYSCALLS_H

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define JAIL__STR_(x) #x
#define JAIL__STR(x) JAIL__STR_(x)

#include <stdint.h>

/* The kernel's struct clone_args (CLONE_ARGS_SIZE_VER2, Linux 5.7: with `cgroup`), here
 * so that no kernel header is needed. Every field is a 64-bit value. */
typedef struct {
        uint64_t flags;
        uint64_t pidfd;       /* where the kernel stores the pidfd (CLONE_PIDFD) */
        uint64_t child_tid;
        uint64_t parent_tid;
        uint64_t exit_signal;
        uint64_t stack;       /* lowest address; the child starts at stack + stack_size */
        uint64_t stack_size;
        uint64_t tls;
        uint64_t set_tid;
        uint64_t set_tid_size;
        uint64_t cgroup;      /* fd of a cgroup2 directory (CLONE_INTO_CGROUP) */
} jail_clone_args_t;

/* clone3() whose child runs fn(arg) on args->stack and exits with its return value (for
 * CLONE_VM: the child never returns into the caller's frames). Returns the child's pid
 * or -errno; -ENOSYS also where there is no trampoline for the architecture (clone3.c). */
int jail__clone3(jail_clone_args_t *args, int (*fn)(void *), void *arg);

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* The kernel's struct open_how (Linux 5.6) and the RESOLVE_* flags used here. */
struct jail_open_how {
        uint64_t flags;
        uint64_t mode;
        uint64_t resolve;
};
#define JAIL_RESOLVE_NO_MAGICLINKS 0x02 /* no /proc/PID/fd-style links */
#define JAIL_RESOLVE_NO_SYMLINKS 0x04   /* no symlink at all */
#define JAIL_RESOLVE_IN_ROOT 0x10       /* the dirfd is /, also for `..` and absolute links */

static inline int jail__openat2(int dirfd, const char *path, struct jail_open_how *how) {
        return (int) syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

static inline int jail__pivot_root(const char *new_root, const char *put_old) {
        return (int) syscall(SYS_pivot_root, new_root, put_old);
}

static inline int jail__pidfd_open(pid_t pid, unsigned int flags) {
        return (int) syscall(SYS_pidfd_open, pid, flags);
}

static inline int jail__pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

#endif
