/* bench-floor.c: the kernel's floor for the launch benchmark. A vfork-style clone into
 * the same five namespaces whose child execs /bin/true at once: no helper, no /proc, no
 * loopback, no privilege drop, no init. No jail can launch faster than this on the same
 * machine, so the benchmark prints it beside the real launchers.
 * Usage: bench-floor N   (prints the median in microseconds) */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAMESPACES (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

static char stack[64 * 1024] __attribute__((aligned(16)));

static int exec_true(void *unused) {
        char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };

        (void) unused;
        execve(argv[0], argv, envp);
        _exit(127);
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        int n = argc == 2 ? atoi(argv[1]) : 0;
        double *t;

        if (n <= 0 || !(t = calloc((size_t) n, sizeof(double)))) {
                fprintf(stderr, "usage: bench-floor N\n");
                return 2;
        }
        for (int i = 0; i < n; i++) {
                struct timespec a, b;
                int status;
                pid_t pid;

                clock_gettime(CLOCK_MONOTONIC, &a);
                pid = clone(exec_true, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | NAMESPACES | SIGCHLD, NULL);
                if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        perror("bench-floor");
                        return 1;
                }
                clock_gettime(CLOCK_MONOTONIC, &b);
                t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
        }
        qsort(t, (size_t) n, sizeof(double), cmp);
        printf("%.1f\n", t[n / 2]);
        return 0;
}
