/* plan.c: the serialised launch plan, TypeScript → C.
 *
 * Wire format: a uwsgi keyval body, repeated `u16le keylen, key, u16le vallen, val`.
 * Lists are repeated keys, in order. Keys:
 *   ns (mount|pid|net|ipc|uts, repeated)
 *   mount (root|overlay|bind|tmpfs|proc|devpts|sysfs|mkdir|symlink|readonly, repeated: one
 *   operation each, in order), then that operation's mount-src, mount-dst, mount-size,
 *   mount-mode (octal), mount-owner, mount-flag (ro|dev|nosymlinks|try|owner|hidepid,
 *   repeated); see jail_mount_t
 *   loopback=1
 *   hostname  hook (repeated)  nproc  uid  gid  group (repeated)  cap (number, repeated)
 *   no-new-privs=0|1  setsid=1  join (launcher fd: a pidfd)  join-cwd  ctty=1
 *   nofile  oom-score-adj (-1000..1000)
 *   privileged=1  path  argv (repeated)  env (KEY=VALUE, repeated)
 *   root-env (KEY=VALUE, repeated: the hooks' and a privileged program's environment)
 *   exec-path (directories a slash-less path is searched in)  chdir
 *   fd (SRC:DST, repeated)
 *   listen-fdname (repeated: systemd socket activation; the i-th names fd 3+i, which the
 *   plan must map; see listen.c)
 *   cgroup (launcher fd: the jail's directory on the unified hierarchy)
 *   cgroup-procs (launcher fd: a v1 cgroup.procs opened O_WRONLY, repeated)
 *   seccomp=default|none (absent: default)  seccomp-deny, seccomp-allow (a system call
 *   name, repeated: denied on top of the default list / taken off it; checked by the
 *   helper at stage seccomp, where the names are resolved)
 *   no-clone3=1 (the clone3 ENOSYS fallback), fault (STAGE:ERRNO), pause (STAGE: SIGSTOP there): only in a -DJAIL_FAULTS test build
 * An unknown key is an error: TypeScript and C must agree exactly. A uid needs a gid. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jail.h"

static bool key_is(const uint8_t *key, size_t len, const char *name) {
        return strlen(name) == len && memcmp(key, name, len) == 0;
}

static bool key_starts(const uint8_t *key, size_t len, const char *prefix) {
        return strlen(prefix) <= len && memcmp(key, prefix, strlen(prefix)) == 0;
}

/* Decimal, no sign, no leading garbage, fits in max. */
static int parse_uint(const char *s, unsigned long max, unsigned long *ret) {
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "-1000".."1000": oom_score_adj's range. */
static int parse_oom_score_adj(const char *s, int *ret) {
        unsigned long v;
        bool neg = *s == '-';

        if (parse_uint(s + neg, 1000, &v) < 0)
                return -EINVAL;
        *ret = neg ? -(int) v : (int) v;
        return 0;
}

static int parse_ns(const char *s) {
        if (strcmp(s, "mount") == 0)
                return CLONE_NEWNS;
        if (strcmp(s, "pid") == 0)
                return CLONE_NEWPID;
        if (strcmp(s, "net") == 0)
                return CLONE_NEWNET;
        if (strcmp(s, "ipc") == 0)
                return CLONE_NEWIPC;
        if (strcmp(s, "uts") == 0)
                return CLONE_NEWUTS;
        return -EINVAL;
}

static const char *const mount_kinds[_JAIL_MOUNT_MAX] = {
        [JAIL_MOUNT_ROOT] = "root", [JAIL_MOUNT_OVERLAY] = "overlay", [JAIL_MOUNT_BIND] = "bind",
        [JAIL_MOUNT_TMPFS] = "tmpfs", [JAIL_MOUNT_PROC] = "proc", [JAIL_MOUNT_DEVPTS] = "devpts",
        [JAIL_MOUNT_SYSFS] = "sysfs", [JAIL_MOUNT_MKDIR] = "mkdir", [JAIL_MOUNT_SYMLINK] = "symlink",
        [JAIL_MOUNT_READONLY] = "readonly",
};

static const struct {
        const char *name;
        uint32_t flag;
} mount_flags[] = {
        { "ro", JAIL_MOUNT_F_RDONLY }, { "dev", JAIL_MOUNT_F_DEV }, { "nosymlinks", JAIL_MOUNT_F_NOSYMLINKS },
        { "try", JAIL_MOUNT_F_TRY }, { "owner", JAIL_MOUNT_F_OWNER }, { "hidepid", JAIL_MOUNT_F_HIDEPID },
};

/* mount-*: an attribute of the last mount operation. */
static int apply_mount_attr(jail_plan_t *p, const uint8_t *key, size_t klen, char *val) {
        jail_mount_t *m = p->n_mounts > 0 ? &p->mounts[p->n_mounts - 1] : NULL;
        unsigned long n;
        char *end;

        if (!m)
                return -EINVAL;
        if (key_is(key, klen, "mount-src")) {
                m->src = val;
        } else if (key_is(key, klen, "mount-dst")) {
                m->dst = val;
        } else if (key_is(key, klen, "mount-size")) {
                if (parse_uint(val, ULONG_MAX, &n) < 0 || n < 4096)
                        return -EINVAL;
                m->size = n;
        } else if (key_is(key, klen, "mount-mode")) {
                errno = 0;
                n = strtoul(val, &end, 8);
                if (*val < '0' || *val > '7' || errno != 0 || *end != '\0' || n > 07777)
                        return -EINVAL;
                m->mode = (unsigned int) n;
        } else if (key_is(key, klen, "mount-owner")) {
                if (parse_uint(val, UINT_MAX - 1, &n) < 0)
                        return -EINVAL;
                m->owner = (uid_t) n;
        } else if (key_is(key, klen, "mount-flag")) {
                for (size_t i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++)
                        if (strcmp(val, mount_flags[i].name) == 0) {
                                m->flags |= mount_flags[i].flag;
                                return 0;
                        }
                return -EINVAL;
        } else {
                return -EINVAL;
        }
        return 0;
}

/* An absolute path with no empty, `.` or `..` component and no trailing slash: what a
 * path in the jail's root must be (each component is created as it is named); "/" is one. */
static bool clean_path(const char *s) {
        if (!s || s[0] != '/')
                return false;
        if (s[1] == '\0')
                return true;
        for (const char *c = s + 1;;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (c[len] == '\0')
                        return true;
                c += len + 1;
        }
}

/* Each operation has what its kind needs and nothing it would ignore. */
static bool mount_consistent(const jail_plan_t *p) {
        for (size_t i = 0; i < p->n_mounts; i++) {
                const jail_mount_t *m = &p->mounts[i];
                bool is_root = m->kind == JAIL_MOUNT_ROOT || m->kind == JAIL_MOUNT_OVERLAY;
                bool needs_src = is_root || m->kind == JAIL_MOUNT_BIND || m->kind == JAIL_MOUNT_SYMLINK;
                uint32_t allowed = m->kind == JAIL_MOUNT_BIND ? JAIL_MOUNT_F_RDONLY | JAIL_MOUNT_F_DEV |
                                                                       JAIL_MOUNT_F_NOSYMLINKS | JAIL_MOUNT_F_TRY | JAIL_MOUNT_F_OWNER
                                   : is_root                 ? JAIL_MOUNT_F_NOSYMLINKS
                                   : m->kind == JAIL_MOUNT_PROC ? JAIL_MOUNT_F_HIDEPID
                                                                : 0;

                if (is_root != (m->dst == NULL) || (is_root && i != 0))
                        return false;
                if (!is_root && (!clean_path(m->dst) || (strcmp(m->dst, "/") == 0 && m->kind != JAIL_MOUNT_READONLY)))
                        return false;
                if (needs_src != (m->src != NULL) || (needs_src && m->kind != JAIL_MOUNT_SYMLINK && m->src[0] != '/'))
                        return false;
                if (needs_src && m->src[0] == '\0')
                        return false;
                if ((m->kind == JAIL_MOUNT_TMPFS || m->kind == JAIL_MOUNT_OVERLAY) != (m->size > 0))
                        return false; /* size=0 would be unlimited */
                if (m->flags & ~allowed)
                        return false;
                if (m->kind == JAIL_MOUNT_PROC && !(p->namespaces & CLONE_NEWPID))
                        return false; /* it would show the host's processes */
        }
        return p->n_mounts == 0 || (p->namespaces & CLONE_NEWNS);
}

/* systemd's rule for a LISTEN_FDNAMES entry: 1 to 255 printable ASCII characters, no
 * colon (the separator). */
static bool valid_fdname(const char *s) {
        size_t len = strlen(s);

        if (len == 0 || len > JAIL_LISTEN_FDNAME_MAX)
                return false;
        for (; *s; s++)
                if (*s < ' ' || *s > '~' || *s == ':')
                        return false;
        return true;
}

/* Socket activation hands over fds 3..3+N-1: each must be a target of the plan's. */
static bool listen_fds_mapped(const jail_plan_t *p) {
        for (size_t i = 0; i < p->n_listen_fds; i++) {
                bool mapped = false;
                for (size_t j = 0; j < p->n_fds; j++)
                        mapped |= p->fds[j].dst == (int) (3 + i);
                if (!mapped)
                        return false;
        }
        return true;
}

/* "SRC:DST" or "STAGE:ERRNO": splits at the colon in place. */
static char *split_colon(char *s) {
        char *colon = strchr(s, ':');
        if (!colon)
                return NULL;
        *colon = '\0';
        return colon + 1;
}

static int apply_entry(jail_plan_t *p, const uint8_t *key, size_t klen, char *val) {
        unsigned long n, m;

        if (key_is(key, klen, "ns")) {
                int flag = parse_ns(val);
                if (flag < 0)
                        return flag;
                p->namespaces |= flag;
        } else if (key_is(key, klen, "mount")) {
                int kind = -1;
                if (p->n_mounts >= JAIL_MAX_MOUNTS)
                        return -E2BIG;
                for (int k = 0; k < _JAIL_MOUNT_MAX; k++)
                        if (strcmp(val, mount_kinds[k]) == 0)
                                kind = k;
                if (kind < 0)
                        return -EINVAL;
                p->mounts[p->n_mounts++] = (jail_mount_t) { .kind = (jail_mount_kind_t) kind, .mode = 0755 };
        } else if (key_starts(key, klen, "mount-")) {
                return apply_mount_attr(p, key, klen, val);
        } else if (key_is(key, klen, "loopback")) {
                p->loopback = strcmp(val, "1") == 0;
        } else if (key_is(key, klen, "nproc")) {
                if (parse_uint(val, INT_MAX, &n) < 0 || n == 0)
                        return -EINVAL;
                p->set_nproc = true;
                p->nproc = n;
        } else if (key_is(key, klen, "nofile")) {
                if (parse_uint(val, INT_MAX, &n) < 0 || n == 0)
                        return -EINVAL;
                p->set_nofile = true;
                p->nofile = n;
        } else if (key_is(key, klen, "oom-score-adj")) {
                if (parse_oom_score_adj(val, &p->oom_score_adj) < 0)
                        return -EINVAL;
                p->set_oom_score_adj = true;
        } else if (key_is(key, klen, "hostname")) {
                p->hostname = val;
        } else if (key_is(key, klen, "hook")) {
                if (p->n_hooks >= JAIL_MAX_HOOKS)
                        return -E2BIG;
                p->hooks[p->n_hooks++] = val;
        } else if (key_is(key, klen, "uid")) {
                if (parse_uint(val, UINT_MAX - 1, &n) < 0)
                        return -EINVAL;
                p->set_uid = true;
                p->uid = (uid_t) n;
        } else if (key_is(key, klen, "gid")) {
                if (parse_uint(val, UINT_MAX - 1, &n) < 0)
                        return -EINVAL;
                p->set_gid = true;
                p->gid = (gid_t) n;
        } else if (key_is(key, klen, "group")) {
                if (p->n_groups >= JAIL_MAX_GROUPS)
                        return -E2BIG;
                if (parse_uint(val, UINT_MAX - 1, &n) < 0)
                        return -EINVAL;
                p->groups[p->n_groups++] = (gid_t) n;
        } else if (key_is(key, klen, "cap")) {
                if (parse_uint(val, 63, &n) < 0)
                        return -EINVAL;
                p->caps |= UINT64_C(1) << n;
        } else if (key_is(key, klen, "setsid")) {
                p->new_session = strcmp(val, "1") == 0;
        } else if (key_is(key, klen, "no-new-privs")) {
                p->no_new_privs = strcmp(val, "0") != 0;
        } else if (key_is(key, klen, "join")) {
                if (parse_uint(val, INT_MAX, &n) < 0)
                        return -EINVAL;
                p->join_fd = (int) n;
        } else if (key_is(key, klen, "join-cwd")) {
                p->join_cwd = val;
        } else if (key_is(key, klen, "ctty")) {
                p->ctty = strcmp(val, "1") == 0;
        } else if (key_is(key, klen, "privileged")) {
                p->privileged = strcmp(val, "1") == 0;
        } else if (key_is(key, klen, "path")) {
                p->path = val;
        } else if (key_is(key, klen, "argv")) {
                if (p->n_argv >= JAIL_MAX_ARGV)
                        return -E2BIG;
                p->argv[p->n_argv++] = val;
        } else if (key_is(key, klen, "env")) {
                if (p->n_env >= JAIL_MAX_ENV)
                        return -E2BIG;
                p->envp[p->n_env++] = val;
        } else if (key_is(key, klen, "root-env")) {
                if (p->n_root_env >= JAIL_MAX_ROOT_ENV)
                        return -E2BIG;
                p->root_envp[p->n_root_env++] = val;
        } else if (key_is(key, klen, "exec-path")) {
                p->exec_path = val;
        } else if (key_is(key, klen, "chdir")) {
                p->chdir = val;
        } else if (key_is(key, klen, "fd")) {
                char *dst = split_colon(val);
                if (p->n_fds >= JAIL_MAX_FDS)
                        return -E2BIG;
                /* Targets stay far below INT_MAX (map_fds computes dst + 1) and are unique. */
                if (!dst || parse_uint(val, INT_MAX, &n) < 0 || parse_uint(dst, JAIL_MAX_FD_NUMBER, &m) < 0)
                        return -EINVAL;
                for (size_t i = 0; i < p->n_fds; i++)
                        if (p->fds[i].dst == (int) m)
                                return -EINVAL;
                p->fds[p->n_fds++] = (jail_fd_map_t) { .src = (int) n, .dst = (int) m };
        } else if (key_is(key, klen, "listen-fdname")) {
                if (p->n_listen_fds >= JAIL_MAX_FDS)
                        return -E2BIG;
                if (!valid_fdname(val))
                        return -EINVAL;
                p->listen_fdnames[p->n_listen_fds++] = val;
        } else if (key_is(key, klen, "cgroup")) {
                if (parse_uint(val, INT_MAX, &n) < 0)
                        return -EINVAL;
                p->cgroup_fd = (int) n;
        } else if (key_is(key, klen, "cgroup-procs")) {
                if (p->n_cgroup_procs >= JAIL_MAX_CGROUP_PROCS)
                        return -E2BIG;
                if (parse_uint(val, INT_MAX, &n) < 0)
                        return -EINVAL;
                p->cgroup_procs[p->n_cgroup_procs++] = (int) n;
        } else if (key_is(key, klen, "seccomp")) {
                if (strcmp(val, "default") == 0)
                        p->seccomp = JAIL_SECCOMP_DEFAULT;
                else if (strcmp(val, "none") == 0)
                        p->seccomp = JAIL_SECCOMP_NONE;
                else
                        return -EINVAL;
        } else if (key_is(key, klen, "seccomp-deny")) {
                if (p->n_seccomp_deny >= JAIL_MAX_SECCOMP_NAMES)
                        return -E2BIG;
                if (!*val)
                        return -EINVAL;
                p->seccomp_deny[p->n_seccomp_deny++] = val;
        } else if (key_is(key, klen, "seccomp-allow")) {
                if (p->n_seccomp_allow >= JAIL_MAX_SECCOMP_NAMES)
                        return -E2BIG;
                if (!*val)
                        return -EINVAL;
                p->seccomp_allow[p->n_seccomp_allow++] = val;
#ifdef JAIL_FAULTS
        } else if (key_is(key, klen, "no-clone3")) {
                p->no_clone3 = strcmp(val, "1") == 0;
        } else if (key_is(key, klen, "fault")) {
                char *err = split_colon(val);
                int stage = err ? jail_stage_from_string(val) : -EINVAL;
                if (stage < 0 || parse_uint(err, 4095, &n) < 0)
                        return -EINVAL;
                p->fault_stage = stage;
                p->fault_errno = (int) n;
        } else if (key_is(key, klen, "pause")) {
                int stage = jail_stage_from_string(val);
                if (stage < 0)
                        return -EINVAL;
                p->pause_stage = stage;
#endif
        } else {
                return -EINVAL;
        }
        return 0;
}

/* What no plan may ask for, whatever its source: a mount on the host's /proc or /tmp or a
 * new hostname for the host, when the plan has no namespace of its own for it. */
static bool consistent(const jail_plan_t *p) {
        /* Joining a running jail sets nothing up: its mounts, names and hooks are done. */
        if (p->join_fd >= 0 && (p->n_mounts || p->hostname || p->loopback || p->n_hooks || p->privileged))
                return false;
        if (p->join_cwd && p->join_fd < 0)
                return false;
        /* jailctl enter passes no sockets; a launch must map every one it announces. */
        if (p->n_listen_fds > 0 && (p->join_fd >= 0 || !listen_fds_mapped(p)))
                return false;
        if (!mount_consistent(p))
                return false;
        if (p->hostname && !(p->namespaces & CLONE_NEWUTS))
                return false;
        if (p->loopback && !(p->namespaces & CLONE_NEWNET))
                return false;
        /* Changes to a filter that is not there would be silently ignored. */
        if (p->seccomp == JAIL_SECCOMP_NONE && (p->n_seccomp_deny || p->n_seccomp_allow))
                return false;
        return true;
}

int jail_plan_parse(const uint8_t *buf, size_t len, jail_plan_t *ret_plan, int *ret_item) {
        return jail__plan_parse(buf, len, ret_plan, ret_item, true);
}

int jail__plan_parse(const uint8_t *buf, size_t len, jail_plan_t *ret_plan, int *ret_item, bool need_program) {
        jail_plan_t *p = ret_plan;
        size_t off = 0;
        char *out;
        int item = 0, uid_item = -1, r;

        memset(p, 0, sizeof(*p));
        p->no_new_privs = true;
        p->join_fd = -1;
        p->cgroup_fd = -1;
        p->fault_stage = -1;
        p->pause_stage = -1;
        *ret_item = -1;

        /* Every value is copied once, NUL-terminated: the arena never exceeds len + 1. */
        p->arena = malloc(len + 1);
        if (!p->arena)
                return -ENOMEM;
        out = p->arena;

        for (; off < len; item++) {
                size_t klen, vlen;
                const uint8_t *key;

                *ret_item = item;
                if (len - off < 2)
                        goto malformed;
                klen = buf[off] | (size_t) buf[off + 1] << 8;
                off += 2;
                if (len - off < klen + 2)
                        goto malformed;
                key = buf + off;
                off += klen;
                vlen = buf[off] | (size_t) buf[off + 1] << 8;
                off += 2;
                if (len - off < vlen)
                        goto malformed;
                /* A value with a NUL in it would be silently truncated: refuse it. */
                if (memchr(buf + off, '\0', vlen))
                        goto malformed;
                memcpy(out, buf + off, vlen);
                out[vlen] = '\0';
                off += vlen;
                r = apply_entry(p, key, klen, out);
                if (r < 0) {
                        jail_plan_free(p);
                        return r;
                }
                if (key_is(key, klen, "uid"))
                        uid_item = item;
                out += vlen + 1;
        }
        *ret_item = -1;
        p->argv[p->n_argv] = NULL;
        p->envp[p->n_env] = NULL;
        p->root_envp[p->n_root_env] = NULL;
        /* A uid without a gid would leave the vassal in root's group. */
        if (p->set_uid && !p->set_gid) {
                *ret_item = uid_item;
                jail_plan_free(p);
                return -EINVAL;
        }
        if ((need_program && (!p->path || p->n_argv == 0)) || !consistent(p)) {
                jail_plan_free(p);
                return -EINVAL;
        }
        return 0;

malformed:
        jail_plan_free(p);
        return -EINVAL;
}

void jail_plan_free(jail_plan_t *plan) {
        free(plan->arena);
        plan->arena = NULL;
}
