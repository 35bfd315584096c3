/* clone3.c: a vfork-style clone3() whose child runs a C function on a stack we give it.
 *
 * glibc 2.36 has no public clone3() wrapper, and a raw syscall(SYS_clone3, ...) cannot be
 * used with CLONE_VM: the child would return from syscall() onto the parent's stack
 * frames, which the parent (suspended by CLONE_VFORK, but sharing the memory) still
 * needs. So the child must never return from the system call instruction: the few lines
 * of assembly below switch to child_main on the new stack right after it, the way
 * glibc's own clone() does.
 *
 * Registers across the system call instruction, which is what the child inherits:
 *   x86_64:  the kernel returns in rax and clobbers rcx and r11 (syscall keeps the
 *            return address and rflags there); every other register is preserved and
 *            the child gets the same values, with rsp = stack + stack_size.
 *   aarch64: the kernel returns in x0 and preserves every other register; the child's
 *            sp = stack + stack_size.
 * So fn and arg are parked in registers the system call leaves alone, and the child
 * picks them up on its own stack. The caller gives a stack whose top is 16-byte
 * aligned, as both ABIs require at a call. */
#include <errno.h>
#include <stddef.h>

#include "internal.h"
#include "syscalls.h"

#if defined(__x86_64__)
/* long jail__clone3_raw(struct clone_args *args (rdi), size_t size (rsi),
 *                       int (*fn)(void *) (rdx), void *arg (rcx))
 * Returns what the system call returns, in the parent only: the child's pid, or -errno. */
__asm__(".text\n"
        ".globl jail__clone3_raw\n"
        ".hidden jail__clone3_raw\n"
        ".type jail__clone3_raw, @function\n"
        "jail__clone3_raw:\n"
        "        .cfi_startproc\n"
        "        mov %rdx, %r8\n"          /* fn: r8 survives the syscall (rdx would too; */
        "        mov %rcx, %r9\n"          /* arg: rcx does not, it gets the return rip) */
        "        mov $" JAIL__STR(SYS_clone3) ", %eax\n"
        "        syscall\n"
        "        test %rax, %rax\n"
        "        jz 1f\n"
        "        ret\n"                    /* parent: the child has exec'd or exited (CLONE_VFORK) */
        "1:\n"
        "        .cfi_undefined rip\n"     /* child: nothing to unwind into */
        "        xor %ebp, %ebp\n"         /* the end of the frame-pointer chain */
        "        mov %r9, %rdi\n"
        "        call *%r8\n"              /* rsp is 16-aligned here, so fn sees the ABI's rsp+8 */
        "        mov %eax, %edi\n"
        "        mov $" JAIL__STR(SYS_exit) ", %eax\n"
        "        syscall\n"
        "        hlt\n"                    /* not reached */
        "        .cfi_endproc\n"
        ".size jail__clone3_raw, . - jail__clone3_raw\n");
#define HAVE_TRAMPOLINE 1
#elif defined(__aarch64__)
/* Same contract: x0 = args, x1 = size, x2 = fn, x3 = arg; the result in x0. */
__asm__(".text\n"
        ".globl jail__clone3_raw\n"
        ".hidden jail__clone3_raw\n"
        ".type jail__clone3_raw, %function\n"
        "jail__clone3_raw:\n"
        "        .cfi_startproc\n"
        "        hint #34\n"               /* bti c: a valid call target under BTI, a NOP elsewhere */
        "        mov x9, x2\n"             /* fn and arg: svc preserves every register but x0 */
        "        mov x10, x3\n"
        "        mov x8, #" JAIL__STR(SYS_clone3) "\n"
        "        svc #0\n"
        "        cbz x0, 1f\n"
        "        ret\n"                    /* parent: the child has exec'd or exited (CLONE_VFORK) */
        "1:\n"
        "        .cfi_undefined x30\n"     /* child: nothing to unwind into */
        "        mov x29, xzr\n"           /* the end of the frame-pointer chain */
        "        mov x30, xzr\n"
        "        mov x0, x10\n"
        "        blr x9\n"                 /* sp is the 16-aligned top the caller gave */
        "        mov x8, #" JAIL__STR(SYS_exit) "\n"
        "        svc #0\n"
        "        brk #0\n"                 /* not reached */
        "        .cfi_endproc\n"
        ".size jail__clone3_raw, . - jail__clone3_raw\n");
#define HAVE_TRAMPOLINE 1
#endif

#ifdef HAVE_TRAMPOLINE
long jail__clone3_raw(jail_clone_args_t *args, size_t size, int (*fn)(void *), void *arg);
#endif

int jail__clone3(jail_clone_args_t *args, int (*fn)(void *), void *arg) {
#ifdef HAVE_TRAMPOLINE
        /* The top must be 16-byte aligned: the trampoline calls fn with it as is. */
        if ((args->stack + args->stack_size) % 16 != 0)
                return -EINVAL;
        return (int) jail__clone3_raw(args, sizeof(*args), fn, arg);
#else
        (void) args;
        (void) fn;
        (void) arg;
        return -ENOSYS;
#endif
}
