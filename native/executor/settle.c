/* settle.c: a fork-server base readies its memory for the forks to come.
 *
 * Every adopted vassal is a fork of the base: its pages are shared until someone writes
 * to one, and then the kernel copies that page (copy-on-write) for the writer. Two kinds
 * of writes in a new vassal are avoidable, and both are most of what an adoption costs
 * on a big base:
 *   - building the seccomp filter: libseccomp allocates and frees thousands of small
 *     blocks; the base builds the default filter once instead (seccomp.c);
 *   - allocating from the holes of the base's heap: the allocator reuses the free blocks
 *     scattered between the base's live data, and writes its bookkeeping into them, so a
 *     32-byte allocation copies a whole page of the base. Once the base has taken up
 *     those holes itself, a vassal's allocations come from the top of the heap: pages
 *     of its own, many allocations to a page, nothing copied.
 * The holes left by loading the code stay taken for the base's lifetime: they were free
 * memory inside pages the base holds anyway (whole free pages are given back to the
 * kernel first), so this costs the host next to nothing and saves every vassal its
 * copies. The holes the base's own work leaves later are taken for each fork only and
 * given back right after it in the base (the child never touches them). */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

/* Free bytes in the heap's bins: the holes between live blocks (the top is no hole). */
static size_t holes(void) {
        struct mallinfo2 mi = mallinfo2();

        return mi.fordblks - mi.keepcost;
}

/* Where the top of the main heap starts: a block at or past it is no hole. The base is
 * single-threaded, so every allocation here is the main arena's, below the break. */
static char *top_start(void) {
        return (char *) sbrk(0) - mallinfo2().keepcost;
}

/* The block-taking of take_holes(): up to `want` blocks of `size` while they come from
 * holes (below `top`, where the top began: a block past it came from the top); one from
 * the top is given back at once and ends the class. Returns false when `list` is full or
 * the allocator failed. */
static bool take(size_t size, size_t want, char *top, void **list, size_t max, size_t *n, bool *ret_top) {
        for (size_t i = 0; i < want; i++) {
                char *p;

                if (list && *n == max)
                        return false;
                if (!(p = malloc(size)))
                        return false;
                if (p >= top) {
                        free(p); /* back to the allocator: into the top, or its cache */
                        *ret_top = true;
                        return true;
                }
                if (list)
                        list[(*n)++] = p;
        }
        return true;
}

/* Takes up the heap's holes. First the per-thread cache (a few blocks of each small
 * size, which mallinfo2() counts as in use), then the bins, largest requests first (a
 * request takes the best-fitting hole, or splits a bigger one), each size until a block
 * comes from the top: no hole of that size is left. Below the allocator's mmap threshold
 * only: a bigger request would be a mapping of its own, no hole. With `list`, records up
 * to `max` blocks there; returns how many it recorded. */
static size_t take_holes(void **list, size_t max) {
        char *top = top_start();
        size_t n = 0;

        /* Requests of 16, 32, ... 1024 bytes: one per cache size class, 7 cached in each. */
        for (size_t size = 16; size <= 1024; size += 16) {
                bool at_top = false;

                if (!take(size, 7, top, list, max, &n, &at_top))
                        return n;
        }
        for (size_t size = 64 * 1024; size >= 16; size /= 2) {
                for (size_t before = holes(); before >= size + 2 * sizeof(size_t);) {
                        bool at_top = false;
                        size_t after;

                        /* As many as could fit: the first from the top stops it anyway. */
                        if (!take(size, before / (size + 2 * sizeof(size_t)), top, list, max, &n, &at_top))
                                return n;
                        after = holes();
                        if (at_top || after >= before)
                                break;
                        before = after;
                }
        }
        return n;
}

int jail_fork_server_settle(void) {
        int r = jail__seccomp_build_default();

        /* Whole free pages inside the heap and its top go back to the kernel first: taking
         * them up must not make them resident. These holes, left by loading the code, stay
         * taken for good. */
        (void) malloc_trim(0);
        (void) take_holes(NULL, 0);
        return r;
}

/* The holes the base's own work left since (each request frees what it allocated), taken
 * for the length of one fork: the child is born with them in use and never touches them;
 * the base gets them back at once (jail__release_holes), so nothing accumulates. */
size_t jail__hold_holes(void **list, size_t max) {
        return take_holes(list, max);
}

void jail__release_holes(void **list, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(list[i]);
}
