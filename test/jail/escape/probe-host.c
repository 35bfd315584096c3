/* probe-host.c: attempts on the host's processes, network, IPC and the emperor. */
#include "probe.h"

/* ---- the attempts ---------------------------------------------------------------- */

/* True for this probe and the processes it runs under, up to the jail's init: a spawned
 * probe is the init's child; an adopted one runs under the vassal's master and worker. */
static bool is_ours(pid_t pid) {
        pid_t p = getpid();

        for (int depth = 0; p > 1 && depth < 16; depth++) {
                char path[64], stat[512], *close_paren;
                int fd, ppid;
                ssize_t n;

                if (p == pid)
                        return true;
                snprintf(path, sizeof(path), "/proc/%d/stat", p);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return false;
                n = read(fd, stat, sizeof(stat) - 1);
                (void) close(fd);
                stat[n > 0 ? n : 0] = '\0';
                close_paren = strrchr(stat, ')');
                if (!close_paren || sscanf(close_paren + 2, "%*c %d", &ppid) != 1)
                        return false;
                p = ppid;
        }
        return pid == 1;
}

void see_host_processes(const facts_t *f, result_t *r) {
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
                        if (!is_ours(pid))
                                only_ours = false;
                }
        closedir(d);
        expect_true(r, only_ours, "/proc lists pids %s (the jail's init, this probe %d and what it runs under)", pids, getpid());
}

void signal_emperor(const facts_t *f, result_t *r) {
        expect_errno(r, "kill(emperor, SIGTERM)", kill(f->emperor, SIGTERM), ESRCH, 0);
        expect_errno(r, "kill(emperor, 0)", kill(f->emperor, 0), ESRCH, 0);
        expect_errno(r, "pidfd_open(emperor)", syscall(SYS_pidfd_open, f->emperor, 0), ESRCH, 0);
}

void signal_other_tenant(const facts_t *f, result_t *r) {
        expect_errno(r, "kill(its init, SIGTERM)", kill(f->tenant_init, SIGTERM), ESRCH, 0);
        expect_errno(r, "kill(its program, SIGKILL)", kill(f->tenant_vassal, SIGKILL), ESRCH, 0);
}

void read_emperor_environ(const facts_t *f, result_t *r) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/environ", f->emperor);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
}

void read_emperor_cmdline(const facts_t *f, result_t *r) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/cmdline", f->emperor);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
}

/* The jail's 127.0.0.1 is its own `lo`: the host's server is not on it. */
void connect_host_loopback(const facts_t *f, result_t *r) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(f->tcp_port) };
        char call[64];

        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        snprintf(call, sizeof(call), "connect 127.0.0.1:%d", f->tcp_port);
        expect_connect_refused(r, call, (struct sockaddr *) &addr, sizeof(addr), ECONNREFUSED);
}

/* 192.0.2.1 is TEST-NET-1 (RFC 5737): no packet could go anywhere even if one left. */
void connect_outside(const facts_t *f, result_t *r) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(9) };

        (void) f;
        inet_pton(AF_INET, "192.0.2.1", &addr.sin_addr);
        expect_connect_refused(r, "connect 192.0.2.1:9", (struct sockaddr *) &addr, sizeof(addr), ENETUNREACH);
}

/* Abstract UNIX names belong to a network namespace, not to the filesystem. */
void connect_abstract_socket(const facts_t *f, result_t *r) {
        expect_unix_connect_refused(r, f->abstract, true, "", ECONNREFUSED);
}

/* EINVAL: no segment with that id in this IPC namespace (the host's is mode 0666, so
 * EACCES would mean it was found). */
void attach_host_shm(const facts_t *f, result_t *r) {
        void *p = shmat(f->shm_id, NULL, SHM_RDONLY);
        char call[64];

        snprintf(call, sizeof(call), "shmat(%d)", f->shm_id);
        expect_errno(r, call, p == (void *) -1 ? -1 : 0, EINVAL, 0);
        if (p != (void *) -1)
                (void) shmdt(p);
}

void connect_stats_socket(const facts_t *f, result_t *r) {
        expect_unix_connect_refused(r, f->stats, false, "", EACCES);
}

/* A new file there would be launched by the emperor, as root if it says so. */
void write_vassal_dir(const facts_t *f, result_t *r) {
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

void mount_tmpfs(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "mount tmpfs on `/tmp`", mount("tmpfs", "/tmp", "tmpfs", 0, NULL), EPERM, 0);
}

void remount_root(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "remount `/` read-only (bind)", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EPERM, 0);
        expect_errno(r, "remount `/` read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL), EPERM, 0);
}

/* Under the jail's /proc lies the host's. */
void unmount_proc(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "umount `/proc`", umount2("/proc", 0), EPERM, 0);
        expect_errno(r, "umount `/proc` (lazy)", umount2("/proc", MNT_DETACH), EPERM, 0);
}

/* pivot_root(2) checks CAP_SYS_ADMIN (may_mount()) before it looks at its arguments, so
 * EPERM is the privilege check itself. EINVAL, EBUSY or ENOTDIR come from the argument
 * checks after it and would mean the privilege check passed: unproven. The arguments
 * are the pivot_root(".", ".") idiom on /tmp, a mount point, which root would get
 * through. */
void pivot_root_tmp(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "pivot_root(`/tmp`, `/tmp`)", syscall(SYS_pivot_root, "/tmp", "/tmp"), EPERM, 0);
}

void chroot_tmp(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "chroot `/tmp`", chroot("/tmp"), EPERM, 0);
}

/* A root-owned mode 4755 binary on a filesystem that honours set-uid: only no_new_privs
 * keeps the exec at euid 1001. */
void exec_setuid_root(const facts_t *f, result_t *r) {
        char out[32] = "", nnp[16];
        struct statvfs vfs;
        int pipefd[2], status;
        ssize_t n;
        pid_t pid;

        /* On the host's filesystem nosuid would hide what no_new_privs does; in a root of
         * its own every bind is nosuid, a defence of its own (the exec is made anyway). */
        if (statvfs(f->suid, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)) {
                note(r, "`%s` is on a nosuid filesystem%s", f->suid, probe_own_root ? " (every bind into the jail's own root is)" : "");
                if (!probe_own_root)
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
void load_kernel_code(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "init_module", syscall(SYS_init_module, NULL, 0, ""), EPERM, ENOSYS);
        expect_errno(r, "finit_module", syscall(SYS_finit_module, -1, "", 0), EPERM, ENOSYS);
        expect_errno(r, "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM, ENOSYS);
}

void set_hostname(const facts_t *f, result_t *r) {
        (void) f;
        expect_errno(r, "sethostname", sethostname("escaped", 7), EPERM, 0);
}

void attach(result_t *r, const char *call, pid_t pid, int want) {
        long ret = ptrace(PTRACE_ATTACH, pid, NULL, NULL);

        expect_errno(r, call, ret, want, 0);
        if (ret == 0)
                (void) ptrace(PTRACE_DETACH, pid, NULL, NULL);
}

void trace_processes(const facts_t *f, result_t *r) {
        char byte;
        struct iovec local = { .iov_base = &byte, .iov_len = 1 };
        struct iovec remote = { .iov_base = (void *) 0x400000, .iov_len = 1 };

        expect_errno(r, "process_vm_readv emperor", process_vm_readv(f->emperor, &local, 1, &remote, 1, 0), ESRCH, 0);
        attach(r, "ptrace attach emperor", f->emperor, ESRCH);
        attach(r, "ptrace attach the jail's init (root)", 1, EPERM);
}

/* Only stdio and the emperor pipe: a leaked directory fd would open the host's tree by
 * openat(fd, "..") (runc CVE-2024-21626), a leaked socket the emperor's. */
void inventory_fds(const facts_t *f, result_t *r) {
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

/* An adopted jail: the base that forked it runs as root with every capability and forks
 * whatever a request says. Its socket's directory is root's, mode 0700; the base answers
 * only its parent, the emperor, anyway (SO_PEERCRED). */
void connect_fork_server(const facts_t *f, result_t *r) {
        expect_unix_connect_refused(r, f->fork_server, false, "", EACCES);
}

/* The base holds every tenant's code and data in its memory, and it is the jail's
 * grandparent: it must be out of sight (the jail's pid namespace) and out of reach. */
void reach_fork_base(const facts_t *f, result_t *r) {
        char path[64];

        expect_errno(r, "kill(base, 0)", kill(f->base, 0), ESRCH, 0);
        expect_errno(r, "pidfd_open(base)", syscall(SYS_pidfd_open, f->base, 0), ESRCH, 0);
        snprintf(path, sizeof(path), "/proc/%d/mem", f->base);
        expect_open_refused(r, path, O_RDONLY, ENOENT, 0);
        attach(r, "ptrace(base)", f->base, ESRCH);
}
