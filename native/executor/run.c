/* run.c: the launch sequence, run as root inside the jail's new namespaces by jail-helper
 * (jail_run) and by an in-process host that becomes the vassal (jail_apply, apply.c):
 * both call jail__launch_stages(). A flat list of stages in the order of jail_stage_t;
 * each stage function says what it runs as, what it changes and what it reports, and
 * returns 0 or -errno with *reterr set. Nothing here exits: the helper's main() and
 * apply.c's children do. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>

#include "jail.h"
#include "internal.h"
#include "syscalls.h"

int jail__fail(jail_error_t *reterr, jail_stage_t stage, int errnum, int item, int status) {
        *reterr = (jail_error_t) { .stage = stage, .errnum = errnum, .item = item, .status = status };
        return errnum > 0 ? -errnum : -ECANCELED;
}

bool jail__fault(const jail_plan_t *plan, jail_stage_t stage) {
#ifdef JAIL_FAULTS
        /* A test looks at the process from outside (its /proc, its fds) and sends SIGCONT. */
        if (plan->pause_stage == (int) stage)
                (void) kill(getpid(), SIGSTOP);
        if (plan->fault_stage != (int) stage)
                return false;
        errno = plan->fault_errno;
        return true;
#else
        (void) plan;
        (void) stage;
        return false;
#endif
}

void jail__progress(const int *status_fd, jail_stage_t stage, int item) {
        jail_error_t rec = { .stage = JAIL_PROGRESS | stage, .errnum = 0, .item = item, .status = 0 };

        /* A full pipe only costs the reader a less precise stage. */
        if (status_fd && *status_fd >= 0)
                (void) !write(*status_fd, &rec, sizeof(rec));
}

/* The environment of what runs as root: the hooks, a privileged program. */
static char *const *root_env(const jail_plan_t *plan) {
        return (char *const *) (plan->n_root_env > 0 ? plan->root_envp : plan->envp);
}

#define fault jail__fault

/* New mount namespace, root. Makes every mount private so nothing the jail mounts
 * propagates to the host (and no host mount propagates in). Reports JAIL_STAGE_MOUNT. */
static int setup_mounts(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!(plan->namespaces & CLONE_NEWNS))
                return 0;
        if (fault(plan, JAIL_STAGE_MOUNT) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return jail__fail(reterr, JAIL_STAGE_MOUNT, errno, -1, 0);
        return 0;
}

/* New uts namespace, root. Reports JAIL_STAGE_HOSTNAME. */
static int set_hostname(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->hostname)
                return 0;
        if (fault(plan, JAIL_STAGE_HOSTNAME) || sethostname(plan->hostname, strlen(plan->hostname)) < 0)
                return jail__fail(reterr, JAIL_STAGE_HOSTNAME, errno, -1, 0);
        return 0;
}

/* New net namespace, root (CAP_NET_ADMIN). A fresh net namespace has only `lo`, and it
 * is down. Reports JAIL_STAGE_LOOPBACK. */
static int loopback_up(const jail_plan_t *plan, jail_error_t *reterr) {
        struct ifreq ifr = { .ifr_name = "lo" };
        int fd, r = 0;

        if (!plan->loopback)
                return 0;
        if (fault(plan, JAIL_STAGE_LOOPBACK))
                return jail__fail(reterr, JAIL_STAGE_LOOPBACK, errno, -1, 0);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return jail__fail(reterr, JAIL_STAGE_LOOPBACK, errno, -1, 0);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = jail__fail(reterr, JAIL_STAGE_LOOPBACK, errno, -1, 0);
        else {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = jail__fail(reterr, JAIL_STAGE_LOOPBACK, errno, -1, 0);
        }
        (void) close(fd);
        return r;
}

/* All new namespaces, root, full capabilities: the exec-as-root hooks (uWSGI's
 * hook_as_root), in order, each `/bin/sh -c CMD` by absolute path, with the plan's
 * root environment (the vassal's when it has none). Any non-zero wait status aborts
 * the launch. Reports JAIL_STAGE_HOOK, item = index. */
static int run_hooks(const jail_plan_t *plan, const int *status_fd, jail_error_t *reterr) {
        for (size_t i = 0; i < plan->n_hooks; i++) {
                char *const argv[] = { "/bin/sh", "-c", (char *) plan->hooks[i], NULL };
                int status;
                pid_t pid;

                jail__progress(status_fd, JAIL_STAGE_HOOK, (int) i);
                if (fault(plan, JAIL_STAGE_HOOK))
                        return jail__fail(reterr, JAIL_STAGE_HOOK, errno, (int) i, 0);
                pid = fork();
                if (pid < 0)
                        return jail__fail(reterr, JAIL_STAGE_HOOK, errno, (int) i, 0);
                if (pid == 0) {
                        /* An in-process host (jail_apply) may have ignored some: a hook
                         * starts with the defaults, as from the helper. */
                        for (int sig = 1; sig < NSIG; sig++)
                                if (sig != SIGKILL && sig != SIGSTOP)
                                        (void) signal(sig, SIG_DFL); /* EINVAL for glibc's internal ones */
                        jail__unblock_signals();
                        execve(argv[0], argv, root_env(plan));
                        _exit(JAIL_EXIT_NOTFOUND);
                }
                /* Only this pid: as the jail's pid 1 we may also be reaping orphans. */
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                return jail__fail(reterr, JAIL_STAGE_HOOK, errno, (int) i, 0);
                if (status != 0)
                        return jail__fail(reterr, JAIL_STAGE_HOOK, 0, (int) i, status);
        }
        return 0;
}

/* After the last credential change, which resets the parent-death signal. Then checks
 * the parent did not die before that: when the parent stayed behind as a forwarding init
 * its pid is known (`parent`: 1 in a new pid namespace, 0 when it is outside a joined one,
 * where it has no pid), otherwise (parent < 0) the launcher's pidfd must not be readable.
 * Reports JAIL_STAGE_PDEATHSIG (ESRCH: the parent is gone). */
static int set_pdeathsig(const jail_plan_t *plan, pid_t parent, int parent_pidfd, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_PDEATHSIG) || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, errno, -1, 0);
        if (parent >= 0 ? getppid() != parent : jail__parent_gone(parent_pidfd))
                return jail__fail(reterr, JAIL_STAGE_PDEATHSIG, ESRCH, -1, 0);
        return 0;
}

/* jailctl enter, in the helper: a fresh process outside any jail, root. Opens the running
 * jail's cwd (join_cwd, /proc/PID/cwd of its vassal) while it is still reachable by that
 * path, then joins the plan's namespaces of the process behind the pidfd in one setns(2)
 * (the mount namespace also moves root and cwd to that namespace's root). A joined pid
 * namespace holds only processes forked after this. Reports JAIL_STAGE_JOIN. */
static int join_jail(const jail_plan_t *plan, int *ret_cwd_fd, jail_error_t *reterr) {
        *ret_cwd_fd = -1;
        if (fault(plan, JAIL_STAGE_JOIN))
                return jail__fail(reterr, JAIL_STAGE_JOIN, errno, -1, 0);
        if (plan->join_cwd) {
                *ret_cwd_fd = open(plan->join_cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (*ret_cwd_fd < 0)
                        return jail__fail(reterr, JAIL_STAGE_JOIN, errno, -1, 0);
        }
        if (plan->namespaces && setns(plan->join_fd, plan->namespaces) < 0)
                return jail__fail(reterr, JAIL_STAGE_JOIN, errno, -1, 0);
        (void) close(plan->join_fd);
        return 0;
}

/* The joined jail's working directory, once inside it with final credentials. Reports
 * JAIL_STAGE_CHDIR. */
static int change_dir_fd(const jail_plan_t *plan, int fd, jail_error_t *reterr) {
        if (fd < 0)
                return 0;
        if (fault(plan, JAIL_STAGE_CHDIR) || fchdir(fd) < 0)
                return jail__fail(reterr, JAIL_STAGE_CHDIR, errno, -1, 0);
        (void) close(fd);
        return 0;
}

/* After map_fds(), fd 0 is the pty the launcher made: a new session (unless setsid=1
 * made one already) whose controlling terminal it is, so Ctrl-C and job control work
 * inside. Reports JAIL_STAGE_TTY. */
static int take_tty(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->ctty)
                return 0;
        if (fault(plan, JAIL_STAGE_TTY) || (getsid(0) != getpid() && setsid() < 0) || ioctl(0, TIOCSCTTY, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_TTY, errno, 0, 0);
        return 0;
}

/* Closes every fd but the sorted, distinct `keep` (n of them). */
static void close_all_but(const int *keep, size_t n) {
        unsigned int from = 0;

        for (size_t i = 0; i < n; i++) {
                if ((unsigned int) keep[i] > from)
                        (void) close_range(from, (unsigned int) keep[i] - 1, 0);
                from = (unsigned int) keep[i] + 1;
        }
        (void) close_range(from, ~0U, 0);
}

/* Any credentials, before the tenant's chdir. Gives the vassal exactly the plan's fds at
 * the plan's numbers: every source is first moved above all targets (so no dup2 clobbers
 * a source or the status fd), then dup2'd into place, which clears close-on-exec on the
 * target only. Fds 0-2 the plan does not map become /dev/null (`devnull`, opened as root
 * in the launcher's mount namespace), never the launcher's. Then every other fd is
 * closed, not only close-on-exec: all but the targets, the status fd and `keep_fd` (-1,
 * or the joined jail's cwd). Reports JAIL_STAGE_FDS, item = index. */
static int map_fds(const jail_plan_t *plan, int *status_fd, int devnull, int *keep_fd, jail_error_t *reterr) {
        int moved[JAIL_MAX_FDS], keep[JAIL_MAX_FDS + 5], floor = 3;
        size_t n_keep = 0;

        if (fault(plan, JAIL_STAGE_FDS))
                return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
        for (size_t i = 0; i < plan->n_fds; i++) {
                if (plan->fds[i].dst >= floor)
                        floor = plan->fds[i].dst + 1;
                if (plan->fds[i].src >= floor)
                        floor = plan->fds[i].src + 1;
        }
        if (*status_fd >= 0 && *status_fd < floor) {
                int fd = fcntl(*status_fd, F_DUPFD_CLOEXEC, floor);
                if (fd < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
                (void) close(*status_fd);
                *status_fd = fd;
        }
        /* /dev/null and keep_fd too may sit on a target. */
        devnull = fcntl(devnull, F_DUPFD_CLOEXEC, floor);
        if (devnull < 0)
                return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
        if (*keep_fd >= 0 && *keep_fd < floor) {
                int fd = fcntl(*keep_fd, F_DUPFD_CLOEXEC, floor);
                if (fd < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
                (void) close(*keep_fd);
                *keep_fd = fd;
        }
        for (size_t i = 0; i < plan->n_fds; i++) {
                moved[i] = fcntl(plan->fds[i].src, F_DUPFD_CLOEXEC, floor);
                if (moved[i] < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, (int) i, 0);
        }
        for (size_t i = 0; i < plan->n_fds; i++)
                if (dup2(moved[i], plan->fds[i].dst) < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, (int) i, 0);
        for (int fd = 0; fd < 3; fd++) {
                bool mapped = false;
                for (size_t i = 0; i < plan->n_fds; i++)
                        mapped |= plan->fds[i].dst == fd;
                if (!mapped && dup2(devnull, fd) < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
        }

        /* The fds to keep, sorted (insertion sort: no allocation, at most 68 of them). */
        for (int fd = 0; fd < 3; fd++)
                keep[n_keep++] = fd;
        for (size_t i = 0; i < plan->n_fds; i++)
                if (plan->fds[i].dst >= 3)
                        keep[n_keep++] = plan->fds[i].dst;
        if (*status_fd >= 0)
                keep[n_keep++] = *status_fd;
        if (*keep_fd >= 0)
                keep[n_keep++] = *keep_fd;
        for (size_t i = 1; i < n_keep; i++)
                for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
                        int t = keep[j];
                        keep[j] = keep[j - 1];
                        keep[j - 1] = t;
                }
        close_all_but(keep, n_keep);
        return 0;
}

/* Inside the jail's mount namespace, final credentials (so a directory only the vassal
 * may enter is honoured). Reports JAIL_STAGE_CHDIR. */
static int change_dir(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->chdir)
                return 0;
        if (fault(plan, JAIL_STAGE_CHDIR) || chdir(plan->chdir) < 0)
                return jail__fail(reterr, JAIL_STAGE_CHDIR, errno, -1, 0);
        return 0;
}

/* execvp() without its fallback of running a file the kernel refuses (ENOEXEC) through
 * /bin/sh: a program is exec'd directly or not at all, with `envp`. A slash-less path is
 * searched in the plan's exec-path, else in PATH of `envp`. Only absolute entries are
 * tried: an empty entry means the cwd to execvp() and a relative one is relative to it,
 * and the cwd is the tenant's choice (chdir), so either would let a tenant's file stand
 * in for a system program, for a privileged program too. */
static int exec_search(const jail_plan_t *plan, char *const *envp) {
        const char *path = plan->exec_path;
        char candidate[PATH_MAX];
        bool denied = false;

        if (strchr(plan->path, '/')) {
                execve(plan->path, (char *const *) plan->argv, envp);
                return -errno;
        }
        if (!path) {
                for (size_t i = 0; envp[i] && !path; i++)
                        if (strncmp(envp[i], "PATH=", 5) == 0)
                                path = envp[i] + 5;
        }
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *dir = path; dir; dir = strchr(dir, ':') ? strchr(dir, ':') + 1 : NULL) {
                size_t dlen = strchrnul(dir, ':') - dir;
                int n;

                if (dlen == 0 || dir[0] != '/')
                        continue;
                n = snprintf(candidate, sizeof(candidate), "%.*s/%s", (int) dlen, dir, plan->path);
                if (n < 0 || (size_t) n >= sizeof(candidate))
                        continue;
                execve(candidate, (char *const *) plan->argv, envp);
                if (errno == EACCES)
                        denied = true;
                else if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
        }
        return denied ? -EACCES : -ENOENT;
}

/* Final credentials (root for a privileged program, with the root environment). The
 * status fd is close-on-exec: EOF on it after the progress record for JAIL_STAGE_EXEC is
 * the parent's proof that this exec worked. With socket activation the environment gets
 * LISTEN_* here, in the process that execs (listen.c). Reports JAIL_STAGE_EXEC only if
 * it fails. */
static int exec_program(const jail_plan_t *plan, const int *status_fd, jail_error_t *reterr) {
        jail_listen_env_t listen_env;
        char *const *envp;
        int r;

        if (fault(plan, JAIL_STAGE_EXEC))
                return jail__fail(reterr, JAIL_STAGE_EXEC, errno, -1, 0);
        r = jail__listen_env(plan, plan->privileged ? root_env(plan) : (char *const *) plan->envp, &listen_env, &envp, reterr);
        if (r < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_EXEC, -1);
        return jail__fail(reterr, JAIL_STAGE_EXEC, -exec_search(plan, envp), -1, 0);
}

/* With a root of its own the hooks run before the switch, in the host's filesystem (the
 * jail's root at its path there): a root hook never runs a binary of the jail's root. */
int jail__setup(const jail_plan_t *plan, const int *status_fd, jail_error_t *reterr) {
        int root_fd = -1, r;

        jail__progress(status_fd, JAIL_STAGE_OOM_SCORE_ADJ, -1);
        if ((r = jail__set_oom_score_adj(plan, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_MOUNT, -1);
        if ((r = setup_mounts(plan, reterr)) < 0 || (r = jail__mount_ops(plan, &root_fd, reterr)) < 0)
                return r;
        if ((r = set_hostname(plan, reterr)) < 0 || (r = loopback_up(plan, reterr)) < 0 ||
            (r = run_hooks(plan, status_fd, reterr)) < 0) {
                if (root_fd >= 0)
                        (void) close(root_fd);
                return r;
        }
        jail__progress(status_fd, JAIL_STAGE_PIVOT_ROOT, -1);
        return jail__switch_root(plan, root_fd, reterr);
}

/* Root, in the launcher's mount namespace (a jail's /dev is not trusted): the /dev/null
 * that unmapped stdio becomes. Reports JAIL_STAGE_FDS. */
int jail__open_devnull(int *ret_fd, jail_error_t *reterr) {
        *ret_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (*ret_fd < 0)
                return jail__fail(reterr, JAIL_STAGE_FDS, errno, -1, 0);
        return 0;
}

/* Root (the vassal-to-be, under the jail's init when pid-namespaced), after the setup.
 * The host's limits (or the plan's), the credential drop, non-dumpable again, then the
 * parent-death signal and the check that the parent is still there. Reports
 * JAIL_STAGE_RLIMIT through JAIL_STAGE_PDEATHSIG, each stage its own. */
static int drop_privileges(const jail_plan_t *plan, pid_t parent, int parent_pidfd, const int *status_fd,
                           jail_error_t *reterr) {
        int r;

        jail__progress(status_fd, JAIL_STAGE_RLIMIT, -1);
        if ((r = jail__set_limits(plan, reterr)) < 0 || (r = jail__drop(plan, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_DUMPABLE, -1);
        if ((r = jail__set_undumpable(plan, reterr)) < 0 || (r = set_pdeathsig(plan, parent, parent_pidfd, reterr)) < 0)
                return r;
        if (parent_pidfd >= 0)
                (void) close(parent_pidfd);
        return 0;
}

/* jailctl enter: join, fork inside a joined pid namespace (this process stays outside as
 * the command's forwarding parent, init.c, and exits with its status), then the same
 * credentials, fds and exec as a launch. Nothing is set up: the jail already is. */
static int run_joined(const jail_plan_t *plan, int *status_fd, int parent_pidfd, int devnull, jail_error_t *reterr) {
        pid_t parent = -1;
        int cwd_fd, r;

        /* As for a launch: no signal from whoever started the launcher's terminal. */
        if (plan->new_session)
                (void) setsid();
        if (!(plan->namespaces & CLONE_NEWPID))
                jail__unblock_signals();
        /* In the host's /proc, as for a launch (the jail's may be absent). */
        jail__progress(status_fd, JAIL_STAGE_OOM_SCORE_ADJ, -1);
        if ((r = jail__set_oom_score_adj(plan, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_JOIN, -1);
        if ((r = join_jail(plan, &cwd_fd, reterr)) < 0)
                return r;
        if (plan->namespaces & CLONE_NEWPID) {
                jail__progress(status_fd, JAIL_STAGE_INIT, -1);
                if ((r = jail__fork_init(plan, reterr)) < 0)
                        return r;
                parent = 0;
        }
        if ((r = drop_privileges(plan, parent, parent_pidfd, status_fd, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_FDS, -1);
        if ((r = map_fds(plan, status_fd, devnull, &cwd_fd, reterr)) < 0 || (r = jail__set_nofile(plan, reterr)) < 0 ||
            (r = take_tty(plan, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_CHDIR, -1);
        if ((r = change_dir_fd(plan, cwd_fd, reterr)) < 0 || (r = change_dir(plan, reterr)) < 0)
                return r;
        /* As close to the exec as it can be: nothing of ours runs filtered but it. */
        jail__progress(status_fd, JAIL_STAGE_SECCOMP, -1);
        if ((r = jail__load_seccomp(plan, reterr)) < 0)
                return r;
        return exec_program(plan, status_fd, reterr);
}

int jail__launch_stages(const jail_plan_t *plan, int *status_fd, int parent_pidfd, int devnull, jail_error_t *reterr) {
        bool under_init = false;
        int no_fd = -1, r;

        if ((r = jail__setup(plan, status_fd, reterr)) < 0)
                return r;

        /* The jail's pid 1 stays behind as its init; the vassal goes on in the child. The
         * init closes every fd: only the vassal holds the status fd. */
        if (plan->namespaces & CLONE_NEWPID) {
                jail__progress(status_fd, JAIL_STAGE_INIT, -1);
                r = jail__fork_init(plan, reterr);
                if (r < 0)
                        return r;
                under_init = true;
        }

        if ((r = drop_privileges(plan, under_init ? 1 : -1, parent_pidfd, status_fd, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_FDS, -1);
        if ((r = map_fds(plan, status_fd, devnull, &no_fd, reterr)) < 0 || (r = jail__set_nofile(plan, reterr)) < 0 ||
            (r = take_tty(plan, reterr)) < 0)
                return r;
        jail__progress(status_fd, JAIL_STAGE_CHDIR, -1);
        if ((r = change_dir(plan, reterr)) < 0)
                return r;
        /* After no_new_privs, the fds and the chdir, as close to the exec as it can be:
         * nothing of ours runs filtered but the exec itself (or, for jail_apply(), the
         * host that goes on as the vassal). */
        jail__progress(status_fd, JAIL_STAGE_SECCOMP, -1);
        return jail__load_seccomp(plan, reterr);
}

int jail_run(const jail_plan_t *plan, int *status_fd, int parent_pidfd, jail_error_t *reterr) {
        int devnull, r;

        if ((r = jail__open_devnull(&devnull, reterr)) < 0)
                return r;
        if (plan->join_fd >= 0)
                return run_joined(plan, status_fd, parent_pidfd, devnull, reterr);

        /* A fresh clone child is never a process-group leader, so setsid() cannot fail
         * (EPERM is its only error); the jail then gets no signal from a terminal. */
        if (plan->new_session)
                (void) setsid();
        /* Not pid 1 of anything: signals may act as usual from here (see helper.c). */
        if (!(plan->namespaces & CLONE_NEWPID))
                jail__unblock_signals();

        if ((r = jail__launch_stages(plan, status_fd, parent_pidfd, devnull, reterr)) < 0)
                return r;
        return exec_program(plan, status_fd, reterr);
}
