/* tests/apply.c: jail_apply(), the plain C entry point of libjailexec.so, loaded with
 * dlopen() as the PSGI host does. A forked child C (the caller) applies a plan: it places
 * itself in the cgroup, unshares, forks the jail and exits; the jail waits for that, is
 * reparented to this test (a child subreaper), and the vassal reports through a pipe the
 * plan maps to its fd 1. Plan fds are real fd numbers here (fds = NULL). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"
#include "tap.h"
#include "kv.h"
#include "cgroups.h"

typedef int (*apply_fn)(const uint8_t *, size_t, const int *, size_t, int, int, jail_error_t *);

typedef struct {
        int caller_exit;  /* the caller's exit code: 0 applied, 1 jail_apply() failed */
        jail_error_t err; /* the caller's error, or the jail's failure record */
        bool failed;      /* a failure record came through the status pipe */
        bool exec_reached;
        pid_t top;        /* the pid jail_apply() returned */
        char out[4096];   /* what the vassal wrote */
} applied_t;

static size_t read_all(int fd, void *buf, size_t len) {
        size_t got = 0;

        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 10000) <= 0 || (n = read(fd, (char *) buf + got, len - got)) <= 0)
                        break;
                got += (size_t) n;
        }
        return got;
}

/* The vassal's report: "hostname uid gid cwd Seccomp: N" plus its /proc/self/cgroup. */
static void report(void) {
        char host[65] = "", cwd[128] = "", line[512], buf[4096];
        int seccomp = -1, n;
        FILE *f = fopen("/proc/self/status", "re");

        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "Seccomp:", 8) == 0)
                        seccomp = atoi(line + 8);
        if (f)
                fclose(f);
        gethostname(host, sizeof(host) - 1);
        n = snprintf(buf, sizeof(buf), "%s %d %d %s seccomp=%d\n", host, (int) getuid(), (int) getgid(),
                     getcwd(cwd, sizeof(cwd)) ? cwd : "?", seccomp);
        f = fopen("/proc/self/cgroup", "re");
        while (f && fgets(line, sizeof(line), f) && n < (int) sizeof(buf) - 512)
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, "%s", line);
        if (f)
                fclose(f);
        (void) !write(1, buf, (size_t) n);
}

/* Applies kv in a forked caller, the report pipe's write end mapped to the vassal's 1. */
static void run(apply_fn apply, kv_t *kv, applied_t *a) {
        int status_pipe[2], out[2], res[2], st;
        char map[32];
        pid_t caller;

        memset(a, 0, sizeof(*a));
        if (pipe2(status_pipe, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
                return;
        snprintf(map, sizeof(map), "%d:1", out[1]);
        kv_add(kv, "fd", map);
        caller = fork();
        if (caller == 0) {
                jail_error_t e = { 0 };
                int r = apply(kv->buf, kv->len, NULL, 0, status_pipe[1], -1, &e);
                if (r == 0) { /* the vassal */
                        report();
                        _exit(0);
                }
                if (r < 0) {
                        (void) !write(res[1], &e, sizeof(e));
                        _exit(1);
                }
                (void) !write(res[1], &r, sizeof(r));
                _exit(0);
        }
        close(status_pipe[1]);
        close(out[1]);
        close(res[1]);
        waitpid(caller, &st, 0);
        a->caller_exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (a->caller_exit == 1)
                (void) !read(res[0], &a->err, sizeof(a->err));
        else
                (void) !read(res[0], &a->top, sizeof(a->top));
        for (;;) {
                jail_error_t rec;
                if (read_all(status_pipe[0], &rec, sizeof(rec)) != sizeof(rec))
                        break;
                if (!(rec.stage & JAIL_PROGRESS)) {
                        a->failed = true;
                        a->err = rec;
                } else if ((rec.stage & ~JAIL_PROGRESS) == JAIL_STAGE_EXEC)
                        a->exec_reached = true;
        }
        a->out[read_all(out[0], a->out, sizeof(a->out) - 1)] = '\0';
        if (a->top > 0)
                (void) waitpid(a->top, NULL, 0); /* reparented to us */
        close(status_pipe[0]);
        close(out[0]);
        close(res[0]);
}

int main(void) {
        const char *lib = getenv("JAIL_SHARED_LIB");
        char host[65] = "", dir[2300], rel[1200], name[64], num[16], want[1300];
        int dir_fd = -1;
        bool have_cgroup;
        applied_t a;
        kv_t kv;

        if (geteuid() != 0)
                tap_skip_all("jail_apply needs root");
        /* The jail is reparented to us when its caller exits. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                tap_skip_all("no PR_SET_CHILD_SUBREAPER");
        void *h = dlopen(lib ? lib : "build/libjailexec.so", RTLD_NOW | RTLD_LOCAL);
        ok(h != NULL, "libjailexec.so loads with dlopen: %s", h ? "ok" : dlerror());
        if (!h)
                return tap_done();
        apply_fn apply = (apply_fn) dlsym(h, "jail_apply");
        ok(apply != NULL, "it exports jail_apply");
        ok(dlsym(h, "jail_fork_server_listen") && dlsym(h, "jail_fork_server_serve") && dlsym(h, "jail_fork_server_accept") &&
           dlsym(h, "jail_adopted_argv") && dlsym(h, "jail_adopted_env"),
           "and the fork server's functions");
        if (!apply)
                return tap_done();
        snprintf(name, sizeof(name), "jailctl-apply-test-%d", (int) getpid());
        have_cgroup = make_cgroup("cgroup2", NULL, "", name, dir, sizeof(dir), rel, sizeof(rel));
        if (have_cgroup)
                dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(num, sizeof(num), "%d", dir_fd);

        /* The default seccomp filter, a cgroup, namespaces, a hook, credentials, chdir. */
        kv.len = 0;
        kv_add(&kv, "ns", "uts");
        kv_add(&kv, "ns", "mount");
        kv_add(&kv, "hostname", "applied");
        kv_add(&kv, "hook", "test \"$(hostname)\" = applied");
        kv_add(&kv, "uid", "1001");
        kv_add(&kv, "gid", "1002");
        kv_add(&kv, "chdir", "/tmp");
        kv_add(&kv, "path", "unused");
        kv_add(&kv, "argv", "unused");
        if (dir_fd >= 0)
                kv_add(&kv, "cgroup", num);
        run(apply, &kv, &a);
        is(a.caller_exit, 0, "the caller gets the jail's pid (%d)", (int) a.top);
        ok(a.exec_reached && !a.failed, "the status fd ends with the exec record (failed %d: stage %u errno %d)", a.failed,
           a.err.stage, a.err.errnum);
        ok(strncmp(a.out, "applied 1001 1002 /tmp seccomp=2\n", 33) == 0,
           "namespaces, hooks, credentials, chdir and the default seccomp filter took effect: %.33s", a.out);
        if (have_cgroup) {
                snprintf(want, sizeof(want), "0::%s\n", rel);
                ok(strstr(a.out, want) != NULL, "the vassal runs in the plan's unified cgroup %s", rel);
        } else
                ok(0, "created a unified cgroup beneath ours");
        gethostname(host, sizeof(host) - 1);
        ok(strcmp(host, "applied") != 0, "the caller's hostname is untouched");

        kv.len = 0;
        kv_add(&kv, "seccomp", "none");
        kv_add(&kv, "chdir", "/nonexistent/dir");
        kv_add(&kv, "path", "unused");
        kv_add(&kv, "argv", "unused");
        run(apply, &kv, &a);
        ok(a.caller_exit == 0 && a.failed && !a.exec_reached, "a failing stage in the jail is a failure record");
        ok(a.err.stage == JAIL_STAGE_CHDIR && a.err.errnum == ENOENT, "naming the stage and errno (%u, %d)", a.err.stage,
           a.err.errnum);

        kv.len = 0;
        kv_add(&kv, "privileged", "1");
        kv_add(&kv, "path", "unused");
        kv_add(&kv, "argv", "unused");
        run(apply, &kv, &a);
        ok(a.caller_exit == 1 && a.err.stage == JAIL_STAGE_PLAN && a.err.errnum == EINVAL,
           "a privileged program is refused in the caller: stage plan, EINVAL");

        kv.len = 0;
        kv_add(&kv, "cgroup", "999");
        kv_add(&kv, "path", "unused");
        kv_add(&kv, "argv", "unused");
        run(apply, &kv, &a);
        ok(a.caller_exit == 1 && a.err.stage == JAIL_STAGE_CGROUP && a.err.errnum == EBADF,
           "a cgroup fd that is not open: stage cgroup, EBADF");

        if (dir_fd >= 0)
                close(dir_fd);
        if (have_cgroup)
                is(rmdir(dir), 0, "the cgroup is empty again and removed");
        dlclose(h);
        return tap_done();
}
