/* cgroups.h: where this test process's cgroups are (a unified hierarchy, v1 ones). */
#ifndef JAIL_TEST_CGROUPS_H
#define JAIL_TEST_CGROUPS_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The mount point of the first mount whose filesystem type is `fstype` (and, if opt is
 * set, whose super options hold it), from /proc/self/mountinfo. */
static inline bool find_mount(const char *fstype, const char *opt, char *ret, size_t size) {
        char line[4096];
        FILE *f = fopen("/proc/self/mountinfo", "re");
        bool found = false;

        while (f && !found && fgets(line, sizeof(line), f)) {
                char mnt[1024], type[64], super[1024];
                const char *dash = strstr(line, " - ");

                if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
                    sscanf(dash, " - %63s %*s %1023s", type, super) != 2)
                        continue;
                if (strcmp(type, fstype) != 0)
                        continue;
                if (opt) {
                        bool has = false;
                        for (char *o = strtok(super, ","); o; o = strtok(NULL, ","))
                                has |= strcmp(o, opt) == 0;
                        if (!has)
                                continue;
                }
                snprintf(ret, size, "%s", mnt);
                found = true;
        }
        if (f)
                fclose(f);
        return found;
}

/* Our cgroup path in the hierarchy whose /proc/self/cgroup controller field is `ctl`
 * ("" for the unified one). */
static inline bool own_cgroup(const char *ctl, char *ret, size_t size) {
        char line[4096];
        FILE *f = fopen("/proc/self/cgroup", "re");
        bool found = false;

        while (f && !found && fgets(line, sizeof(line), f)) {
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!b)
                        continue;
                *b = '\0';
                if (strcmp(a + 1, ctl) != 0)
                        continue;
                b[1 + strcspn(b + 1, "\n")] = '\0';
                snprintf(ret, size, "%s", b + 1);
                found = true;
        }
        if (f)
                fclose(f);
        return found;
}

/* Creates `name` beneath our own cgroup of a hierarchy (fstype "cgroup2", or "cgroup"
 * with the controller `opt`; ctl is its /proc/self/cgroup field: "" or the controller).
 * ret_dir: its directory; ret_rel: its path as /proc/self/cgroup shows it. */
static inline bool make_cgroup(const char *fstype, const char *opt, const char *ctl, const char *name, char *ret_dir,
                               size_t dir_size, char *ret_rel, size_t rel_size) {
        char mnt[1024], own[1024];

        if (!find_mount(fstype, opt, mnt, sizeof(mnt)) || !own_cgroup(ctl, own, sizeof(own)))
                return false;
        snprintf(ret_rel, rel_size, "%s/%s", strcmp(own, "/") == 0 ? "" : own, name);
        snprintf(ret_dir, dir_size, "%s%s", mnt, ret_rel);
        return mkdir(ret_dir, 0755) == 0;
}
#endif
