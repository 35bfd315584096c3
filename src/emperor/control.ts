// The control socket: a UNIX socket the emperor listens on for `jailctl ps/stats/reload/
// stop/start/unblacklist`, speaking JSON lines. Who asks is read from the kernel
// (SO_PEERCRED), never from the request: root sees and controls every vassal; any other
// uid only the vassals that run as that uid (a tenant in tyrant mode).
//
//   request:  {"command": "ps" | "stats" | "reload" | "stop" | "start" | "unblacklist" | "logs" | "why",
//              "vassal"?: "web.ini", "lines"?: 20, "follow"?: true}           one per line
//   response: {"ok": true, ...} | {"ok": false, "error": "…", "code": "…"}  one per line
//   logs with follow: the answer, then {"line": "…"} for every new line until the client
//   hangs up (the connection serves nothing else).
//   enter ({"argv": […], "tty": true, "columns": 80, "rows": 24}, for users who cannot
//   setns themselves): the answer, then the client sends {"in": BASE64} | {"resize":
//   [columns, rows]} | {"eof": true} and the emperor {"out": BASE64, "stream": "stdout" |
//   "stderr"} and at last {"exit": STATUS}.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { binding } from '../native/binding';
import { matchVassal } from './names';
import { DEFAULT_CONTROL_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_UID, EmperorOptionError } from './options';
import type { VassalSnapshot } from './vassal';
import { psRecords, type PsRecord } from './ps-records';
export { psRecords, type PsRecord };
import type { VassalLog } from './vassal-log';
import type { EnterSession, RemoteEnterRequest } from './enter-session';
import type { SourceStatus } from '../monitors/types';
import type { WhyDocument } from './why';

/** The longest request line; a peer sending more is cut off. */
export const MAX_LINE = 64 * 1024;
/** How long a connection over the per-uid limit may take to send its request before it is
 *  told why it is refused (and closed): short, as it holds one of the emperor's fds. */
const REFUSE_WAIT_MS = 200;
/** The most lines `logs -n` returns (the log file itself has them all). */
const MAX_TAIL_LINES = 10_000;

/** What a client may leave unread of an enter session's output before it is held back. */
const MAX_UNREAD_OUTPUT = 1024 * 1024;

/** The longest input line of an enter session (a 64 KiB read of stdin, in base64, fits). */
const MAX_SESSION_LINE = 256 * 1024;

/** What one peer may hold of the emperor; the open connections are counted per server. */
export interface ControlLimits {
  readonly maxPerUid: number;
  readonly idleSeconds: number;
}

export type ControlCommand = 'ps' | 'stats' | 'reload' | 'stop' | 'start' | 'unblacklist' | 'logs' | 'enter' | 'why' | 'upgrade';
const COMMANDS: readonly ControlCommand[] = ['ps', 'stats', 'reload', 'stop', 'start', 'unblacklist', 'logs', 'enter', 'why', 'upgrade'];

export interface Peer {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** What the emperor lets the control socket do; every vassal named here is already checked. */
export interface ControlTarget {
  snapshots(): VassalSnapshot[];
  /** How each source is doing (a database can be down, an empty answer held). */
  sources(): SourceStatus[];
  stats(visible: (s: VassalSnapshot) => boolean): Record<string, unknown>;
  reload(name: string, peer: Peer): string;
  stop(name: string): Promise<string>;
  start(name: string): string;
  unblacklist(name: string): string;
  /** Everything `jailctl why` shows of one vassal (why.ts). */
  why(name: string, peer: Peer): WhyDocument;
  /** The vassal's captured output, or undefined when the emperor keeps no logs. */
  log(name: string): VassalLog;
  /** Runs a command inside the vassal's running jail for `peer` (see enter-session.ts). */
  enter(name: string, req: RemoteEnterRequest, output: (stream: 'stdout' | 'stderr', data: Buffer) => boolean, drained: () => void): EnterSession;
  /** Re-executes the emperor (handover.ts); the next one answers on `connection`. Returns
   *  only by throwing ControlError (the old emperor goes on). */
  upgrade(connection: number): Promise<never>;
}

export class ControlError extends Error {
  constructor(readonly code: 'EBADREQ' | 'ENOVASSAL' | 'EPERM' | 'ESTATE' | 'EUPGRADE', message: string) {
    super(message);
  }
}

// May this peer see (and so control) this vassal?
export function canSee(peer: Peer, s: VassalSnapshot): boolean {
  return peer.uid === 0 || s.uid === peer.uid;
}

// The vassal a request names, among those the peer may see (names.ts: the exact identity,
// else a short name that only one of them has); a miss suggests the nearest.
function findVassal(target: ControlTarget, peer: Peer, name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new ControlError('EBADREQ', 'this command needs a vassal name');
  const mine = target.snapshots().filter((s) => canSee(peer, s)).map((s) => s.name);
  const match = matchVassal(mine, name);
  if (match.kind === 'found') return match.name;
  if (match.kind === 'ambiguous')
    throw new ControlError('ENOVASSAL', `${name} is ambiguous: ${match.candidates.join(', ')}; give one of these`);
  const hint = match.nearest !== undefined ? ` (did you mean ${match.nearest}?)` : '';
  const whose = peer.uid === 0 ? '' : ` among the vassals running as uid ${peer.uid}`;
  throw new ControlError('ENOVASSAL', `no vassal ${name}${whose}${hint}`);
}

// Answers one request line.
/** What a request may turn its connection into, after its answer. */
export interface Continuation {
  /** The request's connection (an upgrade hands it to the next emperor, which answers). */
  connection?: number;
  follow?: VassalLog;
  /** Makes the session once the answer is written, handing it its output channel. */
  enter?: (output: (stream: 'stdout' | 'stderr', data: Buffer) => boolean, drained: () => void) => EnterSession;
}

export async function handleRequest(
  target: ControlTarget,
  peer: Peer,
  line: string,
  then: Continuation = {},
): Promise<Record<string, unknown>> {
  let req: { command?: unknown; vassal?: unknown; lines?: unknown; follow?: unknown; argv?: unknown; tty?: unknown; columns?: unknown; rows?: unknown; term?: unknown };
  try {
    req = JSON.parse(line) as typeof req;
  } catch {
    throw new ControlError('EBADREQ', 'a request is one JSON object per line, e.g. {"command":"ps"}');
  }
  if (typeof req !== 'object' || req === null || !COMMANDS.includes(req.command as ControlCommand))
    throw new ControlError('EBADREQ', `unknown command ${JSON.stringify((req as { command?: unknown })?.command)}; known: ${COMMANDS.join(', ')}`);
  const visible = (s: VassalSnapshot): boolean => canSee(peer, s);
  switch (req.command as ControlCommand) {
    case 'ps':
      // Which sources are not up is root's to see (their names say where the database is).
      return { vassals: psRecords(target.snapshots().filter(visible)), ...(peer.uid === 0 ? { sources: target.sources().filter((s) => s.state !== 'up') } : {}) };
    case 'stats':
      return { stats: target.stats(visible) };
    case 'reload':
      return { message: target.reload(findVassal(target, peer, req.vassal), peer) };
    case 'stop':
      return { message: await target.stop(findVassal(target, peer, req.vassal)) };
    case 'start':
      return { message: target.start(findVassal(target, peer, req.vassal)) };
    case 'why':
      return { why: target.why(findVassal(target, peer, req.vassal), peer) };
    case 'logs': {
      const name = findVassal(target, peer, req.vassal);
      const log = target.log(name);
      const n = req.lines === undefined ? 20 : Number(req.lines);
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_TAIL_LINES)
        throw new ControlError('EBADREQ', `lines: expected a count from 0 to ${MAX_TAIL_LINES}, got ${JSON.stringify(req.lines)}`);
      const lines = log.tail(n);
      if (req.follow === true) then.follow = log;
      // Without emperor-logs-dir (none) the last lines come from memory: no path.
      return { lines, path: log.path ?? null };
    }
    case 'enter': {
      const name = findVassal(target, peer, req.vassal);
      const snapshot = target.snapshots().find((x) => x.name === name)!;
      if (snapshot.pid <= 0) throw new ControlError('ESTATE', `${name} is ${snapshot.state}: nothing runs to enter (jailctl start ${name})`);
      if (!Array.isArray(req.argv) || !req.argv.every((a) => typeof a === 'string'))
        throw new ControlError('EBADREQ', 'enter: argv must be an array of strings (empty: the user\'s shell)');
      const enterReq: RemoteEnterRequest = {
        argv: req.argv as string[],
        tty: req.tty === true,
        ...(typeof req.columns === 'number' ? { columns: req.columns } : {}),
        ...(typeof req.rows === 'number' ? { rows: req.rows } : {}),
        env: typeof req.term === 'string' ? { TERM: req.term } : {},
      };
      then.enter = (output, drained) => target.enter(name, enterReq, output, drained);
      return { vassal: name };
    }
    case 'upgrade':
      if (peer.uid !== 0) throw new ControlError('EPERM', 'only root may upgrade the emperor');
      if (then.connection === undefined) throw new ControlError('EBADREQ', 'upgrade: no connection to answer on');
      return target.upgrade(then.connection);
    case 'unblacklist': {
      if (req.vassal === undefined) {
        const names = target.snapshots().filter(visible).map((s) => s.name);
        return { message: names.map((n) => target.unblacklist(n)).filter(Boolean).join('\n') || 'no vassal was blacklisted' };
      }
      const name = findVassal(target, peer, req.vassal);
      return { message: target.unblacklist(name) || `${name} was not blacklisted` };
    }
  }
}

// The socket path, ready to listen on: its directory made, a dead emperor's socket removed,
// a live one refused (never stolen), anything else at the path left alone.
async function claimPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new EmperorOptionError(`emperor-control-socket ${path}: something else is there (not a socket); refusing to replace it`);
  const owner = await new Promise<number | undefined>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      const fd = (probe as unknown as { _handle?: { fd?: number } })._handle?.fd;
      const pid = fd !== undefined && fd >= 0 ? binding.peerCredentials(fd).pid : 0;
      probe.destroy();
      resolve(pid);
    });
    probe.once('error', () => resolve(undefined));
  });
  if (owner !== undefined)
    throw new EmperorOptionError(`emperor-control-socket ${path}: another emperor (pid ${owner}) serves it; give this one a name of its own (--emperor-name NAME), or a socket (--emperor-control-socket PATH)`);
  unlinkSync(path);
}

// Listens on `path` (mode 0666: who may do what is decided per connection, by uid).
export async function startControlServer(
  path: string,
  target: ControlTarget,
  log: (line: string) => void,
  limits: ControlLimits = { maxPerUid: DEFAULT_MAX_CONNECTIONS_PER_UID, idleSeconds: DEFAULT_CONTROL_IDLE_TIMEOUT },
  inherited?: number,
): Promise<Server> {
  // `inherited`: the socket the emperor before an upgrade listened on (handover.ts), so no
  // connection is refused across the exec.
  if (inherited === undefined) await claimPath(path);
  // The socket is 0666: without a bound per uid any local user could hold every fd the
  // emperor has, and root's `jailctl ps` and new vassals would find none left.
  const open = new Map<number, number>();
  const server = createServer((socket) => serve(socket, target, log, limits, open));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(inherited !== undefined ? { fd: inherited } : path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o666);
  return server;
}

// `logs -f` on this connection: a line for every new one, but never more than
// MAX_UNREAD_OUTPUT the peer has not read: past it lines are counted, and a note says how
// many were dropped once it reads again.
function followerOf(socket: Socket): (line: string) => void {
  let dropped = 0;
  return (line) => {
    if (socket.destroyed) return;
    if (socket.writableLength >= MAX_UNREAD_OUTPUT) {
      dropped++;
      return;
    }
    if (dropped > 0) socket.write(`${JSON.stringify({ line: `(jailctl: ${dropped} line(s) dropped: this follower read too slowly)` })}\n`);
    dropped = 0;
    socket.write(`${JSON.stringify({ line })}\n`);
  };
}

// An enter session on this connection: output out, {"exit"} at the end; the client going
// away ends the command.
function startSession(socket: Socket, make: NonNullable<Continuation['enter']>, log: (line: string) => void): EnterSession | undefined {
  let session: EnterSession;
  try {
    // Input the command has not taken yet pauses the connection (sessionInput) until it has;
    // output the client has not read yet stops the emperor reading the command's.
    session = make((stream, data) => {
      if (socket.destroyed) return true;
      socket.write(`${JSON.stringify({ out: data.toString('base64'), stream })}\n`);
      return socket.writableLength < MAX_UNREAD_OUTPUT;
    }, () => socket.resume());
    socket.on('drain', () => session.resumeOutput());
  } catch (err: unknown) {
    socket.end(`${JSON.stringify({ exit: 125, error: (err as Error).message })}\n`);
    log(`control socket: enter failed: ${(err as Error).message}`);
    return undefined;
  }
  socket.once('close', () => session.kill());
  void session.done.then((status) => {
    if (!socket.destroyed) socket.end(`${JSON.stringify({ exit: status })}\n`);
  });
  return session;
}

function sessionInput(session: EnterSession, line: string, socket: Socket): void {
  let msg: { in?: unknown; resize?: unknown; eof?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch (err: unknown) {
    if (err instanceof SyntaxError) return; // not a message: ignored, as an unknown key is
    throw err;
  }
  if (typeof msg.in === 'string' && !session.input(Buffer.from(msg.in, 'base64'))) socket.pause();
  if (Array.isArray(msg.resize) && msg.resize.length === 2) session.resize(Number(msg.resize[0]), Number(msg.resize[1]));
  if (msg.eof === true) session.endInput();
}

// Says why, then closes the connection for good (reading what is left, so the peer is not
// reset before it reads the line).
function refuse(socket: Socket, code: string, error: string): void {
  socket.removeAllListeners('data');
  socket.resume();
  socket.end(`${JSON.stringify({ ok: false, code, error })}\n`, () => socket.destroy());
}

function serve(socket: Socket, target: ControlTarget, log: (line: string) => void, limits: ControlLimits, open: Map<number, number>): void {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  let peer: Peer;
  try {
    peer = binding.peerCredentials(fd ?? -1);
  } catch {
    socket.destroy();
    return;
  }
  const held = open.get(peer.uid) ?? 0;
  if (peer.uid !== 0 && held >= limits.maxPerUid) {
    // The answer once the request is in (jailctl writes it at once; closing before would
    // fail its write with EPIPE before it reads why), or after a moment without one.
    const no = (): void => refuse(socket, 'ELIMIT', `uid ${peer.uid} already holds ${held} connections to the emperor (emperor-control-max-connections = ${limits.maxPerUid}); end some (jailctl logs -f, enter) and retry`);
    const wait = setTimeout(no, REFUSE_WAIT_MS);
    socket.once('close', () => clearTimeout(wait));
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (chunk.includes(10) || got > MAX_LINE) {
        clearTimeout(wait);
        no();
      }
    });
    socket.on('error', () => socket.destroy());
    return;
  }
  open.set(peer.uid, held + 1);
  socket.once('close', () => {
    const n = (open.get(peer.uid) ?? 1) - 1;
    if (n > 0) open.set(peer.uid, n);
    else open.delete(peer.uid);
  });
  let buffered = '';
  let session: EnterSession | undefined;
  let following = false;
  let busy = 0;
  // Idle: no request being answered, no logs -f or enter session (those may be quiet for
  // hours, and are bounded by the per-uid count instead).
  socket.setTimeout(limits.idleSeconds * 1000, () => {
    if (busy === 0 && !session && !following)
      refuse(socket, 'ETIMEDOUT', `no request in ${limits.idleSeconds} s; closed`);
  });
  // One request at a time, in order (a stop answers when the jail is down, and the next
  // request waits for it); while one is answered the connection is not read, so a peer that
  // pipelines thousands of requests and reads nothing holds one answer, not thousands.
  const answer = async (line: string): Promise<void> => {
    let reply: Record<string, unknown>;
    const then: Continuation = fd !== undefined ? { connection: fd } : {};
    try {
      reply = { ok: true, ...(await handleRequest(target, peer, line, then)) };
    } catch (err: unknown) {
      if (!(err instanceof ControlError)) {
        log(`control socket: internal error answering uid ${peer.uid}: ${(err as Error).stack ?? err}`);
        reply = { ok: false, code: 'EINTERNAL', error: (err as Error).message };
      } else reply = { ok: false, code: err.code, error: err.message };
    }
    if (socket.destroyed) return;
    socket.write(`${JSON.stringify(reply)}\n`);
    if (then.follow) {
      following = true;
      socket.once('close', then.follow.follow(followerOf(socket)));
    }
    if (then.enter) session = startSession(socket, then.enter, log);
  };
  const next = (): void => {
    let nl: number;
    while (busy === 0 && !socket.destroyed && (nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      if (session) {
        try {
          sessionInput(session, line, socket);
        } catch (err: unknown) {
          // A message the session cannot take (a resize the kernel refuses): this peer's
          // session ends, the emperor does not.
          log(`control socket: enter session of uid ${peer.uid}: ${(err as Error).message}; closed`);
          socket.destroy();
          return;
        }
        continue;
      }
      busy = 1;
      socket.pause();
      void answer(line).then(() => {
        busy = 0;
        if (socket.destroyed) return;
        socket.resume();
        setImmediate(next);
      });
    }
    const most = session ? MAX_SESSION_LINE : MAX_LINE;
    if (!buffered.includes('\n') && buffered.length > most) refuse(socket, 'EBADREQ', `a ${session ? 'session input' : 'request'} line is at most ${most} bytes`);
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    next();
  });
  socket.on('error', () => socket.destroy());
}
