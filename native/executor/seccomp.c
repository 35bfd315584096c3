/* seccomp.c: the system call filter every jail gets, built with libseccomp.
 *
 * The default action is to allow: the filter closes the kernel interfaces a tenant's
 * program has no business with and that have a record of privilege escalations or
 * container escapes, and leaves everything else to namespaces, credentials and
 * capabilities. Each denied call fails with EPERM, as if a capability were missing,
 * except clone3, which fails with ENOSYS: its flags sit in a struct behind a pointer
 * that a filter cannot read, so it cannot be filtered on CLONE_NEWUSER like clone, and
 * ENOSYS is the answer glibc (pthread_create, posix_spawn) and other runtimes take as
 * "use clone() instead", which the filter does check.
 *
 * A plan takes rules off the list (`seccomp-allow`, by system call name: every rule for
 * that call) and adds unconditional EPERM rules (`seccomp-deny`).
 *
 * A fork-server base builds the plain default filter once (jail__seccomp_build_default)
 * and its adopted vassals load that program as it is: libseccomp allocates a great deal
 * while it builds a filter, and in a fork of a big base every allocation copies a page
 * of the base's heap. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define fault jail__fault

/* One rule of the default list: `name` fails with `errnum`, always (masked == false) or
 * when argument `arg` masked with `mask` equals `value`. */
typedef struct {
        const char *name;
        int errnum;
        bool masked;
        unsigned int arg;
        scmp_datum_t mask, value;
} rule_t;

#define DENY(n) { .name = n, .errnum = EPERM }
/* Argument 0 of clone and unshare is the flags on x86_64, x86, x32 and aarch64 (not on
 * s390, which has no filter here). */
#define DENY_FLAG(n, flag) { .name = n, .errnum = EPERM, .masked = true, .arg = 0, .mask = flag, .value = flag }
/* The kernel reads an ioctl request as 32 bits: comparing all 64 would let
 * 0x100005412 through as TIOCSTI. */
#define DENY_IOCTL(req) { .name = "ioctl", .errnum = EPERM, .masked = true, .arg = 1, .mask = 0xffffffffu, .value = req }

static const rule_t default_rules[] = {
        /* A user namespace gives every capability inside it, and with them the kernel's
         * least-audited code (nftables, mount of filesystems, ...) to an unprivileged uid. */
        DENY_FLAG("clone", CLONE_NEWUSER),
        DENY_FLAG("unshare", CLONE_NEWUSER),
        { .name = "clone3", .errnum = ENOSYS },
        /* The kernel keyrings are not namespaced: keys of other users and jails. */
        DENY("keyctl"),
        DENY("add_key"),
        DENY("request_key"),
        /* Kernel code paths with many past escalations, none needed by an application. */
        DENY("bpf"),
        DENY("perf_event_open"),
        DENY("userfaultfd"), /* stretches kernel races at will */
        DENY("io_uring_setup"), /* also bypasses this filter: its operations are no system calls */
        DENY("io_uring_enter"),
        DENY("io_uring_register"),
        DENY("kexec_load"),
        DENY("kexec_file_load"),
        DENY("open_by_handle_at"), /* the "shocker" escape, past every directory */
        /* Joining a namespace by an fd: a user namespace made by an unfiltered process of
         * the same uid, passed over a socket, would give every capability in it. The
         * helper's own setns (jailctl enter) runs before the filter. */
        DENY("setns"),
        /* The mount API of Linux 5.2: the same powers as mount(2) by other calls. */
        DENY("fsopen"),
        DENY("fsconfig"),
        DENY("fsmount"),
        DENY("fspick"),
        DENY("move_mount"),
        DENY("open_tree"),
        DENY("mount_setattr"),
        /* Typing into a terminal the jail shares with someone else (the emperor's). */
        DENY_IOCTL(TIOCSTI),
        DENY_IOCTL(TIOCLINUX),
};

#define N_DEFAULT (sizeof(default_rules) / sizeof(default_rules[0]))

static bool in_list(const int *nrs, size_t n, int nr) {
        for (size_t i = 0; i < n; i++)
                if (nrs[i] == nr)
                        return true;
        return false;
}

/* Any process. Resolves each name of `names` to its system call number; an unknown one
 * is JAIL_STAGE_SECCOMP, EINVAL, item = item_base + its index. */
static int resolve(const char *const *names, size_t n, int *ret_nrs, int item_base, jail_error_t *reterr) {
        for (size_t i = 0; i < n; i++) {
                ret_nrs[i] = seccomp_syscall_resolve_name(names[i]);
                if (ret_nrs[i] == __NR_SCMP_ERROR)
                        return jail__fail(reterr, JAIL_STAGE_SECCOMP, EINVAL, item_base + (int) i, 0);
        }
        return 0;
}

/* Adds the default list (but for the calls in `skip`) and an EPERM rule for each of
 * `deny` to ctx. Returns 0 or a libseccomp -errno. */
static int add_rules(scmp_filter_ctx ctx, const int *skip, size_t n_skip, const int *deny, size_t n_deny) {
        int r;

        for (size_t i = 0; i < N_DEFAULT; i++) {
                const rule_t *rule = &default_rules[i];
                int nr = seccomp_syscall_resolve_name(rule->name);

                /* Every name above is in libseccomp 2.5's tables; an older one would
                 * silently lose a rule: refuse instead. */
                if (nr == __NR_SCMP_ERROR)
                        return -ENOSYS;
                if (in_list(skip, n_skip, nr))
                        continue;
                if (rule->masked)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(rule->errnum), nr, 1,
                                             SCMP_CMP(rule->arg, SCMP_CMP_MASKED_EQ, rule->mask, rule->value));
                else
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(rule->errnum), nr, 0);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_deny; i++) {
                if (in_list(deny, i, deny[i])) /* a name given twice */
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), deny[i], 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A filter context with the default list (but for the calls in `skip`) and an EPERM
 * rule for each of `deny`, or NULL with *ret_r a libseccomp -errno. */
static scmp_filter_ctx build(const int *skip, size_t n_skip, const int *deny, size_t n_deny, int *ret_r) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r;

        if (!ctx) {
                *ret_r = -ENOMEM;
                return NULL;
        }
        /* The kernel's own errno from seccomp_load() (EACCES), not libseccomp's ECANCELED. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r == 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
#if defined(__x86_64__)
        /* An x86_64 process can also enter the kernel through the 32-bit (int 0x80) and
         * x32 system call tables: the same rules for them, or they would bypass ours. Any
         * other architecture is killed (libseccomp's default for a foreign one). */
        if (r == 0)
                r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
        if (r == 0)
                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
#endif
        if (r == 0)
                r = add_rules(ctx, skip, n_skip, deny, n_deny);
        if (r < 0) {
                seccomp_release(ctx);
                *ret_r = r;
                return NULL;
        }
        return ctx;
}

/* The default filter as a BPF program, once a fork-server base has built it. Set once,
 * before the base forks anything; read-only afterwards and in every fork. */
static struct sock_fprog default_prog;

int jail__seccomp_build_default(void) {
        scmp_filter_ctx ctx;
        struct stat st;
        void *insns = NULL;
        int fd, r = 0;

        if (default_prog.filter)
                return 0;
        ctx = build(NULL, 0, NULL, 0, &r);
        if (!ctx)
                return r;
        /* libseccomp 2.5 exports to an fd only. */
        fd = memfd_create("jail-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                r = -errno;
        if (r == 0)
                r = seccomp_export_bpf(ctx, fd);
        seccomp_release(ctx);
        if (r == 0 && fstat(fd, &st) < 0)
                r = -errno;
        if (r == 0 && (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
                       st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS))
                r = -EINVAL;
        if (r == 0 && !(insns = malloc((size_t) st.st_size)))
                r = -ENOMEM;
        if (r == 0) {
                ssize_t n = pread(fd, insns, (size_t) st.st_size, 0);
                r = n < 0 ? -errno : n != st.st_size ? -EIO : 0;
        }
        /* A program ends in a return; anything else is not what libseccomp made. */
        if (r == 0 && BPF_CLASS(((struct sock_filter *) insns)[st.st_size / sizeof(struct sock_filter) - 1].code) != BPF_RET)
                r = -EINVAL;
        if (fd >= 0)
                (void) close(fd);
        if (r < 0) {
                free(insns);
                return r;
        }
        default_prog.len = (unsigned short) (st.st_size / sizeof(struct sock_filter));
        default_prog.filter = insns;
        return 0;
}

const struct sock_fprog *jail__seccomp_default(void) {
        return default_prog.filter ? &default_prog : NULL;
}

/* The vassal-to-be, final credentials, after no_new_privs, the fds and the chdir: the
 * last step before its exec, so the exec is the first filtered call that matters (and a
 * privileged program, still root, is filtered too). Loading needs no_new_privs or
 * CAP_SYS_ADMIN (a root jail); without either the kernel refuses (EACCES) and so does
 * the launch. libseccomp is told not to set no_new_privs itself: that is the plan's
 * choice, made (and reported) at JAIL_STAGE_NO_NEW_PRIVS. Allocates (a fresh process,
 * the helper), but for the plain default filter of a base that has built it: that is
 * loaded as built, with no flags, as seccomp_load() would. Reports JAIL_STAGE_SECCOMP:
 * item = the index of an unknown name in seccomp-deny, or JAIL_SECCOMP_ALLOW_ITEM + its
 * index in seccomp-allow. */
int jail__load_seccomp(const jail_plan_t *plan, jail_error_t *reterr) {
        int deny[JAIL_MAX_SECCOMP_NAMES], skip[2 * JAIL_MAX_SECCOMP_NAMES], r = 0;
        scmp_filter_ctx ctx;

        if (plan->seccomp == JAIL_SECCOMP_NONE)
                return 0;
        if (fault(plan, JAIL_STAGE_SECCOMP))
                return jail__fail(reterr, JAIL_STAGE_SECCOMP, errno, -1, 0);
        if (default_prog.filter && plan->seccomp == JAIL_SECCOMP_DEFAULT && plan->n_seccomp_deny == 0 &&
            plan->n_seccomp_allow == 0) {
                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &default_prog) < 0)
                        return jail__fail(reterr, JAIL_STAGE_SECCOMP, errno, -1, 0);
                return 0;
        }
        if ((r = resolve(plan->seccomp_deny, plan->n_seccomp_deny, deny, 0, reterr)) < 0 ||
            (r = resolve(plan->seccomp_allow, plan->n_seccomp_allow, skip, JAIL_SECCOMP_ALLOW_ITEM, reterr)) < 0)
                return r;
        /* A denied call's default rule gives way to the unconditional one. */
        for (size_t i = 0; i < plan->n_seccomp_deny; i++)
                skip[plan->n_seccomp_allow + i] = deny[i];

        ctx = build(skip, plan->n_seccomp_allow + plan->n_seccomp_deny, deny, plan->n_seccomp_deny, &r);
        if (ctx) {
                r = seccomp_load(ctx);
                seccomp_release(ctx);
        }
        if (r < 0)
                return jail__fail(reterr, JAIL_STAGE_SECCOMP, -r, -1, 0);
        return 0;
}
