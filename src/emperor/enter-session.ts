// jailctl enter for a user who is not root: the emperor joins the jail on their behalf (they
// cannot setns) and relays the command's terminal over the control connection. With a tty
// the command gets a pty the emperor holds; without, three socket pairs for 0, 1, 2.
import { closeSync, readSync, writeSync } from 'node:fs';
import type { UserDb } from '../config/users';
import { enterPlan, type EnterTarget } from '../jail/enter';
import { closeLaunchFds } from '../jail/cgroup';
import type { CgroupFds } from '../plan/types';
import { launchJail } from '../jail/launch';
import { binding, type FdWatcher } from '../native/binding';

/** Input a command has not read yet, kept before more is dropped. */
const MAX_PENDING_INPUT = 1024 * 1024;
/** Past this much unread input, input() asks its caller to wait for `drained`. */
const HIGH_WATER = 64 * 1024;

export interface EnterRequest {
  readonly argv: readonly string[];
  readonly tty: boolean;
  readonly columns?: number;
  readonly rows?: number;
  readonly env: Readonly<Record<string, string>>;
  /** As root (jailctl enter --root, by root only): a fixed environment, cwd `/`. */
  readonly root: boolean;
  /** Root asks (its own jailctl): commands are looked up in the host's PATH. */
  readonly rootCaller: boolean;
}

/** What a user asks for through the control socket: never root, never root's PATH. */
export type RemoteEnterRequest = Omit<EnterRequest, 'root' | 'rootCaller'>;

export interface EnterSession {
  /** The session's top process (enter's forwarding parent), reaped through its pidfd. */
  readonly pid: number;
  /** Queues input for the command; false: enough is waiting, hold on until `drained`. */
  input(data: Buffer): boolean;
  /** No more input (pipes only: a pty gets ^D from the user). */
  endInput(): void;
  resize(columns: number, rows: number): void;
  /** The consumer of the output took what it had: read the command's output again. */
  resumeOutput(): void;
  /** Ends the command (the client went away). */
  kill(): void;
  /** Resolves with the exit status once the command is gone and its output read. */
  readonly done: Promise<number>;
}

/** Reads of a pty per wake-up: a command writing without pause must not hold the loop. */
const READS_PER_WAKE = 8;

interface Pump {
  readonly done: Promise<void>;
  stop(): void;
  /** Reading again after `out` said false (the consumer took what it had). */
  resume(): void;
}

// Reads a non-blocking fd (pty master or socket) until EOF, handing each chunk on; when `out`
// says false the fd is not read (the command's writes block) until resume().
function pump(fd: number, isPty: boolean, out: (data: Buffer) => boolean): Pump {
  let watcher: FdWatcher | undefined;
  let finished = false;
  let resolveDone = (): void => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const buf = Buffer.alloc(65536);
  const end = (): void => {
    watcher?.close();
    watcher = undefined;
    if (finished) return;
    finished = true;
    resolveDone();
  };
  const onReadable = (): void => {
    for (let i = 0; i < (isPty ? READS_PER_WAKE : 1); i++) {
      let n: number;
      try {
        n = isPty ? readSync(fd, buf, 0, buf.length, null) : binding.recvFds(fd, 65536, 0).data.copy(buf);
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        n = 0; // EIO on a pty: the command and its children are gone
      }
      if (n === 0) {
        end();
        // A pty master is also the input side: its owner closes it when all is done.
        if (!isPty) closeSync(fd);
        return;
      }
      if (!out(Buffer.from(buf.subarray(0, n)))) {
        watcher?.close();
        watcher = undefined;
        return;
      }
    }
  };
  watcher = new binding.FdWatcher(fd, onReadable);
  return {
    done,
    stop: end,
    resume() {
      if (!finished && !watcher) watcher = new binding.FdWatcher(fd, onReadable);
    },
  };
}

// Starts the command; `output` gets what it writes (false: hold on until resumeOutput()),
// `drained` is called when input() may take more again after it said false.
export function startEnterSession(
  target: EnterTarget,
  req: EnterRequest,
  users: UserDb,
  output: (stream: 'stdout' | 'stderr', data: Buffer) => boolean,
  drained: () => void = () => undefined,
): EnterSession {
  const pty = req.tty ? binding.openPty() : undefined;
  const pairs = pty ? [] : [binding.socketPair(), binding.socketPair(), binding.socketPair()];
  const ours = pty ? [pty.master] : pairs.map((p) => p[0]);
  const theirs = pty ? [pty.slave, pty.slave, pty.slave] : pairs.map((p) => p[1]);
  let jail;
  let pidfd: number | undefined;
  let cgroupFds: CgroupFds | undefined;
  try {
    if (pty) binding.setWindowSize(pty.master, req.columns || 80, req.rows || 24);
    const plan = enterPlan(
      target,
      { argv: req.argv, root: req.root, rootCaller: req.rootCaller, fds: theirs.map((src, dst) => ({ src, dst })), ctty: pty !== undefined, env: req.env },
      users,
    );
    pidfd = plan.join!.pidfd;
    cgroupFds = plan.cgroup;
    jail = launchJail(plan);
  } catch (err: unknown) {
    // Nothing of a session that did not start stays open (a peer could repeat it to EMFILE).
    for (const fd of ours) closeSync(fd);
    throw err;
  } finally {
    if (pidfd !== undefined) closeSync(pidfd);
    if (cgroupFds) closeLaunchFds(cgroupFds);
    for (const fd of new Set(theirs)) closeSync(fd);
  }
  const inputFd = pty ? pty.master : pairs[0]![0];
  const reading = pty
    ? [pump(pty.master, true, (d) => output('stdout', d))]
    : [pump(pairs[1]![0], false, (d) => output('stdout', d)), pump(pairs[2]![0], false, (d) => output('stderr', d))];
  // Once the command is gone and its fds closed, late messages (a resize, input) are no-ops:
  // the fd numbers may already be someone else's.
  let over = false;
  let inputOpen = true;
  let closeWhenFlushed = false;
  if (!pty) binding.setNonBlocking(inputFd);
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let retry: NodeJS.Timeout | undefined;
  const closeInput = (): void => {
    if (!inputOpen) return;
    inputOpen = false;
    pending.length = 0;
    pendingBytes = 0;
    closeSync(inputFd);
  };
  const flush = (): void => {
    const wasFull = pendingBytes >= HIGH_WATER;
    while (pending.length > 0 && inputOpen) {
      const head = pending[0]!;
      let n: number;
      try {
        n = pty ? writeSync(inputFd, head) : binding.sendFds(inputFd, head, []);
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          retry ??= setTimeout(() => {
            retry = undefined;
            flush();
          }, 20);
          return;
        }
        // The command closed its input (EPIPE): what is left has no reader.
        pending.length = 0;
        pendingBytes = 0;
        break;
      }
      pendingBytes -= n;
      if (n < head.length) pending[0] = head.subarray(n);
      else pending.shift();
    }
    if (closeWhenFlushed && pending.length === 0 && !pty) closeInput();
    if (wasFull && pendingBytes < HIGH_WATER) drained();
  };
  const started = jail.started.then(() => undefined, (err: Error) => {
    output('stderr', Buffer.from(`jailctl: ${err.message}\n`));
  });
  const done = (async () => {
    const exit = await jail.exited;
    await started;
    // Pipes end when every writer is gone; a pty's last output may never see EIO if a
    // daemonised child kept it: a moment for what is buffered, then we stop reading.
    if (!pty) await Promise.all(reading.map((r) => r.done));
    else await Promise.race([reading[0]!.done, new Promise((r) => setTimeout(r, 200))]);
    for (const r of reading) r.stop();
    if (retry) clearTimeout(retry);
    over = true;
    if (pty) {
      inputOpen = false;
      closeSync(inputFd);
    } else closeInput();
    return exit.code ?? 128 + (exit.signal ?? 0);
  })();
  return {
    input(data) {
      if (over || !inputOpen || closeWhenFlushed) return false;
      // A command that does not read its input must not stop the emperor: what it has not
      // taken waits here and is retried; past MAX_PENDING_INPUT (a peer that ignores the
      // false below) input is dropped.
      if (pendingBytes + data.length > MAX_PENDING_INPUT) return false;
      pending.push(data);
      pendingBytes += data.length;
      flush();
      return pendingBytes < HIGH_WATER;
    },
    endInput() {
      if (over || pty || !inputOpen) return;
      // What is still queued goes first: `printf x | jailctl enter web -- cat` prints x.
      closeWhenFlushed = true;
      flush();
    },
    resize(columns, rows) {
      if (pty && !over) binding.setWindowSize(pty.master, columns, rows);
    },
    resumeOutput() {
      for (const r of reading) r.resume();
    },
    kill() {
      jail.signal('SIGKILL');
    },
    pid: jail.pid,
    done,
  };
}
