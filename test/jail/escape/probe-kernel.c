/* probe-kernel.c: attempts on the kernel, the filesystem and privileges. */
#include "probe.h"

void write_emperor_binary(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->node, O_WRONLY, EACCES, ETXTBSY);
        expect_open_refused(r, "/proc/1/exe", O_WRONLY, EACCES, 0);
        expect_open_refused(r, "/proc/self/exe", O_WRONLY, EACCES, ETXTBSY);
}

/* A project checked out under /tmp is out of sight: the jail's /tmp is its own tmpfs. */
int hidden_by_private_tmp(const char *path) {
        return strncmp(path, "/tmp/", 5) == 0 ? ENOENT : 0;
}

/* A prebuilt addon has no jail-helper file: it only exists embedded. */
void write_executor_on_disk(const facts_t *f, result_t *r) {
        if (f->helper)
                expect_open_refused(r, f->helper, O_WRONLY, EACCES, hidden_by_private_tmp(f->helper));
        else
                note(r, "no jail-helper on disk");
        expect_open_refused(r, f->addon, O_WRONLY, EACCES, hidden_by_private_tmp(f->addon));
}

/* /tmp is the jail's own tmpfs, mounted nodev, but mknod(2) asks for CAP_MKNOD first. */
void make_device_node(const facts_t *f, result_t *r) {
        int ret = mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1));

        (void) f;
        expect_errno(r, "mknod `/tmp/mem` c 1 1", ret, EPERM, 0);
        if (ret == 0)
                (void) unlink("/tmp/mem");
}

void raise_rlimit(const facts_t *f, result_t *r) {
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

void read_through_root_links(const facts_t *f, result_t *r) {
        char target[256];

        (void) f;
        expect_errno(r, "readlink `/proc/1/root`", readlink("/proc/1/root", target, sizeof(target)), EACCES, 0);
        expect_open_refused(r, "/proc/1/root/etc/shadow", O_RDONLY, EACCES, 0);
        expect_open_refused(r, "/etc/shadow", O_RDONLY, EACCES, 0);
}

void become_root(const facts_t *f, result_t *r) {
        gid_t root = 0;

        (void) f;
        expect_errno(r, "setuid(0)", setuid(0), EPERM, 0);
        expect_errno(r, "setresuid(0, 0, 0)", setresuid(0, 0, 0), EPERM, 0);
        expect_errno(r, "setgid(0)", setgid(0), EPERM, 0);
        expect_errno(r, "setgroups([0])", setgroups(1, &root), EPERM, 0);
}

void hold_capabilities(const facts_t *f, result_t *r) {
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

void see_other_tmp(const facts_t *f, result_t *r) {
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

void create_namespaces(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM, 0);
        expect_errno(r, "unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), EPERM, 0);
}

/* The host's namespaces are out of reach (its pids are invisible); the jail's own show
 * that setns() itself is refused. */
void join_namespaces(const facts_t *f, result_t *r) {
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
void write_kernel_tunables(const facts_t *f, result_t *r) {
        static const char *const paths[] = {
                "/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
                "/sys/kernel/uevent_helper", "/sys/fs/cgroup/release_agent", "/sys/fs/cgroup/memory/release_agent",
        };

        (void) f;
        expect_open_refused_where_present(r, paths, sizeof(paths) / sizeof(paths[0]), O_WRONLY, EACCES);
}

/* Moving into the root cgroup would shed the host's limits. */
void leave_cgroup(const facts_t *f, result_t *r) {
        static const char *const paths[] = {
                "/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/unified/cgroup.procs",
                "/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs",
        };

        (void) f;
        expect_open_refused_where_present(r, paths, sizeof(paths) / sizeof(paths[0]), O_WRONLY, EACCES);
}

/* reboot(2) checks CAP_SYS_BOOT before the magic numbers; the second magic is wrong on
 * purpose, so even a passed check would only give EINVAL. */
void reboot_host(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "reboot (wrong magic)", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL), EPERM, 0);
}

/* With both arguments NULL the call changes nothing, but still asks for CAP_SYS_TIME. */
void set_clock(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "settimeofday(NULL, NULL)", syscall(SYS_settimeofday, NULL, NULL), EPERM, 0);
}

/* The "shocker" escape: a file handle opens a file by inode, past every directory
 * permission; it needs CAP_DAC_READ_SEARCH. */
void open_by_handle(const facts_t *f, result_t *r) {
        struct {
                struct file_handle h;
                unsigned char bytes[MAX_HANDLE_SZ];
        } handle = { .h.handle_bytes = MAX_HANDLE_SZ };
        int mount_id, root, fd;

        /* A root of its own (an overlay gives no handles) holds the host's filesystem only
         * where it is bound in: a handle of a bound file there, opened through that mount. */
        const char *target = probe_own_root ? f->suid : "/etc/shadow";
        char call[160];

        snprintf(call, sizeof(call), "name_to_handle_at `%s`", target);
        if (name_to_handle_at(AT_FDCWD, target, &handle.h, &mount_id, 0) < 0) {
                not_tried(r, call);
                return;
        }
        root = probe_own_root ? open(target, O_PATH | O_CLOEXEC) : open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fd = open_by_handle_at(root, &handle.h, O_RDONLY | O_CLOEXEC);
        snprintf(call, sizeof(call), "open_by_handle_at `%s`", target);
        expect_errno(r, call, fd, EPERM, 0);
        if (fd >= 0)
                (void) close(fd);
        (void) close(root);
}

/* The jail shares the host's /dev: device files are guarded by their modes only. */
void read_host_disk(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->disk, O_RDONLY, EACCES, 0);
}

/* A child in a new user namespace, by raw clone (flags in a register, which the filter
 * reads) or clone3 (flags behind a pointer, which it cannot: refused whole, ENOSYS).
 * Returns the system call's result in the parent: the child's pid, or -1 with errno. */
static long clone_user_namespace(bool v3) {
        struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
                .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD,
        };
        long pid = v3 ? syscall(SYS_clone3, &args, sizeof(args))
                      : syscall(SYS_clone, (unsigned long) CLONE_NEWUSER | SIGCHLD, 0, NULL, NULL, 0);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                (void) waitpid((pid_t) pid, NULL, 0);
        return pid;
}

/* The seccomp filter refuses all three ways to a user namespace: unshare and clone with
 * CLONE_NEWUSER (EPERM), clone3 whatever its flags (ENOSYS). unshare runs in a child, so
 * this probe keeps its namespaces should it work. */
void create_user_namespace(const facts_t *f, result_t *r) {
        int status = 0;
        long ret;
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
        ret = clone_user_namespace(false);
        expect_errno(r, "clone(CLONE_NEWUSER)", ret, EPERM, 0);
        ret = clone_user_namespace(true);
        expect_errno(r, "clone3(CLONE_NEWUSER)", ret, ENOSYS, 0);
}

/* Documented open: only /tmp is private; other world-writable host directories are
 * shared by the host and every jail. Where the host left a marker in each (shared-markers),
 * a directory without it is the jail's own (a root of its own): nothing to try there. */
void write_shared_dirs(const facts_t *f, result_t *r) {
        static const char *const dirs[] = { "/dev/shm", "/var/tmp" };
        const char *marker = f->shared_markers;

        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                char path[128], call[160];
                int fd;

                if (marker) {
                        size_t len = strcspn(marker, ":");
                        snprintf(path, sizeof(path), "%.*s", (int) len, marker);
                        marker = marker[len] ? marker + len + 1 : NULL;
                        if (access(path, F_OK) < 0 && errno == ENOENT) {
                                note(r, "`%s`: the host's marker is not there (this %s is the jail's own)", path, dirs[i]);
                                continue;
                        }
                }

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
void connect_host_unix_socket(const facts_t *f, result_t *r) {
        expect_unix_connect_refused(r, f->host_socket, false, " (mode 0666)", EACCES);
}

/* Documented open: vassal files are on the shared filesystem; their mode decides. */
void read_other_config(const facts_t *f, result_t *r) {
        expect_open_refused(r, f->other_config, O_RDONLY, EACCES, 0);
}

