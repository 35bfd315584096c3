/* apply.c: jail_apply(), the launch sequence for a host that becomes the vassal in
 * place (the PSGI fork server, docs/FORK-SERVER.md steps 4-6).
 *
 * The caller is a forked, single-threaded process running as root (the fork server's
 * middle process M), so libc is fine here: invariant 2 binds jail_launch()'s clone child
 * only. The caller moves itself into the jail's cgroups, unshares the namespaces and
 * forks the jail's top process G, which waits until the caller has exited (and G has
 * been reparented to the emperor, the nearest child subreaper), then runs exactly the
 * stages jail-helper runs (jail__launch_stages(), run.c) and goes on as the vassal where
 * jail-helper would exec. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"
#include "syscalls.h"

#define fault jail__fault

/* The plan of the vassal this process became (kept for jail_adopted_env()). */
static jail_plan_t applied;
static bool have_applied;

const jail_plan_t *jail__applied_plan(void) {
        return have_applied ? &applied : NULL;
}

/* The caller, root. What an in-process jail cannot have: a program exec'd as root before
 * the drop (nothing is exec'd here), a running jail to join (that is jailctl enter), a
 * controlling terminal. Reports JAIL_STAGE_PLAN (EINVAL). */
static int refuse_unsupported(const jail_plan_t *plan, jail_error_t *reterr) {
        if (plan->privileged || plan->join_fd >= 0 || plan->join_cwd || plan->ctty)
                return jail__fail(reterr, JAIL_STAGE_PLAN, EINVAL, -1, 0);
        return 0;
}

/* Slot `slot` of fds (fds NULL: slot is already an fd number), which must be open.
 * Returns the fd or -errno (EBADF: no such slot). */
static int slot_fd(const int *fds, size_t n_fds, int slot) {
        int fd = slot;

        if (fds) {
                if (slot < 0 || (size_t) slot >= n_fds)
                        return -EBADF;
                fd = fds[slot];
        }
        if (fcntl(fd, F_GETFD) < 0)
                return -errno;
        return fd;
}

/* The caller, root. The plan's launcher fds (`fd SRC:DST`, `cgroup`, `cgroup-procs`) are
 * slots of `fds`: each becomes the fd in its slot. A slot past the table or an fd that
 * is not open would otherwise name whatever this process opens next, so it is refused:
 * EBADF at JAIL_STAGE_FDS (item = index) or JAIL_STAGE_CGROUP (item = index, -1 for the
 * unified directory). */
static int translate_slots(jail_plan_t *plan, const int *fds, size_t n_fds, jail_error_t *reterr) {
        int fd;

        for (size_t i = 0; i < plan->n_fds; i++) {
                if ((fd = slot_fd(fds, n_fds, plan->fds[i].src)) < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, -fd, (int) i, 0);
                plan->fds[i].src = fd;
        }
        if (plan->cgroup_fd >= 0) {
                if ((fd = slot_fd(fds, n_fds, plan->cgroup_fd)) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CGROUP, -fd, -1, 0);
                plan->cgroup_fd = fd;
        }
        for (size_t i = 0; i < plan->n_cgroup_procs; i++) {
                if ((fd = slot_fd(fds, n_fds, plan->cgroup_procs[i])) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CGROUP, -fd, (int) i, 0);
                plan->cgroup_procs[i] = fd;
        }
        return 0;
}

/* The caller, root, still in its own cgroups. Writes its pid into the unified directory's
 * cgroup.procs (item -1) and into each v1 cgroup.procs (item = index), so that every
 * process it forks from here on is born in the jail's cgroups. Reports
 * JAIL_STAGE_CGROUP. */
static int join_cgroups(const jail_plan_t *plan, jail_error_t *reterr) {
        char pid[16];
        int n = snprintf(pid, sizeof(pid), "%d", (int) getpid());

        if (fault(plan, JAIL_STAGE_CGROUP))
                return jail__fail(reterr, JAIL_STAGE_CGROUP, errno, -1, 0);
        if (plan->cgroup_fd >= 0) {
                int fd = openat(plan->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return jail__fail(reterr, JAIL_STAGE_CGROUP, errno, -1, 0);
                if (write(fd, pid, (size_t) n) < 0) {
                        int errnum = errno;
                        (void) close(fd);
                        return jail__fail(reterr, JAIL_STAGE_CGROUP, errnum, -1, 0);
                }
                (void) close(fd);
        }
        for (size_t i = 0; i < plan->n_cgroup_procs; i++)
                if (write(plan->cgroup_procs[i], pid, (size_t) n) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CGROUP, errno, (int) i, 0);
        return 0;
}

/* The caller, root, in the jail's cgroups (so a new cgroup namespace is rooted there).
 * Creates the plan's namespaces; a new pid namespace is entered by the next child only,
 * which becomes its pid 1. Reports JAIL_STAGE_CLONE. */
static int unshare_namespaces(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_CLONE) || (plan->namespaces && unshare(plan->namespaces) < 0))
                return jail__fail(reterr, JAIL_STAGE_CLONE, errno, -1, 0);
        return 0;
}

/* The caller. A pidfd of itself, for G to wait on, and of the process the jail must not
 * outlive: watch_pidfd, or (-1) the caller's parent, opened and then checked to still be
 * the parent, so the pid cannot have been reused. Reports JAIL_STAGE_PREPARE. */
static int open_pidfds(int watch_pidfd, int *ret_self, int *ret_watch, jail_error_t *reterr) {
        pid_t parent = getppid();

        *ret_self = jail__pidfd_open(getpid(), 0);
        if (*ret_self < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        if (watch_pidfd >= 0) {
                *ret_watch = watch_pidfd;
                return 0;
        }
        *ret_watch = jail__pidfd_open(parent, 0);
        if (*ret_watch < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        if (getppid() != parent)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, ESRCH, -1, 0);
        return 0;
}

/* G, root, in the new namespaces (pid 1 of the new pid namespace, if any). Waits until
 * the caller has exited: by then G has been reparented to the nearest child subreaper
 * (the emperor), and whatever the caller sent before its exit (the fork server's reply)
 * precedes G's records. Then asks to die with that new parent, and checks that the
 * watched process did not die before the prctl. Reports JAIL_STAGE_PDEATHSIG (ESRCH:
 * the watched process is gone). */
static int await_reparent(const jail_plan_t *plan, int caller_pidfd, int watch_pidfd, jail_error_t *reterr) {
        struct pollfd p = { .fd = caller_pidfd, .events = POLLIN };

        while (poll(&p, 1, -1) < 0)
                if (errno != EINTR)
                        return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, errno, -1, 0);
        (void) close(caller_pidfd);
        if (fault(plan, JAIL_STAGE_PDEATHSIG) || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, errno, -1, 0);
        if (jail__parent_gone(watch_pidfd))
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, ESRCH, -1, 0);
        return 0;
}

/* G, and V after it: the record of the failed stage, then the exit (the status fd is the
 * diagnosis, the exit code the fallback). */
static void __attribute__((noreturn)) child_fail(int status_fd, const jail_error_t *err) {
        /* Nothing else can be done if this write fails (the reader is gone). */
        if (status_fd >= 0)
                (void) !write(status_fd, err, sizeof(*err));
        _exit(JAIL_EXIT_SETUP);
}

/* G: root, the jail's new namespaces, the jail's cgroups. Runs the launch sequence and
 * returns in the vassal only, once the progress record for JAIL_STAGE_EXEC is written and
 * the status fd closed; a failure is written as a record and ends the process. */
static void run_jail(const jail_plan_t *plan, int status_fd, int caller_pidfd, int watch_pidfd, int devnull) {
        jail_error_t err;

        /* As jail-helper does: pid 1 of a namespace would lose a signal it neither blocks
         * nor handles, so they wait, blocked, for the init (which forwards them) and the
         * vassal (jail__fork_init() empties its mask). Without a pid namespace the
         * host's mask and handlers stay: it goes on as the vassal. */
        if (plan->namespaces & CLONE_NEWPID) {
                sigset_t all;
                sigfillset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL); /* cannot fail with a valid set */
        }
        if (await_reparent(plan, caller_pidfd, watch_pidfd, &err) < 0)
                child_fail(status_fd, &err);
        /* G is a fresh child, never a group leader: setsid() cannot fail. */
        if (plan->new_session)
                (void) setsid();
        if (jail__launch_stages(plan, &status_fd, watch_pidfd, devnull, &err) < 0)
                child_fail(status_fd, &err);
        /* The end of the launch: EOF after this record is the reader's proof of success.
         * map_fds() may have moved the status fd to a number the caller never saw, so it
         * is closed here rather than left to the caller. */
        if (fault(plan, JAIL_STAGE_EXEC)) {
                err = (jail_error_t) { .stage = JAIL_STAGE_EXEC, .errnum = errno, .item = -1 };
                child_fail(status_fd, &err);
        }
        jail__progress(&status_fd, JAIL_STAGE_EXEC, -1);
        if (status_fd >= 0)
                (void) close(status_fd);
}

static void close_if(int fd) {
        if (fd >= 0)
                (void) close(fd);
}

int jail_apply(const uint8_t *buf, size_t len, const int *fds, size_t n_fds, int status_fd, int watch_pidfd,
               jail_error_t *reterr) {
        int devnull = -1, self = -1, watch = -1, item, r;
        jail_plan_t plan;
        pid_t pid;

        if (n_fds > JAIL_MAX_FDS)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, EINVAL, -1, 0);
        r = jail_plan_parse(buf, len, &plan, &item);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);

        /* The caller's steps: a flat list, in order; nothing is written to status_fd here
         * (the fork server's reply comes first on it). */
        if ((r = refuse_unsupported(&plan, reterr)) < 0 || (r = translate_slots(&plan, fds, n_fds, reterr)) < 0 ||
            (r = jail__open_devnull(&devnull, reterr)) < 0 || (r = join_cgroups(&plan, reterr)) < 0 ||
            (r = unshare_namespaces(&plan, reterr)) < 0 || (r = open_pidfds(watch_pidfd, &self, &watch, reterr)) < 0)
                goto out;
        pid = fork();
        if (pid < 0) {
                r = jail__fail(reterr, JAIL_STAGE_CLONE, errno, -1, 0);
                goto out;
        }
        if (pid == 0) {
                run_jail(&plan, status_fd, self, watch, devnull);
                /* The vassal: a fresh process that keeps its plan (jail_adopted_env()). */
                applied = plan;
                have_applied = true;
                return 0;
        }
        r = (int) pid;
out:
        close_if(devnull);
        close_if(self);
        if (watch != watch_pidfd)
                close_if(watch);
        jail_plan_free(&plan);
        return r;
}
