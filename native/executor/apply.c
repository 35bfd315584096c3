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
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
        if (plan->privileged || plan->join_fd >= 0 || plan->join_cwd || plan->ctty || plan->n_listen_fds > 0)
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

/* The pid behind a pidfd (its fdinfo's Pid: line), or -errno (ESRCH: it has exited). */
static pid_t pidfd_pid(int pidfd) {
        char path[64], line[128];
        pid_t pid = -ESRCH;
        FILE *f;

        (void) snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Pid:", 4) == 0 && atoi(line + 4) > 0)
                        pid = atoi(line + 4);
        (void) fclose(f);
        return pid;
}

/* The caller. A pidfd of itself, for G to wait on, and of the process the jail must not
 * outlive: watch_pidfd, or (-1) the caller's parent, opened and then checked to still be
 * the parent, so the pid cannot have been reused. *ret_watch_pid is that process's pid
 * (watch_pid, or read from the pidfd when 0): G must be reparented to it. Reports
 * JAIL_STAGE_PREPARE. */
static int open_pidfds(int watch_pidfd, pid_t watch_pid, int *ret_self, int *ret_watch, pid_t *ret_watch_pid,
                       jail_error_t *reterr) {
        pid_t parent = getppid();

        *ret_self = jail__pidfd_open(getpid(), 0);
        if (*ret_self < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        if (watch_pidfd >= 0) {
                *ret_watch = watch_pidfd;
                *ret_watch_pid = watch_pid > 0 ? watch_pid : pidfd_pid(watch_pidfd);
                if (*ret_watch_pid < 0)
                        return jail__fail(reterr, JAIL_STAGE_PREPARE, -*ret_watch_pid, -1, 0);
                return 0;
        }
        *ret_watch_pid = parent;
        *ret_watch = jail__pidfd_open(parent, 0);
        if (*ret_watch < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        if (getppid() != parent)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, ESRCH, -1, 0);
        return 0;
}

/* G, root, in the new namespaces. With a go channel (go_fd >= 0, from the fork server's
 * M): the one byte M sends once the emperor has G's pid. EOF without it means M died
 * before that (killed in the jail's cgroup, say): nobody supervises G, so it ends at once
 * and silently, with nothing written (the emperor never heard of it). */
static void await_go(int go_fd) {
        char c;
        ssize_t n;

        if (go_fd < 0)
                return;
        do
                n = read(go_fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(JAIL_EXIT_SETUP);
        (void) close(go_fd);
}

/* G, root, in the new namespaces (pid 1 of the new pid namespace, if any). Waits until
 * the caller has exited: by then G has been reparented to the nearest child subreaper
 * (the emperor), and whatever the caller sent before its exit (the fork server's reply)
 * precedes G's records. Then asks to die with that new parent, and checks that the
 * watched process did not die before the prctl and, without a pid namespace (where
 * getppid() says 0), that it is that parent: a subreaper between them (a base that set
 * PR_SET_CHILD_SUBREAPER) would otherwise get G. Reports JAIL_STAGE_PDEATHSIG (ESRCH:
 * the watched process is gone or is not G's parent). */
static int await_reparent(const jail_plan_t *plan, int caller_pidfd, int watch_pidfd, pid_t watch_pid,
                          jail_error_t *reterr) {
        struct pollfd p = { .fd = caller_pidfd, .events = POLLIN };

        while (poll(&p, 1, -1) < 0)
                if (errno != EINTR)
                        return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, errno, -1, 0);
        (void) close(caller_pidfd);
        if (fault(plan, JAIL_STAGE_PDEATHSIG) || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, errno, -1, 0);
        if (jail__parent_gone(watch_pidfd))
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, ESRCH, -1, 0);
        if (!(plan->namespaces & CLONE_NEWPID) && getppid() != watch_pid)
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, ESRCH, -1, 0);
        return 0;
}

/* V, the tenant's credentials. What ran as root is done with (the hooks, in the setup):
 * root's environment and the hook commands must not stay readable in the tenant's
 * memory, which it may dump or read through /proc/self/mem. */
static void wipe_root_strings(jail_plan_t *plan) {
        for (size_t i = 0; i < plan->n_root_env; i++) {
                explicit_bzero((char *) plan->root_envp[i], strlen(plan->root_envp[i]));
                plan->root_envp[i] = NULL;
        }
        plan->n_root_env = 0;
        for (size_t i = 0; i < plan->n_hooks; i++) {
                explicit_bzero((char *) plan->hooks[i], strlen(plan->hooks[i]));
                plan->hooks[i] = NULL;
        }
        plan->n_hooks = 0;
}

int jail__single_threaded(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -errno;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        (void) closedir(d);
        return n == 1 ? 0 : -EINVAL;
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
static void run_jail(jail_plan_t *plan, int status_fd, int caller_pidfd, int watch_pidfd, pid_t watch_pid, int go_fd,
                     int devnull) {
        struct sigaction dfl = { .sa_handler = SIG_DFL }, host_chld;
        jail_error_t err;

        /* The host's fds (its emperor pipe, its listening socket, whatever it opened) must
         * reach no hook, as none reaches a hook from jail-helper; map_fds() closes them for
         * the vassal, and its dup2() clears this flag on the plan's targets. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                (void) jail__fail(&err, JAIL_STAGE_FDS, errno, -1, 0);
                child_fail(status_fd, &err);
        }
        /* Hooks and the init wait for their children: a host that ignores SIGCHLD (or set
         * SA_NOCLDWAIT) would have them reaped behind their backs, and the init would
         * never see the vassal end. The vassal gets the host's disposition back. */
        (void) sigaction(SIGCHLD, &dfl, &host_chld); /* cannot fail for SIGCHLD */

        /* As jail-helper does: pid 1 of a namespace would lose a signal it neither blocks
         * nor handles, so they wait, blocked, for the init (which forwards them) and the
         * vassal (jail__fork_init() empties its mask). Without a pid namespace the
         * host's mask and handlers stay: it goes on as the vassal. */
        if (plan->namespaces & CLONE_NEWPID) {
                sigset_t all;
                sigfillset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL); /* cannot fail with a valid set */
        }
        await_go(go_fd);
        if (await_reparent(plan, caller_pidfd, watch_pidfd, watch_pid, &err) < 0)
                child_fail(status_fd, &err);
        /* G is a fresh child, never a group leader: setsid() cannot fail. */
        if (plan->new_session)
                (void) setsid();
        if (jail__launch_stages(plan, &status_fd, watch_pidfd, devnull, &err) < 0)
                child_fail(status_fd, &err);
        wipe_root_strings(plan);
        (void) sigaction(SIGCHLD, &host_chld, NULL); /* what it returned just now: valid */
        /* The end of the launch: EOF after this record is the reader's proof of success.
         * map_fds() may have moved the status fd to a number the caller never saw, so it
         * is closed here rather than left to the caller. */
        if (fault(plan, JAIL_STAGE_EXEC)) {
                (void) jail__fail(&err, JAIL_STAGE_EXEC, errno, -1, 0);
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

int jail__apply(const uint8_t *buf, size_t len, const int *fds, size_t n_fds, int status_fd, int watch_pidfd,
                pid_t watch_pid, int *ret_go_fd, jail_error_t *reterr) {
        int devnull = -1, self = -1, watch = -1, go[2] = { -1, -1 }, item, r;
        pid_t pid, parent = 0;
        jail_plan_t plan;

        if (ret_go_fd)
                *ret_go_fd = -1;
        if (n_fds > JAIL_MAX_FDS)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, EINVAL, -1, 0);
        /* unshare(CLONE_NEWNS) and a fork that copies one thread: another thread's state
         * (a lock it holds, its credentials) would be half in the jail. */
        if ((r = jail__single_threaded()) < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, -r, -1, 0);
        r = jail_plan_parse(buf, len, &plan, &item);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);

        /* The caller's steps: a flat list, in order; nothing is written to status_fd here
         * (the fork server's reply comes first on it). */
        if ((r = refuse_unsupported(&plan, reterr)) < 0 || (r = translate_slots(&plan, fds, n_fds, reterr)) < 0 ||
            (r = jail__open_devnull(&devnull, reterr)) < 0 || (r = join_cgroups(&plan, reterr)) < 0 ||
            (r = unshare_namespaces(&plan, reterr)) < 0 ||
            (r = open_pidfds(watch_pidfd, watch_pid, &self, &watch, &parent, reterr)) < 0)
                goto out;
        /* The go channel: a socket pair, so that M's send to a G already dead is EPIPE, not
         * a SIGPIPE in M (whose disposition G would inherit if M ignored it). */
        if (ret_go_fd && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0) {
                r = jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
                goto out;
        }
        pid = fork();
        if (pid < 0) {
                r = jail__fail(reterr, JAIL_STAGE_CLONE, errno, -1, 0);
                goto out;
        }
        if (pid == 0) {
                close_if(go[1]);
                run_jail(&plan, status_fd, self, watch, parent, go[0], devnull);
                /* The vassal: a fresh process that keeps its plan (jail_adopted_env()). */
                applied = plan;
                have_applied = true;
                return 0;
        }
        /* A test's `pause=prepare` stops the caller here: G exists, its pid is not sent. */
        if (fault(&plan, JAIL_STAGE_PREPARE)) {
                r = jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
                (void) kill(pid, SIGKILL); /* our own child: cannot fail */
                goto out;
        }
        if (ret_go_fd) {
                *ret_go_fd = go[1];
                go[1] = -1;
        }
        r = (int) pid;
out:
        close_if(go[0]);
        close_if(go[1]);
        close_if(devnull);
        close_if(self);
        if (watch != watch_pidfd)
                close_if(watch);
        jail_plan_free(&plan);
        return r;
}

int jail_apply(const uint8_t *buf, size_t len, const int *fds, size_t n_fds, int status_fd, int watch_pidfd,
               jail_error_t *reterr) {
        return jail__apply(buf, len, fds, n_fds, status_fd, watch_pidfd, 0, NULL, reterr);
}
