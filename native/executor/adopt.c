/* adopt.c: the base's side of the fork server (docs/FORK-SERVER.md): its listening
 * socket, one adoption per connection, and what the adopted vassal reads back.
 *
 * Runs in the base vassal: root, one thread, the host's namespaces. Nothing from the
 * request is used but the argv, the plan and the fds, and the base execs nothing: the
 * middle process M applies the plan through jail_apply() and the vassal goes on in the
 * base's code. Every function takes and returns ints and strings only, for FFI. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "syscalls.h"

#define MODIFIER1_FORK_SERVER 35
#define MASK_EMPEROR_PIPE 0x01
#define MASK_CONFIG_PIPE 0x02
#define MASK_ON_DEMAND 0x04
#define MASK_EXTRA_FDS 0x80 /* ours: every other fd the plan names follows */
#define MAX_BODY 65535
#define MAX_PLAN (UINT32_C(16) << 20)
/* How long the base waits for a whole request, and M for the whole plan frame (one
 * deadline each, however it trickles in): the emperor writes both at once, so only a
 * stuck peer takes this. */
#define IO_TIMEOUT_MS 10000
/* The most heap holes a fork takes up for its child (settle.c): what one request of the
 * base's own code leaves is a few dozen. */
#define HELD_HOLES 4096

/* The request's argv, NUL-terminated strings. The base overwrites them for each request;
 * the vassal, a fresh process, keeps the copy its request left. */
static char argv_buf[MAX_BODY + 1];
static const char *argv_list[MAX_BODY / 2 + 1];
static size_t n_argv;
static bool adopted;

typedef struct {
        uint8_t mask;
        size_t size; /* of the body */
        int fds[JAIL_MAX_FDS];
        size_t n_fds;
} request_t;

static void close_fds(request_t *req) {
        for (size_t i = 0; i < req->n_fds; i++)
                (void) close(req->fds[i]);
        req->n_fds = 0;
}

/* CLOCK_MONOTONIC in ms: the clock of the deadlines. */
static long long now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable, giving up at `deadline` (now_ms(), -ETIMEDOUT) or when
 * `hangup` (>= 0, the connection) is shut down by the emperor (-ECONNRESET). */
static int wait_fd(int fd, int hangup, long long deadline) {
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = hangup, .events = POLLRDHUP } };
        int n;

        do {
                long long left = deadline - now_ms();
                n = left <= 0 ? 0 : poll(p, hangup >= 0 ? 2 : 1, left > IO_TIMEOUT_MS ? IO_TIMEOUT_MS : (int) left);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -ETIMEDOUT;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)) && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return -ECONNRESET;
        return 0;
}

/* Reads exactly len bytes of the request into buf; fds that come with them go to req
 * (only the first read may carry fds: any later ones are a malformed request). Returns 0
 * or -errno (-EBADMSG: EOF, stray or too many fds). */
static int recv_exact(int conn, uint8_t *buf, size_t len, request_t *req, long long deadline) {
        for (size_t got = 0; got < len;) {
                int fds[JAIL_MAX_FDS];
                size_t n_fds = 0;
                ssize_t n;
                int r;

                if ((r = wait_fd(conn, -1, deadline)) < 0)
                        return r;
                n = jail_recv_fds(conn, buf + got, len - got, fds, JAIL_MAX_FDS, &n_fds);
                if (n == -EAGAIN)
                        continue;
                if (n == -EMSGSIZE) /* more than 64 fds: jail_recv_fds() closed them */
                        return -EBADMSG;
                if (n < 0)
                        return (int) n;
                if (got == 0 && req->n_fds == 0) {
                        memcpy(req->fds, fds, n_fds * sizeof(int));
                        req->n_fds = n_fds;
                } else if (n_fds > 0) {
                        for (size_t i = 0; i < n_fds; i++)
                                (void) close(fds[i]);
                        return -EBADMSG;
                }
                if (n == 0)
                        return -EBADMSG;
                got += (size_t) n;
        }
        return 0;
}

/* The base, root. The body of a request: an array of `u16le len, bytes`, each without a
 * NUL, into argv_buf/argv_list. Returns 0 or -EBADMSG. */
static int parse_argv(const uint8_t *body, size_t size) {
        size_t off = 0;
        char *out = argv_buf;

        /* Nothing of an earlier request's argv may stay for a later vassal to find. */
        explicit_bzero(argv_buf, sizeof(argv_buf));
        n_argv = 0;
        while (off < size) {
                size_t len;

                if (size - off < 2)
                        return -EBADMSG;
                len = body[off] | (size_t) body[off + 1] << 8;
                off += 2;
                if (size - off < len || memchr(body + off, '\0', len))
                        return -EBADMSG;
                memcpy(out, body + off, len);
                out[len] = '\0';
                argv_list[n_argv++] = out;
                out += len + 1;
                off += len;
        }
        argv_list[n_argv] = NULL;
        return 0;
}

/* The fds a mask announces: the emperor pipe, the config pipe, the on-demand socket, then
 * with 0x80 any number of others. The config pipe carries the plan, so it is required. */
static bool fds_match_mask(const request_t *req) {
        size_t named = !!(req->mask & MASK_EMPEROR_PIPE) + !!(req->mask & MASK_CONFIG_PIPE) + !!(req->mask & MASK_ON_DEMAND);

        if (req->mask & ~(MASK_EMPEROR_PIPE | MASK_CONFIG_PIPE | MASK_ON_DEMAND | MASK_EXTRA_FDS))
                return false;
        if (!(req->mask & MASK_CONFIG_PIPE))
                return false;
        return (req->mask & MASK_EXTRA_FDS) ? req->n_fds >= named : req->n_fds == named;
}

/* The base, root. One request: the 4-byte header `35 | u16le size | mask`, the argv body
 * and the fds (close-on-exec), all by `deadline`. Returns 0 or -errno (-EBADMSG:
 * malformed, -ETIMEDOUT), with every received fd closed on a failure. */
static int recv_request(int conn, request_t *req, long long deadline) {
        static uint8_t body[MAX_BODY];
        uint8_t head[4];
        int r;

        explicit_bzero(body, sizeof(body));
        *req = (request_t) { .n_fds = 0 };
        r = recv_exact(conn, head, sizeof(head), req, deadline);
        if (r == 0 && head[0] != MODIFIER1_FORK_SERVER)
                r = -EBADMSG;
        if (r == 0) {
                req->size = head[1] | (size_t) head[2] << 8;
                req->mask = head[3];
                r = recv_exact(conn, body, req->size, req, deadline);
        }
        if (r == 0 && !fds_match_mask(req))
                r = -EBADMSG;
        if (r == 0)
                r = parse_argv(body, req->size);
        if (r < 0)
                close_fds(req);
        return r;
}

/* M: reads exactly len bytes from the config pipe by `deadline`, so that the config
 * packet behind the plan stays for the vassal. The pipe may be blocking: each read waits
 * for it to be readable first, so a stuck or vanished emperor cannot hold M in read().
 * Returns 0 or -errno (EIO: EOF first, ETIMEDOUT, ECONNRESET: the emperor hung up). */
static int read_exact(int fd, int conn, uint8_t *buf, size_t len, long long deadline) {
        for (size_t got = 0; got < len;) {
                ssize_t n;
                int r;

                if ((r = wait_fd(fd, conn, deadline)) < 0)
                        return r;
                n = read(fd, buf + got, len - got);
                if (n > 0) {
                        got += (size_t) n;
                        continue;
                }
                if (n == 0)
                        return -EIO;
                if (errno != EINTR && errno != EAGAIN)
                        return -errno;
        }
        return 0;
}

/* M, root, the host's namespaces. The plan frame at the head of the config pipe: `u32le
 * N`, then N bytes (at most 16 MiB), into a buffer of ours. Reports JAIL_STAGE_PLAN
 * (E2BIG: over the limit, EIO: the pipe ended early, ETIMEDOUT, ECONNRESET). */
static int read_plan_frame(int config, int conn, uint8_t **ret_buf, size_t *ret_len, jail_error_t *reterr) {
        long long deadline = now_ms() + IO_TIMEOUT_MS;
        uint8_t head[4];
        uint32_t len;
        int r;

        *ret_buf = NULL;
        if ((r = read_exact(config, conn, head, sizeof(head), deadline)) < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, -1, 0);
        len = head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 | (uint32_t) head[3] << 24;
        if (len > MAX_PLAN)
                return jail__fail(reterr, JAIL_STAGE_PLAN, E2BIG, -1, 0);
        *ret_buf = malloc(len > 0 ? len : 1);
        if (!*ret_buf)
                return jail__fail(reterr, JAIL_STAGE_PLAN, ENOMEM, -1, 0);
        if ((r = read_exact(config, conn, *ret_buf, len, deadline)) < 0) {
                free(*ret_buf);
                *ret_buf = NULL;
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, -1, 0);
        }
        *ret_len = len;
        return 0;
}

/* M: the reply's first packet, `35 | u16le size | 0` with the keyval `pid`, and the
 * jail's pidfd attached when there is one (pidfd >= 0). Returns 0 or -errno. */
static int send_pid(int conn, pid_t pid, int pidfd) {
        uint8_t pkt[4 + 2 + 3 + 2 + 16];
        char num[16];
        int len = snprintf(num, sizeof(num), "%d", (int) pid);
        size_t size = 2 + 3 + 2 + (size_t) len;
        ssize_t n;

        pkt[0] = MODIFIER1_FORK_SERVER;
        pkt[1] = size & 0xff;
        pkt[2] = size >> 8;
        pkt[3] = 0;
        pkt[4] = 3;
        pkt[5] = 0;
        memcpy(pkt + 6, "pid", 3);
        pkt[9] = (uint8_t) len;
        pkt[10] = 0;
        memcpy(pkt + 11, num, (size_t) len);
        n = jail_send_fds(conn, pkt, 4 + size, &pidfd, pidfd >= 0 ? 1 : 0);
        if (n < 0)
                return (int) n;
        return (size_t) n == 4 + size ? 0 : -EIO;
}

/* The base or M: a failure before the jail's top process exists (or with it killed):
 * `pid` 0, then the failure record. */
static void reply_failure(int conn, const jail_error_t *err) {
        /* The emperor may be gone; nothing else can be done then. */
        if (send_pid(conn, 0, -1) == 0)
                (void) send(conn, err, sizeof(*err), MSG_NOSIGNAL);
}

/* M: reply_failure(), then M's exit. */
static void __attribute__((noreturn)) middle_fail(int conn, const jail_error_t *err) {
        reply_failure(conn, err);
        _exit(JAIL_EXIT_SETUP);
}

/* M, root, the base's memory, before anything else is forked. A writable shared mapping
 * (MAP_SHARED with PROT_WRITE, SysV shm) survives every fork, fd close and namespace
 * (CLONE_NEWIPC detaches no segment): two tenants' vassals adopted from this base would
 * write one region. Refused. A read-only shared mapping is allowed: its content is
 * visible in every vassal anyway, as the whole of the base's memory is, and no vassal
 * can write it through this mapping (it cannot be mprotect()ed writable unless its file
 * was opened for writing, which the vassal's fd table no longer holds; a read-only file
 * mapping of a file the tenant can write is the tenant's own business). Reports
 * JAIL_STAGE_PREPARE (EBUSY; or what reading /proc/self/maps gave). */
static int refuse_shared_writable(jail_error_t *reterr) {
        FILE *f = fopen("/proc/self/maps", "re");
        char *line = NULL;
        size_t size = 0;
        int r = 0;

        if (!f)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        /* `start-end perms offset dev inode path`: perms is rwxs or rwxp. */
        while (r == 0 && getline(&line, &size, f) > 0) {
                const char *perms = strchr(line, ' ');
                if (perms && strlen(perms) > 4 && perms[2] == 'w' && perms[4] == 's')
                        r = jail__fail(reterr, JAIL_STAGE_PREPARE, EBUSY, -1, 0);
        }
        free(line);
        (void) fclose(f);
        return r;
}

/* M, root, before jail_apply(). A spawned jail inherits the emperor's umask and nice
 * value (jail-helper changes neither); an adopted one would get the base's, which the
 * base's code may have changed. So M, and every process of the jail, takes the
 * emperor's: its umask from /proc/PID/status (022 on a kernel without that line), its
 * nice value from getpriority(). Reports JAIL_STAGE_PREPARE. */
static int take_emperor_defaults(pid_t emperor_pid, jail_error_t *reterr) {
        char path[64], line[256];
        mode_t mask = 022;
        int prio;
        FILE *f;

        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) emperor_pid);
        f = fopen(path, "re");
        if (!f)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Umask:", 6) == 0)
                        mask = (mode_t) strtoul(line + 6, NULL, 8) & 0777;
        (void) fclose(f);
        (void) umask(mask); /* cannot fail */
        errno = 0;
        prio = getpriority(PRIO_PROCESS, (id_t) emperor_pid);
        if (prio == -1 && errno != 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        if (setpriority(PRIO_PROCESS, 0, prio) < 0)
                return jail__fail(reterr, JAIL_STAGE_PREPARE, errno, -1, 0);
        return 0;
}

/* M: root, the base's child, the host's namespaces until jail_apply(). Refuses a base
 * with writable shared memory, reads the plan, applies it (jail_apply() forks the jail's
 * top process G), replies with G's pid and pidfd, tells G to go on and exits, which lets
 * G go on. Returns only in the vassal, 0. */
static int run_middle(int conn, request_t *req, pid_t emperor_pid, int emperor_pidfd) {
        int config = req->fds[(req->mask & MASK_EMPEROR_PIPE) ? 1 : 0], go = -1, pidfd, r;
        jail_error_t err;
        uint8_t *plan;
        size_t len = 0;

        if (refuse_shared_writable(&err) < 0 || take_emperor_defaults(emperor_pid, &err) < 0 ||
            read_plan_frame(config, conn, &plan, &len, &err) < 0)
                middle_fail(conn, &err);
        r = jail__apply(plan, len, req->fds, req->n_fds, conn, emperor_pidfd, emperor_pid, &go, &err);
        /* The raw plan holds root's environment and the hooks: the vassal gets none of it. */
        explicit_bzero(plan, len);
        free(plan);
        if (r == 0) {
                /* The vassal. jail_apply() closed every fd the plan does not map, the
                 * connection too: the numbers in req are no longer ours. */
                req->n_fds = 0;
                adopted = true;
                return 0;
        }
        if (r < 0)
                middle_fail(conn, &err);

        /* G is our child and not reaped: its pid cannot be reused before we exit. */
        pidfd = jail__pidfd_open(r, 0);
        if (pidfd < 0) {
                (void) jail__fail(&err, JAIL_STAGE_PREPARE, errno, -1, 0);
                (void) kill(r, SIGKILL); /* cannot fail: our own child */
                middle_fail(conn, &err);
        }
        /* An emperor that did not get the pid cannot supervise the jail: it must not run.
         * G waits for the go byte: if M dies before it (or here), G ends unseen. */
        if (send_pid(conn, r, pidfd) < 0) {
                (void) kill(r, SIGKILL);
                _exit(JAIL_EXIT_SETUP);
        }
        /* sync 4: the emperor has the pid; G may go on. A dead G is EPIPE: nothing to do. */
        (void) send(go, "", 1, MSG_NOSIGNAL);
        _exit(0);
}

/* The base: root, the host's namespaces, one thread (checked), the emperor's direct
 * child. Runs as: the base's credentials, unchanged; forks M, which changes nothing of
 * the base's (cgroup, namespaces and credentials change in M and below). Reports: the
 * return value (the pid of M, or -errno with nothing forked, see jail.h); a base with
 * more than one thread gets `pid` 0 and a failure record at JAIL_STAGE_PREPARE (EINVAL)
 * on conn. M then reports on conn as docs/FORK-SERVER.md says. */
int jail_fork_server_serve(int conn, pid_t emperor_pid, uid_t emperor_uid) {
        long long deadline = now_ms() + IO_TIMEOUT_MS;
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        static void *held[HELD_HOLES];
        size_t n_held;
        request_t req;
        int emperor_pidfd, r;
        pid_t pid;

        /* sync 1: the peer is our parent, the emperor, with the emperor's uid (what the
         * kernel recorded at connect, not what the peer claims). Nothing else gets a fork. */
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0)
                return -errno;
        if (cred.pid != emperor_pid || cred.uid != emperor_uid || getppid() != emperor_pid)
                return -EPERM;
        /* sync 2: the request, whole by the deadline. */
        if ((r = recv_request(conn, &req, deadline)) < 0)
                return r;
        /* fork() copies this thread only: another's locks and state would be half in M. */
        if ((r = jail__single_threaded()) < 0) {
                jail_error_t err;
                (void) jail__fail(&err, JAIL_STAGE_PREPARE, -r, -1, 0);
                reply_failure(conn, &err);
                close_fds(&req);
                return r;
        }
        /* Opened here, then checked to be our parent still: the pid was not reused. */
        emperor_pidfd = jail__pidfd_open(emperor_pid, 0);
        if (emperor_pidfd < 0 || getppid() != emperor_pid) {
                r = emperor_pidfd < 0 ? -errno : -ESRCH;
                if (emperor_pidfd >= 0)
                        (void) close(emperor_pidfd);
                close_fds(&req);
                return r;
        }
        /* sync 3: M, born with the base's heap holes in use (settle.c). */
        n_held = jail__hold_holes(held, HELD_HOLES);
        pid = fork();
        if (pid != 0) {
                r = pid < 0 ? -errno : (int) pid;
                jail__release_holes(held, n_held);
                close_fds(&req);
                (void) close(emperor_pidfd);
                return r;
        }
        return run_middle(conn, &req, emperor_pid, emperor_pidfd);
}

int jail_fork_server_listen(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[PATH_MAX];
        const char *name;
        struct stat st;
        int dfd, fd, r;

        if (!path || path[0] != '/' || strlen(path) >= sizeof(dir))
                return -EINVAL;
        name = strrchr(path, '/') + 1;
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        if (name - 1 == path)
                strcpy(dir, "/");
        else {
                memcpy(dir, path, (size_t) (name - 1 - path));
                dir[name - 1 - path] = '\0';
        }
        /* The umask may make it stricter, never laxer. */
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        /* O_NOFOLLOW with O_PATH opens a symlink itself, which O_DIRECTORY then refuses. */
        dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fstat(dfd, &st) < 0) {
                r = -errno;
                goto out_dir;
        }
        /* Only root may reach the socket: nobody else can replace it or connect. */
        if (st.st_uid != 0 || (st.st_mode & 077)) {
                r = -EPERM;
                goto out_dir;
        }
        /* A stale socket of an earlier base goes; anything else stays and is an error. */
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        r = -EADDRINUSE;
                        goto out_dir;
                }
                if (unlinkat(dfd, name, 0) < 0) {
                        r = -errno;
                        goto out_dir;
                }
        } else if (errno != ENOENT) {
                r = -errno;
                goto out_dir;
        }
        /* Bound through the directory we checked, not its path again. */
        if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, name) >= sizeof(sa.sun_path)) {
                r = -ENAMETOOLONG;
                goto out_dir;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                goto out_dir;
        }
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || fchmodat(dfd, name, 0600, 0) < 0 ||
            listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) close(fd);
                goto out_dir;
        }
        r = fd;
out_dir:
        (void) close(dfd);
        return r;
}

int jail_fork_server_accept(int listen_fd) {
        int fd;

        do
                fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        return fd < 0 ? -errno : fd;
}

const char *jail_adopted_argv(int i) {
        if (!adopted || i < 0 || (size_t) i >= n_argv)
                return NULL;
        return argv_list[i];
}

const char *jail_adopted_env(int i) {
        const jail_plan_t *plan = jail__applied_plan();

        if (!plan || i < 0 || (size_t) i >= plan->n_env)
                return NULL;
        return plan->envp[i];
}
