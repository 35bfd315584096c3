// The fork server's client (docs/FORK-SERVER.md, "Wire format"): one adoption request to a
// base, on the event loop. Connect without blocking, check the peer is the base's jail,
// send the request with its fds, write the plan frame into the config pipe, read the pid
// packet and its pidfd. What follows on the connection (the status records) is read by
// src/jail/launch.ts, as for a launch. A base that sends garbage, closes early or never
// answers fails this one adoption with an AdoptError; nothing here throws into the loop.
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { JailError } from '../errors';
import { binding, type FdWatcher } from '../native/binding';

/** uwsgi modifier1 of a fork-server request and of its pid packet. */
export const FORK_SERVER_MODIFIER = 35;

/** The most a pid packet's body may be (it holds one key). */
const MAX_REPLY_BODY = 4096;

/** How often a connect that found the base's backlog full (EAGAIN) is tried again. */
const CONNECT_RETRY_MS = 10;

/** How often a plan frame larger than the config pipe's buffer is written on. */
const WRITE_RETRY_MS = 2;

export type AdoptStage = 'connect' | 'peer' | 'request' | 'plan' | 'reply';

export class AdoptError extends JailError {
  constructor(
    readonly stage: AdoptStage,
    message: string,
    /** The base went away meanwhile (its socket gone, EOF before the reply): wait for the next one. */
    readonly baseGone: boolean,
    readonly errnoCode?: string,
  ) {
    super('JAIL_ERR_LAUNCH', message);
    this.name = 'AdoptError';
  }
}

export interface AdoptRequest {
  /** The adopted vassal's name and its base's, for the messages. */
  readonly vassal: string;
  readonly base: { readonly name: string; readonly pid: number; readonly socket: string };
  readonly argv: readonly string[];
  /** The serialised adoption plan (fds by slot), its fd list and mask (plan/serialize.ts). */
  readonly plan: Buffer;
  readonly fds: readonly number[];
  readonly mask: number;
  /** Our end of the config pipe: the plan frame goes there before the config packet. */
  readonly configFd: number;
  /** The base must answer (its pid packet) within this. */
  readonly timeoutMs: number;
}

/** The base forked the jail: its top process, a pidfd for it, and the connection, on
 *  which the status records come. `pid` 0: nothing was forked (the records say why). */
export interface Adopted {
  readonly pid: number;
  readonly pidfd: number;
  readonly conn: number;
}


// The request packet: 35 | u16le size | mask, then the argv as a uwsgi array.
export function requestPacket(argv: readonly string[], mask: number): Buffer {
  const items = argv.map((a) => Buffer.from(a));
  const size = items.reduce((n, b) => n + 2 + b.length, 0);
  if (size > 0xffff) throw new AdoptError('request', `argv is ${size} bytes; a fork-server request holds at most 65535`, false);
  const out = Buffer.alloc(4 + size);
  out.writeUInt8(FORK_SERVER_MODIFIER, 0);
  out.writeUInt16LE(size, 1);
  out.writeUInt8(mask, 3);
  let at = 4;
  for (const b of items) {
    out.writeUInt16LE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  }
  return out;
}

// The plan frame: u32le N, then the N bytes.
export function planFrame(plan: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(plan.length);
  return Buffer.concat([head, plan]);
}

// The `pid` of a pid packet's keyval body; throws on anything else.
export function parsePidPacket(packet: Buffer): number {
  if (packet[0] !== FORK_SERVER_MODIFIER) throw new Error(`its reply starts with byte ${packet[0]}, not ${FORK_SERVER_MODIFIER} (a pid packet)`);
  const body = packet.subarray(4);
  for (let at = 0; at < body.length; ) {
    if (at + 2 > body.length) break;
    const klen = body.readUInt16LE(at);
    const key = body.toString('latin1', at + 2, at + 2 + klen);
    at += 2 + klen;
    if (at + 2 > body.length) break;
    const vlen = body.readUInt16LE(at);
    const value = body.toString('latin1', at + 2, at + 2 + vlen);
    at += 2 + vlen;
    if (at > body.length) break;
    if (key === 'pid') {
      if (!/^\d{1,10}$/.test(value) || Number(value) > 0x3fffffff) throw new Error(`its pid packet says pid = ${JSON.stringify(value.slice(0, 32))}`);
      return Number(value);
    }
  }
  throw new Error('its pid packet holds no well-formed `pid`');
}

// The pid a pidfd stands for (/proc/self/fdinfo's Pid line), or undefined.
function pidOfPidfd(fd: number): number | undefined {
  try {
    const m = /^Pid:\s*(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// Is `pid` gone or a zombie (the base died under the request)?
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

// One adoption request. Resolves once the pid packet is in; rejects with an AdoptError.
export function requestAdoption(req: AdoptRequest): Promise<Adopted> {
  const who = `base ${req.base.name} (pid ${req.base.pid}, fork server ${req.base.socket})`;
  return new Promise<Adopted>((resolve, reject) => {
    let conn = -1;
    let watcher: FdWatcher | undefined;
    let retry: NodeJS.Timeout | undefined;
    let settled = false;
    const received: number[] = [];
    let frame: Buffer | undefined = planFrame(req.plan);
    const deadline = setTimeout(() => fail('reply', `${who} did not answer the adoption request within ${req.timeoutMs / 1000} s (emperor-fork-server-timeout)`), req.timeoutMs);

    const cleanUp = (): void => {
      clearTimeout(deadline);
      if (retry) clearTimeout(retry);
      watcher?.close();
      watcher = undefined;
    };
    function fail(stage: AdoptStage, message: string, code?: string): void {
      if (settled) return;
      settled = true;
      // Rejected first: a close that throws must not leave the adoption pending for good.
      reject(new AdoptError(stage, `not adopted (stage ${stage}): ${message}`, processGone(req.base.pid), code));
      cleanUp();
      for (const fd of [...received.splice(0), ...(conn >= 0 ? [conn] : [])]) {
        try {
          closeSync(fd);
        } catch (err: unknown) {
          if ((err as NodeJS.ErrnoException).code !== 'EBADF') throw err;
        }
      }
    }
    const guarded = <A extends unknown[]>(f: (...a: A) => void) => (...a: A): void => {
      try {
        f(...a);
      } catch (err: unknown) {
        const e = err as NodeJS.ErrnoException;
        fail('reply', `${e.message}`, e.code);
      }
    };

    // The plan frame, as far as the config pipe takes it now; the rest as the base reads.
    const pump = guarded(() => {
      retry = undefined;
      while (frame && frame.length > 0) {
        let n: number;
        try {
          n = writeSync(req.configFd, frame);
        } catch (err: unknown) {
          const e = err as NodeJS.ErrnoException;
          if (e.code !== 'EAGAIN') return fail('plan', `cannot write the plan frame into the config pipe: ${e.code}`, e.code);
          retry = setTimeout(pump, WRITE_RETRY_MS);
          return;
        }
        frame = n >= frame.length ? undefined : frame.subarray(n);
      }
    });

    const connect = guarded(() => {
      retry = undefined;
      try {
        conn = binding.connectUnix(req.base.socket);
      } catch (err: unknown) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EAGAIN') {
          retry = setTimeout(connect, CONNECT_RETRY_MS); // its backlog is full: it is busy, not gone
          return;
        }
        return fail('connect', `cannot connect to ${who}: ${e.code ?? e.message}`, e.code);
      }
      // The peer must be the base we run (the emperor connects to no one else's socket).
      const peer = binding.peerCredentials(conn);
      if (peer.pid !== req.base.pid)
        return fail('peer', `the process at ${req.base.socket} is pid ${peer.pid} (uid ${peer.uid}), not the base's pid ${req.base.pid}; nothing sent`, 'EPERM');
      binding.setNonBlocking(req.configFd);
      pump();
      const packet = requestPacket(req.argv, req.mask);
      let sent: number;
      try {
        sent = binding.sendFds(conn, packet, req.fds);
      } catch (err: unknown) {
        const e = err as NodeJS.ErrnoException;
        return fail('request', `sendmsg: ${e.code}: ${who} ${e.code === 'EPIPE' || e.code === 'ECONNRESET' ? 'closed the connection before the request' : 'did not take the request'}`, e.code);
      }
      if (sent !== packet.length) return fail('request', `sent ${sent} of the request's ${packet.length} bytes`);
      readReply();
    });

    // The pid packet, byte-exact (never past it: the status records that follow are read
    // by superviseJail), with the pidfd it carries.
    const readReply = (): void => {
      let got = Buffer.alloc(0);
      let want = 4;
      watcher = new binding.FdWatcher(conn, guarded((events: number) => {
        // A negative `events` is the connection's error (libuv says EBADF for POLLERR): the
        // reads below tell what is left (data, EOF, or its errno).
        for (let first = true; ; first = false) {
          let r: { data: Buffer; fds: number[] };
          try {
            r = binding.recvFds(conn, want - got.length, 4);
          } catch (err: unknown) {
            const e = err as NodeJS.ErrnoException;
            if (e.code === 'EAGAIN' && !(first && events < 0)) return;
            return fail('reply', `recvmsg: ${e.code}: ${who} ${e.code === 'ECONNRESET' ? 'closed the connection (unread data) before its pid packet' : 'broke the connection'}`, e.code);
          }
          received.push(...r.fds);
          if (r.data.length === 0) return fail('reply', `${who} closed the connection before its pid packet${processGone(req.base.pid) ? ' (it died)' : ''}`);
          got = Buffer.concat([got, r.data]);
          if (got.length === 4 && want === 4) {
            if (got[0] !== FORK_SERVER_MODIFIER) return fail('reply', `${who} sent byte ${got[0]} where its pid packet (${FORK_SERVER_MODIFIER}) starts`, 'EBADMSG');
            want = 4 + got.readUInt16LE(1);
            if (want - 4 > MAX_REPLY_BODY) return fail('reply', `${who} sent a pid packet of ${want - 4} bytes (at most ${MAX_REPLY_BODY})`, 'EBADMSG');
          }
          if (got.length < want) continue;
          let pid: number;
          try {
            pid = parsePidPacket(got);
          } catch (err: unknown) {
            return fail('reply', `${who}: ${(err as Error).message}`, 'EBADMSG');
          }
          if (pid === 0) {
            if (received.length > 0) return fail('reply', `${who} said pid 0 but passed ${received.length} fd(s)`, 'EBADMSG');
            return done({ pid: 0, pidfd: -1, conn });
          }
          if (received.length !== 1) return fail('reply', `${who} said pid ${pid} with ${received.length} fds (one pidfd expected)`, 'EBADMSG');
          const of = pidOfPidfd(received[0]!);
          if (of !== pid) return fail('reply', `${who} said pid ${pid}, but the fd it passed is ${of === undefined ? 'no pidfd' : `a pidfd of pid ${of}`}`, 'EBADMSG');
          return done({ pid, pidfd: received.splice(0)[0]!, conn });
        }
      }));
    };

    const done = (adopted: Adopted): void => {
      if (settled) return;
      settled = true;
      // The plan frame must be all there before the config packet the caller writes next.
      if (frame) {
        const rest = frame;
        frame = undefined;
        try {
          for (let off = 0; off < rest.length; ) off += writeSync(req.configFd, rest, off);
        } catch {
          // The jail took its config pipe and went: its status records say how it ended.
        }
      }
      cleanUp();
      resolve(adopted);
    };

    connect();
  });
}
