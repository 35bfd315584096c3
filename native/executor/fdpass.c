/* fdpass.c: passing fds over a UNIX socket (SCM_RIGHTS), for the fork server and the
 * on-demand sockets. Received fds are close-on-exec. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jail.h"

ssize_t jail_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * JAIL_MAX_FDS)];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        /* A message with fds must carry at least one byte, or the peer may not see it. */
        if (n_fds > JAIL_MAX_FDS || (n_fds > 0 && len == 0))
                return -EINVAL;
        if (n_fds > 0) {
                memset(&u, 0, sizeof(u));
                msg.msg_control = u.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}

ssize_t jail_recv_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * JAIL_MAX_FDS)];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        ssize_t n;

        *ret_n_fds = 0;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) CMSG_DATA(c);
                for (size_t i = 0; i < count; i++) {
                        if (*ret_n_fds < max_fds)
                                ret_fds[(*ret_n_fds)++] = fds[i];
                        else
                                (void) close(fds[i]); /* more than the caller can take */
                }
        }
        /* Truncated control data means fds were lost: say so rather than hand back half. */
        if (msg.msg_flags & MSG_CTRUNC) {
                for (size_t i = 0; i < *ret_n_fds; i++)
                        (void) close(ret_fds[i]);
                *ret_n_fds = 0;
                return -EMSGSIZE;
        }
        return n;
}
