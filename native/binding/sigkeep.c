/* jail-sigkeep.so: preloaded (LD_PRELOAD) into the program of an emperor upgrade's execve,
 * and only there (src/emperor/signal-keep.ts), so that a signal the emperor handles does not
 * kill it, and every jail with it, before the new emperor has its handlers.
 *
 * The old emperor blocks those signals (sigkeep.h) across the execve, and the mask is
 * inherited; but Node, first thing in main() (node.cc PlatformInit), sets the mask to
 * {SIGUSR1} and puts every ignored signal back to SIG_DFL, so neither a blocked nor an
 * ignored signal survives into the new emperor. A handler installed with SA_SIGINFO before
 * Node's main() is left in place (the same code keeps "an LD_PRELOAD-ed library['s]" own).
 * So this constructor, which the dynamic loader runs before main(), installs one that only
 * records the signal, then unblocks them: one that came during the execve is recorded now.
 * The new emperor's handlers (libuv's, at process.on) replace these one by one, atomically;
 * once they are all there it asks what was recorded meanwhile (jailctl_sigkeep_take, through
 * the addon's takeKeptSignals) and acts on it.
 *
 * Runs before main(), in a process that is single-threaded then: no allocation, no stdio;
 * the handler is async-signal-safe (a store to a sig_atomic_t). */
#include <signal.h>
#include <stddef.h>

#include "sigkeep.h"

static const int kept[] = JAIL_SIGKEEP_SIGNALS;
static volatile sig_atomic_t caught[sizeof(kept) / sizeof(kept[0])];

static void record(int sig, siginfo_t *info, void *context) {
        (void) info;
        (void) context;
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
                if (kept[i] == sig)
                        caught[i] = 1;
}

__attribute__((constructor)) static void keep_signals(void) {
        struct sigaction sa = { 0 };
        sigset_t set;

        sa.sa_sigaction = record;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigfillset(&sa.sa_mask);
        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
                /* A handler that cannot be installed leaves its signal blocked: Node's
                 * start unblocks it, as it would without this library. */
                if (sigaction(kept[i], &sa, NULL) == 0)
                        sigaddset(&set, kept[i]);
        }
        (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* The signals recorded since the execve, as a bit mask (bit N: signal N), each cleared.
 * Called by the new emperor once its own handlers have replaced these. */
__attribute__((visibility("default"))) unsigned long long jailctl_sigkeep_take(void) {
        unsigned long long mask = 0;

        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
                if (caught[i])
                        mask |= 1ULL << kept[i];
                caught[i] = 0;
        }
        return mask;
}
