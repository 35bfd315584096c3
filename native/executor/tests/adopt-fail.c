/* tests/adopt-fail.c: what the fork server refuses or reports (tests/emperor.h plays the
 * emperor and runs the base): a peer that is not the base's parent, stages failing in
 * the jail and in the middle process, malformed requests, and jail_fork_server_listen's
 * rules for its directory. Needs root; skips (77) without it. */
#include "emperor.h"

/* A request as raw bytes with n_fds fds (a pipe's ends): what the base answers. Returns
 * the bytes the connection gave before EOF (-1: it did not end within 10 s). */
static int raw_request(const uint8_t *msg, size_t len, size_t n_fds) {
        int fds[JAIL_MAX_FDS + 1], p[2], conn = connect_base(), n = 0;
        char buf[64];
        size_t got;

        if (conn < 0 || pipe2(p, O_CLOEXEC) < 0)
                return -1;
        for (size_t i = 0; i < n_fds; i++)
                fds[i] = i % 2 ? p[1] : p[0];
        if (jail_send_fds(conn, msg, len, fds, n_fds > JAIL_MAX_FDS ? JAIL_MAX_FDS : n_fds) < 0)
                n = -1;
        close(p[0]);
        close(p[1]);
        while (n >= 0 && (got = read_full(conn, buf, sizeof(buf))) > 0)
                n += (int) got;
        close(conn);
        return n;
}

/* The jail's top process's children list is empty: nothing was forked for a request. */
static bool base_has_no_children(void) {
        char path[64], buf[64] = "";
        int fd;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) base_pid, (int) base_pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true; /* no CONFIG_PROC_CHILDREN: serve()'s result says it */
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        return n <= 0;
}

static void test_listen(void) {
        char dir[96], path[160], file[128], link_dir[128];
        struct stat st;
        int fd, fd2;

        snprintf(dir, sizeof(dir), "/tmp/jailctl-listen-%d", (int) getpid());
        snprintf(path, sizeof(path), "%s/sock", dir);
        fd = jail_fork_server_listen(path);
        ok(fd >= 0, "listen: a missing directory is created (%d)", fd);
        ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == 0,
           "with mode 0700, owned by root (%o)", st.st_mode & 07777);
        ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600, "the socket is mode 0600 (%o)",
           st.st_mode & 07777);
        ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "the listening fd is close-on-exec");
        {
                int on = 0;
                socklen_t len = sizeof(on);
                ok(fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on, "and listening");
        }
        fd2 = jail_fork_server_listen(path);
        ok(fd2 >= 0, "a stale socket is replaced (%d)", fd2);
        if (fd >= 0)
                close(fd);
        if (fd2 >= 0)
                close(fd2);
        chmod(dir, 0750);
        is(jail_fork_server_listen(path), -EPERM, "a directory open to its group: EPERM");
        chmod(dir, 0700);
        (void) !chown(dir, 1001, 0);
        is(jail_fork_server_listen(path), -EPERM, "a directory not owned by root: EPERM");
        (void) !chown(dir, 0, 0);
        unlink(path);
        snprintf(file, sizeof(file), "%s/file", dir);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        close(fd);
        is(jail_fork_server_listen(file), -EADDRINUSE, "a file that is no socket: EADDRINUSE");
        ok(stat(file, &st) == 0 && S_ISREG(st.st_mode), "and the file is left alone");
        unlink(file);
        snprintf(link_dir, sizeof(link_dir), "%s.link", dir);
        (void) !symlink(dir, link_dir);
        snprintf(path, sizeof(path), "%s/sock", link_dir);
        is(jail_fork_server_listen(path), -ENOTDIR, "a directory that is a symlink: ENOTDIR");
        unlink(link_dir);
        is(jail_fork_server_listen("relative/sock"), -EINVAL, "a relative path: EINVAL");
        snprintf(path, sizeof(path), "%s/", dir);
        is(jail_fork_server_listen(path), -EINVAL, "a path naming no file: EINVAL");
        snprintf(path, sizeof(path), "%s/missing/deeper/sock", dir);
        is(jail_fork_server_listen(path), -ENOENT, "a directory whose parent is missing: ENOENT");
        rmdir(dir);
}

int main(void) {
        static plan_t plan;
        adoption_t *a = calloc(1, sizeof(*a));

        emperor_start();
        /* 0. A peer that is not the base's parent: nothing is forked, the base goes on. */
        {
                pid_t x = fork();
                int st;

                if (x == 0) {
                        int p[2], conn = connect_base(), fds[2];
                        char c;
                        if (conn < 0 || pipe2(p, O_CLOEXEC) < 0)
                                _exit(2);
                        fds[0] = p[0];
                        fds[1] = p[1];
                        /* EPIPE if the base already hung up: it need not read a word. */
                        (void) send_request(conn, 35, 0x03, REPORT_ARGV, fds, 2);
                        _exit(read_full(conn, &c, 1) == 0 ? 0 : 1);
                }
                waitpid(x, &st, 0);
                ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a peer that is not the base's parent gets EOF and nothing else (%d)", st);
                is(base_result(), -EPERM, "serve() refuses it: EPERM");
                ok(base_has_no_children(), "nothing was forked");
        }

        /* 4. A stage failing in the jail: its record comes after the pid. */
        base_plan(&plan);
        add(&plan, "uid", "1001");
        add(&plan, "gid", "1001");
        add(&plan, "chdir", "/nonexistent");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->failed && !a->exec_reached && a->eof, "a failing chdir: pid %d, then a failure record",
           (int) a->pid);
        ok(a->err.stage == JAIL_STAGE_CHDIR && a->err.errnum == ENOENT, "at stage chdir, ENOENT (%u, %d)", a->err.stage,
           a->err.errnum);
        is(a->exit_code, JAIL_EXIT_SETUP, "the jail exits 125");
        ok(a->report[0] == '\0', "and no vassal ran");

        base_plan(&plan);
        add(&plan, "ns", "mount");
        add(&plan, "ns", "pid");
        add(&plan, "mount", "proc");
        add(&plan, "mount-dst", "/proc");
        add(&plan, "hook", "true");
        add(&plan, "hook", "exit 3");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->failed && a->err.stage == JAIL_STAGE_HOOK && a->err.item == 1 && a->err.status == 3 << 8,
           "a hook exiting 3 in the jail's init: stage hook, item 1, status 3 (%u, %d, %d)", a->err.stage, a->err.item,
           a->err.status);

        /* 5. Failures in M, before any jail exists: pid 0, then the record. */
        base_plan(&plan);
        add(&plan, "privileged", "1");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->pidfd < 0 && a->failed && a->err.stage == JAIL_STAGE_PLAN && a->err.errnum == EINVAL && a->eof,
           "privileged=1: pid 0 and no pidfd, then plan EINVAL");
        ok(a->serve > 0, "M was forked and reaped");
        base_plan(&plan);
        add(&plan, "fd", "9:5");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_FDS && a->err.errnum == EBADF && a->err.item == 1,
           "a slot past the fds sent: pid 0, stage fds, EBADF, item 1 (%u, %d, %d)", a->err.stage, a->err.errnum,
           a->err.item);
        base_plan(&plan);
        add(&plan, "cgroup", "7");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_CGROUP && a->err.errnum == EBADF,
           "a cgroup slot past the fds sent: stage cgroup, EBADF");
        base_plan(&plan);
        add(&plan, "join", "0");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_PLAN && a->err.errnum == EINVAL, "join: plan EINVAL");
        base_plan(&plan);
        add(&plan, "ctty", "1");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_PLAN && a->err.errnum == EINVAL, "ctty=1: plan EINVAL");
        adopt_frame(&plan, REPORT_ARGV, NULL, 0, false, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_PLAN && a->err.errnum == EIO,
           "a config pipe closed before the plan frame: plan EIO (%u, %d)", a->err.stage, a->err.errnum);
        plan.len = 3;
        memcpy(plan.buf, "\xff\xff\x01", 3);
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->err.stage == JAIL_STAGE_PLAN && a->err.errnum == EINVAL,
           "a malformed plan: plan EINVAL");

        /* 6. Malformed requests: nothing forked, every fd closed, the base goes on. */
        {
                int before = count_fds(base_pid);
                uint8_t bad_mod[] = { 34, 0, 0, 0x83 }, no_config[] = { 35, 0, 0, 0x01 }, few[] = { 35, 0, 0, 0x07 },
                        short_argv[] = { 35, 3, 0, 0x83, 5, 0, 'a' }, nul_argv[] = { 35, 4, 0, 0x83, 2, 0, 'a', 0 };

                is(raw_request(bad_mod, sizeof(bad_mod), 3), 0, "modifier1 34: the connection ends, no reply");
                is(base_result(), -EBADMSG, "serve() says EBADMSG");
                is(raw_request(no_config, sizeof(no_config), 1), 0, "no config pipe in the mask: no reply");
                is(base_result(), -EBADMSG, "EBADMSG");
                is(raw_request(few, sizeof(few), 2), 0, "fewer fds than the mask names: no reply");
                is(base_result(), -EBADMSG, "EBADMSG");
                is(raw_request(short_argv, sizeof(short_argv), 3), 0, "an argv entry longer than the body: no reply");
                is(base_result(), -EBADMSG, "EBADMSG");
                is(raw_request(nul_argv, sizeof(nul_argv), 3), 0, "an argv entry with a NUL: no reply");
                is(base_result(), -EBADMSG, "EBADMSG");
                is(raw_request(bad_mod, sizeof(bad_mod), 64), 0, "64 fds on a bad request");
                is(base_result(), -EBADMSG, "EBADMSG");
                is(count_fds(base_pid), before, "the base holds no fd more than before (%d)", before);
                ok(base_has_no_children(), "and has no child left");
        }
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        adopt(&plan, (const char *const[]) { "base-test", "exit", NULL }, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed && a->exit_code == 0, "and the base still adopts");

        emperor_stop();
        test_listen();
        free(a);
        return tap_done();
}
