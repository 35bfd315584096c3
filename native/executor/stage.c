/* stage.c: the one stage table. Names are the wire values of TypeScript's LaunchStage. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "internal.h"
#include "jail.h"

static const char *const stage_names[_JAIL_STAGE_MAX] = {
        [JAIL_STAGE_PREPARE] = "prepare",
        [JAIL_STAGE_CLONE] = "clone",
        [JAIL_STAGE_CGROUP] = "cgroup",
        [JAIL_STAGE_HELPER] = "helper",
        [JAIL_STAGE_PLAN] = "plan",
        [JAIL_STAGE_JOIN] = "join",
        [JAIL_STAGE_MOUNT] = "mount",
        [JAIL_STAGE_PROC] = "proc",
        [JAIL_STAGE_TMPFS] = "tmpfs",
        [JAIL_STAGE_HOSTNAME] = "hostname",
        [JAIL_STAGE_LOOPBACK] = "loopback",
        [JAIL_STAGE_HOOK] = "hook",
        [JAIL_STAGE_PIVOT_ROOT] = "pivot_root",
        [JAIL_STAGE_INIT] = "init",
        [JAIL_STAGE_RLIMIT] = "rlimit",
        [JAIL_STAGE_OOM_SCORE_ADJ] = "oom_score_adj",
        [JAIL_STAGE_BOUNDING] = "bounding",
        [JAIL_STAGE_GROUPS] = "groups",
        [JAIL_STAGE_GID] = "gid",
        [JAIL_STAGE_UID] = "uid",
        [JAIL_STAGE_CAPS] = "caps",
        [JAIL_STAGE_NO_NEW_PRIVS] = "no_new_privs",
        [JAIL_STAGE_DUMPABLE] = "dumpable",
        [JAIL_STAGE_PDEATHSIG] = "pdeathsig",
        [JAIL_STAGE_FDS] = "fds",
        [JAIL_STAGE_TTY] = "tty",
        [JAIL_STAGE_CHDIR] = "chdir",
        [JAIL_STAGE_SECCOMP] = "seccomp",
        [JAIL_STAGE_EXEC] = "exec",
};

const char *jail_stage_to_string(jail_stage_t stage) {
        if ((unsigned) stage >= _JAIL_STAGE_MAX)
                return NULL;
        return stage_names[stage];
}

int jail_stage_from_string(const char *name) {
        for (int i = 0; i < _JAIL_STAGE_MAX; i++)
                if (strcmp(stage_names[i], name) == 0)
                        return i;
        return -EINVAL;
}

void jail__unblock_signals(void) {
        sigset_t none;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL); /* cannot fail with a valid set */
}
