/* helper.c: main() of jail-helper, the fresh single-threaded process the launcher execs
 * inside the new namespaces (systemd's sd-executor shape). It is embedded in the addon
 * and run from a sealed memfd, so nothing inside a jail can replace it.
 *
 * argv: jail-helper PLAN_FD STATUS_FD PARENT_PIDFD */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int parse_fd(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);
        return (*s && !*end && v >= 0 && v < 1 << 20) ? (int) v : -1;
}

/* The launcher blocked every signal and shared our handlers until the exec: default
 * handlers now, with every signal still blocked. As pid 1 of a new pid namespace the
 * helper would silently lose a signal that is neither blocked nor handled (the kernel
 * drops it), so signals stay pending until a process that can take them exists: the
 * init forwards them to the vassal, and hooks and the vassal unblock before exec. */
static void reset_signals(void) {
        sigset_t all;

        for (int sig = 1; sig < NSIG; sig++)
                (void) signal(sig, SIG_DFL); /* EINVAL for SIGKILL, SIGSTOP, internal ones */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Fds 0-2 the launcher had closed become /dev/null, so nothing opened later lands on
 * one of them and reaches the vassal as its stdio. */
static int fill_stdio(void) {
        for (;;) {
                int fd = open("/dev/null", O_RDWR);
                if (fd < 0)
                        return -errno;
                if (fd > 2) {
                        (void) close(fd);
                        return 0;
                }
        }
}

static int read_plan(int fd, jail_plan_t *ret_plan, jail_error_t *reterr) {
        struct stat st;
        uint8_t *buf;
        ssize_t n;
        int item, r;

        if (fstat(fd, &st) < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, errno, -1, 0);
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return jail__fail(reterr, JAIL_STAGE_PLAN, ENOMEM, -1, 0);
        n = pread(fd, buf, (size_t) st.st_size, 0);
        if (n != st.st_size) {
                free(buf);
                return jail__fail(reterr, JAIL_STAGE_PLAN, n < 0 ? errno : EIO, -1, 0);
        }
        r = jail_plan_parse(buf, (size_t) n, ret_plan, &item);
        free(buf);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);
        return 0;
}

static int exit_code(const jail_error_t *err) {
        if (err->stage == JAIL_STAGE_EXEC && err->errnum == ENOENT)
                return JAIL_EXIT_NOTFOUND;
        if (err->stage == JAIL_STAGE_EXEC)
                return JAIL_EXIT_NOEXEC;
        return JAIL_EXIT_SETUP;
}

int main(int argc, char **argv) {
        int plan_fd, status_fd, parent_pidfd;
        jail_error_t err;
        jail_plan_t plan;

        if (argc != 4)
                return JAIL_EXIT_SETUP;
        plan_fd = parse_fd(argv[1]);
        status_fd = parse_fd(argv[2]);
        parent_pidfd = parse_fd(argv[3]);

        /* First: until the exec, nothing of the vassal's uid may ptrace this process or
         * open its /proc/PID/fd while the status pipe and pidfds are open (CVE-2016-9962).
         * A credential change may set it back (fs.suid_dumpable): run.c clears it again
         * after the last one; the exec of the program resets it. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                jail_error_t e = { .stage = JAIL_STAGE_HELPER, .errnum = errno, .item = -1 };
                (void) !write(status_fd, &e, sizeof(e));
                _exit(JAIL_EXIT_SETUP);
        }
        reset_signals();
        /* Nothing but the plan's fds may reach the vassal or the hooks. Without this (a
         * kernel before 5.11, a seccomp filter) they might: refuse to go on. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 || fill_stdio() < 0) {
                jail_error_t e = { .stage = JAIL_STAGE_FDS, .errnum = errno, .item = -1 };
                (void) !write(status_fd, &e, sizeof(e));
                _exit(JAIL_EXIT_SETUP);
        }
        if (jail__parent_gone(parent_pidfd))
                _exit(JAIL_EXIT_SETUP);

        if (read_plan(plan_fd, &plan, &err) == 0) {
                (void) close(plan_fd);
                (void) jail_run(&plan, &status_fd, parent_pidfd, &err);
        }
        /* The parent reads exactly one record; the exit code is only the fallback. */
        (void) !write(status_fd, &err, sizeof(err));
        _exit(exit_code(&err));
}
