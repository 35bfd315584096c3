// The vassal options jailctl understands, with uWSGI's names, so `--help`, warnings and the
// compiler share one table.
import { closest, distance } from 'fastest-levenshtein';
import { UWSGI_OPTION_NAMES } from './uwsgi-options';

/** `single`: the last value wins; `list`: every value counts, in order. */
export type OptionKind = 'single' | 'list';

/** `jail`: applied by the executor, never shown to the program; `app`: read by the Node
 *  app server (src/runtime/node) from its config. */
export type OptionScope = 'jail' | 'app';

export interface OptionSpec {
  readonly name: string;
  readonly kind: OptionKind;
  readonly help: string;
  readonly scope?: OptionScope;
}

// The jail options of a vassal file.
export const VASSAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'unshare', kind: 'list', help: 'namespaces to create: fs (or mount), pid, net, ipc, uts' },
  { name: 'exec-as-root', kind: 'list', help: 'shell command run as root inside the jail before the privilege drop' },
  { name: 'hostname', kind: 'single', help: 'hostname inside the jail (needs unshare = uts)' },
  { name: 'uid', kind: 'single', help: 'user to run as (name or number)' },
  { name: 'gid', kind: 'single', help: 'group to run as (name or number; default: the user\'s group)' },
  { name: 'cap', kind: 'list', help: 'capabilities to keep, e.g. net_bind_service,setuid; all others leave the bounding set (a privileged patch without cap keeps a container\'s default set: chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap)' },
  { name: 'no-new-privs', kind: 'single', help: 'forbid gaining privileges through exec (default true)' },
  { name: 'tmp', kind: 'single', help: '`private`: a fresh, empty tmpfs on /tmp that only this jail sees (needs unshare = fs)' },
  { name: 'tmp-size', kind: 'single', help: 'what the private /tmp may hold: bytes, or with k, m, g (default 64m)' },
  { name: 'rootfs', kind: 'single', help: 'DIR becomes the jail\'s / (pivot_root; the host\'s root is detached), with a /proc of its own, a minimal /dev and a private /tmp; adds fs to unshare (build one: npm run rootfs -- DIR)' },
  { name: 'chroot', kind: 'single', help: 'the same as rootfs (uWSGI\'s name); never a plain chroot: the jail gets its own mount namespace' },
  { name: 'pivot_root', kind: 'single', help: 'NEW OLD: the same as rootfs = NEW (uWSGI\'s form); the old root is detached, not left at OLD' },
  { name: 'overlay', kind: 'single', help: 'LOWER becomes the jail\'s / through a throw-away writable layer (tmpfs, tmp-size): one read-only image shared by many jails' },
  { name: 'rootfs-readonly', kind: 'single', help: 'true: the jail\'s root is mounted read-only (its /tmp, /dev and binds keep their own modes)' },
  { name: 'bind', kind: 'list', help: 'SRC[:DST][:ro] brings the host path SRC into the jail at DST (default the same path); repeatable; in tyrant mode only a tenant\'s own paths under vassals-bind-allow' },
  { name: 'max-procs', kind: 'single', help: 'at most N processes for the jail\'s uid (RLIMIT_NPROC; counts all of that user\'s processes, root is exempt)' },
  { name: 'max-fd', kind: 'single', help: 'at most N open files per process (RLIMIT_NOFILE, soft and hard; default: soft 1024, the host\'s hard limit)' },
  { name: 'oom-score-adj', kind: 'single', help: 'the jail\'s oom_score_adj, -1000 to 1000 (default 0, whatever the emperor\'s)' },
  { name: 'memory-max', kind: 'single', help: 'the jail\'s memory and swap, all its processes together (cgroup): 64m, 1g, or max; past it the OOM killer takes the whole jail' },
  { name: 'memory-high', kind: 'single', help: 'above this the jail is slowed down and its memory reclaimed (cgroup v2 memory.high): 48m, or max' },
  { name: 'pids-max', kind: 'single', help: 'processes and threads in the jail, all users together (cgroup pids.max; default 1024, or the emperor\'s vassals-pids-max)' },
  { name: 'cpu-max', kind: 'single', help: 'CPU time as a share of one CPU: 50% is half a CPU, 200% two (cgroup cpu.max), or max' },
  { name: 'io-weight', kind: 'single', help: 'the jail\'s share of disk time against the others, 1 to 10000 (default 100; cgroup io.weight, where the kernel has it)' },
  { name: 'cgroup-opt', kind: 'list', help: 'KEY=VALUE written to the interface file KEY of the jail\'s cgroup, e.g. memory.swap.max=0 (repeatable)' },
  { name: 'seccomp', kind: 'single', help: '`default` (every jail: no user namespaces, keyctl, bpf, io_uring, TIOCSTI…), `none`, or a FILE of `deny NAME` / `allow NAME` lines' },
  { name: 'chdir', kind: 'single', help: 'working directory inside the jail' },
  { name: 'bind-socket', kind: 'list', help: 'ADDR (host:port, :port or an absolute path): the emperor binds it before the jail starts and passes it listening as fd 5, 6, … (JAIL_LISTEN_FDS); nginx takes it with env = NGINX=5; (a uWSGI vassal\'s own socket lines are bound so without asking)' },
  { name: 'socket-activation', kind: 'single', help: 'how the sockets the emperor holds reach the program: `uwsgi` (default: the on-demand socket at fd 0) or `systemd` (every held socket at fd 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, the program\'s pid in its pid namespace; the emperor pipe follows them, see JAIL_EMPEROR_FD)' },
  { name: 'held-socket', kind: 'list', help: 'NAME=ADDR (host:port, :port or an absolute path): a socket the emperor binds and holds across reloads and respawns, passed with socket-activation = systemd after the on-demand one, NAME in LISTEN_FDNAMES (repeatable; on demand, a connection on any held socket starts the vassal)' },
  { name: 'reload-signal', kind: 'single', help: 'for a program that does not speak the emperor protocol: a touch of the file sends it this signal (e.g. SIGHUP, nginx\'s graceful reload) instead of restarting the jail; a changed jail config still restarts it' },
  { name: 'stop-signal', kind: 'single', help: 'for a program that does not speak the emperor protocol: the signal that stops it (default SIGTERM; e.g. SIGQUIT, nginx\'s graceful stop); the whole jail is killed emperor-curse-tolerance seconds later' },
  { name: 'env', kind: 'list', help: 'KEY=VALUE added to the environment' },
  { name: 'privileged-binary-patch', kind: 'single', help: 'program exec\'d as root after the hooks, with the vassal\'s argv' },
  { name: 'privileged-binary-patch-arg', kind: 'single', help: 'command line exec\'d as root after the hooks' },
  { name: 'unprivileged-binary-patch', kind: 'single', help: 'program exec\'d after the privilege drop, with the vassal\'s argv' },
  { name: 'unprivileged-binary-patch-arg', kind: 'single', help: 'command line exec\'d after the privilege drop' },
  { name: 'app', kind: 'single', scope: 'app', help: 'Node module whose default export is a request listener (req, res) => …: run by jailctl\'s app server' },
  { name: 'http-socket', kind: 'list', scope: 'app', help: 'app server: listen on HOST:PORT or a UNIX socket path (repeatable)' },
  { name: 'processes', kind: 'single', scope: 'app', help: 'app server: worker processes sharing the sockets (default 1)' },
  { name: 'workers', kind: 'single', scope: 'app', help: 'the same as processes' },
  { name: 'heartbeat', kind: 'single', scope: 'app', help: 'app server: each worker sends the emperor a heartbeat every N seconds' },
  { name: 'idle', kind: 'single', scope: 'app', help: 'app server: stop the workers after N seconds without a request' },
  { name: 'die-on-idle', kind: 'single', scope: 'app', help: 'app server: with idle, exit instead (back to on-demand)' },
  { name: 'protocol', kind: 'single', scope: 'app', help: 'app server: the protocol on the socket (http)' },
  { name: 'psgi', kind: 'single', scope: 'app', help: 'PSGI app (app.psgi) served by jailctl\'s PSGI host (Perl, Plack), with the app server\'s http-socket, processes, heartbeat, idle' },
  { name: 'early-psgi', kind: 'single', scope: 'app', help: 'PSGI app a fork-server base loads before anything else (with fork-server): vassals are adopted from it with the app loaded' },
  { name: 'fork-server', kind: 'single', scope: 'app', help: 'in a base (early-psgi): the UNIX socket it serves adoptions on; in another vassal (emperor-fork-server-attr): the base to be adopted from' },
];

/** The options whose value root runs: a command line (exec-as-root through /bin/sh -c,
 *  privileged-binary-patch-arg split into words) or a program path. A tenant's value lands
 *  in one only quoted as one word (config/expand.ts), or is refused. */
export const ROOT_OPTIONS: readonly string[] = ['exec-as-root', 'privileged-binary-patch', 'privileged-binary-patch-arg'];

/** Of ROOT_OPTIONS, those that are a bare program path, where no quoting helps. */
export const ROOT_PATH_OPTIONS: readonly string[] = ['privileged-binary-patch'];

// True for the options the executor applies (they are not the program's to see).
export function isJailOption(name: string): boolean {
  const spec = findOption(name);
  return spec !== undefined && (spec.scope ?? 'jail') === 'jail';
}

// The spec of an option name, or undefined when jailctl does not know it.
export function findOption(name: string): OptionSpec | undefined {
  return VASSAL_OPTIONS.find((o) => o.name === name);
}

// The known option nearest to a misspelt one, if it is close enough to be a typo: among ours,
// and with `foreign`, among uWSGI's too (a file uWSGI reads).
export function suggestOption(name: string, foreign = false): string | undefined {
  const best = closest(name, [...VASSAL_OPTIONS.map((o) => o.name), ...(foreign ? UWSGI_OPTION_NAMES : [])]);
  return distance(name, best) <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** An option name uWSGI 2.0 knows (its core or a plugin Debian ships). */
export const isUwsgiOption = (name: string): boolean => UWSGI_OPTION_NAMES.has(name);
