// jailctl enter VASSAL [-- CMD ARGS…]: a command inside a running jail, with a pty when
// our stdin is a terminal (raw mode, window size followed) and plain pipes otherwise; our
// exit status is the command's.
import { closeSync, readSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { readUserDb } from '../../config/users';
import type { PsRecord } from '../../emperor/control';
import { matchVassal } from '../../emperor/names';
import { isJailError } from '../../errors';
import { enterPlan } from '../../jail/enter';
import { launchJail, type Jail } from '../../jail/launch';
import { binding } from '../../native/binding';
import type { Namespace } from '../../plan/types';
import { ask, EXIT_NO_EMPEROR, EXIT_REFUSED, NoEmperorError, socketPath } from '../control-client';
import { EXIT_SETUP } from './run';

export interface EnterFlags {
  readonly socket?: string;
  readonly root?: boolean;
  /** Force a pty (-t) or plain pipes (-T); by default a pty when stdin is a terminal. */
  readonly tty?: boolean;
}

export interface EnterIo {
  error(line: string): void;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

// Writes all of `data` to a non-blocking fd (a pty master), waiting out EAGAIN.
function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) {
    try {
      off += writeSync(fd, data, off);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

// Copies the pty to our stdout and our stdin to the pty until the command is gone.
async function relay(jail: Jail, master: number, io: EnterIo): Promise<void> {
  const buf = Buffer.alloc(65536);
  const drain = (): boolean => {
    for (;;) {
      let n: number;
      try {
        n = readSync(master, buf, 0, buf.length, null);
      } catch (err: unknown) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return true;
        return false; // EIO: every holder of the slave is gone
      }
      if (n === 0) return false;
      io.stdout.write(Buffer.from(buf.subarray(0, n)));
    }
  };
  const watcher = new binding.FdWatcher(master, () => {
    if (!drain()) watcher.close();
  });
  const onInput = (d: Buffer): void => writeAll(master, d);
  const onResize = (): void => binding.setWindowSize(master, io.stdout.columns || 80, io.stdout.rows || 24);
  const raw = io.stdin.isTTY === true;
  if (raw) io.stdin.setRawMode(true);
  io.stdin.on('data', onInput);
  process.on('SIGWINCH', onResize);
  try {
    await jail.exited;
    drain();
  } finally {
    watcher.close();
    process.off('SIGWINCH', onResize);
    io.stdin.off('data', onInput);
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
    const answer = await ask(socketPath(flags.socket), { command: 'ps' });
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
  const tty = flags.tty ?? (io.stdin.isTTY === true);
  const pty = tty ? binding.openPty() : undefined;
  if (pty) binding.setWindowSize(pty.master, io.stdout.columns || 80, io.stdout.rows || 24);
  const stdio = pty ? [pty.slave, pty.slave, pty.slave] : [0, 1, 2];
  let jail: Jail;
  let pidfd: number | undefined;
  try {
    const plan = enterPlan(
      { vassal: record.name, pid: record.pid, namespaces: record.namespaces as Namespace[] },
      {
        argv,
        root: flags.root === true,
        fds: stdio.map((src, dst) => ({ src, dst })),
        ctty: pty !== undefined,
        env: process.env.TERM ? { TERM: process.env.TERM } : {},
      },
      readUserDb(),
    );
    pidfd = plan.join!.pidfd;
    jail = launchJail(plan);
  } catch (err: unknown) {
    if (pty) [pty.master, pty.slave].forEach((fd) => closeSync(fd));
    if (!isJailError(err) && (err as NodeJS.ErrnoException).code === undefined) throw err;
    io.error(`jailctl: ${record.name}: ${(err as Error).message} (has the jail just stopped?)`);
    return EXIT_SETUP;
  } finally {
    if (pidfd !== undefined) closeSync(pidfd);
  }
  if (pty) closeSync(pty.slave);
  let failed = false;
  jail.started.catch((err: Error) => {
    failed = true;
    io.error(`jailctl: ${err.message}`);
  });
  if (pty) await relay(jail, pty.master, io);
  const exit = await jail.exited;
  if (pty) closeSync(pty.master);
  await jail.started.catch(() => undefined);
  if (failed) return exit.code ?? EXIT_SETUP;
  return exit.code ?? 128 + (exit.signal ?? 0);
}

// The emperor's side of enter for a user who is not root: one control connection carries
// the request, then our input and its output as JSON lines (src/emperor/control.ts).
async function enterThroughEmperor(vassal: string, argv: readonly string[], flags: EnterFlags, io: EnterIo): Promise<number> {
  const tty = flags.tty ?? (io.stdin.isTTY === true);
  const path = socketPath(flags.socket);
  return new Promise<number>((resolve) => {
    const sock = connect(path);
    let buffered = '';
    let started = false;
    let exitStatus: number | undefined;
    const send = (msg: Record<string, unknown>): void => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
    };
    const onInput = (d: Buffer): void => send({ in: d.toString('base64') });
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
