/* tests/mounts.c: the plan's mount operations through jail_launch() and the helper, on a
 * root filesystem made here from the static busybox (/bin/busybox, Debian's
 * busybox-static): what the jail sees, what the host keeps, and how each failure is
 * named. Needs root; skips (77) without it or without busybox. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "syscalls.h"
#include "tap.h"
#include "kv.h"
#include "outcome.h"

static char dir[128], root[192], app[192], lower[192];

static void sh(const char *cmd) {
        if (system(cmd) != 0)
                fprintf(stderr, "# setup failed: %s\n", cmd);
}

/* A busybox root: /bin with the applets the checks use, empty /proc /dev /tmp, and a
 * symlink that points out of it (to /etc) as a tenant's root may hold. */
static void make_root(const char *at) {
        char cmd[1024];

        (void) snprintf(cmd, sizeof(cmd),
                        "mkdir -p %s/bin %s/etc && cp /bin/busybox %s/bin/busybox && "
                        "for a in sh cat test touch grep wc ls echo mkdir; do ln -s busybox %s/bin/$a; done && "
                        "ln -s /../../../../etc %s/evil && echo inside > %s/etc/marker",
                        at, at, at, at, at, at);
        sh(cmd);
}

/* A jail on `root` (rootfs op first), running sh -c script. */
static void jail(kv_t *kv, const char *kind, const char *src, const char *script) {
        base(kv, "/bin/sh");
        kv_add(kv, "argv", "-c");
        kv_add(kv, "argv", script);
        kv_add(kv, "ns", "mount");
        kv_add(kv, "ns", "pid");
        kv_add(kv, "mount", kind);
        kv_add(kv, "mount-src", src);
        if (strcmp(kind, "overlay") == 0)
                kv_add(kv, "mount-size", "1048576");
}

static void add_op(kv_t *kv, const char *kind, const char *dst) {
        kv_add(kv, "mount", kind);
        kv_add(kv, "mount-dst", dst);
}

int main(void) {
        const char *helper = getenv("JAIL_HELPER");
        char cmd[1024], check[2048];
        struct stat st;
        kv_t kv;
        outcome_t o;

        if (geteuid() != 0)
                tap_skip_all("mounts need root");
        if (access("/bin/busybox", X_OK) != 0)
                tap_skip_all("no /bin/busybox (Debian's busybox-static)");
        helper_fd = open(helper ? helper : "build/jail-helper", O_RDONLY | O_CLOEXEC);
        if (helper_fd < 0)
                tap_skip_all("no jail-helper binary (set JAIL_HELPER)");

        (void) snprintf(dir, sizeof(dir), "/tmp/jailctl-mounts-%d", (int) getpid());
        (void) snprintf(root, sizeof(root), "%s/root", dir);
        (void) snprintf(app, sizeof(app), "%s/app", dir);
        (void) snprintf(lower, sizeof(lower), "%s/lower", dir);
        make_root(root);
        make_root(lower);
        (void) snprintf(cmd, sizeof(cmd), "mkdir -p %s && echo code > %s/app.txt && touch %s/outside", app, app, dir);
        sh(cmd);

        /* 1. The whole recipe: root, a read-only bind, /proc, /dev, /tmp, a read-only root. */
        (void) snprintf(check, sizeof(check),
                        "test \"$(cat /etc/marker)\" = inside || exit 10; "
                        "test ! -e %s || exit 11; "
                        "test \"$(cat /srv/app/app.txt)\" = code || exit 12; "
                        "touch /srv/app/x 2>/dev/null && exit 13; "
                        "touch /x 2>/dev/null && exit 14; "
                        "touch /tmp/x || exit 15; "
                        "echo hi > /dev/null || exit 16; "
                        "test -e /dev/pts/ptmx || exit 17; "
                        "test -e /proc/self/status || exit 18; "
                        "test ! -e /proc/sys || exit 19; "
                        "test \"$(ls /proc | grep -c '^[0-9]')\" -le 5 || exit 20; "
                        "test \"$(grep -c . /proc/self/mountinfo)\" -le 9 || exit 21; "
                        "test -e /etc/escaped/app.txt || exit 22",
                        dir);
        jail(&kv, "root", root, check);
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", app);
        kv_add(&kv, "mount-dst", "/srv/app");
        kv_add(&kv, "mount-flag", "ro");
        add_op(&kv, "proc", "/proc");
        kv_add(&kv, "mount-flag", "hidepid");
        add_op(&kv, "tmpfs", "/dev");
        kv_add(&kv, "mount-size", "65536");
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", "/dev/null");
        kv_add(&kv, "mount-dst", "/dev/null");
        kv_add(&kv, "mount-flag", "dev");
        add_op(&kv, "devpts", "/dev/pts");
        kv_add(&kv, "mount", "symlink");
        kv_add(&kv, "mount-src", "pts/ptmx");
        kv_add(&kv, "mount-dst", "/dev/ptmx");
        add_op(&kv, "tmpfs", "/tmp");
        kv_add(&kv, "mount-size", "1048576");
        kv_add(&kv, "mount-mode", "1777");
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", app);
        kv_add(&kv, "mount-dst", "/evil/escaped");
        add_op(&kv, "readonly", "/");
        o = run(&kv);
        ok(o.launch == 0 && !o.failed && o.exit_code == 0,
           "a busybox root: its files, a read-only bind, /proc of the jail only, /dev, /tmp, a read-only / (exit %d, stage %u errno %d item %d)",
           o.exit_code, o.err.stage, o.err.errnum, o.err.item);
        ok(stat("/etc/escaped", &st) != 0 && errno == ENOENT, "the bind through the root's symlink to /etc stayed in the root");
        (void) snprintf(cmd, sizeof(cmd), "%s/etc/escaped", root);
        ok(stat(cmd, &st) == 0 && S_ISDIR(st.st_mode), "its target was made in the root's own /etc");

        /* 2. A hook runs before the switch, in the host's filesystem. */
        jail(&kv, "root", root, "test ! -e /hooked");
        (void) snprintf(check, sizeof(check), "test -e %s/outside && touch %s/bin/../hooked", dir, root);
        kv_add(&kv, "hook", check);
        o = run(&kv);
        (void) snprintf(cmd, sizeof(cmd), "%s/hooked", root);
        ok(!o.failed && o.exit_code == 1 && access(cmd, F_OK) == 0,
           "a hook sees the host (the jail's root at its path there), the vassal its root (exit %d, stage %u errno %d)", o.exit_code,
           o.err.stage, o.err.errnum);

        /* 3. An overlay: writes land in a throw-away layer; the lower root is untouched. */
        jail(&kv, "overlay", lower, "echo new > /etc/new && test \"$(cat /etc/marker)\" = inside");
        o = run(&kv);
        (void) snprintf(cmd, sizeof(cmd), "%s/etc/new", lower);
        ok(!o.failed && o.exit_code == 0 && access(cmd, F_OK) != 0, "an overlay root is writable, its lower layer unchanged (exit %d, stage %u errno %d item %d)",
           o.exit_code, o.err.stage, o.err.errnum, o.err.item);

        /* 4. Failures name the operation. */
        jail(&kv, "root", root, "true");
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", "/nonexistent/src");
        kv_add(&kv, "mount-dst", "/x");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_MOUNT && o.err.item == 1 && o.err.errnum == ENOENT,
           "a missing bind source: stage mount, item 1, ENOENT (%u, %d, %d)", o.err.stage, o.err.item, o.err.errnum);
        kv_add(&kv, "mount-flag", "try");
        o = run(&kv);
        ok(!o.failed && o.exit_code == 0, "with `try` it is skipped (stage %u errno %d item %d)", o.err.stage, o.err.errnum, o.err.item);

        jail(&kv, "root", root, "true");
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", app);
        kv_add(&kv, "mount-dst", "/x");
        kv_add(&kv, "mount-flag", "owner");
        kv_add(&kv, "mount-owner", "1234");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_MOUNT && o.err.item == 1 && o.err.errnum == EPERM,
           "a bind source of another owner: EPERM (%u, %d, %d)", o.err.stage, o.err.item, o.err.errnum);

        (void) snprintf(cmd, sizeof(cmd), "%s/link", dir);
        (void) !symlink(app, cmd);
        jail(&kv, "root", root, "true");
        kv_add(&kv, "mount", "bind");
        kv_add(&kv, "mount-src", cmd);
        kv_add(&kv, "mount-dst", "/x");
        kv_add(&kv, "mount-flag", "nosymlinks");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_MOUNT && o.err.item == 1 && o.err.errnum == ELOOP,
           "a source through a symlink with nosymlinks: ELOOP (%u, %d, %d)", o.err.stage, o.err.item, o.err.errnum);

        jail(&kv, "root", "/nonexistent/root", "true");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_MOUNT && o.err.item == 0 && o.err.errnum == ENOENT,
           "a missing root: stage mount, item 0, ENOENT (%u, %d, %d)", o.err.stage, o.err.item, o.err.errnum);

        jail(&kv, "root", root, "true");
        kv_add(&kv, "fault", "pivot_root:22");
        o = run(&kv);
        ok(o.failed && o.err.stage == JAIL_STAGE_PIVOT_ROOT && o.err.item == 0, "a failed switch of root is stage pivot_root (%u)",
           o.err.stage);

        (void) snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        sh(cmd);
        return tap_done();
}
