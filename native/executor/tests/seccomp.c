/* tests/seccomp.c: the filter every jail gets, tried from inside real jails. The jail's
 * program is this binary again (`seccomp probe NAME`): it makes one call and exits with
 * its errno (0: it worked). The jails run as root without a uid drop, where every call
 * tried here works without the filter, so each refusal is the filter's doing (the
 * `seccomp none` controls show it). Needs root; skips (77) without it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "internal.h" /* jail__seccomp_default() */
#include "tap.h"
#include "kv.h"
#include "outcome.h"

static void *thread_main(void *arg) {
        return arg;
}

/* A child by the raw clone system call with `flags`; its exit status is the verdict. */
static int raw_clone(unsigned long flags) {
        int status;
        long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

        if (pid < 0)
                return errno;
        if (pid == 0)
                _exit(0);
        return waitpid((pid_t) pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

#if defined(__x86_64__)
/* unshare(CLONE_NEWUSER) through the 32-bit system call table (int 0x80: i386 number 310). */
static int unshare_int80(void) {
        long r;

        __asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long) CLONE_NEWUSER) : "memory");
        return r < 0 ? (int) -r : 0;
}
#endif

/* Inside the jail: one call, its errno as the exit status. */
static int probe(const char *what) {
        if (strcmp(what, "unshare-user") == 0)
                return unshare(CLONE_NEWUSER) < 0 ? errno : 0;
        if (strcmp(what, "clone-user") == 0)
                return raw_clone(CLONE_NEWUSER);
        if (strcmp(what, "clone3") == 0) {
                struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
                        .exit_signal = SIGCHLD,
                };
                int status;
                long pid = syscall(SYS_clone3, &args, sizeof(args));
                if (pid == 0)
                        _exit(0);
                if (pid < 0)
                        return errno;
                (void) waitpid((pid_t) pid, &status, 0);
                return 0;
        }
        if (strcmp(what, "keyctl") == 0)
                return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1) < 0 ? errno : 0;
        if (strcmp(what, "bpf") == 0) {
                /* BPF_MAP_CREATE of a zeroed attr: EINVAL when the call gets that far. */
                char attr[128] = { 0 };
                int r = (int) syscall(SYS_bpf, 0, attr, sizeof(attr));
                return r < 0 && errno == EINVAL ? 0 : r < 0 ? errno : 0;
        }
        if (strcmp(what, "io_uring") == 0) {
                struct io_uring_params p = { 0 };
                return syscall(SYS_io_uring_setup, 1, &p) < 0 ? errno : 0;
        }
        /* On fd 0, /dev/null: ENOTTY when the request reaches the driver. */
        if (strcmp(what, "tiocsti") == 0)
                return ioctl(0, TIOCSTI, "x") < 0 && errno != ENOTTY ? errno : 0;
        if (strcmp(what, "tiocsti-high") == 0)
                return syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, "x") < 0 && errno != ENOTTY ? errno : 0;
        if (strcmp(what, "fork") == 0) {
                int status;
                pid_t pid = fork();
                if (pid == 0)
                        _exit(0);
                if (pid < 0)
                        return errno;
                return waitpid(pid, &status, 0) == pid && status == 0 ? raw_clone(0) : ECHILD;
        }
        if (strcmp(what, "pthread") == 0) {
                pthread_t t;
                int r = pthread_create(&t, NULL, thread_main, NULL);
                return r ? r : pthread_join(t, NULL);
        }
        if (strcmp(what, "exec") == 0) {
                int status;
                pid_t pid = fork();
                if (pid == 0) {
                        execl("/bin/true", "true", (char *) NULL);
                        _exit(errno);
                }
                return pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ? ECHILD : WEXITSTATUS(status);
        }
        if (strcmp(what, "mkdir") == 0)
                return mkdir("/", 0755) < 0 && errno != EEXIST ? errno : 0;
#if defined(__x86_64__)
        if (strcmp(what, "int80-unshare-user") == 0)
                return unshare_int80();
#endif
        return 100;
}

static char self[PATH_MAX];

/* A root jail (no uid drop) running `self probe what`, with extra plan entries. */
static outcome_t try_in_jail(const char *what, const char *const *extra) {
        kv_t kv;

        base(&kv, self);
        kv_add(&kv, "argv", "probe");
        kv_add(&kv, "argv", what);
        for (size_t i = 0; extra && extra[i]; i += 2)
                kv_add(&kv, extra[i], extra[i + 1]);
        return run(&kv);
}

/* The BPF program of the filter a jail holds right before its exec (pause=exec: it stops
 * itself there, after the filter is loaded), read with PTRACE_SECCOMP_GET_FILTER.
 * Returns its length (0: no filter), -1 if it could not be read; *ret_more is set when
 * the jail holds a second filter. */
static int filter_of_paused_jail(const char *const *extra, struct sock_filter *ret, int max, bool *ret_more) {
        kv_t kv;
        jail_child_t child;
        jail_error_t err;
        siginfo_t si = { 0 };
        int n = -1, status;

        base(&kv, self);
        kv_add(&kv, "argv", "probe");
        kv_add(&kv, "argv", "mkdir");
        kv_add(&kv, "pause", "exec");
        for (size_t i = 0; extra && extra[i]; i += 2)
                kv_add(&kv, extra[i], extra[i + 1]);
        if (jail_launch(kv.buf, kv.len, helper_fd, &child, &err) < 0)
                return -1;
        if (waitid(P_PIDFD, child.pidfd, &si, WSTOPPED) == 0 && si.si_code == CLD_STOPPED &&
            ptrace(PTRACE_ATTACH, child.pid, 0, 0) == 0 && waitpid(child.pid, &status, __WALL) == child.pid) {
                long len = ptrace(PTRACE_SECCOMP_GET_FILTER, child.pid, 0, NULL);
                if (len < 0 && errno == EINVAL) /* seccomp mode disabled: no filter at all */
                        n = 0;
                else if (len > 0 && len <= max && ptrace(PTRACE_SECCOMP_GET_FILTER, child.pid, 0, ret) == len)
                        n = (int) len;
                *ret_more = ptrace(PTRACE_SECCOMP_GET_FILTER, child.pid, 1, NULL) >= 0;
        }
        (void) jail__pidfd_send_signal(child.pidfd, SIGKILL, NULL, 0);
        (void) waitid(P_PIDFD, child.pidfd, &si, WEXITED);
        close(child.pidfd);
        close(child.status_fd);
        return n;
}

/* Whether the program compares the accumulator with k (a JEQ or JGE on a constant). */
static bool compares_with(const struct sock_filter *prog, int n, uint32_t k, uint16_t jmp) {
        for (int i = 0; i < n; i++)
                if (prog[i].code == (BPF_JMP | jmp | BPF_K) && prog[i].k == k)
                        return true;
        return false;
}

static int verdict(const char *what, const char *const *extra) {
        outcome_t o = try_in_jail(what, extra);

        if (o.launch < 0 || o.failed)
                return -1;
        return o.exit_code;
}

int main(int argc, char **argv) {
        static const char *const none[] = { "seccomp", "none", NULL };
        static const char *const allow_keyctl[] = { "seccomp-allow", "keyctl", NULL };
        static const char *const deny_mkdir[] = { "seccomp-deny", "mkdir", NULL };
        static const char *const allow_clone3[] = { "seccomp-allow", "clone3", NULL };
        static const char *const unknown_deny[] = { "seccomp-deny", "mkdir", "seccomp-deny", "no_such_call", NULL };
        static const char *const unknown_allow[] = { "seccomp-allow", "keyctl", "seccomp-allow", "nor_this", NULL };
        static const char *const privileged[] = { "no-new-privs", "0", "privileged", "1", NULL };
        static const char *const fault[] = { "fault", "seccomp:13", NULL };
        static const char *const eperm[] = { "unshare-user", "clone-user", "keyctl", "bpf", "io_uring", "tiocsti",
                                             "tiocsti-high" };
        outcome_t o;
        ssize_t n;

        if (argc == 3 && strcmp(argv[1], "probe") == 0)
                return probe(argv[2]);
        if (geteuid() != 0)
                tap_skip_all("launching jails needs root");
        open_helper();
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                tap_skip_all("no /proc/self/exe");
        self[n] = '\0';

        for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]); i++) {
                is(verdict(eperm[i], none), 0, "control: %s works in a root jail with `seccomp none`", eperm[i]);
                is(verdict(eperm[i], NULL), EPERM, "the default filter: %s fails with EPERM", eperm[i]);
        }
        is(verdict("clone3", none), 0, "control: clone3 works with `seccomp none`");
        is(verdict("clone3", NULL), ENOSYS, "clone3 fails with ENOSYS, so libc falls back to clone");
        is(verdict("clone3", allow_clone3), 0, "seccomp-allow clone3 takes it off the list");
        is(verdict("fork", NULL), 0, "fork() and a plain clone work under the filter");
        is(verdict("pthread", NULL), 0, "pthread_create works under the filter (glibc falls back from clone3)");
        is(verdict("exec", NULL), 0, "fork + execve work under the filter");
#if defined(__x86_64__)
        /* The kernel's copy of the filter: the 32-bit and x32 tables are in it, whether or
         * not this kernel lets us reach them. */
        {
                static struct sock_filter prog[BPF_MAXINSNS];
                bool more = false;
                int n = filter_of_paused_jail(NULL, prog, BPF_MAXINSNS, &more);

                ok(n > 0 && !more, "a jail holds one filter at its exec (%d instructions)", n);
                ok(compares_with(prog, n, AUDIT_ARCH_X86_64, BPF_JEQ), "the filter checks for the x86_64 table");
                /* keyctl is 288 in the 32-bit table (accept4 on x86_64, which we leave alone)
                 * and 250 | __X32_SYSCALL_BIT in the x32 one. */
                ok(compares_with(prog, n, AUDIT_ARCH_I386, BPF_JEQ) && compares_with(prog, n, 288, BPF_JEQ),
                   "and has rules for the 32-bit (int 0x80) table: its keyctl, 288");
                ok(compares_with(prog, n, 0x40000000u | SYS_keyctl, BPF_JEQ),
                   "and for the x32 one: keyctl with __X32_SYSCALL_BIT");
                {
                        /* What a fork-server base builds once and its adopted vassals load. */
                        const struct sock_fprog *pre;

                        is(jail_fork_server_settle(), 0, "a fork-server base builds the default filter ahead");
                        pre = jail__seccomp_default();
                        ok(pre && pre->len == n && memcmp(pre->filter, prog, (size_t) n * sizeof(*prog)) == 0,
                           "and it is, instruction for instruction, the filter a spawned jail holds (%d of %d)",
                           pre ? (int) pre->len : -1, n);
                }
                n = filter_of_paused_jail(none, prog, BPF_MAXINSNS, &more);
                is(n, 0, "control: with `seccomp none` there is no filter to read");
        }
        if (verdict("int80-unshare-user", none) == 0)
                is(verdict("int80-unshare-user", NULL), EPERM, "the 32-bit table (int 0x80) is filtered the same");
        else
                printf("# int 0x80 does not work on this kernel even without a filter: its test is skipped\n");
#endif

        is(verdict("keyctl", allow_keyctl), 0, "seccomp-allow keyctl re-allows keyctl");
        is(verdict("unshare-user", allow_keyctl), EPERM, "and only keyctl");
        is(verdict("mkdir", NULL), 0, "control: mkdir reaches the kernel (EEXIST)");
        is(verdict("mkdir", deny_mkdir), EPERM, "seccomp-deny mkdir denies mkdir");
        is(verdict("keyctl", deny_mkdir), EPERM, "on top of the default list");
        is(verdict("unshare-user", privileged), EPERM,
           "a privileged program (root, no no_new_privs) is filtered too: loaded with CAP_SYS_ADMIN");

        o = try_in_jail("mkdir", unknown_deny);
        ok(o.launch == 0 && o.failed && o.err.stage == JAIL_STAGE_SECCOMP && o.err.errnum == EINVAL && o.err.item == 1,
           "an unknown seccomp-deny name fails at stage seccomp, EINVAL, item = its index");
        ok(!o.exec_reached && o.exit_code == JAIL_EXIT_SETUP, "and nothing is exec'd");
        o = try_in_jail("mkdir", unknown_allow);
        ok(o.launch == 0 && o.failed && o.err.stage == JAIL_STAGE_SECCOMP && o.err.errnum == EINVAL &&
           o.err.item == JAIL_SECCOMP_ALLOW_ITEM + 1, "an unknown seccomp-allow name: item = JAIL_SECCOMP_ALLOW_ITEM + its index");
        o = try_in_jail("mkdir", fault);
        ok(o.failed && o.err.stage == JAIL_STAGE_SECCOMP && o.err.errnum == 13 && o.last_stage == JAIL_STAGE_SECCOMP,
           "stage seccomp has its progress record and its failure report");

        /* Without no_new_privs and without CAP_SYS_ADMIN the kernel refuses the filter:
         * the launch fails rather than running a jail without one. */
        {
                static const char *const no_nnp[] = { "no-new-privs", "0", "uid", "1001", "gid", "1001", NULL };
                o = try_in_jail("mkdir", no_nnp);
                ok(o.failed && o.err.stage == JAIL_STAGE_SECCOMP && o.err.errnum == EACCES,
                   "uid 1001 without no_new_privs: stage seccomp, EACCES (the filter is never skipped)");
        }
        return tap_done();
}
