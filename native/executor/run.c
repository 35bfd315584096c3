/* run.c: the launch sequence, run by jail-helper inside the jail's new namespaces as
 * root. A flat list of stages in the order of jail_stage_t; each stage function says
 * what it runs as, what it changes and what it reports, and returns 0 or -errno with
 * *reterr set. Nothing here exits: the helper's main() does. */
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
        if (plan->fault_stage != (int) stage)
                return false;
        errno = plan->fault_errno;
        return true;
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

/* New mount + pid namespaces, root. Mounts a /proc that shows the jail's processes
 * only; must follow setup_mounts() so the host's /proc is left alone. Reports
 * JAIL_STAGE_PROC. */
static int mount_proc(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->mount_proc)
                return 0;
        if (fault(plan, JAIL_STAGE_PROC) ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return jail__fail(reterr, JAIL_STAGE_PROC, errno, -1, 0);
        return 0;
}

/* New mount namespace, root, after setup_mounts() (so the host never sees them). A fresh,
 * empty tmpfs on each listed directory (`tmp = private`), world-writable and sticky like
 * any /tmp, without set-id binaries or devices, and bounded: an unbounded tmpfs may take
 * half the RAM, and its pages belong to no process the OOM killer would pick. Reports
 * JAIL_STAGE_TMPFS, item = index. */
static int mount_tmpfs(const jail_plan_t *plan, jail_error_t *reterr) {
        char data[96];

        /* One inode per 4 KiB page at most, as a tmpfs full of empty files holds. */
        (void) snprintf(data, sizeof(data), "mode=1777,size=%llu,nr_inodes=%llu",
                        plan->tmpfs_size, plan->tmpfs_size / 4096);
        for (size_t i = 0; i < plan->n_tmpfs; i++)
                if (fault(plan, JAIL_STAGE_TMPFS) ||
                    mount("tmpfs", plan->tmpfs[i], "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
                        return jail__fail(reterr, JAIL_STAGE_TMPFS, errno, (int) i, 0);
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
 * hook_as_root), in order, each `/bin/sh -c CMD` with the vassal's environment. Any
 * non-zero wait status aborts the launch. Reports JAIL_STAGE_HOOK, item = index. */
static int run_hooks(const jail_plan_t *plan, jail_error_t *reterr) {
        for (size_t i = 0; i < plan->n_hooks; i++) {
                char *const argv[] = { "/bin/sh", "-c", (char *) plan->hooks[i], NULL };
                int status;
                pid_t pid;

                if (fault(plan, JAIL_STAGE_HOOK))
                        return jail__fail(reterr, JAIL_STAGE_HOOK, errno, (int) i, 0);
                pid = fork();
                if (pid < 0)
                        return jail__fail(reterr, JAIL_STAGE_HOOK, errno, (int) i, 0);
                if (pid == 0) {
                        jail__unblock_signals();
                        execve(argv[0], argv, (char *const *) plan->envp);
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

/* Root (or an unprivileged launcher), before the uid change, which RLIMIT_NPROC then
 * applies to: it counts every process of the vassal's uid, and root is exempt. Reports
 * JAIL_STAGE_RLIMIT. */
static int set_nproc(const jail_plan_t *plan, jail_error_t *reterr) {
        struct rlimit lim = { .rlim_cur = plan->nproc, .rlim_max = plan->nproc };

        if (!plan->set_nproc)
                return 0;
        if (fault(plan, JAIL_STAGE_RLIMIT) || setrlimit(RLIMIT_NPROC, &lim) < 0)
                return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, -1, 0);
        return 0;
}

/* Before any credential change (needs CAP_SETPCAP). Drops every capability outside the
 * plan's set from the bounding set, so not even a set-uid root binary run later can get
 * it back. A launcher without CAP_SETPCAP (an unprivileged emperor) cannot shrink it;
 * that is only accepted under no_new_privs, where no exec can draw on the bounding set.
 * Reports JAIL_STAGE_BOUNDING, item = capability number. */
static int drop_bounding(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_BOUNDING))
                return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, -1, 0);
        for (int cap = 0; cap < 64; cap++) {
                int in_set;

                if (plan->caps & (UINT64_C(1) << cap))
                        continue;
                in_set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (in_set < 0 && errno == EINVAL) /* past the kernel's last capability */
                        break;
                if (in_set < 0)
                        return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, cap, 0);
                if (in_set == 0)
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EPERM && plan->no_new_privs && !plan->privileged)
                                continue;
                        return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, cap, 0);
                }
        }
        return 0;
}

/* Root. Clears the supplementary groups (or sets the plan's), then the gid, then the
 * uid: groups and gid need CAP_SETGID, which setresuid() takes away. PR_SET_KEEPCAPS
 * keeps the permitted set across the uid change so set_caps() can narrow it.
 * Reports JAIL_STAGE_GROUPS, JAIL_STAGE_GID, JAIL_STAGE_UID. */
static int drop_ids(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_GROUPS) || setgroups(plan->n_groups, plan->groups) < 0)
                return jail__fail(reterr, JAIL_STAGE_GROUPS, errno, -1, 0);
        if (plan->set_gid && (fault(plan, JAIL_STAGE_GID) || setresgid(plan->gid, plan->gid, plan->gid) < 0))
                return jail__fail(reterr, JAIL_STAGE_GID, errno, -1, 0);
        if (plan->set_uid) {
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return jail__fail(reterr, JAIL_STAGE_UID, errno, -1, 0);
                if (fault(plan, JAIL_STAGE_UID) || setresuid(plan->uid, plan->uid, plan->uid) < 0)
                        return jail__fail(reterr, JAIL_STAGE_UID, errno, -1, 0);
        }
        return 0;
}

/* After the uid change. Sets permitted = effective = inheritable = the plan's set and
 * raises each one as ambient, so a non-root program keeps exactly these across exec.
 * (For uid 0 the bounding set already limits what exec grants.) Reports
 * JAIL_STAGE_CAPS, item = capability number for an ambient raise. */
static int set_caps(const jail_plan_t *plan, jail_error_t *reterr) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2];

        for (int i = 0; i < 2; i++) {
                uint32_t set = (uint32_t) (plan->caps >> (32 * i));
                data[i] = (struct __user_cap_data_struct) { .effective = set, .permitted = set, .inheritable = set };
        }
        if (fault(plan, JAIL_STAGE_CAPS) || syscall(SYS_capset, &hdr, data) < 0)
                return jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
        for (int cap = 0; cap < 64; cap++)
                if ((plan->caps & (UINT64_C(1) << cap)) &&
                    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CAPS, errno, cap, 0);
        return 0;
}

/* Any credentials. No set-id or file-capability exec can raise privileges from here
 * on. Reports JAIL_STAGE_NO_NEW_PRIVS. */
static int set_no_new_privs(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->no_new_privs)
                return 0;
        if (fault(plan, JAIL_STAGE_NO_NEW_PRIVS) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_NO_NEW_PRIVS, errno, -1, 0);
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

/* After map_fds(), fd 0 is the pty the launcher made: a new session whose controlling
 * terminal it is, so Ctrl-C and job control work inside. Reports JAIL_STAGE_FDS. */
static int take_tty(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->ctty)
                return 0;
        if (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_FDS, errno, 0, 0);
        return 0;
}

/* Any credentials. Gives the vassal exactly the plan's fds at the plan's numbers: every
 * source is first moved above all targets (so no dup2 clobbers a source or the status
 * fd), then dup2'd into place, which clears close-on-exec on the target only. Every
 * other fd above 2 is already close-on-exec. Reports JAIL_STAGE_FDS, item = index. */
static int map_fds(const jail_plan_t *plan, int *status_fd, jail_error_t *reterr) {
        int moved[JAIL_MAX_FDS], floor = 3;

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
        for (size_t i = 0; i < plan->n_fds; i++) {
                moved[i] = fcntl(plan->fds[i].src, F_DUPFD_CLOEXEC, floor);
                if (moved[i] < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, (int) i, 0);
        }
        for (size_t i = 0; i < plan->n_fds; i++)
                if (dup2(moved[i], plan->fds[i].dst) < 0)
                        return jail__fail(reterr, JAIL_STAGE_FDS, errno, (int) i, 0);
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

static const char *plan_getenv(const jail_plan_t *plan, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < plan->n_env; i++)
                if (strncmp(plan->envp[i], name, n) == 0 && plan->envp[i][n] == '=')
                        return plan->envp[i] + n + 1;
        return NULL;
}

/* execvp() without its fallback of running a file the kernel refuses (ENOEXEC) through
 * /bin/sh: a program is exec'd directly or not at all. PATH comes from the plan's env. */
static int exec_search(const jail_plan_t *plan) {
        const char *path = plan_getenv(plan, "PATH");
        char candidate[PATH_MAX];
        bool denied = false;

        if (strchr(plan->path, '/')) {
                execve(plan->path, (char *const *) plan->argv, (char *const *) plan->envp);
                return -errno;
        }
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *dir = path; dir; dir = strchr(dir, ':') ? strchr(dir, ':') + 1 : NULL) {
                size_t dlen = strchrnul(dir, ':') - dir;
                /* An empty entry is the current directory (execvp's rule). */
                int n = snprintf(candidate, sizeof(candidate), "%.*s/%s", dlen ? (int) dlen : 1, dlen ? dir : ".", plan->path);
                if (n < 0 || (size_t) n >= sizeof(candidate))
                        continue;
                execve(candidate, (char *const *) plan->argv, (char *const *) plan->envp);
                if (errno == EACCES)
                        denied = true;
                else if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
        }
        return denied ? -EACCES : -ENOENT;
}

/* Final credentials. The status fd is close-on-exec: EOF on it is the parent's proof
 * that this exec worked. Reports JAIL_STAGE_EXEC only if the exec fails. */
static int exec_program(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_EXEC))
                return jail__fail(reterr, JAIL_STAGE_EXEC, errno, -1, 0);
        return jail__fail(reterr, JAIL_STAGE_EXEC, -exec_search(plan), -1, 0);
}

int jail__setup(const jail_plan_t *plan, jail_error_t *reterr) {
        int r;

        if ((r = setup_mounts(plan, reterr)) < 0 || (r = mount_proc(plan, reterr)) < 0 ||
            (r = mount_tmpfs(plan, reterr)) < 0 || (r = set_hostname(plan, reterr)) < 0 || (r = loopback_up(plan, reterr)) < 0 ||
            (r = run_hooks(plan, reterr)) < 0)
                return r;
        return 0;
}

int jail__drop(const jail_plan_t *plan, jail_error_t *reterr) {
        int r;

        /* A privileged binary patch (nginx binding port 80) is exec'd as root before the
         * drop and drops privileges itself; the bounding set still limits that root to
         * the plan's capabilities. */
        if ((r = set_nproc(plan, reterr)) < 0)
                return r;
        if (plan->privileged) {
                if ((r = drop_bounding(plan, reterr)) < 0)
                        return r;
                return set_no_new_privs(plan, reterr);
        }
        if ((r = drop_bounding(plan, reterr)) < 0 || (r = drop_ids(plan, reterr)) < 0 ||
            (r = set_caps(plan, reterr)) < 0 || (r = set_no_new_privs(plan, reterr)) < 0)
                return r;
        return 0;
}

/* jailctl enter: join, fork inside a joined pid namespace (this process stays outside as
 * the command's forwarding parent, init.c, and exits with its status), then the same
 * credentials, fds and exec as a launch. Nothing is set up: the jail already is. */
static int run_joined(const jail_plan_t *plan, int *status_fd, int parent_pidfd, jail_error_t *reterr) {
        pid_t parent = -1;
        int cwd_fd, r;

        if (!(plan->namespaces & CLONE_NEWPID))
                jail__unblock_signals();
        if ((r = join_jail(plan, &cwd_fd, reterr)) < 0)
                return r;
        if (plan->namespaces & CLONE_NEWPID) {
                if ((r = jail__fork_init(plan, reterr)) < 0)
                        return r;
                parent = 0;
        }
        if ((r = jail__drop(plan, reterr)) < 0 || (r = set_pdeathsig(plan, parent, parent_pidfd, reterr)) < 0)
                return r;
        if (parent_pidfd >= 0)
                (void) close(parent_pidfd);
        if ((r = map_fds(plan, status_fd, reterr)) < 0 || (r = take_tty(plan, reterr)) < 0 ||
            (r = change_dir_fd(plan, cwd_fd, reterr)) < 0 || (r = change_dir(plan, reterr)) < 0)
                return r;
        return exec_program(plan, reterr);
}

int jail_run(const jail_plan_t *plan, int *status_fd, int parent_pidfd, jail_error_t *reterr) {
        bool under_init = false;
        int r;

        if (plan->join_fd >= 0)
                return run_joined(plan, status_fd, parent_pidfd, reterr);

        /* A fresh clone child is never a process-group leader, so setsid() cannot fail
         * (EPERM is its only error); the jail then gets no signal from a terminal. */
        if (plan->new_session)
                (void) setsid();
        /* Not pid 1 of anything: signals may act as usual from here (see helper.c). */
        if (!(plan->namespaces & CLONE_NEWPID))
                jail__unblock_signals();

        if ((r = jail__setup(plan, reterr)) < 0)
                return r;

        /* The jail's pid 1 stays behind as its init; the vassal goes on in the child. */
        if (plan->namespaces & CLONE_NEWPID) {
                r = jail__fork_init(plan, reterr);
                if (r < 0)
                        return r;
                under_init = true;
        }

        if ((r = jail__drop(plan, reterr)) < 0 ||
            (r = set_pdeathsig(plan, under_init ? 1 : -1, parent_pidfd, reterr)) < 0)
                return r;
        if (parent_pidfd >= 0)
                (void) close(parent_pidfd);
        if ((r = map_fds(plan, status_fd, reterr)) < 0 || (r = take_tty(plan, reterr)) < 0 ||
            (r = change_dir(plan, reterr)) < 0)
                return r;
        return exec_program(plan, reterr);
}

int jail_apply(const uint8_t *buf, size_t len, jail_error_t *reterr) {
        jail_plan_t plan;
        int item, r;

        r = jail_plan_parse(buf, len, &plan, &item);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);
        /* A new pid namespace applies to our children only; the host forks after this. */
        if (unshare(plan.namespaces) < 0)
                r = jail__fail(reterr, JAIL_STAGE_CLONE, errno, -1, 0);
        else if ((r = jail__setup(&plan, reterr)) >= 0 && (r = jail__drop(&plan, reterr)) >= 0)
                r = change_dir(&plan, reterr);
        jail_plan_free(&plan);
        return r < 0 ? r : 0;
}

int jail_drop_self(const uint8_t *buf, size_t len, jail_error_t *reterr) {
        jail_plan_t plan;
        int item, r;

        r = jail__plan_parse(buf, len, &plan, &item, false);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);
        /* Credentials only: anything else in the plan would be silently ignored. */
        if (plan.namespaces || plan.n_hooks || plan.n_tmpfs || plan.n_fds || plan.path || plan.set_nproc ||
            !plan.set_uid || !plan.set_gid) {
                jail_plan_free(&plan);
                return jail__fail(reterr, JAIL_STAGE_PLAN, EINVAL, -1, 0);
        }
        /* The caller is root here: the bounding set shrinks for real (no no_new_privs). */
        plan.no_new_privs = false;
        plan.privileged = false;
        if ((r = drop_bounding(&plan, reterr)) >= 0 && (r = drop_ids(&plan, reterr)) >= 0 &&
            (r = set_caps(&plan, reterr)) >= 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                r = jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
        jail_plan_free(&plan);
        return r < 0 ? r : 0;
}
