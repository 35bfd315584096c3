/* probe.h: what the parts of the escape probe share (see probe.c). */
#ifndef PROBE_H
#define PROBE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>


/* uWSGI's "do not respawn me": the emperor leaves the vassal stopped. */
#define EXIT_DO_NOT_RESPAWN 26

/* Worst wins: one syscall that works makes the whole attempt an escape. */
typedef enum {
        VERDICT_BLOCKED,
        VERDICT_UNPROVEN,
        VERDICT_ESCAPED,
        _VERDICT_MAX,
} verdict_t;


typedef struct {
        verdict_t verdict;
        char detail[1024];
        size_t len;
} result_t;

/* What the host knows and the jail must not reach, passed as KEY=VALUE arguments. */
typedef struct {
        pid_t emperor;           /* emperor=   the emperor's host pid */
        pid_t tenant_init;       /* tenant=    another tenant's jail, its pid 1 as the host sees it */
        pid_t tenant_vassal;     /* tenant-vassal= that jail's program (a sleep) */
        int tcp_port;            /* tcp=       a TCP server on the host's 127.0.0.1 */
        const char *abstract;    /* abstract=  an abstract UNIX socket on the host (name without the NUL) */
        int shm_id;              /* shm=       a host SysV shared memory segment, mode 0666 */
        const char *stats;       /* stats=     the emperor's stats socket */
        const char *vassals;     /* vassals=   the emperor's vassal directory */
        const char *own_config;  /* config=    this vassal's file */
        const char *other_config;/* other-config= the other tenant's file */
        const char *node;        /* node=      the emperor's executable */
        const char *helper;      /* helper=    jail-helper on disk (optional) */
        const char *addon;       /* addon=     the addon the emperor loads */
        const char *suid;        /* suid=      a root-owned mode 4755 copy of this probe */
        const char *host_tmp;    /* host-tmp=  a file in the host's /tmp that uid 1001 may read */
        const char *host_socket; /* host-socket= a mode 0666 UNIX socket on the host */
        const char *disk;        /* disk=      a host block device */
        const char *other_cgroups; /* other-cgroups= the other tenant's jail cgroup directories, `:` between */
        const char *unfiltered;  /* unfiltered= `probe unfiltered`'s answers on the host, id:RESULT,… */
        const char *fork_server; /* fork-server= the base's socket (optional: an adopted jail's run) */
        pid_t base;              /* base=      the fork-server base's host pid (with fork-server) */
        const char *shared_markers; /* shared-markers= files the host made in its /dev/shm and
                                     * /var/tmp, `:` between (optional) */
} facts_t;

/* root=own: the jail has a root of its own (rootfs, overlay), where a host path that is
 * absent (ENOENT) is the defence itself. */
extern bool probe_own_root;

typedef struct {
        const char *id;
        const char *attempt; /* as the table in docs/SECURITY.md says it */
        void (*run)(const facts_t *f, result_t *r);
        bool documented;     /* an open door docs/SECURITY.md lists; reported, not defended */
        bool adopted;        /* only for a jail adopted from a fork server (fork-server= given) */
} attempt_t;

extern const char *const verdict_names[_VERDICT_MAX];

void raise_verdict(result_t *r, verdict_t v);
void note(result_t *r, const char *fmt, ...);
void expect_errno(result_t *r, const char *call, long ret, int want, int also);
void not_tried(result_t *r, const char *call);
void expect_true(result_t *r, bool held, const char *fmt, ...);
void expect_open_refused(result_t *r, const char *path, int flags, int want, int also);
void expect_open_refused_where_present(result_t *r, const char *const *paths, size_t n, int flags, int want);
void expect_connect_refused(result_t *r, const char *call, const struct sockaddr *addr, socklen_t len, int want);
socklen_t unix_address(struct sockaddr_un *addr, const char *name, bool abstract);
void expect_unix_connect_refused(result_t *r, const char *name, bool abstract, const char *aside, int want);
void status_field(const char *key, char *buf, size_t size);
bool is_number(const char *s);
void see_host_processes(const facts_t *f, result_t *r);
void signal_emperor(const facts_t *f, result_t *r);
void signal_other_tenant(const facts_t *f, result_t *r);
void read_emperor_environ(const facts_t *f, result_t *r);
void read_emperor_cmdline(const facts_t *f, result_t *r);
void connect_host_loopback(const facts_t *f, result_t *r);
void connect_outside(const facts_t *f, result_t *r);
void connect_abstract_socket(const facts_t *f, result_t *r);
void attach_host_shm(const facts_t *f, result_t *r);
void connect_stats_socket(const facts_t *f, result_t *r);
void write_vassal_dir(const facts_t *f, result_t *r);
void mount_tmpfs(const facts_t *f, result_t *r);
void remount_root(const facts_t *f, result_t *r);
void unmount_proc(const facts_t *f, result_t *r);
void pivot_root_tmp(const facts_t *f, result_t *r);
void chroot_tmp(const facts_t *f, result_t *r);
void exec_setuid_root(const facts_t *f, result_t *r);
void load_kernel_code(const facts_t *f, result_t *r);
void set_hostname(const facts_t *f, result_t *r);
void attach(result_t *r, const char *call, pid_t pid, int want);
void trace_processes(const facts_t *f, result_t *r);
void inventory_fds(const facts_t *f, result_t *r);
void write_emperor_binary(const facts_t *f, result_t *r);
int hidden_by_private_tmp(const char *path);
void write_executor_on_disk(const facts_t *f, result_t *r);
void make_device_node(const facts_t *f, result_t *r);
void raise_rlimit(const facts_t *f, result_t *r);
void read_through_root_links(const facts_t *f, result_t *r);
void become_root(const facts_t *f, result_t *r);
void hold_capabilities(const facts_t *f, result_t *r);
void see_other_tmp(const facts_t *f, result_t *r);
void create_namespaces(const facts_t *f, result_t *r);
void join_namespaces(const facts_t *f, result_t *r);
void write_kernel_tunables(const facts_t *f, result_t *r);
void leave_cgroup(const facts_t *f, result_t *r);
void reboot_host(const facts_t *f, result_t *r);
void set_clock(const facts_t *f, result_t *r);
void open_by_handle(const facts_t *f, result_t *r);
void read_host_disk(const facts_t *f, result_t *r);
void create_user_namespace(const facts_t *f, result_t *r);
void write_shared_dirs(const facts_t *f, result_t *r);
void connect_host_unix_socket(const facts_t *f, result_t *r);
void read_other_config(const facts_t *f, result_t *r);
void raise_cgroup_limits(const facts_t *f, result_t *r);
void leave_jail_cgroup(const facts_t *f, result_t *r);
void enter_tenant_cgroup(const facts_t *f, result_t *r);
void use_kernel_interfaces(const facts_t *f, result_t *r);
void push_terminal_input(const facts_t *f, result_t *r);
void use_mount_api(const facts_t *f, result_t *r);
void use_clone3(const facts_t *f, result_t *r);
void connect_fork_server(const facts_t *f, result_t *r);
void reach_fork_base(const facts_t *f, result_t *r);
int print_unfiltered(void);

#endif
