// npm run bench:cpu — how well cpu-max holds a jail that spins: the same busy loop in a jail
// with cpu-max = 20% and in one without a limit, side by side in one run, each measured
// from its own cgroup's CPU time over the wall time. Prints both, and the limited one
// against its target. JAILCTL_BENCH_SECONDS (default 5) is how long each spins;
// JAILCTL_BENCH_CPU_MAX (default 20) the percentage.
import { CgroupTree, closeLaunchFds, readLayout } from '../src/jail/cgroup';
import { launchJail } from '../src/jail/launch';
import { DEFAULT_SECCOMP, type CgroupLimits, type LaunchPlan } from '../src/plan/types';

const SECONDS = Number(process.env.JAILCTL_BENCH_SECONDS ?? 5);
const PERCENT = Number(process.env.JAILCTL_BENCH_CPU_MAX ?? 20);

const spinner: LaunchPlan = {
  vassal: 'spin',
  namespaces: ['mount', 'pid'],
  mounts: [{ kind: 'proc', dst: '/proc', flags: [] }],
  loopback: false,
  hooks: [],
  uid: 65534,
  gid: 65534,
  groups: [],
  caps: [],
  noNewPrivs: true,
  limits: { opts: [] },
  seccomp: DEFAULT_SECCOMP,
  program: { option: 'unprivileged-binary-patch-arg', privileged: false, path: '/bin/sh', argv: ['/bin/sh', '-c', 'while :; do :; done'] },
  env: ['PATH=/usr/bin:/bin'],
  fds: [],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Spins in a new cgroup with `limits` for SECONDS; the share of one CPU it got, in percent.
async function spin(tree: CgroupTree, name: string, limits: CgroupLimits): Promise<number> {
  const cgroup = tree.create(['vassals', name], limits);
  const fds = cgroup.openLaunchFds();
  let jail;
  try {
    jail = launchJail({ ...spinner, limits, cgroup: fds }, { cgroup });
  } finally {
    closeLaunchFds(fds);
  }
  await jail.started;
  // From a moment it already runs: the start costs no CPU time worth counting.
  await sleep(200);
  const t0 = process.hrtime.bigint();
  const c0 = cgroup.stats().cpuSeconds;
  await sleep(SECONDS * 1000);
  const c1 = cgroup.stats().cpuSeconds;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  jail.signal('SIGKILL');
  await jail.exited;
  await cgroup.whenEmpty(5000);
  cgroup.remove();
  if (c0 === undefined || c1 === undefined) throw new Error('this host\'s cgroups give no CPU time (no cpu.stat, no cpuacct)');
  return ((c1 - c0) / wall) * 100;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:cpu needs root (namespaces, cgroups)');
  const tree = CgroupTree.prepare(readLayout(), { name: `jailctl-${process.pid}`, moveSelf: false });
  try {
    const limited: CgroupLimits = { cpuMax: { option: 'cpu-max', value: PERCENT }, opts: [] };
    const problems = tree.unsupported(limited);
    if (problems.length > 0) throw new Error(problems.map((p) => p.reason).join('; '));
    const free = await spin(tree, 'free', { opts: [] });
    const held = await spin(tree, 'held', limited);
    console.log(`\na jail spinning for ${SECONDS} s, its CPU time from its cgroup over the wall time:\n`);
    console.log(`  no limit                ${free.toFixed(1).padStart(6)} % of one CPU`);
    console.log(`  cpu-max = ${PERCENT}%`.padEnd(26) + `${held.toFixed(1).padStart(6)} % of one CPU   limited/free = ${(held / free).toFixed(2)}`);
    const off = Math.abs(held - PERCENT);
    console.log(`\ncpu-max ${PERCENT}%: held at ${held.toFixed(1)}% (target within 5 points)  ${off <= 5 ? 'OK' : 'MISSED'}`);
  } finally {
    tree.remove();
  }
}

main().catch((err: unknown) => {
  console.error(`bench:cpu: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
