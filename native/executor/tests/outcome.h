/* outcome.h: one launch through jail_launch() and the helper, followed to its end: the
 * record of the stage that failed, or the program's exit code. */
#ifndef JAIL_TEST_OUTCOME_H
#define JAIL_TEST_OUTCOME_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"
#include "kv.h"
#include "tap.h"

static int helper_fd; /* the helper binary, opened by main() */

typedef struct {
        int launch;      /* jail_launch() result */
        jail_error_t err; /* from jail_launch() or the status fd */
        bool failed;      /* a failure record came through the status fd */
        bool exec_reached; /* the progress record for the exec came */
        int last_stage;   /* the last progress record's stage, -1 for none */
        int exit_code;
} outcome_t;

static inline outcome_t run(const kv_t *kv) {
        outcome_t o = { .exit_code = -1, .last_stage = -1 };
        struct pollfd p;
        jail_child_t child;
        siginfo_t si = { 0 };

        o.launch = jail_launch(kv->buf, kv->len, helper_fd, &child, &o.err);
        if (o.launch < 0)
                return o;
        /* Progress records until a failure record or EOF. */
        for (;;) {
                jail_error_t rec;
                ssize_t n;

                p = (struct pollfd) { .fd = child.status_fd, .events = POLLIN };
                (void) poll(&p, 1, 10000);
                n = read(child.status_fd, &rec, sizeof(rec));
                if (n < 0 && errno == EAGAIN)
                        continue;
                if (n != sizeof(rec))
                        break;
                if (!(rec.stage & JAIL_PROGRESS)) {
                        o.err = rec;
                        o.failed = true;
                        break;
                }
                o.last_stage = (int) (rec.stage & ~JAIL_PROGRESS);
                if (o.last_stage == JAIL_STAGE_EXEC)
                        o.exec_reached = true;
        }
        if (waitid(P_PIDFD, child.pidfd, &si, WEXITED) == 0)
                o.exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        close(child.status_fd);
        close(child.pidfd);
        return o;
}

static inline void base(kv_t *kv, const char *path) {
        kv->len = 0;
        kv_add(kv, "path", path);
        kv_add(kv, "argv", path);
        kv_add(kv, "env", "PATH=/usr/bin:/bin");
}

/* The helper named by $JAIL_HELPER, or skips the whole test file. */
static inline void open_helper(void) {
        const char *helper = getenv("JAIL_HELPER");

        helper_fd = open(helper ? helper : "build/jail-helper", O_RDONLY | O_CLOEXEC);
        if (helper_fd < 0)
                tap_skip_all("no jail-helper binary (set JAIL_HELPER)");
}
#endif
