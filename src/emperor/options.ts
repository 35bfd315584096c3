// The emperor's options, with uWSGI's names. One table serves the command line, the
// --ini/--yaml/--json file, `--help` and the parsing of each value.
import { closest, distance } from 'fastest-levenshtein';
import type { ConfigEntry } from '../config/types';
import { CAPABILITY_NAMES, capabilityNumber } from '../plan/capabilities';
import { parseSize } from '../plan/compile';
import { compileLimits } from '../plan/limits';
import type { Namespace } from '../plan/types';

export interface EmperorOptions {
  /** Monitor specs: dir://DIR, glob://PATTERN, or a bare directory or pattern. */
  readonly emperor: readonly string[];
  /** Seconds between safety-net rescans. */
  readonly freq: number;
  readonly nofollow: boolean;
  readonly useClone: readonly Namespace[];
  /** TCP host:port, :port, or a UNIX socket path. */
  readonly stats?: string;
  /** Tyrant mode: emperor-stats may be a TCP address (every local user can read it). */
  readonly statsPublic: boolean;
  /** GET /metrics (Prometheus) on host:port, :port, or a UNIX socket path. */
  readonly metrics?: string;
  /** Tyrant mode: emperor-metrics may be a TCP address (every local user can read it). */
  readonly metricsPublic: boolean;
  /** A UNIX socket emperor-metrics is also this group's (mode 0660). */
  readonly metricsGroup?: string;
  /** Milliseconds added to a blacklisted vassal's delay at each death. */
  readonly throttle: number;
  readonly maxThrottle: number;
  /** Launches in flight at once (clone to exec); undefined: launch-queue.ts's default. */
  readonly maxLaunches?: number;
  /** uWSGI's spawn throttle delta in ms; 0: off. */
  readonly spawnThrottle: number;
  /** Seconds of heartbeat silence after which a vassal counts as hung. */
  readonly requiredHeartbeat: number;
  /** Seconds a stopping vassal has before the whole jail is SIGKILLed. */
  readonly curseTolerance: number;
  /** Seconds a vassal that never speaks the protocol must live to count as loyal. */
  readonly loyalAfter: number;
  /** Seconds the emperor waits for its vassals at shutdown before SIGKILL. */
  readonly reloadMercy: number;
  /** Stop vassals with byte 2 (graceful) instead of byte 0. */
  readonly gracefulShutdown: boolean;
  readonly vassalSet: readonly string[];
  readonly vassalsInclude: readonly string[];
  /** The program a vassal without a binary patch runs (`binary-path --ini emperor://NAME`). */
  readonly binaryPath?: string;
  readonly pidfile?: string;
  /** On-demand vassals: the file `<vassal file><ext>` holds the socket address. */
  readonly onDemandExtension?: string;
  /** On-demand vassals: the socket is `DIR/<name without extension>.socket`. */
  readonly onDemandDirectory?: string;
  /** On-demand vassals: CMD VASSAL-FILE prints the socket address. */
  readonly onDemandExec?: string;
  /** This emperor's name (emperor-name.ts): its default control socket and logs dir follow
   *  from it; '' until resolveEmperorOptions() derives it from the first source. */
  readonly name: string;
  /** This host's name for %h in a pg:// query (default: the kernel's). */
  readonly hostname?: string;
  /** A pg:// query that returns no rows after some stops every vassal of the source. */
  readonly pgAllowEmpty: boolean;
  /** Where each vassal's stdout/stderr is kept, NAME.log (`none`: vassals share the emperor's). */
  readonly logsDir: string;
  /** Where what operators said (`jailctl stop`) is kept across restarts (operator-state.ts);
   *  `none`: nowhere, a restart forgets it. '' until resolveEmperorOptions() names it. */
  readonly stateDir: string;
  /** A vassal's log is rotated to NAME.log.1 past this many bytes. */
  readonly logsMaxSize: number;
  /** The control socket for jailctl ps/stats/reload/stop/start (`none`: no socket). */
  readonly controlSocket: string;
  /** Connections one uid other than root may hold on the control socket at once. */
  readonly controlMaxConnections: number;
  /** Seconds a control connection may sit without a request (sessions excepted). */
  readonly controlIdleTimeout: number;
  /** Tyrant mode: each vassal runs as the owner of its config file. */
  readonly tyrant: boolean;
  /** Tyrant mode: a symlink counts as its own owner's, and must point at that owner's file. */
  readonly tyrantNofollow: boolean;
  /** Tyrant mode: tenants' files may have exec-as-root hooks and privileged binary patches. */
  readonly tyrantAllowRootHooks: boolean;
  /** Tyrant mode: a vassal gets its owner's supplementary groups (/etc/group). */
  readonly tyrantInitgroups: boolean;
  /** Every vassal's max-procs unless its file sets one; in tyrant mode, also the most a tenant may set. */
  readonly vassalsMaxProcs?: number;
  /** Every private /tmp's size unless its file sets one; in tyrant mode also the most a tenant may set. */
  readonly vassalsTmpSize?: number;
  /** Tyrant mode: the directories under which a tenant's bind, rootfs and overlay paths may lie. */
  readonly bindAllow: readonly string[];
  /** Each vassal's cgroup limit of the same name unless its file sets one; in tyrant mode
   *  also the most a tenant may set (vassal syntax: `64m`, `50%`, `max`). */
  readonly vassalsMemoryMax?: string;
  readonly vassalsMemoryHigh?: string;
  readonly vassalsPidsMax?: string;
  readonly vassalsCpuMax?: string;
  readonly vassalsIoWeight?: string;
  /** The emperor's cgroup subtree, beneath its own cgroup: a name, `auto` (jailctl-PID) or
   *  `none` (jails get no cgroup: no limits, and no whole-jail kill without a pid namespace). */
  readonly cgroup: string;
  /** Tyrant mode: the capabilities a tenant's `cap` may ask for. */
  readonly vassalsCap: readonly string[];
  /** The emperor's own user, group and capabilities: it drops to them at start. */
  readonly uid?: string;
  readonly gid?: string;
  readonly cap: readonly string[];
  /** The fork server (a base's UNIX socket) that vassals without a program of their own are adopted from. */
  readonly useForkServer?: string;
  /** Vassal file names (`perlbase.ini`) that are fork-server bases. */
  readonly forkBases: readonly string[];
  /** The vassal key naming the base a vassal is adopted from (default `fork-server`). */
  readonly forkServerAttr: string;
  /** Seconds an adoption waits for a base that is down, or for one answer of a running base. */
  readonly forkServerTimeout: number;
}

/** Connections one uid may hold on the control socket at once (`logs -f` and `enter`
 *  sessions count); root is never refused. */
export const DEFAULT_MAX_CONNECTIONS_PER_UID = 32;
/** Seconds a control connection may wait without a request in progress or a session running. */
export const DEFAULT_CONTROL_IDLE_TIMEOUT = 10;

type Field = keyof EmperorOptions;
type Kind = 'list' | 'string' | 'seconds' | 'ms' | 'count' | 'size' | 'bool' | 'namespaces' | 'caps' | 'limit';

export interface EmperorOptionSpec {
  readonly name: string;
  readonly field: Field;
  readonly kind: Kind;
  readonly arg?: string;
  readonly help: string;
}

export const EMPEROR_OPTIONS: readonly EmperorOptionSpec[] = [
  { name: 'emperor', field: 'emperor', kind: 'list', arg: 'SOURCE', help: 'watch vassal configs: DIR, dir://DIR or glob://PATTERN (repeatable)' },
  { name: 'emperor-freq', field: 'freq', kind: 'seconds', arg: 'SECS', help: 'the safety net for inotify: a full rescan every 10 x SECS while the watch is healthy (symlinks, whose targets inotify cannot see, every SECS), every SECS without one; an overflow or a lost watch rescans at once (default 3)' },
  { name: 'emperor-nofollow', field: 'nofollow', kind: 'bool', help: 'use a symlink\'s own mtime, so `touch -h link` reloads one vassal of a shared file' },
  { name: 'emperor-use-clone', field: 'useClone', kind: 'namespaces', arg: 'NS', help: 'namespaces every vassal gets on top of its own unshare: fs,net,ipc,pid,uts' },
  { name: 'emperor-stats', field: 'stats', kind: 'string', arg: 'ADDR', help: 'serve the stats JSON on host:port, :port or a UNIX socket path (raw, or HTTP GET); in tyrant mode a path (root only) unless emperor-stats-public' },
  { name: 'emperor-stats-public', field: 'statsPublic', kind: 'bool', help: 'tyrant mode: allow emperor-stats on TCP, where any local user reads every tenant\'s vassals (off: a UNIX socket path only)' },
  { name: 'emperor-metrics', field: 'metrics', kind: 'string', arg: 'ADDR', help: 'serve Prometheus metrics (GET /metrics) on host:port, :port or a UNIX socket path: every vassal\'s state, restarts, memory, CPU, OOM kills and pressure, and the emperor\'s launches, failures by stage and start latency; in tyrant mode a path (root only, or emperor-metrics-group) unless emperor-metrics-public' },
  { name: 'emperor-metrics-public', field: 'metricsPublic', kind: 'bool', help: 'tyrant mode: allow emperor-metrics on TCP, where any local user reads every tenant\'s vassals and uids (off: a UNIX socket path only)' },
  { name: 'emperor-metrics-group', field: 'metricsGroup', kind: 'string', arg: 'GROUP', help: 'the UNIX socket of emperor-metrics is also GROUP\'s (mode 0660: a local scraper or proxy in that group reads it)' },
  { name: 'emperor-throttle', field: 'throttle', kind: 'ms', arg: 'MS', help: 'delay added at each death of a blacklisted vassal (default 1000 ms)' },
  { name: 'emperor-max-throttle', field: 'maxThrottle', kind: 'ms', arg: 'MS', help: 'the most a blacklisted vassal waits between attempts (default 180000 ms)' },
  { name: 'emperor-max-launches', field: 'maxLaunches', kind: 'count', arg: 'N', help: 'boot-storm control: at most N launches in flight at once (a jail from its clone to its vassal\'s exec); the rest wait their turn, in order (default 16 per CPU, at least 64)' },
  { name: 'emperor-spawn-throttle', field: 'spawnThrottle', kind: 'ms', arg: 'MS', help: 'uWSGI\'s emperor throttle for spawns: a launch within a second of the one before adds MS to the wait before the next (up to emperor-max-throttle), one that is not halves it; 1000 is uWSGI\'s emperor-throttle (about one vassal a second in a storm) (default 0: off)' },
  { name: 'emperor-required-heartbeat', field: 'requiredHeartbeat', kind: 'seconds', arg: 'SECS', help: 'a vassal silent this long after its first heartbeat is hung: killed whole and respawned (default 30)' },
  { name: 'emperor-curse-tolerance', field: 'curseTolerance', kind: 'seconds', arg: 'SECS', help: 'how long a stopping vassal may take before its whole jail is SIGKILLed (default 30)' },
  { name: 'vassal-loyal-after', field: 'loyalAfter', kind: 'seconds', arg: 'SECS', help: 'a vassal that never speaks the emperor protocol is loyal after SECS alive (default 5)' },
  { name: 'reload-mercy', field: 'reloadMercy', kind: 'seconds', arg: 'SECS', help: 'at shutdown, SIGKILL what is still running after SECS (default 30)' },
  { name: 'emperor-graceful-shutdown', field: 'gracefulShutdown', kind: 'bool', help: 'stop vassals with the graceful byte (2) instead of byte 0' },
  { name: 'vassal-set', field: 'vassalSet', kind: 'list', arg: 'KEY=VALUE', help: 'add an option to every vassal (repeatable)' },
  { name: 'vassals-include', field: 'vassalsInclude', kind: 'list', arg: 'FILE', help: 'include FILE into every vassal, after its own file (repeatable)' },
  { name: 'binary-path', field: 'binaryPath', kind: 'string', arg: 'PATH', help: 'program a vassal without a binary patch runs, e.g. /usr/bin/uwsgi' },
  { name: 'emperor-pidfile', field: 'pidfile', kind: 'string', arg: 'FILE', help: 'write the emperor\'s pid to FILE (removed at exit)' },
  { name: 'emperor-on-demand-extension', field: 'onDemandExtension', kind: 'string', arg: 'EXT', help: 'on demand: the file VASSAL+EXT (e.g. web.ini.socket) holds the socket to hold for it' },
  { name: 'emperor-on-demand-directory', field: 'onDemandDirectory', kind: 'string', arg: 'DIR', help: 'on demand: hold the UNIX socket DIR/NAME.socket for every vassal' },
  { name: 'emperor-on-demand-exec', field: 'onDemandExec', kind: 'string', arg: 'CMD', help: 'on demand: CMD VASSAL-FILE prints the socket to hold for it' },
  { name: 'emperor-hostname', field: 'hostname', kind: 'string', arg: 'NAME', help: 'this host\'s name for %h in a pg:// query (WHERE host = \'%h\'), so one table serves many servers (default: the kernel\'s hostname)' },
  { name: 'emperor-pg-allow-empty', field: 'pgAllowEmpty', kind: 'bool', help: 'a pg:// query that returns no rows after returning some stops every vassal of that source (off: such an answer is held, the vassals keep running, and stats say so)' },
  { name: 'emperor-name', field: 'name', kind: 'string', arg: 'NAME', help: 'this emperor\'s name, for several on one host: its control socket is /run/jailctl/emperors/NAME.sock and its logs go to /var/log/jailctl/NAME unless given (default: from its first source, e.g. jails for /etc/jails); jailctl ps --emperor NAME picks it' },
  { name: 'emperor-logs-dir', field: 'logsDir', kind: 'string', arg: 'DIR', help: 'keep each vassal\'s stdout and stderr in DIR/NAME.log, stamped (default /var/log/jailctl/EMPEROR-NAME; none: vassals write to the emperor\'s own output)' },
  { name: 'emperor-state-dir', field: 'stateDir', kind: 'string', arg: 'DIR', help: 'keep what operators say (jailctl stop VASSAL) in DIR, root\'s only, so that it holds across emperor restarts and upgrades (default /var/lib/jailctl/EMPEROR-NAME; none: a restart starts every vassal again)' },
  { name: 'emperor-logs-max-size', field: 'logsMaxSize', kind: 'size', arg: 'SIZE', help: 'rotate a vassal\'s log to NAME.log.1 past SIZE (default 10m)' },
  { name: 'emperor-control-socket', field: 'controlSocket', kind: 'string', arg: 'PATH', help: 'UNIX socket for jailctl ps/stats/reload/stop/start (default /run/jailctl/emperors/EMPEROR-NAME.sock; none: no socket)' },
  { name: 'emperor-control-max-connections', field: 'controlMaxConnections', kind: 'count', arg: 'N', help: 'connections (logs -f and enter sessions included) one user other than root may hold on the control socket (default 32)' },
  { name: 'emperor-control-idle-timeout', field: 'controlIdleTimeout', kind: 'seconds', arg: 'SECS', help: 'close a control connection that sends no request for SECS (not a running logs -f or enter; default 10)' },
  { name: 'emperor-tyrant', field: 'tyrant', kind: 'bool', help: 'tyrant mode: each vassal runs as the owner of its file (never root); uid/gid in the file cannot change that' },
  { name: 'emperor-tyrant-nofollow', field: 'tyrantNofollow', kind: 'bool', help: 'tyrant mode: a symlink\'s own owner counts, and it must point at a file of that owner' },
  { name: 'emperor-tyrant-allow-root-hooks', field: 'tyrantAllowRootHooks', kind: 'bool', help: 'tyrant mode: let tenants\' files use exec-as-root and privileged binary patches (off: refused)' },
  { name: 'emperor-tyrant-initgroups', field: 'tyrantInitgroups', kind: 'bool', help: 'tyrant mode: give each vassal its owner\'s supplementary groups' },
  { name: 'vassals-max-procs', field: 'vassalsMaxProcs', kind: 'count', arg: 'N', help: 'max-procs of every vassal whose file sets none; in tyrant mode the most a tenant may set' },
  { name: 'vassals-tmp-size', field: 'vassalsTmpSize', kind: 'size', arg: 'SIZE', help: 'tmp-size of every private /tmp whose file sets none; in tyrant mode the most a tenant may set (default 64m)' },
  { name: 'vassals-bind-allow', field: 'bindAllow', kind: 'list', arg: 'DIR', help: 'tyrant mode: a tenant\'s bind, rootfs and overlay paths must lie under DIR (repeatable; default: none, so tenants get none); a bind source must also be the tenant\'s own' },
  { name: 'vassals-memory-max', field: 'vassalsMemoryMax', kind: 'limit', arg: 'SIZE', help: 'memory-max of every vassal whose file sets none; in tyrant mode the most a tenant may set' },
  { name: 'vassals-memory-high', field: 'vassalsMemoryHigh', kind: 'limit', arg: 'SIZE', help: 'memory-high of every vassal whose file sets none; in tyrant mode the most a tenant may set' },
  { name: 'vassals-pids-max', field: 'vassalsPidsMax', kind: 'limit', arg: 'N', help: 'pids-max of every vassal whose file sets none (default 1024); in tyrant mode the most a tenant may set' },
  { name: 'vassals-cpu-max', field: 'vassalsCpuMax', kind: 'limit', arg: 'PCT', help: 'cpu-max of every vassal whose file sets none, e.g. 50%; in tyrant mode the most a tenant may set' },
  { name: 'vassals-io-weight', field: 'vassalsIoWeight', kind: 'limit', arg: 'N', help: 'io-weight of every vassal whose file sets none; in tyrant mode the most a tenant may set' },
  { name: 'emperor-cgroup', field: 'cgroup', kind: 'string', arg: 'NAME', help: 'the cgroup subtree of the jails, beneath the emperor\'s own cgroup in each hierarchy (default auto: jailctl-PID; none: no cgroups, so no limits)' },
  { name: 'vassals-cap', field: 'vassalsCap', kind: 'caps', arg: 'CAPS', help: 'tyrant mode: capabilities a tenant\'s `cap` may ask for, e.g. net_bind_service (default: none)' },
  { name: 'uid', field: 'uid', kind: 'string', arg: 'USER', help: 'the emperor itself drops to USER after start-up (with emperor-tyrant and cap = setuid,setgid it still starts tenants as themselves)' },
  { name: 'gid', field: 'gid', kind: 'string', arg: 'GROUP', help: 'the emperor\'s own group after start-up (default: USER\'s group)' },
  { name: 'emperor-use-fork-server', field: 'useForkServer', kind: 'string', arg: 'PATH', help: 'adopt vassals from the fork-server base that serves the UNIX socket PATH: a vassal with no program of its own (no app, psgi or binary patch) is forked from it with the app already loaded, then jailed as usual' },
  { name: 'vassal-fork-base', field: 'forkBases', kind: 'list', arg: 'NAME', help: 'the vassal file NAME (e.g. perlbase.ini) is a fork-server base: early-psgi = APP and fork-server = PATH, run as root in the host\'s namespaces with no seccomp filter; touching it reloads the code of every vassal adopted from it (repeatable)' },
  { name: 'emperor-fork-server-attr', field: 'forkServerAttr', kind: 'string', arg: 'KEY', help: 'a vassal that sets KEY = PATH is adopted from the base serving PATH instead of emperor-use-fork-server (default fork-server)' },
  { name: 'emperor-fork-server-timeout', field: 'forkServerTimeout', kind: 'seconds', arg: 'SECS', help: 'an adoption fails with an error naming the base if that base stays down (dead, throttled, failed) for SECS, or does not answer one request within SECS; a base still loading its app is waited for (default 10)' },
  { name: 'cap', field: 'cap', kind: 'caps', arg: 'CAPS', help: 'capabilities the emperor keeps when it drops to uid, e.g. setuid,setgid' },
];

export const DEFAULT_EMPEROR_OPTIONS: EmperorOptions = Object.freeze({
  emperor: [],
  freq: 3,
  nofollow: false,
  useClone: [],
  statsPublic: false,
  metricsPublic: false,
  throttle: 1000,
  maxThrottle: 180_000,
  spawnThrottle: 0,
  requiredHeartbeat: 30,
  curseTolerance: 30,
  loyalAfter: 5,
  reloadMercy: 30,
  gracefulShutdown: false,
  vassalSet: [],
  vassalsInclude: [],
  name: '',
  pgAllowEmpty: false,
  logsDir: '',
  stateDir: '',
  logsMaxSize: 10 * 1024 * 1024,
  controlSocket: '',
  controlMaxConnections: DEFAULT_MAX_CONNECTIONS_PER_UID,
  controlIdleTimeout: DEFAULT_CONTROL_IDLE_TIMEOUT,
  tyrant: false,
  tyrantNofollow: false,
  tyrantAllowRootHooks: false,
  tyrantInitgroups: false,
  vassalsCap: [],
  bindAllow: [],
  cgroup: 'auto',
  cap: [],
  forkBases: [],
  forkServerAttr: 'fork-server',
  forkServerTimeout: 10,
});

const NAMESPACES: Readonly<Record<string, Namespace>> = { fs: 'mount', mount: 'mount', pid: 'pid', net: 'net', ipc: 'ipc', uts: 'uts' };

export class EmperorOptionError extends Error {}

export function findEmperorOption(name: string): EmperorOptionSpec | undefined {
  return EMPEROR_OPTIONS.find((o) => o.name === name);
}

// One value of one option → the field's new value (lists append to what is there).
export function applyEmperorOption(into: Record<string, unknown>, spec: EmperorOptionSpec, raw: string, where: string): void {
  const value = raw.trim();
  const bad = (what: string): never => {
    throw new EmperorOptionError(`${where}: ${spec.name}: ${what}, got \`${raw}\``);
  };
  switch (spec.kind) {
    case 'list':
      if (value === '') bad('expected a value');
      into[spec.field] = [...((into[spec.field] as string[] | undefined) ?? []), value];
      return;
    case 'string':
      if (value === '') bad('expected a value');
      into[spec.field] = value;
      return;
    case 'seconds':
    case 'ms': {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n) || n < 0) bad(`expected a number of ${spec.kind === 'ms' ? 'milliseconds' : 'seconds'}`);
      into[spec.field] = n;
      return;
    }
    case 'count': {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 0x7fffffff) bad('expected a whole number, 1 or more');
      into[spec.field] = Number(value);
      return;
    }
    case 'limit': {
      // The vassal option's own syntax and checks (`vassals-pids-max` → `pids-max`).
      const key = spec.name.replace(/^vassals-/, '');
      try {
        compileLimits({ last: (name) => (name === key ? { key, value, line: 0 } : undefined), all: () => [] }, (_e, _f, reason) => {
          throw new EmperorOptionError(reason);
        });
      } catch (err: unknown) {
        if (err instanceof EmperorOptionError) bad(err.message.replace(/, or `max`; got .*$/, ''));
        throw err;
      }
      into[spec.field] = value;
      return;
    }
    case 'size': {
      const size = parseSize(value);
      if (size === undefined) bad('expected a size of 4k or more (bytes, or a number with k, m or g)');
      into[spec.field] = size;
      return;
    }
    case 'bool': {
      const v = value.toLowerCase();
      if (['', '1', 'true', 'yes', 'on'].includes(v)) into[spec.field] = true;
      else if (['0', 'false', 'no', 'off'].includes(v)) into[spec.field] = false;
      else bad('expected true or false');
      return;
    }
    case 'caps': {
      const out = [...((into[spec.field] as string[] | undefined) ?? [])];
      for (const word of value.split(/[\s,]+/).filter(Boolean)) {
        const n = capabilityNumber(word);
        if (n === undefined) return bad(`unknown capability \`${word}\` (see capabilities(7); e.g. setuid, net_bind_service)`);
        if (!out.includes(CAPABILITY_NAMES[n]!)) out.push(CAPABILITY_NAMES[n]!);
      }
      into[spec.field] = out;
      return;
    }
    case 'namespaces': {
      const out = [...((into[spec.field] as Namespace[] | undefined) ?? [])];
      for (const word of value.split(/[\s,]+/).filter(Boolean)) {
        const ns = NAMESPACES[word.toLowerCase()];
        if (!ns) bad(`unknown namespace \`${word}\` (valid: fs or mount, pid, net, ipc, uts)`);
        if (!out.includes(ns)) out.push(ns);
      }
      into[spec.field] = out;
      return;
    }
  }
}

// The emperor options of a config file's entries; options that are not the emperor's are
// reported (a vassal option in an emperor file is a mistake worth a line).
export function emperorOptionsFromEntries(
  entries: readonly ConfigEntry[],
  file: string,
  into: Record<string, unknown>,
  warn: (message: string) => void,
  placeholders: ReadonlySet<string> = new Set(),
): void {
  for (const e of entries) {
    const spec = findEmperorOption(e.key);
    const where = `${file}:${e.line}`;
    if (!spec) {
      if (placeholders.has(e.key)) continue; // used as %(key): a placeholder
      const best = closest(e.key, EMPEROR_OPTIONS.map((o) => o.name));
      const hint = distance(e.key, best) <= Math.max(2, Math.floor(e.key.length / 4)) ? ` (did you mean \`${best}\`?)` : '';
      warn(`${where}: \`${e.key}\` is not an emperor option${hint}; ignored`);
      continue;
    }
    applyEmperorOption(into, spec, e.value, where);
  }
}
