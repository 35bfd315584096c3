// Linux capability names and numbers (linux/capability.h), so `cap = net_bind_service`
// is checked here with a helpful error instead of failing inside the jail.

const NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid',
  'setpcap', 'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw',
  'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct',
  'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod',
  'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog',
  'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore',
] as const;

// Every capability name we know, in number order.
export const CAPABILITY_NAMES: readonly string[] = NAMES;

// The number of a capability name (`net_bind_service`, `CAP_NET_BIND_SERVICE`), or undefined.
export function capabilityNumber(name: string): number | undefined {
  const bare = name.trim().toLowerCase().replace(/^cap_/, '');
  const i = CAPABILITY_NAMES.indexOf(bare);
  return i < 0 ? undefined : i;
}

/** What a privileged binary patch keeps when its file sets no `cap`: the set container
 *  runtimes give a root process (enough for nginx's master to chown its temp directories,
 *  bind port 80 and switch its workers to another user), never sys_admin, sys_module,
 *  sys_ptrace, net_admin or dac_read_search. */
export const PRIVILEGED_DEFAULT_CAPS: readonly string[] = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'net_raw', 'sys_chroot', 'mknod', 'audit_write', 'setfcap',
];
