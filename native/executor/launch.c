/* launch.c: the caller's side of a launch. Runs in the emperor (a multi-threaded Node
 * process) or in any C program.
 *
 * The child of the clone shares our memory (CLONE_VM | CLONE_VFORK, as posix_spawn
 * does), so it runs no allocator and no libc state: only the raw calls in child_main(),
 * on a stack carved from this function's frame, with every signal blocked so that no
 * handler of ours can run on it. It execs jail-helper at once; from there on the helper
 * is a fresh single-threaded process and this thread is free again.
 *
 * The child is created inside the jail's cgroup (clone3 with CLONE_INTO_CGROUP), so not
 * one instruction of it is accounted to, or limited as, the emperor's; it joins the v1
 * hierarchies' cgroups before it execs the helper. Only where clone3 is refused with
 * ENOSYS (a container's seccomp profile) is it created outside and moves itself in
 * first thing, before the helper runs. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"

#define CHILD_STACK_SIZE (64 * 1024)

/* Everything the child needs, prepared before the clone. */
typedef struct {
        int helper_fd;
        int status_fd; /* write end */
        int keep[JAIL_MAX_FDS + 4];
        size_t n_keep;
        int cgroup_fd;        /* -1, or the unified directory the clone could not put us in */
        const int *cgroup_procs; /* v1 cgroup.procs fds */
        size_t n_cgroup_procs;
        char *const *argv;
        char *const *envp;
} child_ctx_t;

static void child_fail(const child_ctx_t *c, jail_stage_t stage, int errnum, int item) {
        jail_error_t err = { .stage = stage, .errnum = errnum, .item = item, .status = 0 };
        /* Nothing else can be done if this write fails: the exit code is the fallback. */
        (void) !write(c->status_fd, &err, sizeof(err));
        _exit(JAIL_EXIT_SETUP);
}

/* Child side, new namespaces, still the caller's credentials and shared memory. Joins
 * the jail's cgroups, clears close-on-exec on the fds the helper needs (never on the
 * cgroup fds: they stay out of the helper and the jail), asks to die with its parent
 * thread and execs the helper. Reports JAIL_STAGE_CGROUP, JAIL_STAGE_FDS or
 * JAIL_STAGE_HELPER. */
static int child_main(void *arg) {
        const child_ctx_t *c = arg;

        /* "0" is the writing process itself. The fallback for a clone that could not
         * place us: its own file, opened here (openat allocates nothing of ours). */
        if (c->cgroup_fd >= 0) {
                int fd = openat(c->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) < 0)
                        child_fail(c, JAIL_STAGE_CGROUP, errno, -1);
                (void) close(fd);
        }
        for (size_t i = 0; i < c->n_cgroup_procs; i++)
                if (write(c->cgroup_procs[i], "0", 1) < 0)
                        child_fail(c, JAIL_STAGE_CGROUP, errno, (int) i);

        /* The launcher's stdio reaches the helper and its root hooks (the sysadmin's
         * log); the vassal gets it only where the plan maps 0-2, and /dev/null otherwise
         * (map_fds()). A closed one stays closed. */
        for (int fd = 0; fd < 3; fd++)
                (void) fcntl(fd, F_SETFD, 0);

        for (size_t i = 0; i < c->n_keep; i++)
                if (fcntl(c->keep[i], F_SETFD, 0) < 0)
                        child_fail(c, JAIL_STAGE_FDS, errno, i >= 3 ? (int) i - 3 : -1);

        /* Survives the exec (the helper is not set-id); the helper checks the parent is
         * still there, since we may have been orphaned before this line. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(c, JAIL_STAGE_HELPER, errno, -1);

        execveat(c->helper_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
        child_fail(c, JAIL_STAGE_HELPER, errno, -1);
        return 0;
}

static int fail(jail_error_t *reterr, jail_stage_t stage, int errnum, int item) {
        *reterr = (jail_error_t) { .stage = stage, .errnum = errnum, .item = item, .status = 0 };
        return -errnum;
}

/* A source number that is not open would otherwise name whatever we open next: the
 * status pipe, the plan memfd or the pidfd would reach the vassal as its fd. */
static int check_sources(const jail_plan_t *plan, jail_error_t *reterr) {
        for (size_t i = 0; i < plan->n_fds; i++)
                if (fcntl(plan->fds[i].src, F_GETFD) < 0)
                        return fail(reterr, JAIL_STAGE_FDS, errno, (int) i);
        if (plan->join_fd >= 0 && fcntl(plan->join_fd, F_GETFD) < 0)
                return fail(reterr, JAIL_STAGE_JOIN, errno, -1);
        if (plan->cgroup_fd >= 0 && fcntl(plan->cgroup_fd, F_GETFD) < 0)
                return fail(reterr, JAIL_STAGE_CGROUP, errno, -1);
        for (size_t i = 0; i < plan->n_cgroup_procs; i++)
                if (fcntl(plan->cgroup_procs[i], F_GETFD) < 0)
                        return fail(reterr, JAIL_STAGE_CGROUP, errno, (int) i);
        return 0;
}

/* Whether clone3 with CLONE_INTO_CGROUP failed because of the cgroup: the errnos that
 * only the cgroup part gives (clone(2), cgroups(7)): EBADF (not a cgroup2 directory),
 * EACCES and ENOENT (not ours to write, or outside our cgroup namespace), EBUSY (the
 * cgroup has controllers enabled for children: no process may live in it), EOPNOTSUPP
 * (a domain-invalid cgroup), ENODEV (removed). A clone without CLONE_INTO_CGROUP gives
 * none of these. EAGAIN stays the clone's: the target's pids.max and RLIMIT_NPROC cannot
 * be told apart, and neither can EPERM from namespaces or a cgroup's permissions. */
static bool cgroup_refused(int errnum) {
        return errnum == EBADF || errnum == EACCES || errnum == ENOENT || errnum == EBUSY || errnum == EOPNOTSUPP ||
               errnum == ENODEV;
}

/* Caller side, every signal blocked. Creates the child in the plan's namespaces (none for
 * a join: the helper joins them) and unified cgroup, running child_main(ctx) on `stack`
 * until it execs the helper (CLONE_VFORK). Without clone3 (ENOSYS, or no trampoline for
 * this architecture) glibc's clone() does it, and ctx tells the child to move itself into
 * the cgroup. Returns the pid, or -errno with *reterr set (JAIL_STAGE_CLONE,
 * JAIL_STAGE_CGROUP). */
static pid_t clone_child(const jail_plan_t *plan, child_ctx_t *ctx, char *stack, size_t stack_size, int *ret_pidfd,
                         jail_error_t *reterr) {
        uint64_t flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | (plan->join_fd >= 0 ? 0 : (unsigned) plan->namespaces);
        jail_clone_args_t args = {
                .flags = flags | (plan->cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uintptr_t) ret_pidfd,
                .exit_signal = SIGCHLD,
                .stack = (uintptr_t) stack,
                .stack_size = stack_size,
                .cgroup = plan->cgroup_fd >= 0 ? (uint64_t) plan->cgroup_fd : 0,
        };
        pid_t pid = plan->no_clone3 ? -ENOSYS : jail__clone3(&args, child_main, ctx);

        /* ENOSYS: no clone3 (or a seccomp profile that says so); EPERM: older container
         * profiles refuse it outright. A clone() that fails for a real reason says so. */
        if (pid == -ENOSYS || pid == -EPERM) {
                ctx->cgroup_fd = plan->cgroup_fd;
                pid = clone(child_main, stack + stack_size, (int) flags | SIGCHLD, ctx, ret_pidfd);
                if (pid < 0)
                        pid = -errno;
        } else if (pid < 0 && plan->cgroup_fd >= 0 && cgroup_refused(-pid))
                return fail(reterr, JAIL_STAGE_CGROUP, -pid, -1);
        if (pid < 0)
                return fail(reterr, JAIL_STAGE_CLONE, -pid, -1);
        return pid;
}

static void close_if(int fd) {
        if (fd >= 0)
                (void) close(fd);
}

int jail_launch(const uint8_t *plan_buf, size_t plan_len, int helper_fd, jail_child_t *ret_child, jail_error_t *reterr) {
        int status[2] = { -1, -1 }, plan_fd = -1, parent_pidfd = -1, pidfd = -1, item, r;
        char arg_plan[16], arg_status[16], arg_parent[16];
        char *argv[] = { "jail-helper", arg_plan, arg_status, arg_parent, NULL };
        char *envp[] = { NULL };
        uint64_t all = ~UINT64_C(0), saved;
        child_ctx_t ctx;
        jail_plan_t plan;
        pid_t pid;
        /* The child runs on this, while this thread waits (CLONE_VFORK). */
        _Alignas(16) char stack[CHILD_STACK_SIZE];

        /* PR_SET_PDEATHSIG fires when the thread that forked the helper ends, not the
         * process: a worker thread that exits would kill the jail with it. */
        if (gettid() != getpid())
                return fail(reterr, JAIL_STAGE_PREPARE, EINVAL, -1);
        /* Parse here, where allocating is allowed: the clone needs the namespaces and the
         * fds to keep, and a plan the helper would reject is better refused now. */
        r = jail_plan_parse(plan_buf, plan_len, &plan, &item);
        if (r < 0)
                return fail(reterr, JAIL_STAGE_PLAN, -r, item);
        /* Before we open anything of our own. */
        r = check_sources(&plan, reterr);
        if (r < 0)
                goto out;

        /* Only our read end is non-blocking: the helper's records must never be dropped
         * with EAGAIN (a full pipe, pipe-user-pages-soft) and read as a success. */
        if (pipe2(status, O_CLOEXEC) < 0 || fcntl(status[0], F_SETFL, O_NONBLOCK) < 0) {
                r = fail(reterr, JAIL_STAGE_PREPARE, errno, -1);
                goto out;
        }
        /* The plan travels in a memfd: a pipe could fill up before the helper reads it. */
        plan_fd = memfd_create("jail-plan", MFD_CLOEXEC);
        if (plan_fd < 0 || write(plan_fd, plan_buf, plan_len) != (ssize_t) plan_len) {
                r = fail(reterr, JAIL_STAGE_PREPARE, plan_fd < 0 ? errno : EIO, -1);
                goto out;
        }
        /* Lets the helper see if we died before its PR_SET_PDEATHSIG took hold. */
        parent_pidfd = jail__pidfd_open(getpid(), 0);
        if (parent_pidfd < 0) {
                r = fail(reterr, JAIL_STAGE_PREPARE, errno, -1);
                goto out;
        }

        snprintf(arg_plan, sizeof(arg_plan), "%d", plan_fd);
        snprintf(arg_status, sizeof(arg_status), "%d", status[1]);
        snprintf(arg_parent, sizeof(arg_parent), "%d", parent_pidfd);
        ctx = (child_ctx_t) { .helper_fd = helper_fd, .status_fd = status[1], .cgroup_fd = -1,
                              .cgroup_procs = plan.cgroup_procs, .n_cgroup_procs = plan.n_cgroup_procs,
                              .argv = argv, .envp = envp };
        ctx.keep[ctx.n_keep++] = plan_fd;
        ctx.keep[ctx.n_keep++] = status[1];
        ctx.keep[ctx.n_keep++] = parent_pidfd;
        for (size_t i = 0; i < plan.n_fds; i++)
                ctx.keep[ctx.n_keep++] = plan.fds[i].src;
        if (plan.join_fd >= 0)
                ctx.keep[ctx.n_keep++] = plan.join_fd;

        /* Block every signal around the clone: the child shares our memory and must not
         * run our handlers; the helper restores the defaults after its exec. The raw call
         * also blocks the two signals glibc keeps for itself (cancellation, setxid), which
         * pthread_sigmask() would leave open. */
        (void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, sizeof(all));
        pid = clone_child(&plan, &ctx, stack, sizeof(stack), &pidfd, reterr);
        (void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, sizeof(saved));
        if (pid < 0) {
                r = pid;
                goto out;
        }

        *ret_child = (jail_child_t) { .pid = pid, .pidfd = pidfd, .status_fd = status[0] };
        status[0] = -1;
        r = 0;
out:
        close_if(status[0]);
        close_if(status[1]);
        close_if(plan_fd);
        close_if(parent_pidfd);
        jail_plan_free(&plan);
        return r;
}
