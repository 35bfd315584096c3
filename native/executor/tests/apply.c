/* tests/apply.c: jail_apply(), the plain C entry point of libjailexec.so, loaded with
 * dlopen() as the PSGI host will: a forked child applies a plan to itself in place. */
#include <dlfcn.h>
#include <stdio.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "tap.h"
#include "kv.h"

typedef int (*apply_fn)(const uint8_t *, size_t, jail_error_t *);

/* Runs apply() on kv in a child; the child reports "hostname uid gid" or the error. */
static int run(apply_fn apply, const kv_t *kv, char *out, size_t len, jail_error_t *err) {
        int p[2];
        pid_t pid;
        ssize_t n;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                jail_error_t e = { 0 };
                char buf[256];
                close(p[0]);
                if (apply(kv->buf, kv->len, &e) < 0) {
                        (void) !write(p[1], &e, sizeof(e));
                        _exit(1);
                }
                char host[65] = "";
                gethostname(host, sizeof(host) - 1);
                n = snprintf(buf, sizeof(buf), "%s %d %d %s", host, (int) getuid(), (int) getgid(), getcwd(buf + 128, 100) ? buf + 128 : "?");
                (void) !write(p[1], buf, (size_t) n);
                _exit(0);
        }
        close(p[1]);
        n = read(p[0], out, len - 1);
        close(p[0]);
        int status;
        waitpid(pid, &status, 0);
        if (WEXITSTATUS(status) != 0 && n == sizeof(*err))
                memcpy(err, out, sizeof(*err));
        out[n > 0 ? n : 0] = '\0';
        return WEXITSTATUS(status);
}

int main(void) {
        const char *lib = getenv("JAIL_SHARED_LIB");
        char out[256], host[65] = "";
        jail_error_t err = { 0 };
        kv_t kv = { .len = 0 };

        if (geteuid() != 0)
                tap_skip_all("jail_apply needs root");
        void *h = dlopen(lib ? lib : "build/libjailexec.so", RTLD_NOW | RTLD_LOCAL);
        ok(h != NULL, "libjailexec.so loads with dlopen: %s", h ? "ok" : dlerror());
        if (!h)
                return tap_done();
        apply_fn apply = (apply_fn) dlsym(h, "jail_apply");
        ok(apply != NULL, "it exports jail_apply");
        if (!apply)
                return tap_done();

        kv_t filtered = { .len = 0 };
        kv_add(&filtered, "path", "unused");
        kv_add(&filtered, "argv", "unused");
        is(run(apply, &filtered, out, sizeof(out), &err), 1, "a plan with the (default) seccomp filter is refused: jail_apply cannot load it yet");
        ok(err.stage == JAIL_STAGE_PLAN && err.errnum == EINVAL, "at stage plan, EINVAL");

        kv_add(&kv, "seccomp", "none");
        kv_add(&kv, "ns", "uts");
        kv_add(&kv, "ns", "mount");
        kv_add(&kv, "hostname", "applied");
        kv_add(&kv, "hook", "test \"$(hostname)\" = applied");
        kv_add(&kv, "uid", "1001");
        kv_add(&kv, "gid", "1002");
        kv_add(&kv, "chdir", "/tmp");
        kv_add(&kv, "path", "unused");
        kv_add(&kv, "argv", "unused");
        is(run(apply, &kv, out, sizeof(out), &err), 0, "the plan applies in place");
        ok(strcmp(out, "applied 1001 1002 /tmp") == 0, "namespaces, hooks, credentials and chdir took effect: %s", out);
        gethostname(host, sizeof(host) - 1);
        ok(strcmp(host, "applied") != 0, "the caller's hostname is untouched");

        kv_t bad = { .len = 0 };
        kv_add(&bad, "seccomp", "none");
        kv_add(&bad, "chdir", "/nonexistent/dir");
        kv_add(&bad, "path", "unused");
        kv_add(&bad, "argv", "unused");
        is(run(apply, &bad, out, sizeof(out), &err), 1, "a failing stage returns an error");
        ok(err.stage == JAIL_STAGE_CHDIR && err.errnum == ENOENT, "and names the stage and errno");
        dlclose(h);
        return tap_done();
}
