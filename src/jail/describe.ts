// One line that says what failed inside a jail, in a sysadmin's words:
// `exec-as-root[2] "mount -t proc none /proc" exited with status 32 (web.ini:7)`.
import { constants } from 'node:os';
import { basename } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { binding, type StageRecord } from '../native/binding';
import { CAPABILITY_NAMES } from '../plan/capabilities';
import { SECCOMP_ALLOW_ITEM } from '../plan/stages';
import { describeMount, type MountOp } from '../plan/mounts';
import type { LaunchPlan, Origin } from '../plan/types';

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

// `SIGKILL` for 9.
export function signalName(n: number): string {
  return SIGNAL_NAMES.get(n) ?? `signal ${n}`;
}

// `EPERM`, or undefined for 0.
export function errnoCode(errno: number): string | undefined {
  return errno > 0 ? getSystemErrorName(-errno) : undefined;
}

function where(plan: LaunchPlan, origin: Origin): string {
  return plan.file && origin.line !== undefined ? ` (${basename(plan.file)}:${origin.line})` : '';
}

// A program missing from a jail's own root, or its ELF loader or libraries missing there
// (execve says ENOENT for both): what the root must hold.
function ownRootHint(plan: LaunchPlan): string {
  const root = plan.mounts[0];
  if (!root || (root.kind !== 'root' && root.kind !== 'overlay')) return '';
  const runtime = plan.program.option === 'app' ? ': jailctl\'s app server runs the host\'s Node, which needs glibc and libstdc++ in the root'
    : plan.program.option === 'psgi' || plan.program.option === 'early-psgi' ? ': the PSGI host runs the root\'s own /usr/bin/perl, with Plack'
    : '';
  const debian = runtime ? ' (a Debian root has them: npm run rootfs -- --debian DIR)' : '';
  return `; in the jail's root ${root.src ?? ''}, the program or its loader and libraries are missing${runtime}${debian}`;
}

// RLIMIT_NOFILE's number on Linux: the item of an `rlimit` record for it.
const RLIMIT_NOFILE = 7;

// A launch that died before its exec: `killed by signal 9 (SIGKILL) during exec-as-root[1] "sleep 9"`.
function diedDuring(plan: LaunchPlan, rec: StageRecord): string {
  const hook = rec.stage === 'hook' ? plan.hooks[rec.item] : undefined;
  const during = hook ? `exec-as-root[${rec.item + 1}] "${hook.command}"${where(plan, hook)}` : rec.stage;
  const signal = rec.died?.signal;
  if (signal !== null && signal !== undefined) return `killed by signal ${signal} (${signalName(signal)}) during ${during}`;
  return `exited with status ${rec.died?.code ?? '?'} during ${during}`;
}

// Which of the jail's cgroups a `cgroup` record means: -1 the unified directory, else the
// index of a cgroup.procs fd (the v1 ones; for a respawn or an enter the unified one first).
function whichCgroup(item: number): string {
  return item < 0 ? 'its directory on the unified hierarchy' : `cgroup.procs #${item + 1} of its cgroups`;
}

// A `seccomp` record: an unknown system call name (EINVAL, naming the entry), or the load.
function seccompFailure(plan: LaunchPlan, rec: StageRecord, why: string): string {
  const { seccomp } = plan;
  const allow = rec.item >= SECCOMP_ALLOW_ITEM;
  const name = allow ? seccomp.allow[rec.item - SECCOMP_ALLOW_ITEM] : seccomp.deny[rec.item];
  const loc = seccomp.line !== undefined ? where(plan, { option: seccomp.option ?? 'seccomp', line: seccomp.line }) : '';
  if (rec.errno === constants.errno.EINVAL && name !== undefined)
    return `seccomp-${allow ? 'allow' : 'deny'}[${(allow ? rec.item - SECCOMP_ALLOW_ITEM : rec.item) + 1}] "${name}": no such system call${loc}`;
  if (rec.errno === constants.errno.EACCES)
    return `loading the seccomp filter${why} (the jail has neither no-new-privs nor CAP_SYS_ADMIN)${loc}`;
  return `loading the seccomp filter${why}${loc}`;
}

// What to do about a mount that failed, where the errno says it.
function mountHint(op: MountOp, errno: number): string {
  if (op.flags.includes('owner') && errno === constants.errno.EPERM) return ` (in tyrant mode a tenant binds only what it owns: chown ${op.owner} ${op.src ?? ''})`;
  if (op.flags.includes('nosymlinks') && errno === constants.errno.ELOOP) return ` (a tenant's path may hold no symlink: give the real path)`;
  return '';
}

function waitStatus(status: number): string {
  const signal = status & 0x7f;
  if (signal === 0) return `exited with status ${(status >> 8) & 0xff}`;
  return `was killed by ${signalName(signal)}`;
}

// What the executor reported, as one line without the vassal name.
export function describeFailure(plan: LaunchPlan, rec: StageRecord): string {
  if (rec.died) return diedDuring(plan, rec);
  const why = rec.errno > 0 ? `: ${binding.strerror(rec.errno)}` : '';
  const ns = plan.namespaces.join(',');
  switch (rec.stage) {
    case 'prepare':
      // From a fork-server base (adoption): what it holds that no jail may inherit.
      if (rec.errno === constants.errno.EBUSY)
        return `adoption refused: the fork-server base holds a writable shared mapping (MAP_SHARED or SysV shm), which every vassal adopted from it would share; the base's log names it: have its app make it after the fork (in each vassal), not at load${why}`;
      if (rec.errno === constants.errno.EINVAL)
        return `preparing the launch (launched from a thread other than the main one; for an adoption, a fork-server base that runs more than one thread: it forks only single-threaded)${why}`;
      return `preparing the launch${why}`;
    case 'clone':
      return `clone(${ns || 'no namespaces'})${why}`;
    case 'cgroup':
      return `placing the jail in its cgroup (${whichCgroup(rec.item)})${why}`;
    case 'helper':
      return `exec of jail-helper${why}`;
    case 'plan':
      return `the executor refused the plan at entry ${rec.item}${why}`;
    case 'join':
      return `joining the running jail's namespaces (${ns || 'none'})${why}`;
    case 'mount':
    case 'proc':
    case 'tmpfs': {
      const op = plan.mounts[rec.item];
      if (!op) return rec.stage === 'mount' ? `making the jail's mounts private${why}` : `mount ${rec.stage}${why}`;
      return `${describeMount(op)}${why}${mountHint(op, rec.errno)}${op.line !== undefined ? where(plan, { option: op.option ?? 'mount', line: op.line }) : ''}`;
    }
    case 'pivot_root': {
      const op = plan.mounts[0];
      return `making ${op?.src ?? 'the jail\'s root'} the jail's / (pivot_root)${why}`;
    }
    case 'rlimit':
      return rec.item === RLIMIT_NOFILE
        ? `setrlimit(RLIMIT_NOFILE, ${plan.nofile ?? 'soft 1024'})${why}`
        : `setrlimit(RLIMIT_NPROC, ${plan.maxProcs ?? '?'})${why}`;
    case 'oom_score_adj':
      return `setting oom_score_adj to ${plan.oomScoreAdj ?? 0}${why}`;
    case 'hostname':
      return `sethostname("${plan.hostname ?? ''}")${why}`;
    case 'loopback':
      return `bringing up lo${why}`;
    case 'hook': {
      const hook = plan.hooks[rec.item];
      const label = `exec-as-root[${rec.item + 1}] "${hook?.command ?? '?'}"`;
      const loc = hook ? where(plan, hook) : '';
      return rec.errno > 0 ? `${label}${why}${loc}` : `${label} ${waitStatus(rec.status)}${loc}`;
    }
    case 'init':
      return `starting the jail's init${why}`;
    case 'bounding':
      return `dropping ${rec.item >= 0 ? (CAPABILITY_NAMES[rec.item] ?? `capability ${rec.item}`) : 'capabilities'} from the bounding set${why}`;
    case 'groups':
      return `setgroups([${plan.groups.join(',')}])${why}`;
    case 'gid':
      return `setgid(${plan.gid ?? '?'})${why}`;
    case 'uid':
      return `setuid(${plan.uid ?? '?'})${why}`;
    case 'caps':
      return `setting capabilities [${plan.caps.join(',')}]${why}`;
    case 'no_new_privs':
      return `prctl(PR_SET_NO_NEW_PRIVS)${why}`;
    case 'dumpable':
      return `prctl(PR_SET_DUMPABLE, 0)${why}`;
    case 'pdeathsig':
      return rec.errno === constants.errno.ESRCH ? 'the launcher died during the launch' : `prctl(PR_SET_PDEATHSIG)${why}`;
    case 'fds': {
      const fd = plan.fds[rec.item];
      return `${fd ? `passing fd ${fd.src} as ${fd.dst}` : 'arranging fds'}${why}`;
    }
    case 'tty':
      return `making fd 0 the jail's controlling terminal${why}`;
    case 'chdir':
      return `chdir("${plan.chdir ?? ''}")${why}`;
    case 'seccomp':
      return seccompFailure(plan, rec, why);
    case 'exec':
      // RLIMIT_NPROC is checked at the uid change and reported by the next exec.
      if (rec.errno === constants.errno.EAGAIN && plan.maxProcs !== undefined)
        return `${plan.program.option} "${plan.program.path}": the jail's user already has max-procs (${plan.maxProcs}) processes${where(plan, plan.program)}`;
      return `${plan.program.option} "${plan.program.path}"${why}${where(plan, plan.program)}${rec.errno === constants.errno.ENOENT ? ownRootHint(plan) : ''}`;
    default:
      return `stage ${rec.stage}${why}`;
  }
}
