/* listen.c: systemd socket activation (sd_listen_fds(3)) for the program a plan execs.
 *
 * The plan maps the sockets to fds 3..3+N-1 (map_fds(), stage fds); what is left is the
 * environment that tells the program so: LISTEN_FDS=N, LISTEN_FDNAMES=NAME:NAME..., and
 * LISTEN_PID, the pid of the process the fds are meant for. A program compares LISTEN_PID
 * with its own getpid(), so the value must be that pid as the program's pid namespace
 * numbers it. Only the process that execs the program knows it, once the jail's init has
 * forked it (init.c): the emperor, in the host's pid namespace, cannot. Hence this runs
 * in that process, after every other stage, just before execve(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The names of the variables we set; any the plan's env has already are left out. */
static const char *const listen_vars[] = { "LISTEN_FDS=", "LISTEN_FDNAMES=", "LISTEN_PID=" };

static bool is_listen_var(const char *entry) {
        for (size_t i = 0; i < sizeof(listen_vars) / sizeof(listen_vars[0]); i++)
                if (strncmp(entry, listen_vars[i], strlen(listen_vars[i])) == 0)
                        return true;
        return false;
}

int jail__listen_env(const jail_plan_t *plan, char *const *envp, jail_listen_env_t *out, char *const **ret_envp,
                     jail_error_t *reterr) {
        size_t n = 0, used;

        *ret_envp = envp;
        if (plan->n_listen_fds == 0)
                return 0;

        /* Cannot overflow: N <= JAIL_MAX_FDS, each name <= JAIL_LISTEN_FDNAME_MAX (plan.c),
         * and a pid fits in 11 digits; the sizes in internal.h follow from that. */
        (void) snprintf(out->fds, sizeof(out->fds), "LISTEN_FDS=%zu", plan->n_listen_fds);
        used = (size_t) snprintf(out->names, sizeof(out->names), "LISTEN_FDNAMES=");
        for (size_t i = 0; i < plan->n_listen_fds; i++)
                used += (size_t) snprintf(out->names + used, sizeof(out->names) - used, "%s%s", i > 0 ? ":" : "",
                                          plan->listen_fdnames[i]);
        /* getpid(), not a value from the plan: in a pid namespace, this process's own
         * number there (2, under the jail's init at 1). */
        (void) snprintf(out->pid, sizeof(out->pid), "LISTEN_PID=%d", (int) getpid());

        for (size_t i = 0; envp[i]; i++) {
                if (is_listen_var(envp[i]))
                        continue;
                if (n >= JAIL_MAX_ENV)
                        return jail__fail(reterr, JAIL_STAGE_EXEC, E2BIG, -1, 0);
                out->envp[n++] = envp[i];
        }
        out->envp[n++] = out->fds;
        out->envp[n++] = out->names;
        out->envp[n++] = out->pid;
        out->envp[n] = NULL;
        *ret_envp = (char *const *) out->envp;
        return 0;
}
