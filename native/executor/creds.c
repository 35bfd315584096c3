/* creds.c: the credential stages of a launch, run by jail-helper as root before the
 * program's exec (and by jail_drop_self() for the emperor itself): limits, the bounding
 * set, groups, gid, uid, capabilities, no_new_privs. Each stage function says what it
 * runs as, what it changes and what it reports; each returns 0 or -errno with *reterr. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jail.h"
#include "internal.h"
#include "syscalls.h"

#define fault jail__fault

/* Root (or an unprivileged launcher), before the uid change, which RLIMIT_NPROC then
 * applies to: it counts every process of the vassal's uid, and root is exempt. Reports
 * JAIL_STAGE_RLIMIT. */
static int set_nproc(const jail_plan_t *plan, jail_error_t *reterr) {
        struct rlimit lim = { .rlim_cur = plan->nproc, .rlim_max = plan->nproc };

        if (!plan->set_nproc)
                return 0;
        if (fault(plan, JAIL_STAGE_RLIMIT) || setrlimit(RLIMIT_NPROC, &lim) < 0)
                return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, RLIMIT_NPROC, 0);
        return 0;
}

/* Root, first of the setup (lowering oom_score_adj needs CAP_SYS_RESOURCE, and a jail's
 * root may have no /proc), so that the jail's init has it too and the vassal inherits it:
 * an adopted jail's init holds the whole base image, and must not stay the OOM killer's
 * pick at the base's score. The emperor may run with any oom_score_adj: a jail gets 0,
 * or the plan's `oom-score-adj`. Reports JAIL_STAGE_OOM_SCORE_ADJ. */
int jail__set_oom_score_adj(const jail_plan_t *plan, jail_error_t *reterr) {
        int want = plan->set_oom_score_adj ? plan->oom_score_adj : 0, fd, now = 0, n;
        char buf[16];

        if (fault(plan, JAIL_STAGE_OOM_SCORE_ADJ))
                return jail__fail(reterr, JAIL_STAGE_OOM_SCORE_ADJ, errno, -1, 0);
        /* Written only when it differs: an unprivileged launcher may not lower it, and
         * this process, not dumpable (helper.c), owns none of its /proc files any more. */
        fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return jail__fail(reterr, JAIL_STAGE_OOM_SCORE_ADJ, errno, -1, 0);
        n = (int) read(fd, buf, sizeof(buf) - 1);
        (void) close(fd);
        if (n > 0) {
                buf[n] = '\0';
                now = atoi(buf);
        }
        if (n > 0 && now == want)
                return 0;
        n = snprintf(buf, sizeof(buf), "%d", want);
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, (size_t) n) != n) {
                int errnum = errno;
                if (fd >= 0)
                        (void) close(fd);
                return jail__fail(reterr, JAIL_STAGE_OOM_SCORE_ADJ, errnum, -1, 0);
        }
        (void) close(fd);
        return 0;
}

/* Root, before the drop (raising a hard limit needs CAP_SYS_RESOURCE). A plan's `nofile`
 * above the hard limit is raised here, while we may; lowering the limits waits for
 * jail__set_nofile(), after map_fds(), which may still have to move fds above the
 * emperor's highest. Reports JAIL_STAGE_RLIMIT, item = RLIMIT_NOFILE. */
int jail__set_limits(const jail_plan_t *plan, jail_error_t *reterr) {
        struct rlimit lim;

        if (fault(plan, JAIL_STAGE_RLIMIT) || getrlimit(RLIMIT_NOFILE, &lim) < 0)
                return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, RLIMIT_NOFILE, 0);
        if (plan->set_nofile && lim.rlim_max != RLIM_INFINITY && plan->nofile > lim.rlim_max) {
                lim.rlim_cur = lim.rlim_max = plan->nofile;
                if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                        return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, RLIMIT_NOFILE, 0);
        }
        return 0;
}

/* Final credentials, after map_fds() (lowering a limit needs no privilege). Node raises
 * its soft RLIMIT_NOFILE to the hard limit at start-up: a vassal gets the host's default
 * instead (soft 1024, the kernel's and systemd's; hard kept), or the plan's `nofile`,
 * soft and hard. Reports JAIL_STAGE_RLIMIT, item = RLIMIT_NOFILE. */
int jail__set_nofile(const jail_plan_t *plan, jail_error_t *reterr) {
        struct rlimit lim;

        if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
                return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, RLIMIT_NOFILE, 0);
        if (plan->set_nofile)
                lim.rlim_cur = lim.rlim_max = plan->nofile;
        else if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > 1024)
                lim.rlim_cur = 1024;
        else
                lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                return jail__fail(reterr, JAIL_STAGE_RLIMIT, errno, RLIMIT_NOFILE, 0);
        return 0;
}

/* After the last credential change of the launch: a change of ids or capabilities sets
 * the dumpable flag to fs.suid_dumpable, which may be 1, and the tenant's uid could then
 * ptrace this process or open its /proc/PID/fd while it still holds the status pipe and
 * the pidfds (helper.c cleared it once at start). Reports JAIL_STAGE_DUMPABLE. */
int jail__set_undumpable(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_DUMPABLE) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_DUMPABLE, errno, -1, 0);
        return 0;
}

/* Before any credential change (needs CAP_SETPCAP). Drops every capability outside the
 * plan's set from the bounding set, so not even a set-uid root binary run later can get
 * it back. A launcher without CAP_SETPCAP (an unprivileged emperor) cannot shrink it;
 * that is only accepted under no_new_privs, where no exec can draw on the bounding set.
 * Reports JAIL_STAGE_BOUNDING, item = capability number. */
static int drop_bounding(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_BOUNDING))
                return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, -1, 0);
        for (int cap = 0; cap < 64; cap++) {
                int in_set;

                if (plan->caps & (UINT64_C(1) << cap))
                        continue;
                in_set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (in_set < 0 && errno == EINVAL) /* past the kernel's last capability */
                        break;
                if (in_set < 0)
                        return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, cap, 0);
                if (in_set == 0)
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EPERM && plan->no_new_privs && !plan->privileged)
                                continue;
                        return jail__fail(reterr, JAIL_STAGE_BOUNDING, errno, cap, 0);
                }
        }
        return 0;
}

/* Root. Clears the supplementary groups (or sets the plan's), then the gid, then the
 * uid: groups and gid need CAP_SETGID, which setresuid() takes away. PR_SET_KEEPCAPS
 * keeps the permitted set across the uid change so set_caps() can narrow it.
 * Reports JAIL_STAGE_GROUPS, JAIL_STAGE_GID, JAIL_STAGE_UID (JAIL_STAGE_CAPS for
 * PR_SET_KEEPCAPS). */
static int drop_ids(const jail_plan_t *plan, jail_error_t *reterr) {
        if (fault(plan, JAIL_STAGE_GROUPS) || setgroups(plan->n_groups, plan->groups) < 0)
                return jail__fail(reterr, JAIL_STAGE_GROUPS, errno, -1, 0);
        if (plan->set_gid && (fault(plan, JAIL_STAGE_GID) || setresgid(plan->gid, plan->gid, plan->gid) < 0))
                return jail__fail(reterr, JAIL_STAGE_GID, errno, -1, 0);
        /* Each id change sets the dumpable flag to fs.suid_dumpable (1 would let the new ids
         * ptrace us before capset() and no_new_privs): clear it again at once, while the
         * permitted set is still full and nothing of the tenant's may attach. */
        if (plan->set_gid && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_DUMPABLE, errno, -1, 0);
        if (plan->set_uid) {
                /* Part of the capability set-up, and named so. */
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
                if (fault(plan, JAIL_STAGE_UID) || setresuid(plan->uid, plan->uid, plan->uid) < 0)
                        return jail__fail(reterr, JAIL_STAGE_UID, errno, -1, 0);
                if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                        return jail__fail(reterr, JAIL_STAGE_DUMPABLE, errno, -1, 0);
        }
        return 0;
}

/* After the uid change. Sets permitted = effective = inheritable = the plan's set and
 * raises each one as ambient, so a non-root program keeps exactly these across exec.
 * (For uid 0 the bounding set already limits what exec grants.) Reports
 * JAIL_STAGE_CAPS, item = capability number for an ambient raise. */
static int set_caps(const jail_plan_t *plan, jail_error_t *reterr) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2];

        for (int i = 0; i < 2; i++) {
                uint32_t set = (uint32_t) (plan->caps >> (32 * i));
                data[i] = (struct __user_cap_data_struct) { .effective = set, .permitted = set, .inheritable = set };
        }
        if (fault(plan, JAIL_STAGE_CAPS) || syscall(SYS_capset, &hdr, data) < 0)
                return jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
        for (int cap = 0; cap < 64; cap++)
                if ((plan->caps & (UINT64_C(1) << cap)) &&
                    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return jail__fail(reterr, JAIL_STAGE_CAPS, errno, cap, 0);
        return 0;
}

/* Any credentials. No set-id or file-capability exec can raise privileges from here
 * on. Reports JAIL_STAGE_NO_NEW_PRIVS. */
static int set_no_new_privs(const jail_plan_t *plan, jail_error_t *reterr) {
        if (!plan->no_new_privs)
                return 0;
        if (fault(plan, JAIL_STAGE_NO_NEW_PRIVS) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_NO_NEW_PRIVS, errno, -1, 0);
        return 0;
}

int jail__drop(const jail_plan_t *plan, jail_error_t *reterr) {
        int r;

        /* A privileged binary patch (nginx binding port 80) is exec'd as root before the
         * drop and drops privileges itself; the bounding set still limits that root to
         * the plan's capabilities. */
        if ((r = set_nproc(plan, reterr)) < 0)
                return r;
        if (plan->privileged) {
                if ((r = drop_bounding(plan, reterr)) < 0)
                        return r;
                return set_no_new_privs(plan, reterr);
        }
        if ((r = drop_bounding(plan, reterr)) < 0 || (r = drop_ids(plan, reterr)) < 0 ||
            (r = set_caps(plan, reterr)) < 0)
                return r;
        /* PR_SET_KEEPCAPS is only for the uid change: an exec would clear it, but an
         * adopted vassal execs nothing and would keep it (or the host's) for life. */
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
        return set_no_new_privs(plan, reterr);
}

int jail_drop_self(const uint8_t *buf, size_t len, jail_error_t *reterr) {
        jail_plan_t plan;
        int item, r;

        r = jail__plan_parse(buf, len, &plan, &item, false);
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_PLAN, -r, item, 0);
        /* Credentials only: anything else in the plan would be silently ignored. */
        if (plan.namespaces || plan.n_hooks || plan.n_mounts || plan.n_fds || plan.path || plan.set_nproc ||
            plan.cgroup_fd >= 0 || plan.n_cgroup_procs || plan.n_seccomp_deny || plan.n_seccomp_allow ||
            !plan.set_uid || !plan.set_gid) {
                jail_plan_free(&plan);
                return jail__fail(reterr, JAIL_STAGE_PLAN, EINVAL, -1, 0);
        }
        /* The caller is root here: the bounding set shrinks for real (no no_new_privs). */
        plan.no_new_privs = false;
        plan.privileged = false;
        if ((r = drop_bounding(&plan, reterr)) >= 0 && (r = drop_ids(&plan, reterr)) >= 0 &&
            (r = set_caps(&plan, reterr)) >= 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                r = jail__fail(reterr, JAIL_STAGE_CAPS, errno, -1, 0);
        jail_plan_free(&plan);
        return r < 0 ? r : 0;
}
