// `jailctl emperor --upgrade` (or SIGUSR2): the emperor execs itself again, same pid, and
// the new code takes its running jails back instead of starting them again.
//
//   1. every vassal settled (none starting, stopping or rolling), or the upgrade is refused;
//   2. the handover record (per vassal: name, source, state, jail pid, the fds of its
//      emperor, config and stdio pipes and of its held socket, its build, flags, times and
//      counters) goes into a memfd, as JSON;
//   3. FD_CLOEXEC is cleared on exactly those fds (and the control socket's, and that of
//      the connection that asked), and the emperor execs node with its argv again, the
//      memfd's number in JAILCTL_HANDOVER_FD. On failure the flags are set back and the
//      old emperor goes on as it was.
//   4. the new emperor reads the record, opens pidfds on its children (still its own: same
//      pid, and nothing reaped them), and takes each vassal back (Vassal.takeBack); a
//      file that changed meanwhile is then reloaded as any change is.
//
// Jails survive it: PR_SET_PDEATHSIG fires when the *thread* that launched a jail ends,
// and every launch happens on the main thread (launch.c), which an execve from the main
// thread keeps (binding reexec). An emperor that dies still takes every jail with it.
import { closeSync, fstatSync, readlinkSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Jail } from '../jail/launch';
import type { VassalSource } from '../monitors/types';
import { binding } from '../native/binding';
import type { HeldEntry, HeldSocket } from './held-socket';
import type { JailMode } from './jail-source';
import type { VassalBuild } from './vassal-config';
import type { VassalFds } from './vassal-launch';
import { keepEnv } from './signal-keep';
import type { JailFlags, VassalState, VassalTimes } from './vassal-snapshot';

/** The environment variable naming the handover record's fd in the new emperor. */
export const HANDOVER_ENV = 'JAILCTL_HANDOVER_FD';
/** The memfd's name (readlink of /proc/self/fd/N shows `/memfd:NAME (deleted)`). */
const MEMFD_NAME = 'jailctl-handover';

/** A vassal's side of an upgrade (Vassal.handover / takeBack). */
export interface VassalHandover {
  readonly state: VassalState;
  readonly jail?: Jail | undefined;
  readonly fds?: VassalFds | undefined;
  /** Its fds are all still open and still its own (JailLink.intact). */
  readonly intact?: boolean | undefined;
  readonly held?: HeldSocket | undefined;
  readonly build?: VassalBuild | undefined;
  readonly flags: JailFlags;
  readonly times: VassalTimes;
  readonly counts: { readonly respawns: number; readonly restarts: number; readonly lastExit?: string | undefined };
  readonly rolling?: boolean;
  readonly starting?: boolean;
  readonly mode?: JailMode | undefined;
}

/** One vassal in the record: plain data and fd numbers. */
export interface VassalRecord {
  readonly name: string;
  readonly source: Omit<VassalSource, 'mtimeNs'> & { readonly mtimeNs: string };
  readonly state: 'running' | 'on-demand' | 'stopped';
  readonly pid: number;
  readonly fds?: VassalFds;
  /** Its held sockets (held-socket.ts): fds, names and addresses, and whether the first is its on-demand one. */
  readonly held?: { readonly entries: readonly HeldEntry[]; readonly primary: boolean };
  readonly build?: VassalBuild;
  readonly flags: JailFlags;
  readonly times: VassalTimes;
  readonly counts: VassalHandover['counts'];
}

export interface HandoverRecord {
  readonly version: 1;
  /** The old emperor's listening control socket, and the connection that asked. */
  readonly control?: number;
  readonly reply?: number;
  readonly vassals: readonly VassalRecord[];
}

/** A vassal that cannot be handed over now, and why. */
export class HandoverRefused extends Error {}

// The record of one vassal, or undefined when it needs none (it starts afresh from its
// file in the next emperor: failed, blacklisted, waiting to respawn). Throws HandoverRefused
// for one between states.
export function recordOf(name: string, source: VassalSource, h: VassalHandover): VassalRecord | undefined {
  const busy = h.rolling ? 'in a rolling re-adoption' : h.starting ? 'starting' : h.mode === 'adopted' || h.build?.fork ? 'a fork-server vassal (adopted or a base), which an upgrade does not hand over yet' : undefined;
  if (busy) throw new HandoverRefused(`${name} is ${busy}`);
  const common = { name, source: { ...source, mtimeNs: String(source.mtimeNs) }, flags: h.flags, times: h.times, counts: h.counts };
  const held = h.held ? { held: { entries: h.held.entries, primary: h.held.primary } } : {};
  if (h.state === 'stopped') return { ...common, state: 'stopped', pid: 0 };
  if (h.state === 'on-demand' && h.held && !h.jail) return { ...common, ...held, state: 'on-demand', pid: 0 };
  if (h.state === 'running' && h.jail && h.fds && h.intact === false)
    throw new HandoverRefused(`${name} closed one of its pipes (stdout, stderr or the emperor's), whose number may be another jail's by now; restart it first (jailctl reload ${name})`);
  if (h.state === 'running' && h.jail && h.fds) return { ...common, ...held, state: 'running', pid: h.jail.pid, fds: h.fds, ...(h.build ? { build: h.build } : {}) };
  if (h.jail || ['spawning', 'reloading', 'stopping'].includes(h.state)) throw new HandoverRefused(`${name} is ${h.state}`);
  return undefined;
}

// Every fd the record names, that must cross the exec.
export function crossingFds(record: HandoverRecord): number[] {
  const fds: number[] = [];
  for (const v of record.vassals) {
    if (v.fds) for (const fd of [v.fds.emperor, v.fds.config, v.fds.stdout, v.fds.stderr]) if (fd !== undefined) fds.push(fd);
    for (const e of v.held?.entries ?? []) fds.push(e.fd);
  }
  for (const fd of [record.control, record.reply]) if (fd !== undefined) fds.push(fd);
  // Its own stdio too (the log goes on where it went): libuv may have marked it close-on-exec.
  return [0, 1, 2, ...fds];
}

// Writes the record to a memfd, clears close-on-exec on it, on jail-sigkeep.so's memfd and
// on every fd it names, and execs `argv` (node, its options, the script and the emperor's arguments). Returns only by
// throwing, with every flag set back and the memfd closed: the old emperor goes on.
export function reexecWith(record: HandoverRecord, argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): never {
  const memfd = binding.memfdCreate(MEMFD_NAME);
  const keep = binding.sigkeepFd();
  const cleared: number[] = [];
  const back = process.cwd();
  try {
    const text = Buffer.from(JSON.stringify(record));
    for (let off = 0; off < text.length;) off += writeSync(memfd, text, off, text.length - off, off);
    for (const fd of [memfd, keep, ...crossingFds(record)]) {
      try {
        binding.setCloseOnExec(fd, false);
      } catch (err: unknown) {
        if (fd > 2 || (err as NodeJS.ErrnoException).code !== 'EBADF') throw err; // a closed stdio stays closed
        continue;
      }
      cleared.push(fd);
    }
    const vars = Object.entries({ ...env, [HANDOVER_ENV]: String(memfd), ...keepEnv(keep, env) }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    // Where it was started: relative parts of its argv (node's -r tsm) mean what they meant.
    process.chdir(cwd);
    // The signals it handles stay blocked into the new program (signal-keep.ts).
    return binding.reexec(argv[0]!, argv, vars, true);
  } finally {
    process.chdir(back);
    for (const fd of cleared) binding.setCloseOnExec(fd, true);
    closeSync(memfd);
    closeSync(keep);
  }
}

// What `value` (JAILCTL_HANDOVER_FD) must be before anything reads or closes it: a number
// above 2 (never stdio, which closing would take from the log), open, a regular file of
// this process that is a memfd named MEMFD_NAME (not a pipe, a socket, a jail's file). The
// fd, or throws an Error saying what it is instead.
export function handoverFd(value: string): number {
  const bad = (why: string): Error => new Error(`${HANDOVER_ENV}=${JSON.stringify(value.slice(0, 40))}: ${why}; it is set only by the emperor an upgrade replaces (unset it to start afresh)`);
  if (!/^\d{1,9}$/.test(value)) throw bad('not an fd number');
  const fd = Number(value);
  if (fd <= 2) throw bad('stdin, stdout or stderr, never the handover record');
  let link: string;
  try {
    if (!fstatSync(fd).isFile()) throw bad('not a regular file (the record is a memfd)');
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === undefined) throw err;
    throw bad(`cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (!link.startsWith(`/memfd:${MEMFD_NAME} `) && link !== `/memfd:${MEMFD_NAME}`) throw bad(`${link} is not the memfd of an upgrade`);
  return fd;
}

// The record the emperor before this one wrote (`value`: JAILCTL_HANDOVER_FD, checked by
// handoverFd), closed once read. Throws an Error naming the fd when it is not one (an fd
// refused by handoverFd is left open: it is not ours to close).
export function readHandover(value: string): HandoverRecord {
  const fd = handoverFd(value);
  try {
    const st = fstatSync(fd);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n <= 0) break;
      off += n;
    }
    const record = JSON.parse(buf.toString('utf8', 0, off)) as HandoverRecord;
    if (record.version !== 1 || !Array.isArray(record.vassals)) throw new Error(`version ${String(record.version)}, expected 1`);
    return record;
  } catch (err: unknown) {
    throw new Error(`${HANDOVER_ENV}=${fd}: not a handover record of an emperor upgrade (${(err as Error).message})`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/** The record versions this emperor reads (an upgrade's pre-flight asks the new one). */
export const HANDOVER_VERSIONS: readonly number[] = [1];

/** A record's source as a monitor would report it. */
export const sourceOf = (r: VassalRecord): VassalSource => ({ ...r.source, mtimeNs: BigInt(r.source.mtimeNs) });

// Answers the `jailctl emperor --upgrade` that asked, on its connection (handed over).
export function answerUpgrade(fd: number, answer: Record<string, unknown>): void {
  const socket = new Socket({ fd, readable: false, writable: true });
  socket.on('error', () => socket.destroy());
  socket.end(`${JSON.stringify(answer)}\n`);
}

/** What the record is built from: each vassal's name, file and side of the handover. */
export interface HandingOver {
  readonly name: string;
  readonly currentSource: VassalSource;
  handover(): VassalHandover;
}

/** How long an upgrade waits for vassals between states to settle. */
const SETTLE_MS = 10_000;

// The record of every vassal, once none is between states (waiting up to SETTLE_MS); throws
// HandoverRefused naming those that did not settle.
export async function settledRecord(vassals: () => Iterable<HandingOver>, fds: { control?: number; reply?: number }): Promise<HandoverRecord> {
  const end = Date.now() + SETTLE_MS;
  for (;;) {
    const busy: string[] = [];
    const records: VassalRecord[] = [];
    for (const v of vassals()) {
      try {
        const r = recordOf(v.name, v.currentSource, v.handover());
        if (r) records.push(r);
      } catch (err: unknown) {
        if (!(err instanceof HandoverRefused)) throw err;
        busy.push(err.message);
      }
    }
    if (busy.length === 0) {
      const record: HandoverRecord = { version: 1, ...fds, vassals: records };
      const all = crossingFds(record);
      if (new Set(all).size !== all.length) throw new HandoverRefused('not upgraded, nothing changed: the record names one fd twice (an internal error; please report it)');
      return record;
    }
    if (Date.now() >= end || busy.some((b) => b.includes('fork-server') || b.includes('closed one of its pipes')))
      throw new HandoverRefused(`not upgraded, nothing changed: ${busy.join('; ')}; try again once they settle`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
