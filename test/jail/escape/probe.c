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
 * argv: probe KEY=VALUE… (the host facts, see facts_t; with fork-server= and base=, the
 * attempts of a jail adopted from a fork-server base run too), `probe euid` (what the set-uid
 * copy is run with: it prints its effective uid) or `probe unfiltered` (the control for the
 * seccomp attempts, run on the host as the jail's uid: see probe-walls.c). The attempts refuse to run as root: on
 * the host, pivot_root, mount and the rest would act for real. */
#include "probe.h"


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
        { "user-namespace", "create a user namespace", create_user_namespace, false },
        { "shared-dirs", "write a directory shared with the host (/dev/shm, /var/tmp)", write_shared_dirs, true },
        { "host-unix-socket", "connect to a host UNIX socket that is mode 0666", connect_host_unix_socket, true },
        { "other-config", "read another tenant's vassal file (mode 0644)", read_other_config, true },
        /* Added after the documented rows, so that every row keeps its number in docs/SECURITY.md. */
        { "cgroup-limits", "raise its own cgroup's limits", raise_cgroup_limits, false },
        { "cgroup-parent", "move up out of its jail cgroup", leave_jail_cgroup, false },
        { "cgroup-tenant", "move into another tenant's jail cgroup", enter_tenant_cgroup, false },
        { "kernel-interfaces", "keyrings, bpf, perf events, userfaultfd, io_uring", use_kernel_interfaces, false },
        { "tiocsti", "push input into a terminal (TIOCSTI, TIOCLINUX)", push_terminal_input, false },
        { "mount-api", "mount through the new mount API", use_mount_api, false },
        { "clone3", "clone3, with or without CLONE_NEWUSER (fork still works)", use_clone3, false },
        /* An adopted jail only (fork-server= and base= given). */
        { "fork-server", "connect to the fork-server base's socket", connect_fork_server, false, true },
        { "fork-base", "signal, ptrace or read the memory of the fork-server base", reach_fork_base, false, true },
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
        if (argc == 2 && strcmp(argv[1], "unfiltered") == 0)
                return print_unfiltered();
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
                .other_cgroups = fact(argc, argv, "other-cgroups"),
                .unfiltered = fact(argc, argv, "unfiltered"),
                .fork_server = fact_optional(argc, argv, "fork-server"),
                .base = fact_optional(argc, argv, "base") ? fact_number(argc, argv, "base") : 0,
                .shared_markers = fact_optional(argc, argv, "shared-markers"),
        };
        probe_own_root = fact_optional(argc, argv, "root") && strcmp(fact_optional(argc, argv, "root"), "own") == 0;
        size_t ran = 0;

        /* One write per line: the emperor's log interleaves other vassals' output. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (size_t i = 0; i < n; i++) {
                result_t r = { .verdict = VERDICT_BLOCKED };

                if (attempts[i].adopted && !f.fork_server)
                        continue;
                attempts[i].run(&f, &r);
                print_result(&attempts[i], &r);
                ran++;
        }
        printf("ESCAPE-DONE\t%zu\n", ran);
        return EXIT_DO_NOT_RESPAWN;
}

