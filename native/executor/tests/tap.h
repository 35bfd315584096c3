/* tap.h: the smallest TAP producer: ok()/is() lines, a plan at the end, exit 1 on any
 * failure and 77 for skip (the automake/crun convention). */
#ifndef JAIL_TAP_H
#define JAIL_TAP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                   \
        do {                                                            \
                int ok_ = !!(cond);                                     \
                printf("%sok %d - ", ok_ ? "" : "not ", ++tap_n);       \
                printf(__VA_ARGS__);                                    \
                printf("\n");                                           \
                if (!ok_) {                                             \
                        tap_failed++;                                   \
                        printf("#   at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
                }                                                       \
        } while (0)

#define is(got, want, ...)                                              \
        do {                                                            \
                long got_ = (long) (got), want_ = (long) (want);        \
                ok(got_ == want_, __VA_ARGS__);                         \
                if (got_ != want_)                                      \
                        printf("#   got %ld, want %ld\n", got_, want_); \
        } while (0)

static inline int tap_done(void) {
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}

static inline void tap_skip_all(const char *why) {
        printf("1..0 # SKIP %s\n", why);
        exit(77);
}
#endif
