/* probe-walls.c: attempts on the jail's own cgroup and on its seccomp filter.
 *
 * A call the filter refuses answers EPERM (clone3: ENOSYS) before the kernel looks at it,
 * but a missing capability or a sysctl can give the same EPERM without any filter. So
 * each filtered call is also made on the host, as the same uid and without the filter
 * (`probe unfiltered`, run by the test): a call proves the filter only where that
 * control answered something else. The control's answers come in as `unfiltered=`. */
#include "probe.h" /* first: it defines _GNU_SOURCE */

#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <spawn.h>
#include <sys/ioctl.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef TIOCL_GETSHIFTSTATE
#define TIOCL_GETSHIFTSTATE 6
#endif

/* TIOCSTI with bit 32 set: the kernel reads an ioctl request as 32 bits, so this is TIOCSTI
 * to it, and a filter comparing all 64 would let it through. */
#define TIOCSTI_HIGH (0x100000000UL | TIOCSTI)

extern char **environ;

/* ---- the jail's cgroup --------------------------------------------------------------- */

/* The directory of this process's cgroup in `controller`'s v1 hierarchy, or with "" in the
 * unified one, from /proc/self/cgroup; false if the hierarchy is not there. The host's
 * layout is assumed (v1 at /sys/fs/cgroup/NAME, cgroup2 at /sys/fs/cgroup/unified on a
 * hybrid host, at /sys/fs/cgroup on a pure v2 one): the jail shares its /sys and has no
 * cgroup namespace, so its paths are the host's. */
static bool own_cgroup(const char *controller, char *ret_dir, size_t size, char *ret_path, size_t path_size) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        size_t clen = strlen(controller);
        bool found = false;
        char line[512];

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                struct stat st;

                if (!b)
                        continue;
                b[strcspn(b, "\n")] = '\0';
                if ((size_t) (b - a - 1) != clen || strncmp(a + 1, controller, clen) != 0)
                        continue;
                if (clen > 0)
                        snprintf(ret_dir, size, "/sys/fs/cgroup/%s%s", controller, b + 1);
                else if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
                        snprintf(ret_dir, size, "/sys/fs/cgroup%s", b + 1);
                else
                        snprintf(ret_dir, size, "/sys/fs/cgroup/unified%s", b + 1);
                snprintf(ret_path, path_size, "%s", b + 1);
                found = stat(ret_dir, &st) == 0 && S_ISDIR(st.st_mode);
        }
        fclose(f);
        return found;
}

/* Opens `dir`/`file` for writing (never writes) and judges it by expect_errno(): EACCES,
 * the mode of a file root owns. The call names the hierarchy (`label`) and the file,
 * after `…/` and the last directory of `dir` when `with_dir`, never the long path. */
static void expect_cgroup_file_refused(result_t *r, const char *label, const char *dir, const char *file, bool with_dir, bool optional) {
        const char *base = strrchr(dir, '/');
        char path[600], shown[200], call[300];
        struct stat st;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (with_dir && base)
                snprintf(shown, sizeof(shown), "…%s/%s", base, file);
        else
                snprintf(shown, sizeof(shown), "%s", file);
        if (optional && stat(path, &st) < 0 && errno == ENOENT) {
                note(r, "%s `%s`: absent", label, shown);
                return;
        }
        snprintf(call, sizeof(call), "open %s `%s` for writing", label, shown);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        expect_errno(r, call, fd, EACCES, 0);
        if (fd >= 0)
                (void) close(fd);
}

/* The hierarchies a jail cgroup is in: the limits the emperor writes live in these. */
static const struct { const char *controller, *label; } hierarchies[] = {
        { "", "unified" }, { "pids", "v1 pids" }, { "memory", "v1 memory" },
};
#define N_HIERARCHIES (sizeof(hierarchies) / sizeof(hierarchies[0]))

/* Each hierarchy's own cgroup, or "" where it is not mounted. A jail that sits in a root
 * cgroup (path `/`) has no cgroup of its own, so nothing here would be proven. */
static bool jail_cgroups(result_t *r, char dirs[N_HIERARCHIES][400]) {
        bool any = false;

        for (size_t i = 0; i < N_HIERARCHIES; i++) {
                char path[400];

                if (!own_cgroup(hierarchies[i].controller, dirs[i], sizeof(dirs[i]), path, sizeof(path))) {
                        dirs[i][0] = '\0';
                        continue;
                }
                if (strcmp(path, "/") == 0) {
                        note(r, "%s: in the root cgroup, not one of its own", hierarchies[i].label);
                        raise_verdict(r, VERDICT_UNPROVEN);
                        dirs[i][0] = '\0';
                        continue;
                }
                any = true;
        }
        if (!any) {
                struct stat st;

                /* A root of its own without a cgroup filesystem: no cgroup file to reach. */
                if (probe_own_root && stat("/sys/fs/cgroup", &st) < 0 && errno == ENOENT) {
                        note(r, "no cgroup filesystem in the jail's own root (/sys/fs/cgroup: ENOENT)");
                        return false;
                }
                note(r, "no cgroup of its own found in /proc/self/cgroup");
                raise_verdict(r, VERDICT_UNPROVEN);
        }
        return any;
}

/* The limits the emperor wrote are root's files in the jail's own cgroup; so is
 * cgroup.subtree_control, which would hand controllers to cgroups the jail makes. */
void raise_cgroup_limits(const facts_t *f, result_t *r) {
        char dirs[N_HIERARCHIES][400];
        bool pids = false, memory = false;

        (void) f;
        if (!jail_cgroups(r, dirs))
                return;
        for (size_t i = 0; i < N_HIERARCHIES; i++) {
                const char *label = hierarchies[i].label, *controller = hierarchies[i].controller;
                char probe[600];
                struct stat st;

                if (!dirs[i][0])
                        continue;
                if (controller[0] == '\0') {
                        expect_cgroup_file_refused(r, label, dirs[i], "cgroup.subtree_control", false, false);
                        /* On a hybrid host the controllers are bound to v1: no pids.max here. */
                        snprintf(probe, sizeof(probe), "%.400s/pids.max", dirs[i]);
                        pids |= stat(probe, &st) == 0;
                        snprintf(probe, sizeof(probe), "%.400s/memory.max", dirs[i]);
                        memory |= stat(probe, &st) == 0;
                        expect_cgroup_file_refused(r, label, dirs[i], "pids.max", false, true);
                        expect_cgroup_file_refused(r, label, dirs[i], "memory.max", false, true);
                } else if (strcmp(controller, "pids") == 0) {
                        expect_cgroup_file_refused(r, label, dirs[i], "pids.max", false, false);
                        pids = true;
                } else {
                        expect_cgroup_file_refused(r, label, dirs[i], "memory.limit_in_bytes", false, false);
                        memory = true;
                }
        }
        if (!pids || !memory) {
                note(r, "no %s limit file found", !pids ? "pids" : "memory");
                raise_verdict(r, VERDICT_UNPROVEN);
        }
}

/* Out of its jail cgroup and into the one above it (the emperor's `vassals`), which has
 * none of the jail's limits. A move needs write access to the destination's cgroup.procs. */
void leave_jail_cgroup(const facts_t *f, result_t *r) {
        char dirs[N_HIERARCHIES][400];

        (void) f;
        if (!jail_cgroups(r, dirs))
                return;
        for (size_t i = 0; i < N_HIERARCHIES; i++) {
                char *slash = strrchr(dirs[i], '/');

                if (!dirs[i][0] || !slash)
                        continue;
                *slash = '\0';
                expect_cgroup_file_refused(r, hierarchies[i].label, dirs[i], "cgroup.procs", true, false);
        }
}

/* The other tenant's jail cgroup is a sibling of this one, its directory in plain sight
 * (no cgroup namespace): what keeps this jail out is the mode of its cgroup.procs, so
 * EACCES proves it; ENOENT would only say the path was wrong. */
void enter_tenant_cgroup(const facts_t *f, result_t *r) {
        char dirs[N_HIERARCHIES][400], list[2048], *save = NULL;
        size_t tried = 0;

        if (!jail_cgroups(r, dirs))
                return;
        snprintf(list, sizeof(list), "%s", f->other_cgroups);
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                const char *base = strrchr(dir, '/'), *label = NULL;

                /* Noted by the hierarchy of this jail's cgroup it is a sibling of. */
                for (size_t i = 0; i < N_HIERARCHIES && !label; i++) {
                        const char *own = strrchr(dirs[i], '/');

                        if (dirs[i][0] && own && base && own - dirs[i] == base - dir && strncmp(dirs[i], dir, (size_t) (own - dirs[i])) == 0)
                                label = hierarchies[i].label;
                }
                if (!label) {
                        note(r, "`%s`: not a sibling of this jail's cgroups", dir);
                        raise_verdict(r, VERDICT_UNPROVEN);
                        continue;
                }
                expect_cgroup_file_refused(r, label, dir, "cgroup.procs", true, false);
                tried++;
        }
        if (tried == 0) {
                note(r, "no cgroup of the other tenant given");
                raise_verdict(r, VERDICT_UNPROVEN);
        }
}

/* ---- the filter ---------------------------------------------------------------------- */

/* Each call returns 0 (it worked; what it made is closed) or its errno. */
static int result_of(long ret) {
        return ret < 0 ? errno : 0;
}

static int closed(long fd) {
        int err = fd < 0 ? errno : 0;

        if (fd >= 0)
                (void) close((int) fd);
        return err;
}

static int call_keyctl(void) {
        return result_of(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

/* Into the process keyring, which goes with the process. */
static int call_add_key(void) {
        return result_of(syscall(SYS_add_key, "user", "jailctl-escape-probe", "x", (size_t) 1, KEY_SPEC_PROCESS_KEYRING));
}

/* No such key: ENOKEY without the filter. */
static int call_request_key(void) {
        return result_of(syscall(SYS_request_key, "user", "jailctl-escape-none", NULL, 0));
}

/* A map type no kernel has: EINVAL without the filter. A valid map is no proof on a host
 * with kernel.unprivileged_bpf_disabled set: the kernel answers EPERM to it itself. */
static int call_bpf_bad_map(void) {
        struct { uint32_t map_type, key_size, value_size, max_entries; } attr = { 0x7fffffff, 4, 4, 1 };
        unsigned char buf[128] = { 0 };

        memcpy(buf, &attr, sizeof(attr));
        return closed(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, buf, sizeof(buf)));
}

static int call_bpf_array_map(void) {
        struct { uint32_t map_type, key_size, value_size, max_entries; } attr = { 2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1 };
        unsigned char buf[128] = { 0 };

        memcpy(buf, &attr, sizeof(attr));
        return closed(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, buf, sizeof(buf)));
}

/* Its own task clock, user space only: what perf_event_paranoid 2 still allows. */
static int call_perf_event_open(void) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr), .config = PERF_COUNT_SW_TASK_CLOCK,
                .disabled = 1, .exclude_kernel = 1, .exclude_hv = 1,
        };

        return closed(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

/* User-mode faults only: allowed whatever vm.unprivileged_userfaultfd says. */
static int call_userfaultfd(void) {
        return closed(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
}

static int call_io_uring_setup(void) {
        struct io_uring_params params = { 0 };

        return closed(syscall(SYS_io_uring_setup, 1, &params));
}

/* fd 0 is /dev/null in the jail and a pipe in the control: ENOTTY there. */
static int call_tiocsti_fd0(void) {
        char c = ' ';
        return result_of(syscall(SYS_ioctl, 0, (unsigned long) TIOCSTI, &c));
}

static int call_tioclinux_fd0(void) {
        char sub = TIOCL_GETSHIFTSTATE;
        return result_of(syscall(SYS_ioctl, 0, (unsigned long) TIOCLINUX, &sub));
}

static int call_tiocsti_high_fd0(void) {
        char c = ' ';
        return result_of(syscall(SYS_ioctl, 0, TIOCSTI_HIGH, &c));
}

/* In a child of its own session, a pty opened from /dev/ptmx whose slave becomes the
 * controlling terminal: TIOCSTI on it needs no capability (dev.tty.legacy_tiocsti 1).
 * The child's errno comes back as its exit status; 255 is a setup step that failed. */
static int on_own_pty(unsigned long request, char arg) {
        int status = 0;
        pid_t pid = fork();

        if (pid == 0) {
                char c = arg, *name;
                int master, slave;

                if (setsid() < 0 || (master = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || grantpt(master) < 0 ||
                    unlockpt(master) < 0 || !(name = ptsname(master)) || (slave = open(name, O_RDWR)) < 0)
                        _exit(255);
                _exit(syscall(SYS_ioctl, slave, request, &c) < 0 ? (errno & 0xff) : 0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
                return ECHILD;
        return WEXITSTATUS(status) == 255 ? ENXIO : WEXITSTATUS(status);
}

static int call_tiocsti_pty(void) {
        return on_own_pty(TIOCSTI, ' ');
}

static int call_tioclinux_pty(void) {
        return on_own_pty(TIOCLINUX, TIOCL_GETSHIFTSTATE);
}

static int call_tiocsti_high_pty(void) {
        return on_own_pty(TIOCSTI_HIGH, ' ');
}

static int call_fsopen(void) {
        return closed(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
}

/* Without OPEN_TREE_CLONE this is an O_PATH open of `/tmp`, which needs no capability:
 * it works without the filter. With it, it would copy the mount for move_mount. */
static int call_open_tree(void) {
        return closed(syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLOEXEC));
}

static int call_open_tree_clone(void) {
        return closed(syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLOEXEC | OPEN_TREE_CLONE));
}

/* Raw clone3; a child exits at once and is reaped. */
static int clone3_with(uint64_t flags) {
        struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
                .flags = flags, .exit_signal = SIGCHLD,
        };
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        int err = errno;

        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return err;
        (void) waitpid((pid_t) pid, NULL, 0);
        return 0;
}

static int call_clone3(void) {
        return clone3_with(0);
}

static int call_clone3_newuser(void) {
        return clone3_with(CLONE_NEWUSER);
}

typedef struct {
        const char *id;    /* as `probe unfiltered` prints it and `unfiltered=` gives it back */
        const char *call;  /* as the detail column says it */
        int (*run)(void);
        int want;
        /* The calls that may prove it when its control says the same as the filter (a
         * capability or sysctl refuses it too): those of the same system call, or of
         * the same interface where no call of its own can show the filter (fsopen). */
        const char *group;
} filtered_call_t;

static const filtered_call_t kernel_calls[] = {
        { "keyctl", "keyctl(KEYCTL_GET_KEYRING_ID, session)", call_keyctl, EPERM, "keyctl" },
        { "add_key", "add_key(user, process keyring)", call_add_key, EPERM, "add_key" },
        { "request_key", "request_key(user, absent key)", call_request_key, EPERM, "request_key" },
        { "bpf", "bpf(BPF_MAP_CREATE, unknown type)", call_bpf_bad_map, EPERM, "bpf" },
        { "bpf-array", "bpf(BPF_MAP_CREATE, array)", call_bpf_array_map, EPERM, "bpf" },
        { "perf_event_open", "perf_event_open(own task clock, user only)", call_perf_event_open, EPERM, "perf_event_open" },
        { "userfaultfd", "userfaultfd(UFFD_USER_MODE_ONLY)", call_userfaultfd, EPERM, "userfaultfd" },
        { "io_uring_setup", "io_uring_setup(1)", call_io_uring_setup, EPERM, "io_uring_setup" },
};

static const filtered_call_t tty_calls[] = {
        { "tiocsti-0", "ioctl(0, TIOCSTI)", call_tiocsti_fd0, EPERM, "TIOCSTI" },
        { "tioclinux-0", "ioctl(0, TIOCLINUX)", call_tioclinux_fd0, EPERM, "TIOCLINUX" },
        { "tiocsti-high-0", "ioctl(0, 0x100005412)", call_tiocsti_high_fd0, EPERM, "TIOCSTI high" },
        { "tiocsti-pty", "ioctl(own pty, TIOCSTI)", call_tiocsti_pty, EPERM, "TIOCSTI" },
        { "tioclinux-pty", "ioctl(own pty, TIOCLINUX)", call_tioclinux_pty, EPERM, "TIOCLINUX" },
        { "tiocsti-high-pty", "ioctl(own pty, 0x100005412)", call_tiocsti_high_pty, EPERM, "TIOCSTI high" },
};

static const filtered_call_t mount_calls[] = {
        /* fsopen asks for CAP_SYS_ADMIN before it reads an argument: refused without the
         * filter too. What shows the filter on this API is open_tree, which the kernel
         * allows without OPEN_TREE_CLONE. */
        { "fsopen", "fsopen(tmpfs)", call_fsopen, EPERM, "mount API" },
        { "open_tree", "open_tree(`/tmp`)", call_open_tree, EPERM, "mount API" },
        { "open_tree-clone", "open_tree(`/tmp`, OPEN_TREE_CLONE)", call_open_tree_clone, EPERM, "mount API" },
};

static const filtered_call_t clone3_calls[] = {
        { "clone3", "clone3()", call_clone3, ENOSYS, "clone3" },
        { "clone3-newuser", "clone3(CLONE_NEWUSER)", call_clone3_newuser, ENOSYS, "clone3" },
};

#define LIST(a) { a, sizeof(a) / sizeof(a[0]) }
static const struct { const filtered_call_t *calls; size_t n; } all_calls[] = {
        LIST(kernel_calls), LIST(tty_calls), LIST(mount_calls), LIST(clone3_calls),
};

static const char *result_name(int err) {
        const char *name;

        if (err == 0)
                return "succeeded";
        name = strerrorname_np(err);
        return name ? name : "unknown errno";
}

/* What the control answered for `id` ("succeeded" or an errno name), or NULL. */
static const char *control_of(const facts_t *f, const char *id, char *buf, size_t size) {
        size_t n = strlen(id);

        for (const char *p = f->unfiltered; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, id, n) == 0 && p[n] == ':') {
                        snprintf(buf, size, "%.*s", (int) strcspn(p + n + 1, ","), p + n + 1);
                        return buf;
                }
        return NULL;
}

/* The jail's filter, as /proc/self/status shows it: mode 2 (filter) and at least one. */
static void expect_filter_loaded(result_t *r) {
        char mode[16], filters[16];

        status_field("Seccomp", mode, sizeof(mode));
        status_field("Seccomp_filters", filters, sizeof(filters));
        note(r, "Seccomp %s, Seccomp_filters %s", mode[0] ? mode : "(absent)", filters[0] ? filters : "(absent)");
        if (strcmp(mode, "2") != 0 || !is_number(filters) || atoi(filters) < 1)
                raise_verdict(r, VERDICT_UNPROVEN);
}

/* Each call must give its errno here, and the control something else: only then is the
 * errno the filter's. A call the control saw refused the same way proves nothing on its
 * own (a capability or a sysctl refuses it too) and is noted so; then another call of its
 * group must carry the proof. Without the filter loaded nothing is proven. */
static bool proves(const facts_t *f, const filtered_call_t *c) {
        char control[32];
        const char *seen = control_of(f, c->id, control, sizeof(control));

        return seen && strcmp(seen, result_name(c->want)) != 0;
}

static void expect_filtered(const facts_t *f, result_t *r, const filtered_call_t *calls, size_t n) {
        expect_filter_loaded(r);
        for (size_t i = 0; i < n; i++) {
                const filtered_call_t *c = &calls[i];
                char control[32];
                const char *seen = control_of(f, c->id, control, sizeof(control));
                int err = c->run();
                bool proven = proves(f, c);

                for (size_t j = 0; j < n && !proven; j++)
                        proven = j != i && strcmp(c->group, calls[j].group) == 0 && proves(f, &calls[j]);
                if (!seen || proves(f, c))
                        note(r, "%s: %s (unfiltered: %s)", c->call, result_name(err), seen ? seen : "no control");
                else
                        note(r, "%s: %s (unfiltered: %s, %s)", c->call, result_name(err), seen,
                             proven ? "the proof is another call's" : "no proof");
                if (err == 0)
                        raise_verdict(r, VERDICT_ESCAPED);
                else if (err != c->want || !proven)
                        raise_verdict(r, VERDICT_UNPROVEN);
        }
}

void use_kernel_interfaces(const facts_t *f, result_t *r) {
        expect_filtered(f, r, kernel_calls, sizeof(kernel_calls) / sizeof(kernel_calls[0]));
}

void push_terminal_input(const facts_t *f, result_t *r) {
        expect_filtered(f, r, tty_calls, sizeof(tty_calls) / sizeof(tty_calls[0]));
}

void use_mount_api(const facts_t *f, result_t *r) {
        expect_filtered(f, r, mount_calls, sizeof(mount_calls) / sizeof(mount_calls[0]));
}

/* clone3 refused whole, and still every ordinary way to a new process works: fork
 * (glibc's is clone), and posix_spawn, which tries clone3 first and takes ENOSYS as
 * "use clone". */
void use_clone3(const facts_t *f, result_t *r) {
        char *const argv[] = { "true", NULL };
        int status = -1;
        bool ok;
        pid_t pid;

        expect_filtered(f, r, clone3_calls, sizeof(clone3_calls) / sizeof(clone3_calls[0]));
        pid = fork();
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                (void) waitpid(pid, &status, 0);
        ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        note(r, "fork: %s", ok ? "works" : "failed");
        if (!ok)
                raise_verdict(r, VERDICT_UNPROVEN);
        status = -1;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0)
                (void) waitpid(pid, &status, 0);
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        note(r, "posix_spawn `/bin/true`: %s", ok ? "works" : "failed");
        if (!ok)
                raise_verdict(r, VERDICT_UNPROVEN);
}

/* ---- the control --------------------------------------------------------------------- */

/* `probe unfiltered`: every filtered call, run here (on the host, as the jail's uid, no
 * filter), one `id <TAB> result` line each. */
int print_unfiltered(void) {
        for (size_t l = 0; l < sizeof(all_calls) / sizeof(all_calls[0]); l++)
                for (size_t i = 0; i < all_calls[l].n; i++)
                        printf("%s\t%s\n", all_calls[l].calls[i].id, result_name(all_calls[l].calls[i].run()));
        return 0;
}
