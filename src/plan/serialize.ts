// serializePlan(): LaunchPlan → the executor's wire format (a uwsgi keyval body, see
// native/executor/plan.c for the keys). Lists are repeated keys, in order.
import { PlanError } from '../errors';
import { capabilityNumber } from './capabilities';
import type { LaunchPlan } from './types';

/** Test-only: make one executor stage fail with an errno (never set from a config file;
 *  only the test build of the addon takes it, see binding.ts testBinding()). */
export interface FaultInjection {
  readonly stage: string;
  readonly errno: number;
}

/** Who a process becomes (binding.dropSelf: the emperor dropping to its own user). */
export interface Credentials {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly caps: readonly string[];
}

// A keyval body writer; `vassal` names the plan in the error for an oversized value.
function keyvals(vassal: string): { add(key: string, value: string | number): void; bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    add(key, value) {
      const k = Buffer.from(key);
      const v = Buffer.from(String(value));
      if (v.length > 0xffff) throw new PlanError({ vassal, field: key }, `value is ${v.length} bytes; the limit is 65535`);
      const head = Buffer.alloc(2);
      head.writeUInt16LE(k.length);
      const vhead = Buffer.alloc(2);
      vhead.writeUInt16LE(v.length);
      parts.push(head, k, vhead, v);
    },
    bytes: () => Buffer.concat(parts),
  };
}

// The bytes handed to binding.dropSelf(): a plan with credentials and nothing to run.
export function serializeCredentials(creds: Credentials): Buffer {
  const kv = keyvals('emperor');
  kv.add('uid', creds.uid);
  kv.add('gid', creds.gid);
  for (const g of creds.groups) kv.add('group', g);
  for (const cap of creds.caps) kv.add('cap', capabilityNumber(cap)!);
  return kv.bytes();
}

/** The fds a fork-server request carries first, in this order (docs/FORK-SERVER.md). */
export interface AdoptionFds {
  readonly emperor: number;
  readonly config: number;
  /** The listening socket the emperor holds for the vassal: fd 0 of its jail. */
  readonly socket?: number;
}

/** A fork-server request's mask bits: which fds its SCM_RIGHTS list carries. */
export const ADOPT_MASK = { EMPEROR: 0x01, CONFIG: 0x02, SOCKET: 0x04, MORE: 0x80 } as const;

/** The most fds one request carries (the base's limit). */
export const ADOPT_MAX_FDS = 64;

// The adoption plan: the plan with every launcher fd (`fd SRC:DST`, `cgroup`,
// `cgroup-procs`) replaced by its slot in the request's fd list, and that list (emperor
// pipe, config pipe, held socket, then every other fd in the order the plan names them).
// What the base cannot do in-process is refused: privileged programs, join, ctty.
export function serializeAdoptionPlan(plan: LaunchPlan, first: AdoptionFds): { bytes: Buffer; fds: number[]; mask: number } {
  const refuse = (field: string, why: string): never => {
    throw new PlanError({ vassal: plan.vassal, field }, `an adopted vassal cannot have ${why}: the base applies its jail in-process, and execs nothing`);
  };
  if (plan.program.privileged) refuse('privileged', 'a privileged program');
  if (plan.join) refuse('join', 'a jail to join');
  if (plan.ctty) refuse('ctty', 'a controlling terminal');
  if (plan.socketActivation) refuse('socket-activation', 'systemd socket activation (LISTEN_PID names the process that execs)');
  const fds = [first.emperor, first.config, ...(first.socket !== undefined ? [first.socket] : [])];
  const slot = (fd: number): number => {
    let i = fds.indexOf(fd);
    if (i < 0) i = fds.push(fd) - 1;
    if (fds.length > ADOPT_MAX_FDS) throw new PlanError({ vassal: plan.vassal, field: 'fd' }, `an adoption carries at most ${ADOPT_MAX_FDS} fds; this plan names ${fds.length}`);
    return i;
  };
  const bySlot: LaunchPlan = {
    ...plan,
    fds: plan.fds.map((f) => ({ src: slot(f.src), dst: f.dst })),
    ...(plan.cgroup
      ? { cgroup: { ...(plan.cgroup.dirFd !== undefined ? { dirFd: slot(plan.cgroup.dirFd) } : {}), procsFds: plan.cgroup.procsFds.map(slot) } }
      : {}),
  };
  const mask = ADOPT_MASK.EMPEROR | ADOPT_MASK.CONFIG | ADOPT_MASK.MORE | (first.socket !== undefined ? ADOPT_MASK.SOCKET : 0);
  return { bytes: serializePlan(bySlot), fds, mask };
}

// The bytes handed to binding.launch().
export function serializePlan(plan: LaunchPlan, fault?: FaultInjection): Buffer {
  const kv = keyvals(plan.vassal);
  const add = kv.add;
  for (const ns of plan.namespaces) add('ns', ns);
  for (const m of plan.mounts) {
    add('mount', m.kind);
    if (m.src !== undefined) add('mount-src', m.src);
    if (m.dst !== undefined) add('mount-dst', m.dst);
    if (m.size !== undefined) add('mount-size', m.size);
    if (m.mode !== undefined) add('mount-mode', m.mode.toString(8));
    if (m.owner !== undefined) add('mount-owner', m.owner);
    for (const f of m.flags) add('mount-flag', f);
  }
  if (plan.loopback) add('loopback', 1);
  if (plan.hostname !== undefined) add('hostname', plan.hostname);
  for (const hook of plan.hooks) add('hook', hook.command);
  if (plan.maxProcs !== undefined) add('nproc', plan.maxProcs);
  if (plan.nofile !== undefined) add('nofile', plan.nofile);
  if (plan.oomScoreAdj !== undefined) add('oom-score-adj', plan.oomScoreAdj);
  if (plan.uid !== undefined) add('uid', plan.uid);
  if (plan.gid !== undefined) add('gid', plan.gid);
  for (const g of plan.groups) add('group', g);
  for (const cap of plan.caps) add('cap', capabilityNumber(cap)!);
  add('no-new-privs', plan.noNewPrivs ? 1 : 0);
  if (plan.newSession) add('setsid', 1);
  if (plan.program.privileged) add('privileged', 1);
  add('path', plan.program.path);
  for (const arg of plan.program.argv) add('argv', arg);
  for (const kv of plan.env) add('env', kv);
  if (plan.rootEnv) for (const kv of plan.rootEnv) add('root-env', kv);
  if (plan.execPath !== undefined) add('exec-path', plan.execPath);
  if (plan.chdir !== undefined) add('chdir', plan.chdir);
  for (const fd of plan.fds) add('fd', `${fd.src}:${fd.dst}`);
  for (const name of plan.socketActivation?.names ?? []) add('listen-fdname', name);
  if (plan.join) add('join', plan.join.pidfd);
  if (plan.join?.cwd !== undefined) add('join-cwd', plan.join.cwd);
  if (plan.ctty) add('ctty', 1);
  if (plan.cgroup?.dirFd !== undefined) add('cgroup', plan.cgroup.dirFd);
  for (const fd of plan.cgroup?.procsFds ?? []) add('cgroup-procs', fd);
  // Always said, though C reads an absent `seccomp` as `default` too.
  add('seccomp', plan.seccomp.mode);
  for (const name of plan.seccomp.deny) add('seccomp-deny', name);
  for (const name of plan.seccomp.allow) add('seccomp-allow', name);
  if (fault) add('fault', `${fault.stage}:${fault.errno}`);
  return kv.bytes();
}
