// jailctl enter VASSAL [-- CMD ARGS…]: a command inside a running jail, with a pty when
// our stdin is a terminal (raw mode, window size followed) and plain pipes otherwise; our
// exit status is the command's.
import { connect } from 'node:net';
import { readUserDb } from '../../config/users';
import type { PsRecord } from '../../emperor/control';
import { matchVassal } from '../../emperor/names';
import { isJailError } from '../../errors';
import { startEnterSession, type EnterSession } from '../../emperor/enter-session';
import type { EnterTarget } from '../../jail/enter';
import type { Namespace } from '../../plan/types';
import { ask, EXIT_NO_EMPEROR, EXIT_REFUSED, NoEmperorError, socketPath } from '../control-client';
import { EXIT_SETUP } from './run';

/** Bytes of input per control-socket message (the emperor's line limit is 64 KiB). */
const INPUT_PIECE = 16 * 1024;

export interface EnterFlags {
  readonly socket?: string;
  /** Which emperor (emperor-name), when several run. */
  readonly emperor?: string;
  readonly root?: boolean;
  /** Force a pty (-t) or plain pipes (-T); by default a pty when stdin is a terminal. */
  readonly tty?: boolean;
}

export interface EnterIo {
  error(line: string): void;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

// Joins our terminal to a session: stdin to its input (raw when it is a tty, paused while the
// command does not read), its output to ours, our window size to its pty.
async function attach(session: EnterSession, tty: boolean, io: EnterIo): Promise<number> {
  const raw = tty && io.stdin.isTTY === true;
  const onInput = (d: Buffer): void => {
    if (!session.input(d)) io.stdin.pause();
  };
  const onEnd = (): void => session.endInput();
  const onResize = (): void => session.resize(io.stdout.columns || 80, io.stdout.rows || 24);
  // Our stdout (a pipe to `less`, say) full: the command's output waits until it drains.
  const onDrain = (): void => session.resumeOutput();
  io.stdout.on('drain', onDrain);
  process.stderr.on('drain', onDrain);
  if (raw) io.stdin.setRawMode(true);
  io.stdin.on('data', onInput);
  io.stdin.on('end', onEnd);
  process.on('SIGWINCH', onResize);
  io.stdin.resume();
  try {
    return await session.done;
  } finally {
    process.off('SIGWINCH', onResize);
    io.stdout.off('drain', onDrain);
    process.stderr.off('drain', onDrain);
    io.stdin.off('data', onInput);
    io.stdin.off('end', onEnd);
    if (raw) io.stdin.setRawMode(false);
    io.stdin.pause();
  }
}

export async function runEnter(vassal: string, argv: readonly string[], flags: EnterFlags, io: EnterIo): Promise<number> {
  // Joining namespaces needs root: anyone else asks the emperor, which checks the vassal
  // runs as them, joins for them and relays the terminal.
  if (process.getuid?.() !== 0) {
    if (flags.root) {
      io.error('jailctl: --root is for root only');
      return EXIT_REFUSED;
    }
    return enterThroughEmperor(vassal, argv, flags, io);
  }
  let record: PsRecord | undefined;
  try {
    // Root joins the namespaces the answer names: only a root emperor is believed (anyone
    // who can bind the path, or an emperor running as a user, could point root at a
    // process of a tenant's making).
    const answer = await ask(socketPath(flags), { command: 'ps' }, (server) => {
      if (server.uid !== 0)
        throw new Error(`the control socket ${socketPath(flags)} is served by uid ${server.uid} (pid ${server.pid}), not by a root emperor: root's enter joins jails only on a root emperor's word`);
    });
    if (!answer.ok) throw new Error(answer.error);
    const rows = answer.vassals as PsRecord[];
    const match = matchVassal(rows.map((r) => r.name), vassal);
    if (match.kind === 'ambiguous') {
      io.error(`jailctl: ${vassal} is ambiguous: ${match.candidates.join(', ')}; give one of these`);
      return EXIT_REFUSED;
    }
    if (match.kind === 'none') {
      io.error(`jailctl: no vassal ${vassal}${match.nearest !== undefined ? ` (did you mean ${match.nearest}?)` : rows.length ? ` (there are: ${rows.map((r) => r.name).join(', ')})` : ''}`);
      return EXIT_REFUSED;
    }
    record = rows.find((r) => r.name === match.name)!;
  } catch (err: unknown) {
    io.error(`jailctl: ${(err as Error).message}`);
    return err instanceof NoEmperorError ? EXIT_NO_EMPEROR : EXIT_REFUSED;
  }
  if (record.pid <= 0) {
    io.error(`jailctl: ${record.name} is ${record.state}: nothing runs to enter (jailctl start ${record.name})`);
    return EXIT_REFUSED;
  }
  // The command never gets our own fds 0-2 (our terminal, root's): a pty of its own, or
  // pipes, relayed by us, and a session of its own either way.
  const tty = flags.tty ?? (io.stdin.isTTY === true);
  const target: EnterTarget = {
    vassal: record.name,
    pid: record.pid,
    namespaces: record.namespaces as Namespace[],
    ...(record.uid !== null ? { uid: record.uid } : {}),
    ...(record.gid !== null ? { gid: record.gid } : {}),
    // An emperor that does not say (an older one): no groups and no capabilities.
    groups: record.groups ?? [],
    caps: record.caps ?? [],
    ...(record.cgroup ? { cgroup: record.cgroup } : {}),
    ...(record.seccomp ? { seccomp: record.seccomp } : {}),
  };
  let session: EnterSession;
  try {
    session = startEnterSession(
      target,
      { argv, tty, columns: io.stdout.columns || 80, rows: io.stdout.rows || 24, env: process.env.TERM ? { TERM: process.env.TERM } : {}, root: flags.root === true, rootCaller: true },
      readUserDb(),
      (stream, data) => (stream === 'stderr' ? process.stderr : io.stdout).write(data),
      () => io.stdin.resume(),
    );
  } catch (err: unknown) {
    if (!isJailError(err) && (err as NodeJS.ErrnoException).code === undefined) throw err;
    io.error(`jailctl: ${record.name}: ${(err as Error).message} (has the jail just stopped?)`);
    return EXIT_SETUP;
  }
  return attach(session, tty, io);
}

// The emperor's side of enter for a user who is not root: one control connection carries
// the request, then our input and its output as JSON lines (src/emperor/control.ts).
async function enterThroughEmperor(vassal: string, argv: readonly string[], flags: EnterFlags, io: EnterIo): Promise<number> {
  const tty = flags.tty ?? (io.stdin.isTTY === true);
  const path = socketPath(flags);
  return new Promise<number>((resolve) => {
    const sock = connect(path);
    let buffered = '';
    let started = false;
    let exitStatus: number | undefined;
    const send = (msg: Record<string, unknown>): void => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
    };
    // In pieces: a request line is bounded on the emperor's side (base64 adds a third).
    const onInput = (d: Buffer): void => {
      for (let off = 0; off < d.length; off += INPUT_PIECE) send({ in: d.subarray(off, off + INPUT_PIECE).toString('base64') });
    };
    const onEnd = (): void => send({ eof: true });
    const onResize = (): void => send({ resize: [io.stdout.columns || 80, io.stdout.rows || 24] });
    const raw = tty && io.stdin.isTTY === true;
    const cleanup = (): void => {
      io.stdin.off('data', onInput);
      io.stdin.off('end', onEnd);
      process.off('SIGWINCH', onResize);
      if (raw) io.stdin.setRawMode(false);
      io.stdin.pause();
    };
    sock.setEncoding('utf8');
    sock.on('connect', () =>
      send({ command: 'enter', vassal, argv, tty, columns: io.stdout.columns || 80, rows: io.stdout.rows || 24, ...(process.env.TERM ? { term: process.env.TERM } : {}) }));
    sock.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffered.slice(0, nl)) as { ok?: boolean; error?: string; out?: string; stream?: string; exit?: number };
        buffered = buffered.slice(nl + 1);
        if (!started) {
          if (!msg.ok) {
            io.error(`jailctl: ${msg.error ?? 'refused'}`);
            exitStatus = EXIT_REFUSED;
            sock.destroy();
            return;
          }
          started = true;
          if (raw) io.stdin.setRawMode(true);
          io.stdin.on('data', onInput);
          io.stdin.on('end', onEnd);
          process.on('SIGWINCH', onResize);
          io.stdin.resume();
        } else if (msg.out !== undefined) {
          (msg.stream === 'stderr' ? process.stderr : io.stdout).write(Buffer.from(msg.out, 'base64'));
        } else if (msg.exit !== undefined) {
          if (msg.error) io.error(`jailctl: ${msg.error}`);
          exitStatus = msg.exit;
        }
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      io.error(`jailctl: no emperor answers at ${path} (${err.code ?? err.message})`);
      exitStatus ??= EXIT_NO_EMPEROR;
    });
    sock.on('close', () => {
      cleanup();
      resolve(exitStatus ?? EXIT_SETUP);
    });
  });
}
