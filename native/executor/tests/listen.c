/* tests/listen.c: systemd socket activation (listen.c): the plan's listen-fdname entries
 * and the LISTEN_* environment the program gets, through real launches (the jail-helper
 * in $JAIL_HELPER). The launches need root; without it only the parser cases run. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jail.h"
#include "tap.h"
#include "kv.h"
#include "outcome.h"

/* Exits with the number of the first check that fails, 0 when all hold. */
static const char *const checks =
        "[ \"$LISTEN_PID\" = \"$$\" ] || exit 10; "
        "[ \"$LISTEN_FDS\" = 2 ] || exit 11; "
        "[ \"$LISTEN_FDNAMES\" = web:admin ] || exit 12; "
        "[ \"$(env | grep -c '^LISTEN_PID=')\" = 1 ] || exit 13; "
        "[ -S /proc/$$/fd/3 ] && [ -S /proc/$$/fd/4 ] || exit 14; "
        "[ -z \"$EXPECT_PID\" ] || [ \"$$\" = \"$EXPECT_PID\" ] || exit 15";

static void activation(kv_t *kv, int s1, int s2) {
        char fd[32];

        base(kv, "/bin/sh");
        kv_add(kv, "argv", "-c");
        kv_add(kv, "argv", checks);
        kv_add(kv, "env", "LISTEN_PID=999"); /* the plan's own is replaced, not doubled */
        snprintf(fd, sizeof(fd), "%d:3", s1);
        kv_add(kv, "fd", fd);
        snprintf(fd, sizeof(fd), "%d:4", s2);
        kv_add(kv, "fd", fd);
        kv_add(kv, "listen-fdname", "web");
        kv_add(kv, "listen-fdname", "admin");
}

int main(void) {
        char name[JAIL_LISTEN_FDNAME_MAX + 2];
        jail_plan_t p;
        kv_t kv;
        outcome_t o;
        int item, sv[2];

        base(&kv, "/bin/true");
        kv_add(&kv, "fd", "7:3");
        kv_add(&kv, "listen-fdname", "web");
        ok(jail_plan_parse(kv.buf, kv.len, &p, &item) == 0 && p.n_listen_fds == 1 && strcmp(p.listen_fdnames[0], "web") == 0,
           "listen-fdname: one socket at fd 3, named");
        jail_plan_free(&p);

        base(&kv, "/bin/true");
        kv_add(&kv, "fd", "7:4");
        kv_add(&kv, "listen-fdname", "web");
        is(jail_plan_parse(kv.buf, kv.len, &p, &item), -EINVAL, "a named socket whose fd 3 the plan does not map is refused");

        base(&kv, "/bin/true");
        kv_add(&kv, "fd", "7:3");
        kv_add(&kv, "listen-fdname", "a:b");
        ok(jail_plan_parse(kv.buf, kv.len, &p, &item) == -EINVAL && item == 4, "a name with a colon is refused at its entry");

        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        base(&kv, "/bin/true");
        kv_add(&kv, "fd", "7:3");
        kv_add(&kv, "listen-fdname", name);
        is(jail_plan_parse(kv.buf, kv.len, &p, &item), -EINVAL, "a name of 256 characters is refused");

        base(&kv, "/bin/true");
        kv_add(&kv, "join", "7");
        kv_add(&kv, "fd", "8:3");
        kv_add(&kv, "listen-fdname", "web");
        is(jail_plan_parse(kv.buf, kv.len, &p, &item), -EINVAL, "a join (jailctl enter) activates no sockets");

        if (geteuid() != 0) {
                printf("# launches need root: skipped\n");
                return tap_done();
        }
        open_helper();
        ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "a socket pair to hand over");

        /* Pid 2 of the jail: its init is 1 and forked it; the host's pid would not do. */
        activation(&kv, sv[0], sv[1]);
        kv_add(&kv, "env", "EXPECT_PID=2");
        kv_add(&kv, "ns", "pid");
        kv_add(&kv, "ns", "mount");
        kv_add(&kv, "mount", "proc");
        kv_add(&kv, "mount-dst", "/proc");
        o = run(&kv);
        ok(!o.failed && o.exit_code == 0, "pid namespace: LISTEN_PID is the program's pid there (2), LISTEN_FDS and "
                                          "LISTEN_FDNAMES in order, fds 3 and 4 are the sockets (exit %d)", o.exit_code);

        activation(&kv, sv[0], sv[1]);
        o = run(&kv);
        ok(!o.failed && o.exit_code == 0, "no pid namespace: LISTEN_PID is the program's own pid (exit %d)", o.exit_code);

        base(&kv, "/bin/sh");
        kv_add(&kv, "argv", "-c");
        kv_add(&kv, "argv", "[ -z \"$LISTEN_PID$LISTEN_FDS$LISTEN_FDNAMES\" ]");
        o = run(&kv);
        ok(!o.failed && o.exit_code == 0, "without listen-fdname, no LISTEN_* is set");
        return tap_done();
}
