/* tests/launch.c: real launches through jail_launch() and the jail-helper binary
 * (path in $JAIL_HELPER), with real namespaces. Needs root; skips (77) without it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"
#include "tap.h"
#include "kv.h"
#include "outcome.h"

int main(void) {
        const char *helper = getenv("JAIL_HELPER");
        kv_t kv;
        outcome_t o;

        if (geteuid() != 0)
                tap_skip_all("launching jails needs root");
        helper_fd = open(helper ? helper : "build/jail-helper", O_RDONLY | O_CLOEXEC);
        if (helper_fd < 0)
                tap_skip_all("no jail-helper binary (set JAIL_HELPER)");

        base(&kv, "/bin/true");
        kv_add(&kv, "ns", "mount");
        kv_add(&kv, "ns", "pid");
        kv_add(&kv, "ns", "net");
        kv_add(&kv, "ns", "ipc");
        kv_add(&kv, "ns", "uts");
        kv_add(&kv, "mount", "proc");
        kv_add(&kv, "mount-dst", "/proc");
        kv_add(&kv, "loopback", "1");
        kv_add(&kv, "hostname", "c-test");
        kv_add(&kv, "uid", "1001");
        kv_add(&kv, "gid", "1001");
        o = run(&kv);
        ok(o.launch == 0 && !o.failed && o.exit_code == 0, "five namespaces, uid drop, /bin/true exits 0");
        ok(o.exec_reached, "the exec's progress record came before EOF");

        base(&kv, "/bin/sh");
        kv_add(&kv, "argv", "-c");
        kv_add(&kv, "argv", "exit 7");
        o = run(&kv);
        ok(!o.failed && o.exit_code == 7, "the vassal's exit status comes back");

        base(&kv, "/bin/true");
        kv_add(&kv, "hook", "true");
        kv_add(&kv, "hook", "exit 3");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_HOOK && o.err.item == 1, "a failing hook names its index");
        ok(WIFEXITED(o.err.status) && WEXITSTATUS(o.err.status) == 3, "and its exit status");
        is(o.exit_code, JAIL_EXIT_SETUP, "setup failures exit 125");

        base(&kv, "/bin/true");
        kv_add(&kv, "chdir", "/nonexistent/dir");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_CHDIR && o.err.errnum == ENOENT, "chdir: ENOENT");

        base(&kv, "sh");
        kv_add(&kv, "argv", "-c");
        kv_add(&kv, "argv", "exit 4");
        o = run(&kv);
        ok(!o.failed && o.exit_code == 4, "a bare program name is searched in the plan's PATH");

        base(&kv, "/nonexistent/program");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_EXEC && o.err.errnum == ENOENT, "exec: ENOENT");
        is(o.exit_code, JAIL_EXIT_NOTFOUND, "a missing program exits 127");

        base(&kv, "/etc/passwd");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_EXEC && o.err.errnum == EACCES, "exec: EACCES");
        is(o.exit_code, JAIL_EXIT_NOEXEC, "a non-executable program exits 126");

        base(&kv, "/bin/true");
        kv_add(&kv, "fd", "1:4");
        kv_add(&kv, "fd", "999:3");
        o = run(&kv);
        ok(o.launch == -EBADF && o.err.stage == JAIL_STAGE_FDS && o.err.item == 1,
           "fds: a source that is not open is refused before the launcher opens its own, at its index");

        base(&kv, "/bin/true");
        kv_add(&kv, "join", "998");
        kv_add(&kv, "ns", "mount");
        o = run(&kv);
        ok(o.launch == -EBADF && o.err.stage == JAIL_STAGE_JOIN, "join: a pidfd that is not open is refused before the clone");

        /* An empty PATH entry is not the cwd: with the cwd holding `probe`, not found. */
        base(&kv, "probe-jailctl");
        kv.len = 0;
        kv_add(&kv, "path", "probe-jailctl");
        kv_add(&kv, "argv", "probe-jailctl");
        kv_add(&kv, "env", "PATH=:.:bin");
        kv_add(&kv, "chdir", "/tmp/jailctl-c-test");
        mkdir("/tmp/jailctl-c-test", 0755);
        {
                int f = open("/tmp/jailctl-c-test/probe-jailctl", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
                (void) !write(f, "#!/bin/sh\nexit 0\n", 18);
                close(f);
        }
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_EXEC && o.err.errnum == ENOENT,
           "exec search skips empty and relative PATH entries (the cwd)");
        kv_add(&kv, "exec-path", "/tmp/jailctl-c-test");
        o = run(&kv);
        ok(o.launch == 0 && !o.failed && o.exit_code == 0, "exec-path is searched instead of PATH");
        unlink("/tmp/jailctl-c-test/probe-jailctl");
        rmdir("/tmp/jailctl-c-test");

        base(&kv, "/bin/true");
        kv_add(&kv, "fault", "gid:1");
        kv_add(&kv, "gid", "5");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_GID && o.err.errnum == EPERM, "fault injection reaches the report");

        kv.len = 0;
        kv_add(&kv, "argv", "x");
        o = run(&kv);
        ok(o.launch == -EINVAL && o.err.stage == JAIL_STAGE_PLAN, "a plan with no path is refused before the clone");

        /* A helper fd that is not executable: the clone child reports the helper stage. */
        int saved = helper_fd;
        helper_fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        base(&kv, "/bin/true");
        o = run(&kv);
        ok(o.launch == 0 && o.failed && o.err.stage == JAIL_STAGE_HELPER && o.err.errnum == EACCES,
           "helper: exec of a non-executable helper is EACCES");
        close(helper_fd);
        helper_fd = saved;

        /* SCM_RIGHTS round trip. */
        int sv[2], pipefd[2], got[4];
        size_t n_got;
        char buf[8];
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        pipe2(pipefd, O_CLOEXEC);
        ssize_t n = jail_send_fds(sv[0], "x", 1, pipefd, 2);
        is(n, 1, "send_fds sends the payload");
        n = jail_recv_fds(sv[1], buf, sizeof(buf), got, 4, &n_got);
        ok(n == 1 && n_got == 2, "recv_fds gets the payload and two fds");
        ok(write(got[1], "y", 1) == 1 && read(pipefd[0], buf, 1) == 1 && buf[0] == 'y', "the received fd is the same pipe");
        ok((fcntl(got[0], F_GETFD) & FD_CLOEXEC) != 0, "received fds are close-on-exec");
        is(jail_send_fds(sv[0], "", 0, pipefd, 1), -EINVAL, "fds without a payload byte are refused");
        return tap_done();
}
