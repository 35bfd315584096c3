/* emperor.h: the fork-server tests' emperor and base. The test process plays the
 * emperor: a child subreaper whose forked child, the base, listens
 * (jail_fork_server_listen), accepts and serves adoptions (jail_fork_server_serve) in a
 * loop and logs each serve() result to a pipe. An adopted vassal (serve() returned 0)
 * does what its argv[1] says: `report` writes what it sees (ids, namespaces, cgroups,
 * fds, seccomp, its argv and env) to its fd 1, a pipe to the test; `exit` exits 0. */
#ifndef JAIL_TEST_EMPEROR_H
#define JAIL_TEST_EMPEROR_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"
#include "tap.h"
#include "cgroups.h"


/* A plan (uwsgi keyval body) of up to 256 KiB: kv.h's holds 64 KiB. */
typedef struct {
        uint8_t buf[1 << 18];
        size_t len;
} plan_t;

static inline void add(plan_t *p, const char *key, const char *fmt, ...) {
        char val[65536];
        va_list ap;
        size_t k = strlen(key), v;

        va_start(ap, fmt);
        v = (size_t) vsnprintf(val, sizeof(val), fmt, ap);
        va_end(ap);
        p->buf[p->len++] = k & 0xff;
        p->buf[p->len++] = k >> 8;
        memcpy(p->buf + p->len, key, k);
        p->len += k;
        p->buf[p->len++] = v & 0xff;
        p->buf[p->len++] = v >> 8;
        memcpy(p->buf + p->len, val, v);
        p->len += v;
}

static char sock_dir[64], sock_path[96];
/* Run by the base before it serves (NULL: nothing): what a test's base does on top. */
static void (*base_setup)(void);
static pid_t base_pid;
static int base_log = -1; /* read end: each serve() result, an int */

/* ---- the vassal's side: runs in the process serve() returned 0 in ---- */

static inline void put(const char *fmt, ...) {
        char line[4096];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        (void) !write(1, line, (size_t) n);
}

static inline void put_status_line(const char *field) {
        char line[512];
        FILE *f = fopen("/proc/self/status", "re");

        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
                        put("%s", line);
        if (f)
                fclose(f);
}

/* Numeric entries of a /proc directory, space-separated, sorted by readdir order. */
static inline void put_dir(const char *key, const char *path, bool skip_own) {
        char list[1024] = "";
        DIR *d = opendir(path);
        struct dirent *e;

        while (d && (e = readdir(d)))
                if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && !(skip_own && atoi(e->d_name) == dirfd(d)))
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", *list ? " " : "", e->d_name);
        if (d)
                closedir(d);
        put("%s=%s\n", key, list);
}

static inline void put_link(const char *key, const char *path) {
        char target[256];
        ssize_t n = readlink(path, target, sizeof(target) - 1);

        target[n > 0 ? n : 0] = '\0';
        put("%s=%s\n", key, target);
}

/* The marker a test puts in root-env and hooks, built at run time so that the binary
 * (mapped in every vassal) never holds it whole. */
static inline void root_marker(char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s", "JAILCTL", "-ROOT-ONLY-", "MARKER");
}

/* How often the marker occurs in this process's readable private memory, its own copy
 * left out. The kernel's special mappings ([vvar], [vsyscall]) are skipped. */
static inline int count_root_marker(void) {
        static char want[64];
        char line[4096];
        int hits = 0;
        FILE *f;

        root_marker(want, sizeof(want));
        f = fopen("/proc/self/maps", "re");
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                char perms[8] = "", *name = strchr(line, '[');
                if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[3] != 'p' ||
                    (name && (strncmp(name, "[vvar", 5) == 0 || strncmp(name, "[vsyscall", 9) == 0)))
                        continue;
                for (const char *at = (const char *) lo, *end = (const char *) hi;
                     (at = memmem(at, (size_t) (end - at), want, strlen(want))); at++)
                        if (at != want)
                                hits++;
        }
        if (f)
                fclose(f);
        return hits;
}

static inline void vassal_report(void) {
        char host[65] = "", cwd[256] = "", config[64] = "", line[512], cg[2048] = "";
        struct ifreq ifr = { .ifr_name = "lo" };
        int sig = -1, s, n;
        size_t env_bytes = 0, i;
        FILE *f;

        put("pid=%d\nppid=%d\n", (int) getpid(), (int) getppid());
        (void) gethostname(host, sizeof(host) - 1);
        put("hostname=%s\n", host);
        put_status_line("Uid");
        put_status_line("Gid");
        put_status_line("Groups");
        put_status_line("CapEff");
        put_status_line("NoNewPrivs");
        put_status_line("Seccomp");
        (void) prctl(PR_GET_PDEATHSIG, &sig);
        put("pdeathsig=%d\n", sig);
        put("keepcaps=%d\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
        {
                mode_t mask = umask(0);
                umask(mask);
                put("umask=%03o\n", (unsigned) mask);
        }
        errno = 0;
        put("nice=%d\n", getpriority(PRIO_PROCESS, 0));
        f = fopen("/proc/1/oom_score_adj", "re");
        if (f && fgets(line, sizeof(line), f))
                put("init_oom=%s", line);
        if (f)
                fclose(f);
        put("root_marks=%d\n", count_root_marker());
        put("userns=%d\n", unshare(CLONE_NEWUSER) < 0 ? errno : 0);
        put("keyctl=%d\n", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0) < 0 ? errno : 0);
        put("mkdir=%d\n", mkdir("/", 0755) < 0 ? errno : 0); /* EEXIST unless filtered */
        put_dir("fds", "/proc/self/fd", true);
        put_link("fd0", "/proc/self/fd/0");
        put_link("fd2", "/proc/self/fd/2");
        put_dir("procs", "/proc", false);
        put_link("ns_net", "/proc/self/ns/net");
        put_link("ns_mnt", "/proc/self/ns/mnt");
        put_link("ns_uts", "/proc/self/ns/uts");
        put_link("ns_ipc", "/proc/self/ns/ipc");
        f = fopen("/proc/self/cgroup", "re");
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = ';';
                snprintf(cg + strlen(cg), sizeof(cg) - strlen(cg), "%s", line);
        }
        if (f)
                fclose(f);
        put("cgroup=;%s\n", cg);
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        put("lo_up=%d\n", s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP));
        if (s >= 0)
                close(s);
        put("cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
        {
                struct sigaction sa;
                (void) sigaction(SIGCHLD, NULL, &sa);
                put("sigchld_ignored=%d\n", sa.sa_handler == SIG_IGN);
        }
        /* fd 3 is the config pipe: M read exactly the plan frame, the packet is left. */
        n = (int) read(3, config, sizeof(config) - 1);
        config[n > 0 ? n : 0] = '\0';
        put("config=%s\n", config);
        put("argv=");
        for (i = 0; jail_adopted_argv((int) i); i++)
                put("%s|", jail_adopted_argv((int) i));
        put("\nenv=");
        for (i = 0; jail_adopted_env((int) i); i++) {
                env_bytes += strlen(jail_adopted_env((int) i));
                if (strlen(jail_adopted_env((int) i)) < 64)
                        put("%s|", jail_adopted_env((int) i));
        }
        put("\nenv_count=%zu\nenv_bytes=%zu\n", i, env_bytes);
        put("end=1\n");
}

/* What the vassal does is its argv[1]: `report`, or `exit` (nothing). */
static inline void __attribute__((noreturn)) vassal_main(void) {
        const char *what = jail_adopted_argv(1);

        if (what && strcmp(what, "report") == 0)
                vassal_report();
        _exit(0);
}

/* ---- the base: a child of the test ---- */

/* The base's fd that is not close-on-exec (an inherited one, as the base's own emperor
 * pipe is): no hook may get it. */
#define BASE_LEAKY_FD 42

static inline void __attribute__((noreturn)) base_main(int log_fd, int ready_fd) {
        int lfd = jail_fork_server_listen(sock_path), null = open("/dev/null", O_RDONLY), settled;

        /* As a Perl host may: neither the hooks nor the jail's init may mind; nor may the
         * vassal get the base's umask or nice value rather than the emperor's. */
        signal(SIGCHLD, SIG_IGN);
        umask(077);
        (void) setpriority(PRIO_PROCESS, 0, 5);
        if (base_setup)
                base_setup();
        if (null >= 0)
                dup2(null, BASE_LEAKY_FD);
        /* As the PSGI host's base does, last before serving: the default filter built once. */
        settled = jail_fork_server_settle();
        if (settled < 0) {
                fprintf(stderr, "# jail_fork_server_settle: %s\n", strerror(-settled));
                lfd = -1;
        }

        (void) !write(ready_fd, &lfd, sizeof(lfd));
        close(ready_fd);
        if (lfd < 0)
                _exit(1);
        for (;;) {
                int conn = jail_fork_server_accept(lfd), r;

                if (conn < 0)
                        _exit(1);
                r = jail_fork_server_serve(conn, getppid(), 0);
                if (r == 0)
                        vassal_main();
                close(conn);
                if (r > 0)
                        (void) waitpid(r, NULL, 0);
                (void) !write(log_fd, &r, sizeof(r));
        }
}

static inline bool start_base(void) {
        int log[2], ready[2], lfd = -1;

        if (pipe2(log, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
                return false;
        base_pid = fork();
        if (base_pid == 0) {
                close(log[0]);
                close(ready[0]);
                base_main(log[1], ready[1]);
        }
        close(log[1]);
        close(ready[1]);
        base_log = log[0];
        if (read(ready[0], &lfd, sizeof(lfd)) != sizeof(lfd))
                lfd = -1;
        close(ready[0]);
        return lfd >= 0;
}

/* The next serve() result the base logged (-1000: none within 10 s). */
static inline int base_result(void) {
        struct pollfd p = { .fd = base_log, .events = POLLIN };
        int r;

        if (poll(&p, 1, 10000) <= 0 || read(base_log, &r, sizeof(r)) != sizeof(r))
                return -1000;
        return r;
}

static inline int count_fds(pid_t pid) {
        char path[64];
        int n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        d = opendir(path);
        while (d && readdir(d))
                n++;
        if (d)
                closedir(d);
        return n - 2;
}

/* ---- the emperor's side ---- */

typedef struct {
        pid_t pid;          /* from the reply; -1: no reply */
        int pidfd;          /* attached to it, -1 if none */
        pid_t pidfd_pid;    /* the Pid: line of the pidfd's fdinfo */
        pid_t ppid;         /* the top process's parent once the reply's records ended */
        bool failed;        /* a failure record came */
        jail_error_t err;
        bool exec_reached;  /* the progress record for exec came */
        bool eof;           /* the connection ended after the records */
        bool ended;         /* the top process ended by itself within 10 s */
        int serve;          /* the base's serve() result */
        int exit_code;      /* of the top process, reaped here; -1 if none */
        char report[16384]; /* what the vassal wrote */
} adoption_t;

static inline int connect_base(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Sends the request: header `35 | size | mask`, argv array, the fds. */
static inline int send_request(int conn, uint8_t modifier1, uint8_t mask, const char *const *argv, const int *fds, size_t n_fds) {
        uint8_t msg[4 + 65535];
        size_t len = 4;

        for (size_t i = 0; argv[i]; i++) {
                size_t l = strlen(argv[i]);
                msg[len++] = l & 0xff;
                msg[len++] = l >> 8;
                memcpy(msg + len, argv[i], l);
                len += l;
        }
        msg[0] = modifier1;
        msg[1] = (len - 4) & 0xff;
        msg[2] = (len - 4) >> 8;
        msg[3] = mask;
        return (int) jail_send_fds(conn, msg, len, fds, n_fds);
}

/* Reads up to len bytes, waiting at most 10 s for each part; returns the count. */
static inline size_t read_full(int fd, void *buf, size_t len) {
        size_t got = 0;

        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 10000) <= 0)
                        break;
                n = read(fd, (char *) buf + got, len - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        return got;
}

static const char CONFIG_PACKET[] = "CONFIG-PACKET";

/* Run by adopt_frame() once the config pipe is written (NULL: nothing), before the reply
 * is read: a test may act on the middle process then. */
static void (*after_config)(void);

/* One adoption of `plan`, with the request's argv. The fd slots: 0 emperor pipe, 1 config
 * pipe, 2 the report pipe (the plan maps it to 1), then `extra`. Without `frame`, the
 * config pipe is closed with nothing in it. */
static inline void adopt_frame(const plan_t *plan, const char *const *argv, const int *extra, size_t n_extra, bool frame,
                        adoption_t *a) {
        int ep[2], cp[2], rp[2], fds[JAIL_MAX_FDS], conn;
        uint8_t head[4], body[64], head4[4];
        size_t n_fds = 0;

        memset(a, 0, sizeof(*a));
        a->pid = -1;
        a->pidfd = -1;
        a->exit_code = -1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ep) < 0 || pipe2(cp, O_CLOEXEC) < 0 ||
            pipe2(rp, O_CLOEXEC) < 0 || (conn = connect_base()) < 0)
                return;
        fds[n_fds++] = ep[1];
        fds[n_fds++] = cp[0];
        fds[n_fds++] = rp[1];
        for (size_t i = 0; i < n_extra; i++)
                fds[n_fds++] = extra[i];
        if (send_request(conn, 35, 0x83, argv, fds, n_fds) < 0)
                return;
        close(ep[1]);
        close(cp[0]);
        close(rp[1]);
        /* The config pipe, as the emperor writes it: the plan frame, then the packet. */
        head4[0] = plan->len & 0xff;
        head4[1] = (plan->len >> 8) & 0xff;
        head4[2] = (plan->len >> 16) & 0xff;
        head4[3] = (uint8_t) (plan->len >> 24);
        if (frame && (write(cp[1], head4, 4) != 4 || write(cp[1], plan->buf, plan->len) != (ssize_t) plan->len ||
            write(cp[1], CONFIG_PACKET, strlen(CONFIG_PACKET)) < 0))
                printf("# writing the config pipe: %s\n", strerror(errno));
        close(cp[1]);
        if (after_config)
                after_config();

        /* The reply: the pid packet (with the pidfd), records, EOF. */
        {
                int rfds[2];
                size_t n_rfds = 0;
                struct pollfd p = { .fd = conn, .events = POLLIN };
                ssize_t n = poll(&p, 1, 10000) > 0 ? jail_recv_fds(conn, head, 4, rfds, 2, &n_rfds) : -1;

                if (n == 4 && head[0] == 35 && head[3] == 0) {
                        size_t size = head[1] | (size_t) head[2] << 8;
                        if (size < sizeof(body) && read_full(conn, body, size) == size && size > 7 &&
                            memcmp(body, "\3\0pid", 5) == 0) {
                                char num[16] = "";
                                memcpy(num, body + 7, size - 7 < 15 ? size - 7 : 15);
                                a->pid = atoi(num);
                        }
                }
                if (n_rfds > 0)
                        a->pidfd = rfds[0];
                for (size_t i = 1; i < n_rfds; i++)
                        close(rfds[i]);
        }
        if (a->pidfd >= 0) {
                char path[64], line[256];
                FILE *f;
                snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", a->pidfd);
                f = fopen(path, "re");
                while (f && fgets(line, sizeof(line), f))
                        if (strncmp(line, "Pid:", 4) == 0)
                                a->pidfd_pid = atoi(line + 4);
                if (f)
                        fclose(f);
        }
        for (;;) {
                jail_error_t rec;
                size_t n = read_full(conn, &rec, sizeof(rec));

                if (n == 0) {
                        a->eof = true;
                        break;
                }
                if (n != sizeof(rec))
                        break;
                if (!(rec.stage & JAIL_PROGRESS)) {
                        a->failed = true;
                        a->err = rec;
                } else if ((rec.stage & ~JAIL_PROGRESS) == JAIL_STAGE_EXEC)
                        a->exec_reached = true;
        }
        close(conn);
        a->report[read_full(rp[0], a->report, sizeof(a->report) - 1)] = '\0';
        close(rp[0]);
        close(ep[0]);
        if (a->pid > 0) {
                char path[64], line[256];
                FILE *f;
                snprintf(path, sizeof(path), "/proc/%d/status", (int) a->pid);
                f = fopen(path, "re");
                while (f && fgets(line, sizeof(line), f))
                        if (strncmp(line, "PPid:", 5) == 0)
                                a->ppid = atoi(line + 5);
                if (f)
                        fclose(f);
        }
        if (a->pidfd >= 0) {
                struct pollfd p = { .fd = a->pidfd, .events = POLLIN };
                siginfo_t si = { 0 };
                /* A jail that does not end on its own is a failure, not a hung test. */
                a->ended = poll(&p, 1, 10000) > 0;
                if (!a->ended) {
                        printf("# the jail %d did not exit within 10 s: killed\n", (int) a->pid);
                        (void) jail__pidfd_send_signal(a->pidfd, SIGKILL, NULL, 0);
                }
                if (waitid(P_PIDFD, a->pidfd, &si, WEXITED) == 0)
                        a->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
                close(a->pidfd);
        }
        a->serve = base_result();
}

static inline void adopt(const plan_t *plan, const char *const *argv, const int *extra, size_t n_extra, adoption_t *a) {
        adopt_frame(plan, argv, extra, n_extra, true, a);
}

/* The value of `key=` in the vassal's report (a status line: `Key:\t`), or "". */
static inline const char *field(const adoption_t *a, const char *key) {
        static char val[4096];
        char want[64];
        const char *at;

        snprintf(want, sizeof(want), "\n%s", key);
        val[0] = '\0';
        at = strncmp(a->report, key, strlen(key)) == 0 ? a->report : strstr(a->report, want);
        if (!at)
                return val;
        at = strstr(at, key) + strlen(key);
        while (*at == '=' || *at == ':' || *at == '\t')
                at++;
        snprintf(val, sizeof(val), "%.*s", (int) strcspn(at, "\n"), at);
        for (size_t n = strlen(val); n > 0 && val[n - 1] == ' '; n--) /* /proc's Groups: ends with one */
                val[n - 1] = '\0';
        return val;
}


static inline void own_link(const char *path, char *ret, size_t size) {
        ssize_t n = readlink(path, ret, size - 1);
        ret[n > 0 ? n : 0] = '\0';
}

static inline void base_plan(plan_t *p) {
        p->len = 0;
        add(p, "path", "/usr/bin/perl");
        add(p, "argv", "perl");
        add(p, "env", "PATH=/usr/bin:/bin");
        add(p, "fd", "2:1");
}

static const char *const REPORT_ARGV[] = { "base-test", "report", "two words", NULL };

/* The emperor's set-up: root, a child subreaper, a base listening in a fresh directory. */
static inline void emperor_start(void) {
        if (geteuid() != 0)
                tap_skip_all("the fork server needs root");
        setvbuf(stdout, NULL, _IONBF, 0);
        umask(022);
        /* A refused request leaves our config pipe without a reader. */
        signal(SIGPIPE, SIG_IGN);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                tap_skip_all("no PR_SET_CHILD_SUBREAPER");
        snprintf(sock_dir, sizeof(sock_dir), "/tmp/jailctl-adopt-%d", (int) getpid());
        snprintf(sock_path, sizeof(sock_path), "%s/base.sock", sock_dir);
        ok(start_base(), "the base listens on %s", sock_path);
}

static inline void emperor_stop(void) {
        kill(base_pid, SIGKILL);
        waitpid(base_pid, NULL, 0);
        (void) unlink(sock_path);
        (void) rmdir(sock_dir);
}
#endif
