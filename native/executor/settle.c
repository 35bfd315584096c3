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
 * The holes stay taken for the base's lifetime: they were free memory inside pages the
 * base holds anyway (whole free pages are given back to the kernel first), so this costs
 * the host next to nothing and saves every vassal its copies. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "internal.h"

/* Free bytes in the heap's bins: the holes between live blocks (the top is no hole). */
static size_t holes(void) {
        struct mallinfo2 mi = mallinfo2();

        return mi.fordblks - mi.keepcost;
}

/* Takes up the heap's holes, largest requests first (a request takes the best-fitting
 * hole, or splits a bigger one), until a size no longer fits any hole: the next
 * allocation of it would come from the top. Below the allocator's mmap threshold only:
 * a bigger request would be a mapping of its own, no hole. */
static void take_holes(void) {
        for (size_t size = 64 * 1024; size >= 16; size /= 2) {
                size_t before = holes();

                while (before >= size + 2 * sizeof(size_t)) {
                        size_t after;

                        /* A batch, then one count: mallinfo2() walks every bin. */
                        for (int i = 0; i < 64; i++)
                                if (!malloc(size))
                                        return;
                        after = holes();
                        if (after >= before)
                                break; /* it came from the top: no hole of this size left */
                        before = after;
                }
        }
}

int jail_fork_server_settle(void) {
        int r = jail__seccomp_build_default();

        /* Whole free pages inside the heap and its top go back to the kernel first: taking
         * them up must not make them resident. */
        (void) malloc_trim(0);
        take_holes();
        return r;
}
