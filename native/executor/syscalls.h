/* syscalls.h: raw system calls glibc 2.36 does not wrap, each wrapped once. */
#ifndef JAIL_SYSCALLS_H
#define JAIL_SYSCALLS_H

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static inline int jail__pidfd_open(pid_t pid, unsigned int flags) {
        return (int) syscall(SYS_pidfd_open, pid, flags);
}

static inline int jail__pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

#endif
