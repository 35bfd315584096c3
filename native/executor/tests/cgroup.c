/* tests/cgroup.c: a jail is placed in its cgroups at creation. Each launch runs
 * `cat /proc/self/cgroup` into a pipe: what the exec'd program says is the proof. The
 * cgroups are created under this test's own (unified: from /proc/self/mountinfo and
 * /proc/self/cgroup; v1: the pids controller), and removed at the end. Needs root and a
 * cgroup2 mount; skips (77) without them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail.h"
#include "tap.h"
#include "kv.h"
#include "outcome.h"
#include "cgroups.h"

/* Launches `cat /proc/self/cgroup` with the plan's extra keys (kv), output in out. */
static outcome_t cat_cgroup(kv_t *kv, char *out, size_t size) {
        int p[2];
        char fd_map[32];
        outcome_t o;
        ssize_t n, total = 0;

        if (pipe2(p, O_CLOEXEC) < 0)
                return (outcome_t) { .launch = -errno };
        snprintf(fd_map, sizeof(fd_map), "%d:1", p[1]);
        kv_add(kv, "fd", fd_map);
        o = run(kv);
        close(p[1]);
        while (total < (ssize_t) size - 1 && (n = read(p[0], out + total, size - 1 - (size_t) total)) > 0)
                total += n;
        out[total] = '\0';
        close(p[0]);
        return o;
}

static void cat_plan(kv_t *kv) {
        base(kv, "/bin/cat");
        kv_add(kv, "argv", "/proc/self/cgroup");
}

/* The jail's /proc/self/cgroup line for the hierarchy `ctl`, e.g. "0::/jailctl-…". */
static bool has_line(const char *out, const char *ctl, const char *path) {
        char want[1200];

        snprintf(want, sizeof(want), ":%s:%s\n", ctl, path);
        return strstr(out, want) != NULL;
}

int main(void) {
        char mnt[1024], own[1024], rel[1200], dir[2300], pids_mnt[1024], pids_own[1024], pids_rel[1200],
                pids_dir[2300], procs[2400], out[8192], num[16];
        int dir_fd, procs_fd;
        kv_t kv;
        outcome_t o;

        if (geteuid() != 0)
                tap_skip_all("creating cgroups and launching jails needs root");
        open_helper();
        if (!find_mount("cgroup2", NULL, mnt, sizeof(mnt)) || !own_cgroup("", own, sizeof(own)))
                tap_skip_all("no cgroup2 hierarchy mounted");

        snprintf(rel, sizeof(rel), "%s/jailctl-c-test-%d", strcmp(own, "/") == 0 ? "" : own, (int) getpid());
        snprintf(dir, sizeof(dir), "%s%s", mnt, rel);
        if (mkdir(dir, 0755) < 0)
                tap_skip_all("cannot create a cgroup under our own unified one");
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(num, sizeof(num), "%d", dir_fd);

        cat_plan(&kv);
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == 0 && !o.failed && o.exit_code == 0 && !has_line(out, "", rel),
           "control: without `cgroup` the jail stays in the launcher's cgroup");

        cat_plan(&kv);
        kv_add(&kv, "cgroup", num);
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == 0 && !o.failed && o.exit_code == 0, "a launch with `cgroup` runs");
        ok(has_line(out, "", rel), "clone3(CLONE_INTO_CGROUP): the program runs in the jail's unified cgroup");
        if (!has_line(out, "", rel))
                printf("# %s", out);

        cat_plan(&kv);
        kv_add(&kv, "cgroup", num);
        kv_add(&kv, "no-clone3", "1");
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == 0 && !o.failed && has_line(out, "", rel),
           "clone3 ENOSYS fallback: clone() and the child's own cgroup.procs, same cgroup");

        cat_plan(&kv);
        kv_add(&kv, "ns", "mount");
        kv_add(&kv, "ns", "pid");
        kv_add(&kv, "mount", "proc");
        kv_add(&kv, "mount-dst", "/proc");
        kv_add(&kv, "cgroup", num);
        kv_add(&kv, "uid", "1001");
        kv_add(&kv, "gid", "1001");
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == 0 && !o.failed && has_line(out, "", rel), "with new namespaces and a uid drop too");

        /* A join plan (jailctl enter): the entered command is created in the cgroup. */
        {
                kv_t sleeper;
                jail_child_t child;
                jail_error_t err;
                char pidfd[16];

                base(&sleeper, "/bin/sleep");
                kv_add(&sleeper, "argv", "30");
                kv_add(&sleeper, "ns", "mount");
                kv_add(&sleeper, "ns", "uts");
                if (jail_launch(sleeper.buf, sleeper.len, helper_fd, &child, &err) == 0) {
                        snprintf(pidfd, sizeof(pidfd), "%d", child.pidfd);
                        cat_plan(&kv);
                        kv_add(&kv, "join", pidfd);
                        kv_add(&kv, "ns", "mount");
                        kv_add(&kv, "ns", "uts");
                        kv_add(&kv, "cgroup", num);
                        o = cat_cgroup(&kv, out, sizeof(out));
                        ok(o.launch == 0 && !o.failed && has_line(out, "", rel), "join: the entered command runs in the cgroup");
                        (void) jail__pidfd_send_signal(child.pidfd, SIGKILL, NULL, 0);
                        (void) waitid(P_PIDFD, child.pidfd, &(siginfo_t) { 0 }, WEXITED);
                        close(child.pidfd);
                        close(child.status_fd);
                } else
                        ok(0, "join: the jail to enter launched (%d)", err.errnum);
        }

        /* Bad cgroup fds: each is stage cgroup. */
        {
                int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                char tmp_num[16];

                snprintf(tmp_num, sizeof(tmp_num), "%d", tmp);
                cat_plan(&kv);
                kv_add(&kv, "cgroup", tmp_num);
                o = cat_cgroup(&kv, out, sizeof(out));
                ok(o.launch == -EBADF && o.err.stage == JAIL_STAGE_CGROUP && o.err.item == -1,
                   "a directory that is no cgroup2 one: clone3's EBADF is reported as stage cgroup (got %d, stage %u)",
                   o.launch, o.err.stage);

                cat_plan(&kv);
                kv_add(&kv, "cgroup", tmp_num);
                kv_add(&kv, "no-clone3", "1");
                o = cat_cgroup(&kv, out, sizeof(out));
                ok(o.launch == 0 && o.failed && o.err.stage == JAIL_STAGE_CGROUP && o.err.item == -1 &&
                   o.err.errnum == ENOENT, "fallback: no cgroup.procs in it, the child reports stage cgroup, ENOENT");
                ok(o.exit_code == JAIL_EXIT_SETUP, "and the helper never ran its program (exit 125)");
                close(tmp);
        }
        cat_plan(&kv);
        kv_add(&kv, "cgroup", "997");
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == -EBADF && o.err.stage == JAIL_STAGE_CGROUP && o.err.item == -1,
           "a cgroup fd that is not open is refused before the launcher opens its own");
        cat_plan(&kv);
        kv_add(&kv, "cgroup-procs", "1");
        kv_add(&kv, "cgroup-procs", "996");
        o = cat_cgroup(&kv, out, sizeof(out));
        ok(o.launch == -EBADF && o.err.stage == JAIL_STAGE_CGROUP && o.err.item == 1,
           "a cgroup-procs fd that is not open is refused at its index");

        /* A v1 hierarchy: the pids controller, under our own pids cgroup. */
        if (find_mount("cgroup", "pids", pids_mnt, sizeof(pids_mnt)) && own_cgroup("pids", pids_own, sizeof(pids_own))) {
                snprintf(pids_rel, sizeof(pids_rel), "%s/jailctl-c-test-%d", strcmp(pids_own, "/") == 0 ? "" : pids_own,
                         (int) getpid());
                snprintf(pids_dir, sizeof(pids_dir), "%s%s", pids_mnt, pids_rel);
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", pids_dir);
                if (mkdir(pids_dir, 0755) == 0 && (procs_fd = open(procs, O_WRONLY | O_CLOEXEC)) >= 0) {
                        char procs_num[16];
                        int ro = open(procs, O_RDONLY | O_CLOEXEC);
                        char ro_num[16];

                        snprintf(procs_num, sizeof(procs_num), "%d", procs_fd);
                        snprintf(ro_num, sizeof(ro_num), "%d", ro);
                        cat_plan(&kv);
                        kv_add(&kv, "cgroup", num);
                        kv_add(&kv, "cgroup-procs", procs_num);
                        o = cat_cgroup(&kv, out, sizeof(out));
                        ok(o.launch == 0 && !o.failed && has_line(out, "pids", pids_rel) && has_line(out, "", rel),
                           "a v1 cgroup.procs fd: the program runs in the pids cgroup and the unified one");

                        cat_plan(&kv);
                        kv_add(&kv, "cgroup-procs", procs_num);
                        kv_add(&kv, "cgroup-procs", ro_num);
                        o = cat_cgroup(&kv, out, sizeof(out));
                        ok(o.launch == 0 && o.failed && o.err.stage == JAIL_STAGE_CGROUP && o.err.item == 1 &&
                           o.err.errnum == EBADF, "a cgroup.procs fd opened read-only: stage cgroup, its index, EBADF");
                        close(ro);
                        close(procs_fd);
                } else
                        ok(0, "created a pids cgroup under ours (%s): %s", pids_dir, strerror(errno));
                is(rmdir(pids_dir), 0, "the pids cgroup is empty again and removed");
        } else
                printf("# no v1 pids hierarchy: its test is skipped\n");

        close(dir_fd);
        is(rmdir(dir), 0, "the unified cgroup is empty again and removed");
        return tap_done();
}
