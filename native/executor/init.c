/* init.c: pid 1 of a pid-namespaced jail.
 *
 * The kernel gives pid 1 two duties: reap every orphan of the namespace, and ignore any
 * signal it has no handler for (so a plain program as pid 1 cannot be stopped with
 * SIGTERM from inside the jail). This init reaps, forwards the usual control signals to
 * the vassal, and exits with the vassal's status, which takes the whole namespace down. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static bool is_forwarded(int sig) {
        for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
                if (forwarded[i] == sig)
                        return true;
        return false;
}

/* A signal death becomes 128 + signal, as a shell reports it: pid 1 cannot re-raise it. */
static int exit_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return JAIL_EXIT_SETUP;
}

/* Root, pid 1 of the jail, every signal blocked. Holds no fd of the vassal's (its
 * stdout pipe must see EOF when the vassal exits) and never returns. */
static void __attribute__((noreturn)) run_init(pid_t vassal, const sigset_t *all) {
        (void) close_range(0, ~0U, 0);
        for (;;) {
                siginfo_t si;
                int status, sig;
                pid_t pid;

                while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                        if (pid == vassal)
                                _exit(exit_code(status));
                sig = sigwaitinfo(all, &si);
                if (sig > 0 && is_forwarded(sig))
                        (void) kill(vassal, sig);
        }
}

int jail__fork_init(const jail_plan_t *plan, jail_error_t *reterr) {
        sigset_t all, saved;
        pid_t pid;

        if (jail__fault(plan, JAIL_STAGE_INIT))
                return jail__fail(reterr, JAIL_STAGE_INIT, errno, -1, 0);
        /* Blocked before the fork so no SIGTERM or SIGCHLD slips past the init. */
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &saved); /* cannot fail with a valid set */
        pid = fork();
        if (pid < 0) {
                int errnum = errno;
                (void) sigprocmask(SIG_SETMASK, &saved, NULL); /* the mask it returned: valid */
                return jail__fail(reterr, JAIL_STAGE_INIT, errnum, -1, 0);
        }
        if (pid > 0)
                run_init(pid, &all);
        /* The vassal's process: what was blocked for pid 1's sake is not its concern. */
        jail__unblock_signals();
        return 0;
}

bool jail__parent_gone(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        if (pidfd < 0)
                return false;
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}
