/* tests/adopt.c: adoptions through the fork server that succeed (tests/emperor.h plays
 * the emperor and runs the base): the whole jail as the vassal sees it, a jail without a
 * pid namespace, the base's prebuilt default filter and a seccomp-deny one the vassal
 * builds itself, a plan over 64 KiB. Needs root; skips (77) without it. */
#include "emperor.h"
#include "cgroups.h"

int main(void) {
        char uni_dir[2300], uni_rel[1200], mem_dir[2300], mem_rel[1200], procs[2400], name[64], want[1300], link[128];
        int uni_fd = -1, mem_fd = -1, extra[2], n_extra = 0;
        bool have_uni, have_mem;
        static plan_t plan;
        adoption_t *a = calloc(1, sizeof(*a));

        emperor_start();
        snprintf(name, sizeof(name), "jailctl-adopt-test-%d", (int) getpid());
        have_uni = make_cgroup("cgroup2", NULL, "", name, uni_dir, sizeof(uni_dir), uni_rel, sizeof(uni_rel));
        if (have_uni)
                uni_fd = open(uni_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        have_mem = make_cgroup("cgroup", "memory", "memory", name, mem_dir, sizeof(mem_dir), mem_rel, sizeof(mem_rel));
        if (have_mem) {
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", mem_dir);
                mem_fd = open(procs, O_WRONLY | O_CLOEXEC);
        }

        /* 1. The whole jail: namespaces, cgroups, credentials, seccomp, fds. */
        base_plan(&plan);
        add(&plan, "env", "FOO=bar baz");
        add(&plan, "ns", "mount");
        add(&plan, "ns", "pid");
        add(&plan, "ns", "uts");
        add(&plan, "ns", "net");
        add(&plan, "ns", "ipc");
        add(&plan, "mount", "proc");
        add(&plan, "mount-dst", "/proc");
        add(&plan, "hostname", "adopted");
        add(&plan, "loopback", "1");
        add(&plan, "uid", "1001");
        add(&plan, "gid", "1002");
        add(&plan, "group", "1003");
        add(&plan, "group", "1004");
        add(&plan, "cap", "10");
        add(&plan, "chdir", "/tmp");
        add(&plan, "oom-score-adj", "123");
        add(&plan, "fd", "1:3");
        add(&plan, "fd", "0:4");
        if (uni_fd >= 0) {
                extra[n_extra] = uni_fd;
                add(&plan, "cgroup", "%d", 3 + n_extra++);
        }
        if (mem_fd >= 0) {
                extra[n_extra] = mem_fd;
                add(&plan, "cgroup-procs", "%d", 3 + n_extra++);
        }
        adopt(&plan, REPORT_ARGV, extra, (size_t) n_extra, a);
        ok(a->pid > 0 && a->pidfd >= 0, "the reply holds a pid and a pidfd (pid %d)", (int) a->pid);
        is(a->pidfd_pid, a->pid, "the pidfd is the pid's");
        is(a->ppid, getpid(), "the jail's top process was reparented to the emperor (the subreaper)");
        ok(a->exec_reached && !a->failed && a->eof, "records end with exec, then EOF (failed %d: stage %u errno %d)",
           a->failed, a->err.stage, a->err.errnum);
        ok(a->serve > 0 && a->serve != a->pid, "serve() returned the middle process's pid in the base (%d)", a->serve);
        ok(strstr(a->report, "end=1") != NULL, "the vassal ran and reported");
        if (!strstr(a->report, "end=1"))
                printf("# report: %s\n", a->report);
        is(a->exit_code, 0, "the init exited with the vassal's status");
        is(atoi(field(a, "sigchld_ignored")), 1, "the vassal has the base's SIGCHLD disposition (ignored) back");
        is(atoi(field(a, "pid")), 2, "the vassal is pid 2 of a new pid namespace");
        is(atoi(field(a, "ppid")), 1, "under the jail's init");
        ok(strcmp(field(a, "procs"), "1 2") == 0, "/proc shows the jail only: %s", field(a, "procs"));
        ok(strcmp(field(a, "hostname"), "adopted") == 0, "uts namespace: hostname %s", field(a, "hostname"));
        ok(strcmp(field(a, "Uid"), "1001\t1001\t1001\t1001") == 0, "uid 1001: %s", field(a, "Uid"));
        ok(strcmp(field(a, "Gid"), "1002\t1002\t1002\t1002") == 0, "gid 1002: %s", field(a, "Gid"));
        ok(strcmp(field(a, "Groups"), "1003 1004") == 0, "groups: %s", field(a, "Groups"));
        ok(strcmp(field(a, "CapEff"), "0000000000000400") == 0, "capabilities: net_bind_service only: %s",
           field(a, "CapEff"));
        is(atoi(field(a, "NoNewPrivs")), 1, "no_new_privs");
        is(atoi(field(a, "Seccomp")), 2, "the default seccomp filter is loaded");
        is(atoi(field(a, "userns")), EPERM, "unshare(CLONE_NEWUSER) fails with EPERM");
        is(atoi(field(a, "keyctl")), EPERM, "keyctl fails with EPERM (the filter the base built once)");
        is(atoi(field(a, "mkdir")), EEXIST, "mkdir reaches the kernel");
        is(atoi(field(a, "pdeathsig")), SIGKILL, "PDEATHSIG is set after the last credential change");
        ok(strcmp(field(a, "fds"), "0 1 2 3 4") == 0, "exactly the plan's fds are open: %s", field(a, "fds"));
        ok(strcmp(field(a, "fd0"), "/dev/null") == 0 && strcmp(field(a, "fd2"), "/dev/null") == 0,
           "unmapped stdio is /dev/null");
        ok(strcmp(field(a, "config"), CONFIG_PACKET) == 0, "the config packet behind the plan frame is left for the vassal: %s",
           field(a, "config"));
        own_link("/proc/self/ns/net", link, sizeof(link));
        ok(*field(a, "ns_net") && strcmp(field(a, "ns_net"), link) != 0, "a new net namespace");
        is(atoi(field(a, "lo_up")), 1, "with lo up");
        own_link("/proc/self/ns/mnt", link, sizeof(link));
        ok(*field(a, "ns_mnt") && strcmp(field(a, "ns_mnt"), link) != 0, "a new mount namespace");
        own_link("/proc/self/ns/ipc", link, sizeof(link));
        ok(*field(a, "ns_ipc") && strcmp(field(a, "ns_ipc"), link) != 0, "a new ipc namespace");
        if (have_uni) {
                snprintf(want, sizeof(want), ";0::%s;", uni_rel);
                ok(strstr(field(a, "cgroup"), want) != NULL, "in the unified cgroup %s: %s", uni_rel, field(a, "cgroup"));
        } else
                ok(0, "created a unified cgroup beneath ours");
        if (have_mem) {
                snprintf(want, sizeof(want), ":memory:%s;", mem_rel);
                ok(strstr(field(a, "cgroup"), want) != NULL, "in the v1 memory cgroup %s", mem_rel);
        } else
                printf("# no v1 memory hierarchy: its test is skipped\n");
        ok(strcmp(field(a, "cwd"), "/tmp") == 0, "chdir: %s", field(a, "cwd"));
        ok(strcmp(field(a, "argv"), "base-test|report|two words|") == 0, "jail_adopted_argv: the request's argv: %s",
           field(a, "argv"));
        ok(strcmp(field(a, "env"), "PATH=/usr/bin:/bin|FOO=bar baz|") == 0, "jail_adopted_env: the plan's env: %s",
           field(a, "env"));
        is(atoi(field(a, "keepcaps")), 0, "PR_SET_KEEPCAPS is cleared after the capability set-up");
        ok(strcmp(field(a, "umask"), "022") == 0, "the umask is the emperor's (022), not the base's (077): %s",
           field(a, "umask"));
        ok(strcmp(field(a, "nice"), "0") == 0, "the nice value is the emperor's (0), not the base's (5): %s",
           field(a, "nice"));
        ok(strcmp(field(a, "init_oom"), "123") == 0, "the jail's init (pid 1) has the plan's oom_score_adj too: %s",
           field(a, "init_oom"));


        /* 2. Without a pid namespace: G is the vassal, its parent the emperor. */
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        add(&plan, "ns", "mount");
        add(&plan, "ns", "uts");
        add(&plan, "hostname", "second");
        add(&plan, "hook", "test \"$(hostname)\" = second");
        add(&plan, "hook", "test ! -e /proc/self/fd/%d", BASE_LEAKY_FD);
        {
                char mark[64];
                root_marker(mark, sizeof(mark));
                add(&plan, "root-env", "PATH=/usr/bin:/bin");
                add(&plan, "root-env", "SECRET=%s", mark);
                add(&plan, "hook", ": %s", mark);
        }
        add(&plan, "uid", "1001");
        add(&plan, "gid", "1001");
        add(&plan, "fd", "1:3");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed && strstr(a->report, "end=1"),
           "no pid namespace: adopted (failed %d: stage %u errno %d)", a->failed, a->err.stage, a->err.errnum);
        is(atoi(field(a, "pid")), a->pid, "the reply's pid is the vassal itself");
        is(atoi(field(a, "ppid")), getpid(), "whose parent is the emperor");
        is(atoi(field(a, "pdeathsig")), SIGKILL, "PDEATHSIG is set after the last credential change");
        ok(strcmp(field(a, "hostname"), "second") == 0, "the hooks ran in the new uts namespace, without the base's fds");
        is(atoi(field(a, "Seccomp")), 0, "seccomp=none: no filter");
        ok(strcmp(field(a, "root_marks"), "0") == 0,
           "root-env and the hook commands are nowhere in the vassal's memory: %s found", field(a, "root_marks"));
        is(a->exit_code, 0, "and it exited 0");

        /* 3. seccomp-deny: not the base's default filter, one the vassal builds itself. */
        base_plan(&plan);
        add(&plan, "seccomp-deny", "mkdir");
        add(&plan, "fd", "1:3");
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed, "seccomp-deny mkdir: adopted (failed %d: stage %u errno %d)",
           a->failed, a->err.stage, a->err.errnum);
        is(atoi(field(a, "mkdir")), EPERM, "mkdir is denied");
        is(atoi(field(a, "keyctl")), EPERM, "on top of the default list (keyctl)");
        is(atoi(field(a, "userns")), EPERM, "and unshare(CLONE_NEWUSER)");

        /* 4. A plan over 64 KiB (a big environment) travels whole. */
        base_plan(&plan);
        add(&plan, "seccomp", "none");
        add(&plan, "fd", "1:3");
        {
                static char big[21001];
                memset(big, 'x', sizeof(big) - 1);
                for (int i = 0; i < 5; i++)
                        add(&plan, "env", "BIG%d=%s", i, big);
        }
        ok(plan.len > 100 * 1024, "a plan of %zu bytes", plan.len);
        adopt(&plan, REPORT_ARGV, NULL, 0, a);
        ok(a->pid > 0 && a->exec_reached && !a->failed, "is adopted");
        is(atoi(field(a, "env_count")), 6, "with every env entry");
        is(atol(field(a, "env_bytes")), 18 + 5 * 21005, "whole");
        ok(strcmp(field(a, "config"), CONFIG_PACKET) == 0, "and M read exactly the frame: the config packet is intact");

        ok(jail_adopted_argv(0) == NULL && jail_adopted_env(0) == NULL, "jail_adopted_*() are NULL outside a vassal");
        if (uni_fd >= 0)
                close(uni_fd);
        if (mem_fd >= 0)
                close(mem_fd);
        emperor_stop();
        if (have_uni)
                is(rmdir(uni_dir), 0, "the unified cgroup is empty again and removed");
        if (have_mem)
                is(rmdir(mem_dir), 0, "the memory cgroup is empty again and removed");
        free(a);
        return tap_done();
}
