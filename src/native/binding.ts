// The one place that loads the native addon (node-gyp-build picks prebuilds/ or build/).
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeGypBuild: (dir: string) => unknown = require('node-gyp-build');

/** A record of the status fd: a stage that began (progress) or the one that failed. */
export interface StatusRecord extends StageRecord {
  /** True: `stage` has begun (for `exec`: the execve is next); false: `stage` failed. */
  readonly progress: boolean;
}

/** A failure inside the jail, as the executor reports it through the status fd. */
export interface StageRecord {
  readonly stage: string;
  /** Positive errno, or 0 when the stage failed without one (a hook's exit status). */
  readonly errno: number;
  /** Index of the failing hook, fd or capability; -1 when none. */
  readonly item: number;
  /** Wait status of a failed hook, or of a launch that died before its exec; 0 otherwise. */
  readonly status: number;
  /** Set when the launch died before its exec (no failure record): the exit it had. */
  readonly died?: { readonly code: number | null; readonly signal: number | null };
}

/** How a reaped process ended: exactly one of code and signal is set. */
export interface ReapedProcess {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: number | null;
}

export interface LaunchedChild {
  readonly pid: number;
  readonly pidfd: number;
  readonly statusFd: number;
}

/** Watches one fd on the event loop; callback(events): 1 readable, 4 hung up, <0 errno. */
export interface FdWatcher {
  close(): void;
  ref(): void;
  unref(): void;
}

/** Every export of native/binding/addon.cc, exactly typed (node-pty's native.d.ts). */
export interface NativeBinding {
  launch(plan: Uint8Array): LaunchedChild;
  /** The calling thread (and, for ids, the process) takes the plan's credentials. */
  dropSelf(plan: Uint8Array): void;
  readStatus(fd: number): StatusRecord | null | undefined;
  waitPidfd(pidfd: number): ReapedProcess | null;
  /** With asUid: sent as that effective uid (an emperor without CAP_KILL, a tenant's jail). */
  pidfdSendSignal(pidfd: number, signal: number, asUid?: number): void;
  setChildSubreaper(on: boolean): boolean;
  sendFds(socket: number, data: Uint8Array, fds: readonly number[]): number;
  /**
   * One recvmsg(): up to maxBytes bytes and maxFds fds (close-on-exec). An empty `data`
   * is EOF. On a non-blocking socket with nothing to read it throws code 'EAGAIN'
   * (syscall 'recvmsg'): wait for readability (FdWatcher) and call again.
   */
  recvFds(socket: number, maxBytes: number, maxFds: number): { data: Buffer; fds: number[] };
  socketPair(): [number, number];
  /** One datagram to the AF_UNIX datagram socket at path (`@name`: abstract), never blocking. */
  sendDatagram(path: string, data: Buffer): void;
  /** A close-on-exec pipe: [read end, write end]. */
  pipe(): [number, number];
  pidfdOpen(pid: number): number;
  setNonBlocking(fd: number): void;
  /** A close-on-exec duplicate (F_DUPFD_CLOEXEC, at 3 or above). */
  dupFd(fd: number): number;
  /** A pseudo-terminal pair (master non-blocking), both close-on-exec. */
  openPty(): { master: number; slave: number };
  setWindowSize(fd: number, columns: number, rows: number): void;
  /** SO_PEERCRED of a connected UNIX socket. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  strerror(errno: number): string;
  stageNames(): string[];
  /** A close-on-exec listening socket on host:port, :port or a UNIX path; never accepted on. */
  listenSocket(address: string): number;
  isListeningSocket(fd: number): boolean;
  /**
   * A close-on-exec, non-blocking UNIX stream connection to path (the fork server). Never
   * blocks: a full backlog throws code 'EAGAIN', no listener 'ECONNREFUSED' or 'ENOENT'
   * (syscall 'connect').
   */
  connectUnix(path: string): number;
  /** A close-on-exec memfd named `name` (an emperor upgrade's handover record). */
  memfdCreate(name: string): number;
  /** Sets (true) or clears (false) FD_CLOEXEC: a cleared fd crosses the next reexec. */
  setCloseOnExec(fd: number, on: boolean): void;
  /** execve() of this process (main thread only); returns only by throwing (code, syscall 'execve').
   *  keep: the signals of native/binding/sigkeep.h stay blocked across it. */
  reexec(path: string, argv: readonly string[], env: readonly string[], keep?: boolean): never;
  /** A sealed, close-on-exec memfd holding jail-sigkeep.so (preloaded into an upgrade's exec). */
  sigkeepFd(): number;
  /** The signals jail-sigkeep.so caught since the exec (each once), or null when it is not loaded. */
  takeKeptSignals(): number[] | null;
  /** A non-blocking, close-on-exec inotify instance of the caller's own (monitors/inotify.ts). */
  inotifyInit(): number;
  inotifyAddWatch(fd: number, path: string, mask: number): number;
  /** A watch the kernel already removed is no error. */
  inotifyRmWatch(fd: number, wd: number): void;
  /** Every event queued now (wd -1: the queue overflowed); [] when there is none. */
  inotifyRead(fd: number): InotifyEvent[];
  /** out[i] = the number file fds[i] holds, read as kinds[i] (a CgroupFileKind) by one pread at
   *  offset 0; NaN when there is none (fd < 0, the cgroup was removed, no such key). */
  cgroupReadNumbers(fds: Int32Array, kinds: Uint8Array, out: Float64Array): void;
  FdWatcher: new (fd: number, callback: (events: number) => void) => FdWatcher;
}

/** What cgroupReadNumbers reads from a file (native/binding/cgroup-read.cc has the same codes). */
export const CgroupFileKind = {
  /** One unsigned integer (memory.current); NaN for `max`. */
  number: 0,
  /** cpu.stat's usage_usec. */
  usageUsec: 1,
  /** oom_kill of memory.events (v2) or memory.oom_control (v1). */
  oomKill: 2,
  /** cgroup.stat's nr_descendants. */
  nrDescendants: 3,
  /** A pressure file's `some avg10`, in percent. */
  avg10: 4,
  /** How many lines (cgroup.procs: processes). */
  lines: 5,
} as const;
export type CgroupFileKind = (typeof CgroupFileKind)[keyof typeof CgroupFileKind];

/** One inotify event as read(2) gives it; `name` is '' for the watched directory itself. */
export interface InotifyEvent {
  readonly wd: number;
  readonly mask: number;
  readonly name: string;
}

const ROOT = join(__dirname, '..', '..');

// The addon, loaded once from the package root (two levels up from src/native or dist/native).
export const binding = nodeGypBuild(ROOT) as NativeBinding;

let faultBinding: NativeBinding | undefined;

// The test build of the addon (binding.gyp's jail_binding_test, -DJAIL_FAULTS): the only
// one whose executor takes a plan's `fault` key. Its file does not end in `.node`, so no
// loader finds it by accident; loaded on first use, by tests only.
export function testBinding(): NativeBinding {
  if (!faultBinding) {
    const mod = { exports: {} };
    process.dlopen(mod, join(ROOT, 'build', 'Release', 'jail_binding_test.node-test'));
    faultBinding = mod.exports as NativeBinding;
  }
  return faultBinding;
}
