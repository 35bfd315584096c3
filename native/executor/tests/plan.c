/* tests/plan.c: the plan parser on well-formed, truncated and unknown input. */
#include <errno.h>
#include <sched.h>

#include "jail.h"
#include "tap.h"
#include "kv.h"

int main(void) {
        jail_plan_t p;
        kv_t kv = { .len = 0 };
        int item, r;

        kv_add(&kv, "ns", "pid");
        kv_add(&kv, "ns", "net");
        kv_add(&kv, "hook", "echo one");
        kv_add(&kv, "hook", "echo two");
        kv_add(&kv, "uid", "1001");
        kv_add(&kv, "gid", "1002");
        kv_add(&kv, "cap", "10");
        kv_add(&kv, "fd", "7:0");
        kv_add(&kv, "path", "/bin/true");
        kv_add(&kv, "argv", "true");
        kv_add(&kv, "env", "A=b");
        r = jail_plan_parse(kv.buf, kv.len, &p, &item);
        is(r, 0, "a well-formed plan parses");
        is(p.namespaces, CLONE_NEWPID | CLONE_NEWNET, "namespaces accumulate");
        is(p.n_hooks, 2, "hooks accumulate");
        ok(strcmp(p.hooks[1], "echo two") == 0, "hooks keep their order");
        ok(p.set_uid && p.uid == 1001 && p.set_gid && p.gid == 1002, "uid and gid set");
        ok(p.set_nofile == false && p.set_oom_score_adj == false && p.n_root_env == 0 && !p.exec_path,
           "no nofile, oom-score-adj, root-env or exec-path unless given");
        is(p.caps, 1 << 10, "cap 10 kept");
        ok(p.no_new_privs, "no_new_privs defaults on");
        ok(p.n_fds == 1 && p.fds[0].src == 7 && p.fds[0].dst == 0, "fd mapping parsed");
        ok(p.argv[1] == NULL && p.envp[1] == NULL, "argv and envp are NULL-terminated");
        jail_plan_free(&p);

        r = jail_plan_parse(kv.buf, kv.len - 3, &p, &item);
        is(r, -EINVAL, "a truncated plan is refused");
        is(item, 10, "the truncated entry is named");

        kv_t bad = { .len = 0 };
        kv_add(&bad, "path", "/bin/true");
        kv_add(&bad, "argv", "true");
        kv_add(&bad, "ns", "user");
        r = jail_plan_parse(bad.buf, bad.len, &p, &item);
        ok(r == -EINVAL && item == 2, "an unknown namespace is refused at its entry");

        kv_t twice = { .len = 0 };
        kv_add(&twice, "fd", "7:5");
        kv_add(&twice, "fd", "8:5");
        r = jail_plan_parse(twice.buf, twice.len, &p, &item);
        ok(r == -EINVAL && item == 1, "two fds for one target are refused");

        kv_t huge = { .len = 0 };
        kv_add(&huge, "fd", "7:2147483647");
        r = jail_plan_parse(huge.buf, huge.len, &p, &item);
        ok(r == -EINVAL && item == 0, "a target fd beyond JAIL_MAX_FD_NUMBER is refused");

        kv_t unknown = { .len = 0 };
        kv_add(&unknown, "bogus", "1");
        r = jail_plan_parse(unknown.buf, unknown.len, &p, &item);
        ok(r == -EINVAL && item == 0, "an unknown key is refused");

        kv_t empty = { .len = 0 };
        kv_add(&empty, "ns", "pid");
        r = jail_plan_parse(empty.buf, empty.len, &p, &item);
        is(r, -EINVAL, "a plan with nothing to run is refused");

        kv_t caps = { .len = 0 };
        kv_add(&caps, "cap", "64");
        r = jail_plan_parse(caps.buf, caps.len, &p, &item);
        is(r, -EINVAL, "a capability number past 63 is refused");

        kv_t tmp = { .len = 0 };
        kv_add(&tmp, "ns", "mount");
        kv_add(&tmp, "mount", "tmpfs");
        kv_add(&tmp, "mount-dst", "/tmp");
        kv_add(&tmp, "mount-size", "67108864");
        kv_add(&tmp, "mount-mode", "1777");
        kv_add(&tmp, "nproc", "30");
        kv_add(&tmp, "path", "x");
        kv_add(&tmp, "argv", "x");
        r = jail_plan_parse(tmp.buf, tmp.len, &p, &item);
        ok(r == 0 && p.n_mounts == 1 && p.mounts[0].kind == JAIL_MOUNT_TMPFS && strcmp(p.mounts[0].dst, "/tmp") == 0,
           "a private tmpfs parsed");
        ok(p.set_nproc && p.nproc == 30, "nproc parsed");
        ok(p.mounts[0].size == 67108864 && p.mounts[0].mode == 01777, "its size and mode (octal) parsed");
        jail_plan_free(&p);

        kv_t unbounded = { .len = 0 };
        kv_add(&unbounded, "ns", "mount");
        kv_add(&unbounded, "mount", "tmpfs");
        kv_add(&unbounded, "mount-dst", "/tmp");
        kv_add(&unbounded, "path", "x");
        kv_add(&unbounded, "argv", "x");
        is(jail_plan_parse(unbounded.buf, unbounded.len, &p, &item), -EINVAL, "a tmpfs without a size is refused");

        kv_t hosttmp = { .len = 0 };
        kv_add(&hosttmp, "mount", "tmpfs");
        kv_add(&hosttmp, "mount-dst", "/tmp");
        kv_add(&hosttmp, "mount-size", "67108864");
        kv_add(&hosttmp, "path", "x");
        kv_add(&hosttmp, "argv", "x");
        is(jail_plan_parse(hosttmp.buf, hosttmp.len, &p, &item), -EINVAL, "a tmpfs without a mount namespace is refused");

        kv_t noproc = { .len = 0 };
        kv_add(&noproc, "ns", "mount");
        kv_add(&noproc, "mount", "proc");
        kv_add(&noproc, "mount-dst", "/proc");
        kv_add(&noproc, "path", "x");
        kv_add(&noproc, "argv", "x");
        is(jail_plan_parse(noproc.buf, noproc.len, &p, &item), -EINVAL, "a /proc mount without a pid namespace is refused");

        kv_t rootfs = { .len = 0 };
        kv_add(&rootfs, "ns", "mount");
        kv_add(&rootfs, "ns", "pid");
        kv_add(&rootfs, "mount", "root");
        kv_add(&rootfs, "mount-src", "/srv/root");
        kv_add(&rootfs, "mount-flag", "nosymlinks");
        kv_add(&rootfs, "mount", "bind");
        kv_add(&rootfs, "mount-src", "/srv/app");
        kv_add(&rootfs, "mount-dst", "/app");
        kv_add(&rootfs, "mount-flag", "ro");
        kv_add(&rootfs, "mount-flag", "owner");
        kv_add(&rootfs, "mount-owner", "1001");
        kv_add(&rootfs, "mount", "proc");
        kv_add(&rootfs, "mount-dst", "/proc");
        kv_add(&rootfs, "mount-flag", "hidepid");
        kv_add(&rootfs, "mount", "symlink");
        kv_add(&rootfs, "mount-src", "pts/ptmx");
        kv_add(&rootfs, "mount-dst", "/dev/ptmx");
        kv_add(&rootfs, "mount", "readonly");
        kv_add(&rootfs, "mount-dst", "/");
        kv_add(&rootfs, "path", "x");
        kv_add(&rootfs, "argv", "x");
        r = jail_plan_parse(rootfs.buf, rootfs.len, &p, &item);
        ok(r == 0 && p.n_mounts == 5 && p.mounts[0].kind == JAIL_MOUNT_ROOT && p.mounts[0].flags == JAIL_MOUNT_F_NOSYMLINKS &&
           p.mounts[1].flags == (JAIL_MOUNT_F_RDONLY | JAIL_MOUNT_F_OWNER) && p.mounts[1].owner == 1001 &&
           p.mounts[3].kind == JAIL_MOUNT_SYMLINK && p.mounts[4].kind == JAIL_MOUNT_READONLY,
           "a root filesystem's operations parsed, in order (%d, %zu)", r, p.n_mounts);
        jail_plan_free(&p);

        /* Each is refused at its own entry (or as a whole: -EINVAL after the last one). */
        {
                static const char *const bad[][6] = {
                        { "bind", "mount-src", "/a", "mount-dst", "/b/../c", "a `..` in a path in the jail" },
                        { "bind", "mount-src", "/a", "mount-dst", "/b/", "a trailing slash" },
                        { "bind", "mount-src", "a", "mount-dst", "/b", "a relative source" },
                        { "bind", "mount-src", "/a", "mount-dst", "/", "a bind onto the root itself" },
                        { "mkdir", "mount-dst", "/d", "mount-flag", "ro", "a flag the kind does not take" },
                        { "mkdir", "mount-dst", "/d", "mount-size", "0", "a size under 4 KiB" },
                        { "root", "mount-src", "/r", "mount-dst", "/x", "a root with a path in the jail" },
                        { "mkdir", "mount-dst", "/d", "mount-mode", "9", "a mode that is not octal" },
                };
                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        kv_t k = { .len = 0 };
                        kv_add(&k, "ns", "mount");
                        kv_add(&k, "mount", bad[i][0]);
                        kv_add(&k, bad[i][1], bad[i][2]);
                        kv_add(&k, bad[i][3], bad[i][4]);
                        kv_add(&k, "path", "x");
                        kv_add(&k, "argv", "x");
                        is(jail_plan_parse(k.buf, k.len, &p, &item), -EINVAL, "refused: %s", bad[i][5]);
                }
        }
        {
                kv_t second = { .len = 0 };
                kv_add(&second, "ns", "mount");
                kv_add(&second, "mount", "mkdir");
                kv_add(&second, "mount-dst", "/d");
                kv_add(&second, "mount", "root");
                kv_add(&second, "mount-src", "/r");
                kv_add(&second, "path", "x");
                kv_add(&second, "argv", "x");
                is(jail_plan_parse(second.buf, second.len, &p, &item), -EINVAL, "a root operation that is not the first is refused");
                kv_t orphan = { .len = 0 };
                kv_add(&orphan, "mount-dst", "/d");
                r = jail_plan_parse(orphan.buf, orphan.len, &p, &item);
                ok(r == -EINVAL && item == 0, "a mount attribute before any operation is refused at its entry");
        }

        kv_t nonet = { .len = 0 };
        kv_add(&nonet, "loopback", "1");
        kv_add(&nonet, "path", "x");
        kv_add(&nonet, "argv", "x");
        is(jail_plan_parse(nonet.buf, nonet.len, &p, &item), -EINVAL, "lo without a net namespace is refused");

        kv_t hostname = { .len = 0 };
        kv_add(&hostname, "hostname", "web");
        kv_add(&hostname, "path", "x");
        kv_add(&hostname, "argv", "x");
        is(jail_plan_parse(hostname.buf, hostname.len, &p, &item), -EINVAL, "a hostname without a uts namespace is refused");

        kv_t relative = { .len = 0 };
        kv_add(&relative, "ns", "mount");
        kv_add(&relative, "mount", "nosuchkind");
        r = jail_plan_parse(relative.buf, relative.len, &p, &item);
        ok(r == -EINVAL && item == 1, "an unknown mount operation is refused at its entry");

        kv_t fault = { .len = 0 };
        kv_add(&fault, "fault", "hostname:22");
        kv_add(&fault, "path", "x");
        kv_add(&fault, "argv", "x");
        r = jail_plan_parse(fault.buf, fault.len, &p, &item);
        ok(r == 0 && p.fault_stage == JAIL_STAGE_HOSTNAME && p.fault_errno == 22, "fault injection parsed");
        jail_plan_free(&p);

        kv_t nogid = { .len = 0 };
        kv_add(&nogid, "path", "x");
        kv_add(&nogid, "argv", "x");
        kv_add(&nogid, "uid", "1001");
        r = jail_plan_parse(nogid.buf, nogid.len, &p, &item);
        ok(r == -EINVAL && item == 2, "a uid without a gid is refused, naming the uid entry");

        kv_t more = { .len = 0 };
        kv_add(&more, "path", "x");
        kv_add(&more, "argv", "x");
        kv_add(&more, "env", "PATH=/tmp/evil");
        kv_add(&more, "root-env", "PATH=/usr/bin:/bin");
        kv_add(&more, "root-env", "LANG=C");
        kv_add(&more, "exec-path", "/usr/bin:/bin");
        kv_add(&more, "nofile", "4096");
        kv_add(&more, "oom-score-adj", "-500");
        r = jail_plan_parse(more.buf, more.len, &p, &item);
        ok(r == 0 && p.n_root_env == 2 && strcmp(p.root_envp[1], "LANG=C") == 0 && p.root_envp[2] == NULL,
           "root-env entries accumulate, NULL-terminated");
        ok(p.exec_path && strcmp(p.exec_path, "/usr/bin:/bin") == 0, "exec-path parsed");
        ok(p.set_nofile && p.nofile == 4096 && p.set_oom_score_adj && p.oom_score_adj == -500,
           "nofile and a negative oom-score-adj parsed");
        jail_plan_free(&p);
        kv_t oom = { .len = 0 };
        kv_add(&oom, "path", "x");
        kv_add(&oom, "argv", "x");
        kv_add(&oom, "oom-score-adj", "1001");
        r = jail_plan_parse(oom.buf, oom.len, &p, &item);
        ok(r == -EINVAL && item == 2, "an oom-score-adj past 1000 is refused");

        /* The cgroup and seccomp keys. */
        kv_t cg = { .len = 0 };
        kv_add(&cg, "path", "x");
        kv_add(&cg, "argv", "x");
        r = jail_plan_parse(cg.buf, cg.len, &p, &item);
        ok(r == 0 && p.cgroup_fd == -1 && p.n_cgroup_procs == 0 && p.seccomp == JAIL_SECCOMP_DEFAULT,
           "without the keys: no cgroup, and the default seccomp filter (absent means default)");
        jail_plan_free(&p);
        kv_add(&cg, "cgroup", "9");
        kv_add(&cg, "cgroup-procs", "10");
        kv_add(&cg, "cgroup-procs", "11");
        kv_add(&cg, "seccomp-deny", "mkdir");
        kv_add(&cg, "seccomp-allow", "keyctl");
        kv_add(&cg, "seccomp", "default");
        r = jail_plan_parse(cg.buf, cg.len, &p, &item);
        ok(r == 0 && p.cgroup_fd == 9 && p.n_cgroup_procs == 2 && p.cgroup_procs[1] == 11, "cgroup and cgroup-procs parsed");
        ok(p.n_seccomp_deny == 1 && strcmp(p.seccomp_deny[0], "mkdir") == 0 && p.n_seccomp_allow == 1 &&
           strcmp(p.seccomp_allow[0], "keyctl") == 0, "seccomp-deny and seccomp-allow parsed");
        jail_plan_free(&p);
        kv_add(&cg, "seccomp", "none");
        r = jail_plan_parse(cg.buf, cg.len, &p, &item);
        is(r, -EINVAL, "seccomp none with deny or allow entries is refused (they would be ignored)");
        kv_t sc = { .len = 0 };
        kv_add(&sc, "path", "x");
        kv_add(&sc, "argv", "x");
        kv_add(&sc, "seccomp", "strict");
        r = jail_plan_parse(sc.buf, sc.len, &p, &item);
        ok(r == -EINVAL && item == 2, "an unknown seccomp mode is refused at its entry");
        kv_t many = { .len = 0 };
        for (int i = 0; i <= JAIL_MAX_SECCOMP_NAMES; i++)
                kv_add(&many, "seccomp-deny", "mkdir");
        r = jail_plan_parse(many.buf, many.len, &p, &item);
        ok(r == -E2BIG && item == JAIL_MAX_SECCOMP_NAMES, "seccomp-deny entry 257 is E2BIG");
        many.len = 0;
        for (int i = 0; i <= JAIL_MAX_SECCOMP_NAMES; i++)
                kv_add(&many, "seccomp-allow", "mkdir");
        r = jail_plan_parse(many.buf, many.len, &p, &item);
        ok(r == -E2BIG && item == JAIL_MAX_SECCOMP_NAMES, "seccomp-allow entry 257 is E2BIG");
        many.len = 0;
        for (int i = 0; i <= JAIL_MAX_CGROUP_PROCS; i++)
                kv_add(&many, "cgroup-procs", "3");
        r = jail_plan_parse(many.buf, many.len, &p, &item);
        ok(r == -E2BIG && item == JAIL_MAX_CGROUP_PROCS, "cgroup-procs past JAIL_MAX_CGROUP_PROCS is E2BIG");
        kv_t neg = { .len = 0 };
        kv_add(&neg, "cgroup", "-1");
        r = jail_plan_parse(neg.buf, neg.len, &p, &item);
        ok(r == -EINVAL && item == 0, "a cgroup fd must be a number");

        ok(strcmp(jail_stage_to_string(JAIL_STAGE_NO_NEW_PRIVS), "no_new_privs") == 0, "stage names");
        ok(strcmp(jail_stage_to_string(JAIL_STAGE_CGROUP), "cgroup") == 0 &&
           strcmp(jail_stage_to_string(JAIL_STAGE_SECCOMP), "seccomp") == 0 && JAIL_STAGE_CGROUP == JAIL_STAGE_CLONE + 1 &&
           JAIL_STAGE_SECCOMP + 1 == JAIL_STAGE_EXEC, "cgroup follows clone, seccomp comes right before exec");
        ok(jail_stage_to_string(_JAIL_STAGE_MAX) == NULL, "no name past the table");
        for (int s = 0; s < _JAIL_STAGE_MAX; s++)
                if (jail_stage_from_string(jail_stage_to_string(s)) != s)
                        ok(0, "stage %d round-trips", s);
        return tap_done();
}
