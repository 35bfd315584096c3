/* probe.c: the inside half of test/jail/escape.test.ts.
 *
 * Runs as a jail's vassal (uid 1001, no capabilities, no_new_privs, its own mount, net,
 * ipc, pid and uts namespaces, a private /tmp) and makes one real attempt per row of
 * `attempts` to see, reach or change something outside the jail. Each attempt is judged
 * by the errno of its syscalls and printed as one line:
 *
 *     ESCAPE <TAB> id <TAB> verdict <TAB> attempt <TAB> detail
 *
 * verdict is `blocked` (refused with the errno that proves the defence), `ESCAPED` (the
 * call worked), `unproven` (refused, but before the defence was reached, so it proves
 * nothing) or, for the rows docs/SECURITY.md lists as open, `not defended (documented)`.
 * `ESCAPE-DONE <TAB> N` ends the run: a probe that dies half way leaves it out.
 *
 * argv: probe KEY=VALUE… (the host facts, see facts_t), or `probe euid` (what the set-uid
 * copy is run with: it prints its effective uid). The attempts refuse to run as root: on
 * the host, pivot_root, mount and the rest would act for real. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* uWSGI's "do not respawn me": the emperor leaves the vassal stopped. */
#define EXIT_DO_NOT_RESPAWN 26

/* Worst wins: one syscall that works makes the whole attempt an escape. */
typedef enum {
        VERDICT_BLOCKED,
        VERDICT_UNPROVEN,
        VERDICT_ESCAPED,
        _VERDICT_MAX,
} verdict_t;

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_BLOCKED] = "blocked",
        [VERDICT_UNPROVEN] = "unproven",
        [VERDICT_ESCAPED] = "ESCAPED",
};

typedef struct {
        verdict_t verdict;
        char detail[1024];
        size_t len;
} result_t;

/* What the host knows and the jail must not reach, passed as KEY=VALUE arguments. */
typedef struct {
        pid_t emperor;           /* emperor=   the emperor's host pid */
        pid_t tenant_init;       /* tenant=    another tenant's jail, its pid 1 as the host sees it */
        pid_t tenant_vassal;     /* tenant-vassal= that jail's program (a sleep) */
        int tcp_port;            /* tcp=       a TCP server on the host's 127.0.0.1 */
        const char *abstract;    /* abstract=  an abstract UNIX socket on the host (name without the NUL) */
        int shm_id;              /* shm=       a host SysV shared memory segment, mode 0666 */
        const char *stats;       /* stats=     the emperor's stats socket */
        const char *vassals;     /* vassals=   the emperor's vassal directory */
        const char *own_config;  /* config=    this vassal's file */
        const char *other_config;/* other-config= the other tenant's file */
        const char *node;        /* node=      the emperor's executable */
        const char *helper;      /* helper=    jail-helper on disk (optional) */
        const char *addon;       /* addon=     the addon the emperor loads */
        const char *suid;        /* suid=      a root-owned mode 4755 copy of this probe */
        const char *host_tmp;    /* host-tmp=  a file in the host's /tmp that uid 1001 may read */
        const char *host_socket; /* host-socket= a mode 0666 UNIX socket on the host */
        const char *disk;        /* disk=      a host block device */
} facts_t;

/* ---- reporting ------------------------------------------------------------------- */

static void raise_verdict(result_t *r, verdict_t v) {
        if (v > r->verdict)
                r->verdict = v;
}

/* Appends to the detail column, "; " between notes; a full column is cut short. */
static void note(result_t *r, const char *fmt, ...) {
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
static void expect_errno(result_t *r, const char *call, long ret, int want, int also) {
        int err = errno;

        if (ret >= 0) {
                note(r, "%s: succeeded", call);
                raise_verdict(r, VERDICT_ESCAPED);
                return;
        }
        note(r, "%s: %s", call, errno_name(err));
        if (err != want && (also == 0 || err != also))
                raise_verdict(r, VERDICT_UNPROVEN);
}

/* A step an attempt needs failed, so the attempt itself was never made. */
static void not_tried(result_t *r, const char *call) {
        note(r, "%s: %s, attempt not made", call, errno_name(errno));
        raise_verdict(r, VERDICT_UNPROVEN);
}

/* A check that is not one errno (what /proc shows, the capability sets). */
static void expect_true(result_t *r, bool held, const char *fmt, ...) {
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
static void expect_open_refused(result_t *r, const char *path, int flags, int want, int also) {
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
static void expect_open_refused_where_present(result_t *r, const char *const *paths, size_t n, int flags, int want) {
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
        if (tried == 0)
                raise_verdict(r, VERDICT_UNPROVEN);
}

static void expect_connect_refused(result_t *r, const char *call, const struct sockaddr *addr, socklen_t len, int want) {
        int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
                not_tried(r, "socket");
                return;
        }
        expect_errno(r, call, connect(fd, addr, len), want, 0);
        (void) close(fd);
}

/* A filesystem socket path or, with `abstract`, a name in the abstract namespace (a
 * leading NUL and no terminator). */
static socklen_t unix_address(struct sockaddr_un *addr, const char *name, bool abstract) {
        size_t at = abstract ? 1 : 0, n = strnlen(name, sizeof(addr->sun_path) - 1);

        *addr = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(addr->sun_path + at, name, n);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + at + n + (abstract ? 0 : 1));
}

/* The value of `key:` in /proc/self/status, or "" if absent. */
static void status_field(const char *key, char *buf, size_t size) {
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

static bool is_number(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* ---- the attempts ---------------------------------------------------------------- */

static void see_host_processes(const facts_t *f, result_t *r) {
        DIR *d = opendir("/proc");
        char pids[256] = "";
        bool only_ours = true;
        struct dirent *e;

        (void) f;
        if (!d) {
                not_tried(r, "opendir `/proc`");
                return;
        }
        while ((e = readdir(d)))
                if (is_number(e->d_name)) {
                        pid_t pid = atoi(e->d_name);
                        size_t len = strlen(pids);

                        snprintf(pids + len, sizeof(pids) - len, "%s%d", len ? " " : "", pid);
                        if (pid != 1 && pid != getpid())
                                only_ours = false;
                }
        closedir(d);
        expect_true(r, only_ours, "/proc lists pids %s (the jail's init and this probe: 1, %d)", pids, getpid());
}

static void signal_emperor(const facts_t *f, result_t *r) {
        expect_errno(r, "kill(emperor, SIGTERM)", kill(f->emperor, SIGTERM), ESRCH, 0);
        expect_errno(r, "kill(emperor, 0)", kill(f->emperor, 0), ESRCH, 0);
        expect_errno(r, "pidfd_open(emperor)", syscall(SYS_pidfd_open, f->emperor, 0), ESRCH, 0);
}

static void signal_other_tenant(const facts_t *f, result_t *r) {
        expect_errno(r, "kill(its init, SIGTERM)", kill(f->tenant_init, SIGTERM), ESRCH, 0);
        expect_errno(r, "kill(its program, SIGKILL)", kill(f->tenant_vassal, SIGKILL), ESRCH, 0);
}

static void read_emperor_environ(const facts_t *f, result_t *r) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/environ", f->emperor);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
}

static void read_emperor_cmdline(const facts_t *f, result_t *r) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/cmdline", f->emperor);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
}

/* The jail's 127.0.0.1 is its own `lo`: the host's server is not on it. */
static void connect_host_loopback(const facts_t *f, result_t *r) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(f->tcp_port) };
        char call[64];

        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        snprintf(call, sizeof(call), "connect 127.0.0.1:%d", f->tcp_port);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, sizeof(addr), ECONNREFUSED);
}

/* 192.0.2.1 is TEST-NET-1 (RFC 5737): no packet could go anywhere even if one left. */
static void connect_outside(const facts_t *f, result_t *r) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(9) };

        (void) f;
        inet_pton(AF_INET, "192.0.2.1", &addr.sin_addr);
        expect_connect_refused(r, "connect 192.0.2.1:9", (struct sockaddr *) &addr, sizeof(addr), ENETUNREACH);
}

/* Abstract UNIX names belong to a network namespace, not to the filesystem. */
static void connect_abstract_socket(const facts_t *f, result_t *r) {
        struct sockaddr_un addr;
        socklen_t len = unix_address(&addr, f->abstract, true);
        char call[160];

        snprintf(call, sizeof(call), "connect `@%s`", f->abstract);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, len, ECONNREFUSED);
}

/* EINVAL: no segment with that id in this IPC namespace (the host's is mode 0666, so
 * EACCES would mean it was found). */
static void attach_host_shm(const facts_t *f, result_t *r) {
        void *p = shmat(f->shm_id, NULL, SHM_RDONLY);
        char call[64];

        snprintf(call, sizeof(call), "shmat(%d)", f->shm_id);
        expect_errno(r, call, p == (void *) -1 ? -1 : 0, EINVAL, 0);
        if (p != (void *) -1)
                (void) shmdt(p);
}

static void connect_stats_socket(const facts_t *f, result_t *r) {
        struct sockaddr_un addr;
        socklen_t len = unix_address(&addr, f->stats, false);
        char call[160];

        snprintf(call, sizeof(call), "connect `%s`", f->stats);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, len, EACCES);
}

/* A new file there would be launched by the emperor, as root if it says so. */
static void write_vassal_dir(const facts_t *f, result_t *r) {
        char path[300], call[320];
        int fd;

        snprintf(path, sizeof(path), "%s/escape.ini", f->vassals);
        snprintf(call, sizeof(call), "create `%s`", path);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        expect_errno(r, call, fd, EACCES, 0);
        if (fd >= 0) {
                (void) close(fd);
                (void) unlink(path);
        }
        expect_open_refused(r, f->own_config, O_WRONLY, EACCES, 0);
}

static void mount_tmpfs(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "mount tmpfs on `/tmp`", mount("tmpfs", "/tmp", "tmpfs", 0, NULL), EPERM, 0);
}

static void remount_root(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "remount `/` read-only (bind)", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EPERM, 0);
        expect_errno(r, "remount `/` read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL), EPERM, 0);
}

/* Under the jail's /proc lies the host's. */
static void unmount_proc(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "umount `/proc`", umount2("/proc", 0), EPERM, 0);
        expect_errno(r, "umount `/proc` (lazy)", umount2("/proc", MNT_DETACH), EPERM, 0);
}

/* pivot_root(2) checks CAP_SYS_ADMIN (may_mount()) before it looks at its arguments, so
 * EPERM is the privilege check itself. EINVAL, EBUSY or ENOTDIR come from the argument
 * checks after it and would mean the privilege check passed: unproven. The arguments
 * are the pivot_root(".", ".") idiom on /tmp, a mount point, which root would get
 * through. */
static void pivot_root_tmp(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "pivot_root(`/tmp`, `/tmp`)", syscall(SYS_pivot_root, "/tmp", "/tmp"), EPERM, 0);
}

static void chroot_tmp(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "chroot `/tmp`", chroot("/tmp"), EPERM, 0);
}

/* A root-owned mode 4755 binary on a filesystem that honours set-uid: only no_new_privs
 * keeps the exec at euid 1001. */
static void exec_setuid_root(const facts_t *f, result_t *r) {
        char out[32] = "", nnp[16];
        struct statvfs vfs;
        int pipefd[2], status;
        ssize_t n;
        pid_t pid;

        if (statvfs(f->suid, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)) {
                note(r, "`%s` is on a nosuid filesystem", f->suid);
                raise_verdict(r, VERDICT_UNPROVEN);
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                not_tried(r, "pipe");
                return;
        }
        pid = fork();
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                execl(f->suid, f->suid, "euid", (char *) NULL);
                _exit(127);
        }
        if (pid < 0) {
                not_tried(r, "fork");
                (void) close(pipefd[0]);
                (void) close(pipefd[1]);
                return;
        }
        (void) close(pipefd[1]);
        n = read(pipefd[0], out, sizeof(out) - 1);
        (void) close(pipefd[0]);
        (void) waitpid(pid, &status, 0);
        out[n > 0 ? n : 0] = '\0';
        out[strcspn(out, "\n")] = '\0';
        expect_true(r, n > 0 && (uid_t) atoi(out) == getuid(), "euid after exec: %s", n > 0 ? out : "(nothing)");
        status_field("NoNewPrivs", nnp, sizeof(nnp));
        expect_true(r, strcmp(nnp, "1") == 0, "NoNewPrivs %s", nnp);
}

/* Either way no code gets in: EPERM is the CAP_SYS_MODULE / CAP_SYS_BOOT check, ENOSYS a
 * kernel built without modules or kexec (the detail says which). */
static void load_kernel_code(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "init_module", syscall(SYS_init_module, NULL, 0, ""), EPERM, ENOSYS);
        expect_errno(r, "finit_module", syscall(SYS_finit_module, -1, "", 0), EPERM, ENOSYS);
        expect_errno(r, "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM, ENOSYS);
}

static void set_hostname(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "sethostname", sethostname("escaped", 7), EPERM, 0);
}

static void attach(result_t *r, const char *call, pid_t pid, int want) {
        long ret = ptrace(PTRACE_ATTACH, pid, NULL, NULL);

        expect_errno(r, call, ret, want, 0);
        if (ret == 0)
                (void) ptrace(PTRACE_DETACH, pid, NULL, NULL);
}

static void trace_processes(const facts_t *f, result_t *r) {
        char byte;
        struct iovec local = { .iov_base = &byte, .iov_len = 1 };
        struct iovec remote = { .iov_base = (void *) 0x400000, .iov_len = 1 };

        expect_errno(r, "process_vm_readv emperor", process_vm_readv(f->emperor, &local, 1, &remote, 1, 0), ESRCH, 0);
        attach(r, "ptrace attach emperor", f->emperor, ESRCH);
        attach(r, "ptrace attach the jail's init (root)", 1, EPERM);
}

/* Only stdio and the emperor pipe: a leaked directory fd would open the host's tree by
 * openat(fd, "..") (runc CVE-2024-21626), a leaked socket the emperor's. */
static void inventory_fds(const facts_t *f, result_t *r) {
        DIR *d = opendir("/proc/self/fd");
        char fds[512] = "";
        bool only_expected = true;
        struct dirent *e;

        (void) f;
        if (!d) {
                not_tried(r, "opendir `/proc/self/fd`");
                return;
        }
        while ((e = readdir(d))) {
                char path[64], target[256];
                size_t len = strlen(fds);
                ssize_t n;
                int fd;

                if (!is_number(e->d_name) || (fd = atoi(e->d_name)) == dirfd(d))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                n = readlink(path, target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = '\0';
                snprintf(fds + len, sizeof(fds) - len, "%s%d → %s", len ? ", " : "", fd, target);
                if (fd > 3 || (fd == 3 && strncmp(target, "socket:", 7) != 0))
                        only_expected = false;
        }
        closedir(d);
        expect_true(r, only_expected, "%s", fds);
}

/* runc CVE-2019-5736: a jail that can write the runtime's binary owns the next launch.
 * /proc/1/exe is the jail's init, jail-helper run from a sealed memfd. */
static void write_emperor_binary(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->node, O_WRONLY, EACCES, ETXTBSY);
        expect_open_refused(r, "/proc/1/exe", O_WRONLY, EACCES, 0);
        expect_open_refused(r, "/proc/self/exe", O_WRONLY, EACCES, ETXTBSY);
}

/* A project checked out under /tmp is out of sight: the jail's /tmp is its own tmpfs. */
static int hidden_by_private_tmp(const char *path) {
        return strncmp(path, "/tmp/", 5) == 0 ? ENOENT : 0;
}

/* A prebuilt addon has no jail-helper file: it only exists embedded. */
static void write_executor_on_disk(const facts_t *f, result_t *r) {
        if (f->helper)
                expect_open_refused(r, f->helper, O_WRONLY, EACCES, hidden_by_private_tmp(f->helper));
        else
                note(r, "no jail-helper on disk");
        expect_open_refused(r, f->addon, O_WRONLY, EACCES, hidden_by_private_tmp(f->addon));
}

/* /tmp is the jail's own tmpfs, mounted nodev, but mknod(2) asks for CAP_MKNOD first. */
static void make_device_node(const facts_t *f, result_t *r) {
        int ret = mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1));

        (void) f;
        expect_errno(r, "mknod `/tmp/mem` c 1 1", ret, EPERM, 0);
        if (ret == 0)
                (void) unlink("/tmp/mem");
}

static void raise_rlimit(const facts_t *f, result_t *r) {
        struct rlimit lim;
        char call[80];

        (void) f;
        if (getrlimit(RLIMIT_NOFILE, &lim) < 0) {
                not_tried(r, "getrlimit");
                return;
        }
        snprintf(call, sizeof(call), "RLIMIT_NOFILE hard %llu → %llu",
                 (unsigned long long) lim.rlim_max, (unsigned long long) lim.rlim_max + 1);
        lim.rlim_max++;
        lim.rlim_cur = lim.rlim_max;
        expect_errno(r, call, setrlimit(RLIMIT_NOFILE, &lim), EPERM, 0);
}

static void read_through_root_links(const facts_t *f, result_t *r) {
        char target[256];

        (void) f;
        expect_errno(r, "readlink `/proc/1/root`", readlink("/proc/1/root", target, sizeof(target)), EACCES, 0);
        expect_open_refused(r, "/proc/1/root/etc/shadow", O_RDONLY, EACCES, 0);
        expect_open_refused(r, "/etc/shadow", O_RDONLY, EACCES, 0);
}

static void become_root(const facts_t *f, result_t *r) {
        gid_t root = 0;

        (void) f;
        expect_errno(r, "setuid(0)", setuid(0), EPERM, 0);
        expect_errno(r, "setresuid(0, 0, 0)", setresuid(0, 0, 0), EPERM, 0);
        expect_errno(r, "setgid(0)", setgid(0), EPERM, 0);
        expect_errno(r, "setgroups([0])", setgroups(1, &root), EPERM, 0);
}

static void hold_capabilities(const facts_t *f, result_t *r) {
        static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };

        (void) f;
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
                char value[32];

                status_field(sets[i], value, sizeof(value));
                if (value[0] && strtoull(value, NULL, 16) == 0)
                        note(r, "%s 0", sets[i]);
                else
                        expect_true(r, false, "%s %s", sets[i], value[0] ? value : "(absent)");
        }
}

static void see_other_tmp(const facts_t *f, result_t *r) {
        struct stat st;
        struct dirent *e;
        int entries = 0;
        DIR *d;

        expect_errno(r, "stat the host's file", stat(f->host_tmp, &st), ENOENT, 0);
        expect_errno(r, "stat the other jail's `/tmp/other-secret`", stat("/tmp/other-secret", &st), ENOENT, 0);
        d = opendir("/tmp");
        if (!d) {
                not_tried(r, "opendir `/tmp`");
                return;
        }
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        entries++;
        closedir(d);
        expect_true(r, entries == 0, "`/tmp` holds %d entries", entries);
}

static void create_namespaces(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM, 0);
        expect_errno(r, "unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), EPERM, 0);
}

/* The host's namespaces are out of reach (its pids are invisible); the jail's own show
 * that setns() itself is refused. */
static void join_namespaces(const facts_t *f, result_t *r) {
        char path[64];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", f->emperor);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
        expect_open_refused(r, "/proc/1/ns/mnt", O_RDONLY, EACCES, 0);
        fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                not_tried(r, "open `/proc/self/ns/mnt`");
                return;
        }
        expect_errno(r, "setns(own mnt)", setns(fd, CLONE_NEWNS), EPERM, 0);
        (void) close(fd);
}

/* Files that make the kernel run a program as root on the host (core_pattern, modprobe,
 * uevent_helper, cgroup v1 release_agent: CVE-2022-0492) or act on it (sysrq). Opened
 * for writing, never written. */
static void write_kernel_tunables(const facts_t *f, result_t *r) {
        static const char *const paths[] = {
                "/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
                "/sys/kernel/uevent_helper", "/sys/fs/cgroup/release_agent", "/sys/fs/cgroup/memory/release_agent",
        };

        (void) f;
        expect_open_refused_where_present(r, paths, sizeof(paths) / sizeof(paths[0]), O_WRONLY, EACCES);
}

/* Moving into the root cgroup would shed the host's limits. */
static void leave_cgroup(const facts_t *f, result_t *r) {
        static const char *const paths[] = {
                "/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs",
                "/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs",
        };

        (void) f;
        expect_open_refused_where_present(r, paths, sizeof(paths) / sizeof(paths[0]), O_WRONLY, EACCES);
}

/* reboot(2) checks CAP_SYS_BOOT before the magic numbers; the second magic is wrong on
 * purpose, so even a passed check would only give EINVAL. */
static void reboot_host(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "reboot (wrong magic)", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL), EPERM, 0);
}

/* With both arguments NULL the call changes nothing, but still asks for CAP_SYS_TIME. */
static void set_clock(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "settimeofday(NULL, NULL)", syscall(SYS_settimeofday, NULL, NULL), EPERM, 0);
}

/* The "shocker" escape: a file handle opens a file by inode, past every directory
 * permission; it needs CAP_DAC_READ_SEARCH. */
static void open_by_handle(const facts_t *f, result_t *r) {
        struct {
                struct file_handle h;
                unsigned char bytes[MAX_HANDLE_SZ];
        } handle = { .h.handle_bytes = MAX_HANDLE_SZ };
        int mount_id, root, fd;

        (void) f;
        if (name_to_handle_at(AT_FDCWD, "/etc/shadow", &handle.h, &mount_id, 0) < 0) {
                not_tried(r, "name_to_handle_at `/etc/shadow`");
                return;
        }
        root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fd = open_by_handle_at(root, &handle.h, O_RDONLY | O_CLOEXEC);
        expect_errno(r, "open_by_handle_at `/etc/shadow`", fd, EPERM, 0);
        if (fd >= 0)
                (void) close(fd);
        (void) close(root);
}

/* The jail shares the host's /dev: device files are guarded by their modes only. */
static void read_host_disk(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->disk, O_RDONLY, EACCES, 0);
}

/* Documented open: user namespaces are not blocked yet (seccomp will). In a child, so
 * this probe keeps its namespaces. */
static void create_user_namespace(const facts_t *f, result_t *r) {
        int status = 0;
        pid_t pid;

        (void) f;
        pid = fork();
        if (pid == 0)
                _exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
                not_tried(r, "fork");
                return;
        }
        /* The child's errno, carried in its exit status. */
        errno = WEXITSTATUS(status);
        expect_errno(r, "unshare(CLONE_NEWUSER)", errno == 0 ? 0 : -1, EPERM, 0);
}

/* Documented open: only /tmp is private; other world-writable host directories are
 * shared by the host and every jail. */
static void write_shared_dirs(const facts_t *f, result_t *r) {
        static const char *const dirs[] = { "/dev/shm", "/var/tmp" };

        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                char path[128], call[160];
                int fd;

                /* Named after the emperor: every jail's probe is pid 2. */
                snprintf(path, sizeof(path), "%s/jailctl-escape-probe-%d", dirs[i], f->emperor);
                snprintf(call, sizeof(call), "create `%s`", path);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                expect_errno(r, call, fd, EACCES, 0);
                if (fd >= 0) {
                        (void) close(fd);
                        (void) unlink(path);
                }
        }
}

/* Documented open: the network namespace does not cover UNIX sockets on the shared
 * filesystem; their mode decides. */
static void connect_host_unix_socket(const facts_t *f, result_t *r) {
        struct sockaddr_un addr;
        socklen_t len = unix_address(&addr, f->host_socket, false);
        char call[160];

        snprintf(call, sizeof(call), "connect `%s` (mode 0666)", f->host_socket);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, len, EACCES);
}

/* Documented open: vassal files are on the shared filesystem; their mode decides. */
static void read_other_config(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->other_config, O_RDONLY, EACCES, 0);
}

typedef struct {
        const char *id;
        const char *attempt; /* as the table in docs/SECURITY.md says it */
        void (*run)(const facts_t *f, result_t *r);
        bool documented;     /* an open door docs/SECURITY.md lists; reported, not defended */
} attempt_t;

/* In this order on purpose: the /proc and fd inventories come before any attempt that
 * forks or opens, and the /tmp check before any that could create something there. */
static const attempt_t attempts[] = {
        { "proc-pids", "see the host's processes in /proc", see_host_processes, false },
        { "fds", "use an fd inherited from the emperor", inventory_fds, false },
        { "private-tmp", "see the host's /tmp or another jail's", see_other_tmp, false },
        { "kill-emperor", "signal the emperor by its host pid", signal_emperor, false },
        { "kill-tenant", "signal another tenant's jail", signal_other_tenant, false },
        { "emperor-environ", "read the emperor's environment", read_emperor_environ, false },
        { "emperor-cmdline", "read the emperor's command line", read_emperor_cmdline, false },
        { "ptrace", "ptrace or read the memory of the emperor / the jail's init", trace_processes, false },
        { "tcp-loopback", "connect to a TCP server on the host's 127.0.0.1", connect_host_loopback, false },
        { "tcp-outside", "connect to an address outside the host", connect_outside, false },
        { "abstract-socket", "connect to an abstract UNIX socket on the host", connect_abstract_socket, false },
        { "sysv-shm", "attach the host's SysV shared memory", attach_host_shm, false },
        { "stats-socket", "connect to the emperor's stats socket", connect_stats_socket, false },
        { "vassal-dir", "write a vassal file for the emperor", write_vassal_dir, false },
        { "mount", "mount a tmpfs", mount_tmpfs, false },
        { "remount-root", "remount /", remount_root, false },
        { "umount-proc", "unmount /proc to see the host's", unmount_proc, false },
        { "pivot-root", "pivot_root into /tmp", pivot_root_tmp, false },
        { "chroot", "chroot into /tmp", chroot_tmp, false },
        { "setuid-exec", "exec a set-uid root binary", exec_setuid_root, false },
        { "become-root", "setuid(0) and friends", become_root, false },
        { "capabilities", "hold any capability", hold_capabilities, false },
        { "kernel-code", "load a kernel module or kexec a kernel", load_kernel_code, false },
        { "hostname", "set the hostname", set_hostname, false },
        { "emperor-binary", "write the emperor's or the init's executable", write_emperor_binary, false },
        { "executor-on-disk", "write jail-helper or the addon on disk", write_executor_on_disk, false },
        { "mknod", "create a device node (/dev/mem)", make_device_node, false },
        { "raw-disk", "read the host's disk through the shared /dev", read_host_disk, false },
        { "rlimit", "raise a hard resource limit", raise_rlimit, false },
        { "root-links", "reach files through /proc/1/root, read /etc/shadow", read_through_root_links, false },
        { "open-by-handle", "open a file by handle (shocker)", open_by_handle, false },
        { "unshare", "create mount or network namespaces", create_namespaces, false },
        { "setns", "join the emperor's or the init's namespaces", join_namespaces, false },
        { "kernel-tunables", "write core_pattern, sysrq-trigger, release_agent…", write_kernel_tunables, false },
        { "cgroup", "move into the host's root cgroup", leave_cgroup, false },
        { "reboot", "reboot the host", reboot_host, false },
        { "clock", "set the host's clock", set_clock, false },
        { "user-namespace", "create a user namespace", create_user_namespace, true },
        { "shared-dirs", "write a directory shared with the host (/dev/shm, /var/tmp)", write_shared_dirs, true },
        { "host-unix-socket", "connect to a host UNIX socket that is mode 0666", connect_host_unix_socket, true },
        { "other-config", "read another tenant's vassal file (mode 0644)", read_other_config, true },
};

/* ---- main ------------------------------------------------------------------------ */

static const char *fact_optional(int argc, char **argv, const char *key) {
        size_t n = strlen(key);

        for (int i = 1; i < argc; i++)
                if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
                        return argv[i] + n + 1;
        return NULL;
}

static const char *fact(int argc, char **argv, const char *key) {
        const char *v = fact_optional(argc, argv, key);

        if (!v) {
                fprintf(stderr, "probe: missing argument `%s=…`\n", key);
                exit(2);
        }
        return v;
}

static int fact_number(int argc, char **argv, const char *key) {
        const char *v = fact(argc, argv, key);

        if (!is_number(v)) {
                fprintf(stderr, "probe: `%s=%s` is not a number\n", key, v);
                exit(2);
        }
        return atoi(v);
}

static void print_result(const attempt_t *a, const result_t *r) {
        const char *verdict = verdict_names[r->verdict];

        if (a->documented && r->verdict == VERDICT_ESCAPED)
                verdict = "not defended (documented)";
        printf("ESCAPE\t%s\t%s\t%s\t%s\n", a->id, verdict, a->attempt, r->detail);
}

int main(int argc, char **argv) {
        size_t n = sizeof(attempts) / sizeof(attempts[0]);
        facts_t f;

        if (argc == 2 && strcmp(argv[1], "euid") == 0) {
                printf("%u\n", (unsigned) geteuid());
                return 0;
        }
        if (getuid() == 0 || geteuid() == 0) {
                fprintf(stderr, "probe: refusing to run as root: its attempts would act on the host\n");
                return 2;
        }
        f = (facts_t) {
                .emperor = fact_number(argc, argv, "emperor"),
                .tenant_init = fact_number(argc, argv, "tenant"),
                .tenant_vassal = fact_number(argc, argv, "tenant-vassal"),
                .tcp_port = fact_number(argc, argv, "tcp"),
                .abstract = fact(argc, argv, "abstract"),
                .shm_id = fact_number(argc, argv, "shm"),
                .stats = fact(argc, argv, "stats"),
                .vassals = fact(argc, argv, "vassals"),
                .own_config = fact(argc, argv, "config"),
                .other_config = fact(argc, argv, "other-config"),
                .node = fact(argc, argv, "node"),
                .helper = fact_optional(argc, argv, "helper"),
                .addon = fact(argc, argv, "addon"),
                .suid = fact(argc, argv, "suid"),
                .host_tmp = fact(argc, argv, "host-tmp"),
                .host_socket = fact(argc, argv, "host-socket"),
                .disk = fact(argc, argv, "disk"),
        };

        /* One write per line: the emperor's log interleaves other vassals' output. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (size_t i = 0; i < n; i++) {
                result_t r = { .verdict = VERDICT_BLOCKED };

                attempts[i].run(&f, &r);
                print_result(&attempts[i], &r);
        }
        printf("ESCAPE-DONE\t%zu\n", n);
        return EXIT_DO_NOT_RESPAWN;
}
