/* mounts.c: the plan's mount operations (jail_mount_t), carried out one by one as root in
 * the jail's new mount namespace once it is private, and the switch to the jail's root
 * after the hooks. Setup as data: TypeScript decides what the jail's filesystem holds
 * (src/plan/mounts.ts); this file only executes the list, and a failure names the index
 * of the operation that failed.
 *
 * A path in the jail (dst) is resolved by openat2(RESOLVE_IN_ROOT) from the jail's root,
 * so a symlink in a root filesystem (a tenant's files) cannot lead a mount, a mkdir or a
 * symlink() of ours out of it. Mounts use the fd-based API (open_tree, fsopen, fsmount,
 * move_mount, mount_setattr; Linux 5.12): each acts on the object that was opened and
 * checked, never on a path looked up a second time. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "jail.h"
#include "syscalls.h"

/* Closes fd if open, keeping errno (the error being reported). */
static void close_quietly(int fd) {
        int saved = errno;

        if (fd >= 0)
                (void) close(fd);
        errno = saved;
}

/* A host path: O_PATH, and with JAIL_MOUNT_F_NOSYMLINKS no symlink anywhere on it. */
static int open_source(const jail_mount_t *m, int flags) {
        struct jail_open_how how = {
                .flags = (uint64_t) (O_PATH | O_CLOEXEC | flags),
                .resolve = (m->flags & JAIL_MOUNT_F_NOSYMLINKS) ? JAIL_RESOLVE_NO_SYMLINKS : 0,
        };

        return jail__openat2(AT_FDCWD, m->src, &how);
}

/* A path in the jail's root: O_PATH, symlinks resolved as if root_fd were /. */
static int open_in_root(int root_fd, const char *path) {
        struct jail_open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = JAIL_RESOLVE_IN_ROOT | JAIL_RESOLVE_NO_MAGICLINKS,
        };

        return jail__openat2(root_fd, path, &how);
}

/* dst in the jail's root as an O_PATH fd, making what is missing on the way: directories
 * (0755), and as the last component a directory of `mode` or (file) an empty file. Each
 * component is created in its parent as resolved in the root, and opened again the same
 * way: what another process put there meanwhile is used, wherever it points, in the root. */
static int make_target(int root_fd, const char *dst, bool file, unsigned int mode) {
        char prefix[PATH_MAX];
        size_t len = strlen(dst), end = 1;
        int parent, fd = open_in_root(root_fd, dst);

        if (fd >= 0 || errno != ENOENT)
                return fd;
        if (len >= sizeof(prefix)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        parent = open_in_root(root_fd, "/");
        while (parent >= 0 && end <= len) {
                const char *name = dst + end;
                size_t n = strcspn(name, "/");
                bool last = name[n] == '\0';

                memcpy(prefix, dst, end + n);
                prefix[end + n] = '\0';
                fd = open_in_root(root_fd, prefix);
                if (fd < 0 && errno == ENOENT) {
                        char leaf[NAME_MAX + 1];
                        int made;

                        if (n > NAME_MAX) {
                                errno = ENAMETOOLONG;
                                break;
                        }
                        memcpy(leaf, name, n);
                        leaf[n] = '\0';
                        if (last && file) {
                                made = openat(parent, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                                close_quietly(made);
                        } else {
                                made = mkdirat(parent, leaf, last ? mode : 0755);
                        }
                        if (made < 0 && errno != EEXIST)
                                break;
                        fd = open_in_root(root_fd, prefix);
                }
                close_quietly(parent);
                parent = fd;
                end += n + 1;
        }
        if (end <= len) {
                close_quietly(parent);
                return -1;
        }
        return parent;
}

/* Attaches the detached mount `mnt` on the target fd. */
static int attach(int mnt, int target) {
        return move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

typedef struct {
        const char *key;
        const char *value; /* NULL: a flag */
        bool optional;     /* a kernel that does not know it (EINVAL) mounts without it */
} fs_option_t;

/* A new filesystem of `type` with `options`, mounted with `attrs` (MOUNT_ATTR_*) on the
 * target fd. Returns the new mount's fd (its root), or -1 with errno. */
static int mount_new(const char *type, const fs_option_t *options, size_t n, unsigned int attrs, int target) {
        int fs = fsopen(type, FSOPEN_CLOEXEC), mnt = -1;

        if (fs < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                int r = options[i].value ? fsconfig(fs, FSCONFIG_SET_STRING, options[i].key, options[i].value, 0)
                                         : fsconfig(fs, FSCONFIG_SET_FLAG, options[i].key, NULL, 0);
                if (r < 0 && !(options[i].optional && errno == EINVAL))
                        goto fail;
        }
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                goto fail;
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
        if (mnt < 0 || attach(mnt, target) < 0)
                goto fail;
        (void) close(fs);
        return mnt;

fail:
        close_quietly(mnt);
        close_quietly(fs);
        return -1;
}

/* A tmpfs of `size` bytes (one inode per 4 KiB at most) and `mode` on target. */
static int mount_tmpfs_on(unsigned long long size, unsigned int mode, int target) {
        char sz[24], inodes[24], md[8];
        fs_option_t options[] = { { "size", sz, false }, { "nr_inodes", inodes, false }, { "mode", md, false } };

        (void) snprintf(sz, sizeof(sz), "%llu", size);
        (void) snprintf(inodes, sizeof(inodes), "%llu", size / 4096);
        (void) snprintf(md, sizeof(md), "%o", mode);
        return mount_new("tmpfs", options, 3, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target);
}

/* src, a host directory, bound onto itself: the jail's root from now on (*ret_root). */
static int op_root(const jail_mount_t *m, int *ret_root) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
        int dir = open_source(m, O_DIRECTORY), tree = -1;

        if (dir < 0)
                return -1;
        tree = open_tree(dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 ||
            attach(tree, dir) < 0) {
                close_quietly(tree);
                close_quietly(dir);
                return -1;
        }
        (void) close(dir);
        *ret_root = tree;
        return 0;
}

/* An overlay of src (read-only, lower) and a fresh tmpfs (upper), the jail's root from now
 * on (*ret_root). The tmpfs covers src in this namespace only, and the overlay covers the
 * tmpfs; overlayfs takes its layers as paths, which name the fds through the host's /proc. */
static int op_overlay(const jail_mount_t *m, int *ret_root) {
        char lower[64], upper[64], work[64];
        int low = open_source(m, O_DIRECTORY), layer = -1, root = -1;

        if (low < 0)
                return -1;
        layer = mount_tmpfs_on(m->size, 0755, low);
        if (layer >= 0 && mkdirat(layer, "upper", 0755) == 0 && mkdirat(layer, "work", 0700) == 0) {
                fs_option_t options[] = { { "lowerdir", lower, false }, { "upperdir", upper, false }, { "workdir", work, false } };

                (void) snprintf(lower, sizeof(lower), "/proc/self/fd/%d", low);
                (void) snprintf(upper, sizeof(upper), "/proc/self/fd/%d/upper", layer);
                (void) snprintf(work, sizeof(work), "/proc/self/fd/%d/work", layer);
                root = mount_new("overlay", options, 3, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, layer);
        }
        close_quietly(layer);
        close_quietly(low);
        if (root < 0)
                return -1;
        *ret_root = root;
        return 0;
}

/* src onto dst: a recursive bind, nosuid, nodev unless F_DEV, read-only with F_RDONLY. */
static int op_bind(const jail_mount_t *m, int root_fd) {
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_NOSUID | ((m->flags & JAIL_MOUNT_F_DEV) ? 0 : MOUNT_ATTR_NODEV) |
                            ((m->flags & JAIL_MOUNT_F_RDONLY) ? MOUNT_ATTR_RDONLY : 0),
        };
        struct stat st;
        int src = open_source(m, 0), tree = -1, dst = -1, r = -1;

        if (src < 0)
                return errno == ENOENT && (m->flags & JAIL_MOUNT_F_TRY) ? 0 : -1;
        if (fstat(src, &st) < 0)
                goto out;
        if ((m->flags & JAIL_MOUNT_F_OWNER) && st.st_uid != m->owner) {
                errno = EPERM;
                goto out;
        }
        tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                goto out;
        dst = make_target(root_fd, m->dst, !S_ISDIR(st.st_mode), 0755);
        if (dst >= 0 && attach(tree, dst) == 0)
                r = 0;
out:
        close_quietly(dst);
        close_quietly(tree);
        close_quietly(src);
        return r;
}

/* A new filesystem on dst (made a directory if missing). */
static int op_filesystem(const jail_mount_t *m, int root_fd) {
        static const fs_option_t proc_hidden[] = { { "hidepid", "invisible", true }, { "subset", "pid", true } };
        static const fs_option_t devpts[] = { { "newinstance", NULL, false }, { "ptmxmode", "0666", false }, { "mode", "0620", false } };
        int dst = make_target(root_fd, m->dst, false, 0755), mnt = -1;

        if (dst < 0)
                return -1;
        switch (m->kind) {
        case JAIL_MOUNT_TMPFS:
                mnt = mount_tmpfs_on(m->size, m->mode, dst);
                break;
        case JAIL_MOUNT_PROC:
                mnt = mount_new("proc", proc_hidden, (m->flags & JAIL_MOUNT_F_HIDEPID) ? 2 : 0,
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, dst);
                break;
        case JAIL_MOUNT_DEVPTS:
                mnt = mount_new("devpts", devpts, 3, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dst);
                break;
        default: /* JAIL_MOUNT_SYSFS */
                mnt = mount_new("sysfs", NULL, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, dst);
                break;
        }
        close_quietly(dst);
        if (mnt < 0)
                return -1;
        (void) close(mnt);
        return 0;
}

/* dst, a symlink to src, in its parent (made if missing). */
static int op_symlink(const jail_mount_t *m, int root_fd) {
        const char *slash = strrchr(m->dst, '/');
        char dir[PATH_MAX];
        int parent, r;

        if ((size_t) (slash - m->dst) >= sizeof(dir)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        memcpy(dir, m->dst, (size_t) (slash - m->dst));
        dir[slash - m->dst] = '\0';
        parent = make_target(root_fd, dir[0] ? dir : "/", false, 0755);
        if (parent < 0)
                return -1;
        r = symlinkat(m->src, parent, slash + 1);
        close_quietly(parent);
        return r;
}

/* The mount whose root dst is, read-only (not the mounts below it). */
static int op_readonly(const jail_mount_t *m, int root_fd) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
        int fd = open_in_root(root_fd, m->dst), r;

        if (fd < 0)
                return -1;
        r = mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr));
        close_quietly(fd);
        return r;
}

static int run_op(const jail_mount_t *m, int *root_fd) {
        switch (m->kind) {
        case JAIL_MOUNT_ROOT:
                return op_root(m, root_fd);
        case JAIL_MOUNT_OVERLAY:
                return op_overlay(m, root_fd);
        case JAIL_MOUNT_BIND:
                return op_bind(m, *root_fd);
        case JAIL_MOUNT_MKDIR: {
                int fd = make_target(*root_fd, m->dst, false, m->mode);
                close_quietly(fd);
                return fd < 0 ? -1 : 0;
        }
        case JAIL_MOUNT_SYMLINK:
                return op_symlink(m, *root_fd);
        case JAIL_MOUNT_READONLY:
                return op_readonly(m, *root_fd);
        default:
                return op_filesystem(m, *root_fd);
        }
}

int jail__mount_ops(const jail_plan_t *plan, int *ret_root_fd, jail_error_t *reterr) {
        bool own_root = plan->n_mounts > 0 && (plan->mounts[0].kind == JAIL_MOUNT_ROOT || plan->mounts[0].kind == JAIL_MOUNT_OVERLAY);
        int root = -1;

        *ret_root_fd = -1;
        for (size_t i = 0; i < plan->n_mounts; i++) {
                const jail_mount_t *m = &plan->mounts[i];
                jail_stage_t stage = m->kind == JAIL_MOUNT_PROC    ? JAIL_STAGE_PROC
                                     : m->kind == JAIL_MOUNT_TMPFS ? JAIL_STAGE_TMPFS
                                                                   : JAIL_STAGE_MOUNT;

                /* Without a root of its own, the jail's paths are the host's (in this namespace). */
                if (root < 0 && !own_root)
                        root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if ((root < 0 && !own_root) || jail__fault(plan, stage) || run_op(m, &root) < 0) {
                        int e = errno;
                        close_quietly(root);
                        return jail__fail(reterr, stage, e, (int) i, 0);
                }
        }
        if (own_root)
                *ret_root_fd = root;
        else
                close_quietly(root);
        return 0;
}

int jail__switch_root(const jail_plan_t *plan, int root_fd, jail_error_t *reterr) {
        int r = 0;

        if (root_fd < 0)
                return 0;
        /* pivot_root(".", ".") stacks the old root on the new one; unmounting "." then
         * takes the old root (the host's filesystems) away from this namespace. */
        if (jail__fault(plan, JAIL_STAGE_PIVOT_ROOT) || fchdir(root_fd) < 0 || jail__pivot_root(".", ".") < 0 ||
            umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                r = jail__fail(reterr, JAIL_STAGE_PIVOT_ROOT, errno, 0, 0);
        close_quietly(root_fd);
        return r;
}
