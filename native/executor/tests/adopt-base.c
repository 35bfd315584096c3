/* tests/adopt-base.c: bases the fork server must not adopt from, and emperors that stall
 * or vanish (tests/emperor.h plays the emperor and runs the base): a base with writable
 * shared memory, a base that is a child subreaper, a base with a second thread; a middle
 * process killed before its reply; a config pipe held open and never written; a request
 * that trickles in. Needs root; skips (77) without it. */
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "emperor.h"

static const char *const EXIT_ARGV[] = { "base-test", "exit", NULL };

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The base's only child (the middle process), or 0 when it has none within 5 s. */
static pid_t base_child(void) {
        char path[64], buf[64];

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) base_pid, (int) base_pid);
        for (int i = 0; i < 500; i++) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (fd >= 0)
                        close(fd);
                if (n > 0) {
                        buf[n] = '\0';
                        return atoi(buf);
                }
                usleep(10000);
        }
        return 0;
}

static bool base_has_no_children(void) {
        char path[64], buf[64];
        ssize_t n;
        int fd;

        usleep(200000);
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) base_pid, (int) base_pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        return n <= 0;
}

/* The process is stopped (state T), waiting at most 5 s. */
static bool stopped(pid_t pid) {
        char path[64], buf[512], *st;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        for (int i = 0; i < 500; i++) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (fd >= 0)
                        close(fd);
                buf[n > 0 ? n : 0] = '\0';
                if ((st = strrchr(buf, ')')) && st[1] == ' ' && st[2] == 'T')
                        return true;
                usleep(10000);
        }
        return false;
}

static void restart_base(void (*setup)(void)) {
        emperor_stop();
        base_setup = setup;
        ok(start_base(), "a new base listens");
}

static void map_shared_writable(void) {
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
                p[0] = 1;
}

static void map_shared_readonly(void) {
        (void) mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

static void become_subreaper(void) {
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void *sleeper(void *arg) {
        (void) arg;
        for (;;)
                pause();
        return NULL;
}

static void start_thread(void) {
        pthread_t t;
        (void) pthread_create(&t, NULL, sleeper, NULL);
}

static pid_t killed_middle, orphaned_jail;

/* The first child of pid (its task's children list), or 0. */
static pid_t first_child(pid_t pid) {
        char path[64], buf[64];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return atoi(buf);
}

/* M paused (pause=prepare) after forking G, before its reply: killed there. */
static void kill_paused_middle(void) {
        pid_t m = base_child();

        if (m > 0 && stopped(m)) {
                killed_middle = m;
                orphaned_jail = first_child(m);
                kill(m, SIGKILL);
        }
}

/* A request with the usual three fds whose config pipe the test keeps; returns conn. */
static int request_keeping_config(const char *const *argv, int *ret_config_w, int *ret_report_r) {
        int ep[2], cp[2], rp[2], fds[3], conn = connect_base();

        if (conn < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ep) < 0 || pipe2(cp, O_CLOEXEC) < 0 ||
            pipe2(rp, O_CLOEXEC) < 0)
                return -1;
        fds[0] = ep[1];
        fds[1] = cp[0];
        fds[2] = rp[1];
        if (send_request(conn, 35, 0x83, argv, fds, 3) < 0)
                return -1;
        close(ep[0]);
        close(ep[1]);
        close(cp[0]);
        close(rp[1]);
        *ret_config_w = cp[1];
        *ret_report_r = rp[0];
        return conn;
}

int main(void) {
        static plan_t plan;
        adoption_t *a = calloc(1, sizeof(*a));

        emperor_start();

        /* 1. M killed after forking G, before the reply: G ends unseen, nothing runs. */
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        add(&plan, "fd", "1:3");
        add(&plan, "pause", "prepare");
        after_config = kill_paused_middle;
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        after_config = NULL;
        ok(killed_middle > 0, "the middle process stopped after forking the jail and was killed (%d)", (int) killed_middle);
        ok(a->pid == -1 && a->eof, "the connection ends without a pid packet (pid %d)", (int) a->pid);
        ok(a->report[0] == '\0', "no vassal ran: %.60s", a->report);
        {
                int st = -1, reaped = 0;
                bool gone = false;
                double t0 = now_s();
                /* G sees M's end (EOF on the go channel) and exits 125 at once. Reparented to
                 * us, the subreaper, first, we reap it; exited before M's own exit got that
                 * far, it was M's child still, and M ignores SIGCHLD as the base does: the
                 * kernel reaped it then. Either way it must be gone within moments. */
                while (now_s() - t0 < 5 && !reaped && !gone) {
                        pid_t g;
                        while ((g = waitpid(-1, &st, WNOHANG)) > 0)
                                if (g == orphaned_jail)
                                        reaped++;
                        gone = !reaped && orphaned_jail > 0 && kill(orphaned_jail, 0) < 0 && errno == ESRCH;
                        if (!reaped && !gone)
                                usleep(20000);
                }
                ok(orphaned_jail > 0 && ((reaped == 1 && WIFEXITED(st) && WEXITSTATUS(st) == JAIL_EXIT_SETUP) || gone),
                   "the orphaned jail process %d ended at once (reaped with 125: %d, status %d; reaped by the kernel: %d)",
                   (int) orphaned_jail, reaped, st, gone);
        }
        ok(a->serve == killed_middle, "serve() had returned the middle process (%d)", a->serve);

        /* 2. An emperor that holds the config pipe open, writes nothing, then hangs up: M
         * does not sit in a blocking read. */
        {
                int cfg = -1, rep = -1, conn = request_keeping_config(REPORT_ARGV, &cfg, &rep);
                jail_error_t rec = { 0 };
                uint8_t head[4], body[32];
                double t0;
                size_t size;

                ok(conn >= 0, "a request whose config pipe stays empty");
                usleep(300000);
                t0 = now_s();
                shutdown(conn, SHUT_WR);
                size = read_full(conn, head, 4) == 4 ? (size_t) (head[1] | head[2] << 8) : 0;
                ok(size > 0 && size < sizeof(body) && read_full(conn, body, size) == size &&
                   read_full(conn, &rec, sizeof(rec)) == sizeof(rec) && now_s() - t0 < 3,
                   "M replies within 3 s of the hang-up (%.1f s)", now_s() - t0);
                ok(memcmp(body, "\3\0pid\1\0" "0", 8) == 0, "pid 0");
                ok(rec.stage == JAIL_STAGE_PLAN && (rec.errnum == ECONNRESET || rec.errnum == EIO),
                   "and a failure at stage plan, ECONNRESET (%u, %d)", rec.stage, rec.errnum);
                ok(base_result() > 0, "M was reaped");
                ok(base_has_no_children(), "nothing is left behind");
                close(cfg);
                close(rep);
                close(conn);
        }

        /* 3. A request trickling in, a byte every 2 s: one deadline for the whole request. */
        {
                uint8_t msg[] = { 35, 3, 0, 0x83, 1, 0, 'x' };
                int p[2], fds[3], conn = connect_base();
                double t0 = now_s();
                int r;

                ok(conn >= 0 && pipe2(p, O_CLOEXEC) == 0, "a request sent a byte at a time");
                fds[0] = p[0];
                fds[1] = p[0];
                fds[2] = p[1];
                (void) jail_send_fds(conn, msg, 1, fds, 3);
                for (size_t i = 1; i < sizeof(msg); i++) {
                        sleep(2);
                        (void) send(conn, msg + i, 1, MSG_NOSIGNAL);
                }
                close(p[1]);
                r = base_result();
                is(r, -ETIMEDOUT, "serve() gives up at its deadline: ETIMEDOUT (after %.0f s)", now_s() - t0);
                close(p[0]);
                close(conn);
                ok(base_has_no_children(), "nothing was forked");
        }

        /* 4. A base with a writable shared mapping: no adoption. */
        restart_base(map_shared_writable);
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        adopt(&plan, EXIT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->eof && a->err.stage == JAIL_STAGE_PREPARE && a->err.errnum == EBUSY &&
           a->err.item == -1,
           "a writable MAP_SHARED region in the base: pid 0, prepare, EBUSY, item -1 (%d: %u, %d, %d)", (int) a->pid,
           a->err.stage, a->err.errnum, a->err.item);
        ok(a->serve > 0 && base_has_no_children(), "M was forked and reaped, nothing else");
        restart_base(map_shared_readonly);
        adopt(&plan, EXIT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed && a->exit_code == 0,
           "a read-only shared mapping is allowed (failed %d: %u, %d)", a->failed, a->err.stage, a->err.errnum);
        restart_base(NULL);
        adopt(&plan, EXIT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed && a->exit_code == 0, "without it the same adoption succeeds");

        /* 5. A base that is a child subreaper would get G, not the emperor. */
        restart_base(become_subreaper);
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        add(&plan, "fd", "1:3");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->failed && a->err.stage == JAIL_STAGE_PDEATHSIG && a->err.errnum == ESRCH,
           "a subreaper base: the jail fails at pdeathsig, ESRCH (%u, %d)", a->err.stage, a->err.errnum);
        ok(a->report[0] == '\0' && a->ended, "no vassal ran, the jail ended by itself");
        ok(base_has_no_children(), "nothing is left running");

        /* 6. A base with a second thread. */
        restart_base(start_thread);
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        adopt(&plan, EXIT_ARGV, NULL, 0, a);
        ok(a->pid == 0 && a->failed && a->eof && a->err.stage == JAIL_STAGE_PREPARE && a->err.errnum == EINVAL,
           "a base with two threads: pid 0, prepare, EINVAL (%d: %u, %d)", (int) a->pid, a->err.stage, a->err.errnum);
        is(a->serve, -EINVAL, "serve() returns EINVAL");
        ok(base_has_no_children(), "and forks nothing");

        emperor_stop();
        free(a);
        return tap_done();
}
