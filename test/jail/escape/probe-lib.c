/* probe-lib.c: judging and reporting an attempt by the errno of its syscalls. */
#include "probe.h"

const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_BLOCKED] = "blocked",
        [VERDICT_UNPROVEN] = "unproven",
        [VERDICT_ESCAPED] = "ESCAPED",
};

bool probe_own_root;

/* ---- reporting ------------------------------------------------------------------- */

void raise_verdict(result_t *r, verdict_t v) {
        if (v > r->verdict)
                r->verdict = v;
}

/* Appends to the detail column, "; " between notes; a full column is cut short. */
void note(result_t *r, const char *fmt, ...) {
        const char *sep = r->len > 0 ? "; " : "";
        size_t room = sizeof(r->detail) - r->len;
        char text[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        n = snprintf(r->detail + r->len, room, "%s%s", sep, text);
        if (n > 0)
                r->len += (size_t) n < room ? (size_t) n : room - 1;
}

static const char *errno_name(int err) {
        const char *name = strerrorname_np(err);
        return name ? name : "unknown errno";
}

/* Judges one syscall by its return value and errno: refused with `want` (or `also`, 0 for
 * none) is blocked, any other errno is unproven, success is an escape. Call it directly
 * on the syscall's result, before anything else can change errno. */
void expect_errno(result_t *r, const char *call, long ret, int want, int also) {
        int err = errno;

        if (ret >= 0) {
                note(r, "%s: succeeded", call);
                raise_verdict(r, VERDICT_ESCAPED);
                return;
        }
        if (probe_own_root && err == ENOENT) {
                note(r, "%s: ENOENT (not in the jail's own root)", call);
                return;
        }
        note(r, "%s: %s", call, errno_name(err));
        if (err != want && (also == 0 || err != also))
                raise_verdict(r, VERDICT_UNPROVEN);
}

/* A step an attempt needs failed, so the attempt itself was never made. */
void not_tried(result_t *r, const char *call) {
        note(r, "%s: %s, attempt not made", call, errno_name(errno));
        raise_verdict(r, VERDICT_UNPROVEN);
}

/* A check that is not one errno (what /proc shows, the capability sets). */
void expect_true(result_t *r, bool held, const char *fmt, ...) {
        va_list ap;
        char text[512];

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        note(r, "%s", text);
        if (!held)
                raise_verdict(r, VERDICT_ESCAPED);
}

/* open() judged by expect_errno(); never writes, and closes what it got. */
void expect_open_refused(result_t *r, const char *path, int flags, int want, int also) {
        char call[300];
        int fd;

        snprintf(call, sizeof(call), "open `%s`%s", path, (flags & O_ACCMODE) == O_RDONLY ? "" : " for writing");
        fd = open(path, flags | O_CLOEXEC);
        expect_errno(r, call, fd, want, also);
        if (fd >= 0)
                (void) close(fd);
}

/* The same for a list of paths a kernel may not all have (cgroup v1 files, sysrq):
 * absent ones are noted, and at least one must be there. */
void expect_open_refused_where_present(result_t *r, const char *const *paths, size_t n, int flags, int want) {
        size_t tried = 0;

        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (stat(paths[i], &st) < 0 && errno == ENOENT) {
                        note(r, "`%s`: absent", paths[i]);
                        continue;
                }
                expect_open_refused(r, paths[i], flags, want, 0);
                tried++;
        }
        /* In a root of its own, none of them being there is the defence. */
        if (tried == 0 && !probe_own_root)
                raise_verdict(r, VERDICT_UNPROVEN);
}

void expect_connect_refused(result_t *r, const char *call, const struct sockaddr *addr, socklen_t len, int want) {
        int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
                not_tried(r, "socket");
                return;
        }
        expect_errno(r, call, connect(fd, addr, len), want, 0);
        (void) close(fd);
}

/* connect() to the UNIX socket `name` (abstract: in the abstract namespace, shown as
 * `@name`) must fail with `want`; `aside` follows the name in the report ("" for none). */
void expect_unix_connect_refused(result_t *r, const char *name, bool abstract, const char *aside, int want) {
        struct sockaddr_un addr;
        socklen_t len = unix_address(&addr, name, abstract);
        char call[200];

        snprintf(call, sizeof(call), "connect `%s%s`%s", abstract ? "@" : "", name, aside);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, len, want);
}

/* A filesystem socket path or, with `abstract`, a name in the abstract namespace (a
 * leading NUL and no terminator). */
socklen_t unix_address(struct sockaddr_un *addr, const char *name, bool abstract) {
        size_t at = abstract ? 1 : 0, n = strnlen(name, sizeof(addr->sun_path) - 1);

        *addr = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(addr->sun_path + at, name, n);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + at + n + (abstract ? 0 : 1));
}

/* The value of `key:` in /proc/self/status, or "" if absent. */
void status_field(const char *key, char *buf, size_t size) {
        FILE *f = fopen("/proc/self/status", "re");
        size_t klen = strlen(key);
        char line[256];

        buf[0] = '\0';
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        snprintf(buf, size, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
                        buf[strcspn(buf, "\n")] = '\0';
                        break;
                }
        fclose(f);
}

bool is_number(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

