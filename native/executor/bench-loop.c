/* bench-loop.c: the benchmark's raw C peer. Launches the same serialised plan N times
 * through jail_launch(), waiting for each, and prints the median launch time in
 * microseconds. Usage: bench-loop HELPER PLANFILE N */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail.h"

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        static uint8_t plan[1 << 16];
        jail_child_t child;
        jail_error_t err;
        int helper, fd, n;
        ssize_t len;

        if (argc != 4) {
                fprintf(stderr, "usage: bench-loop HELPER PLANFILE N\n");
                return 2;
        }
        helper = open(argv[1], O_RDONLY | O_CLOEXEC);
        fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        n = atoi(argv[3]);
        if (helper < 0 || fd < 0 || n <= 0 || (len = read(fd, plan, sizeof(plan))) <= 0) {
                perror("bench-loop");
                return 2;
        }
        double *t = calloc((size_t) n, sizeof(double));
        for (int i = 0; i < n; i++) {
                struct timespec a, b;
                siginfo_t si;
                char rec[sizeof(jail_error_t)];
                struct pollfd p;

                clock_gettime(CLOCK_MONOTONIC, &a);
                if (jail_launch(plan, (size_t) len, helper, &child, &err) < 0) {
                        fprintf(stderr, "bench-loop: launch failed at %s: errno %d\n", jail_stage_to_string(err.stage), err.errnum);
                        return 1;
                }
                /* Progress records until EOF; a failure record means it did not start. */
                for (;;) {
                        ssize_t got;

                        p = (struct pollfd) { .fd = child.status_fd, .events = POLLIN };
                        (void) poll(&p, 1, -1);
                        got = read(child.status_fd, rec, sizeof(rec));
                        if (got < 0 && errno == EAGAIN)
                                continue;
                        if (got == (ssize_t) sizeof(rec) && (((jail_error_t *) rec)->stage & JAIL_PROGRESS))
                                continue;
                        if (got != 0) {
                                fprintf(stderr, "bench-loop: the jail failed to start\n");
                                return 1;
                        }
                        break;
                }
                (void) waitid(P_PIDFD, child.pidfd, &si, WEXITED);
                clock_gettime(CLOCK_MONOTONIC, &b);
                close(child.status_fd);
                close(child.pidfd);
                t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
        }
        qsort(t, (size_t) n, sizeof(double), cmp);
        printf("%.1f\n", t[n / 2]);
        return 0;
}
