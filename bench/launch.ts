// npm run bench:launch — launches N jails (all five namespaces, uid drop, capabilities
// cleared, exec /bin/true) through the addon from this Node process and, in the same run,
// the same jail through unshare(1)+setpriv(1), through bubblewrap, and through a raw C
// loop calling the executor directly; plus Node's own spawnSync of /bin/true. Then the
// containment: the same jail with its cgroup (made, limits written, placed at the clone,
// removed after) and the default seccomp filter, against it with neither, in the same run.
// Prints the median per launch and the ratios. N defaults to 1000 (JAILCTL_BENCH_N).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchJail } from '../src/jail/launch';
import { serializePlan } from '../src/plan/serialize';
import { CgroupTree, closeLaunchFds, readLayout } from '../src/jail/cgroup';
import { DEFAULT_PIDS_MAX } from '../src/plan/limits';
import { DEFAULT_SECCOMP, NO_LIMITS, type CgroupLimits, type LaunchPlan } from '../src/plan/types';

const ROOT = join(__dirname, '..');
const N = Number(process.env.JAILCTL_BENCH_N ?? 1000);
const UID = 65534;

const plan: LaunchPlan = {
  vassal: 'bench',
  namespaces: ['mount', 'pid', 'net', 'ipc', 'uts'],
  mounts: [{ kind: 'proc', dst: '/proc', flags: [] }],
  loopback: true,
  hooks: [],
  uid: UID,
  gid: UID,
  groups: [],
  caps: [],
  noNewPrivs: true,
  limits: NO_LIMITS,
  seccomp: DEFAULT_SECCOMP,
  program: { option: 'unprivileged-binary-patch-arg', privileged: false, path: '/bin/true', argv: ['/bin/true'] },
  env: ['PATH=/usr/bin:/bin'],
  fds: [],
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeSync(run: () => void, n: number): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint();
    run();
    t.push(Number(process.hrtime.bigint() - a) / 1e3);
  }
  return median(t);
}

// What every vassal gets by default: pids-max, and a memory limit a host would set.
const LIMITS: CgroupLimits = { pidsMax: { option: 'pids-max', value: DEFAULT_PIDS_MAX }, memoryMax: { option: 'memory-max', value: 256 << 20 }, opts: [] };

// Launches `p` n times, each to its end. With a tree, in a cgroup with its limits written
// before each launch (as the emperor does): the same one each time (a respawn), or with
// `fresh` a new one each time, removed after (a vassal's first start).
async function addon(n: number, p: LaunchPlan = plan, tree?: CgroupTree, fresh = false): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) t.push(await once(p, tree, fresh ? `bench-${i}` : undefined));
  return median(t);
}

// One launch to its end, in µs (see addon()); `fresh`: the name of a new cgroup.
async function once(p: LaunchPlan, tree?: CgroupTree, fresh?: string): Promise<number> {
  const a = process.hrtime.bigint();
  const cgroup = tree?.create(['vassals', fresh ?? 'bench'], LIMITS);
  const fds = cgroup?.openLaunchFds();
  let jail;
  try {
    jail = launchJail(fds ? { ...p, cgroup: fds } : p, cgroup ? { cgroup } : {});
  } finally {
    if (fds) closeLaunchFds(fds);
  }
  await jail.started;
  const exit = await jail.exited;
  if (cgroup && fresh && !(await cgroup.whenEmpty(5000) && cgroup.remove())) throw new Error('the bench jail\'s cgroup did not go');
  if (exit.code !== 0) throw new Error(`bench jail exited ${exit.code}`);
  return Number(process.hrtime.bigint() - a) / 1e3;
}

function check(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.error}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:launch needs root (namespaces, uid changes)');
  const helper = join(ROOT, 'build', 'Release', 'jail-helper');
  const loop = join(ROOT, 'native', 'executor', 'build', 'bench-loop');
  const floor = join(ROOT, 'native', 'executor', 'build', 'bench-floor');
  execFileSync('make', ['-s', '-C', join(ROOT, 'native', 'executor'), 'build/bench-loop', 'build/bench-floor'], { stdio: 'inherit' });
  if (!existsSync(helper)) throw new Error(`${helper} is missing: run npm install (or npm run rebuild) first`);
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-bench-'));
  const planFile = join(dir, 'plan.bin');
  writeFileSync(planFile, serializePlan(plan));

  const unshare = ['-m', '-p', '-n', '-i', '-u', '-f', '--mount-proc', 'setpriv', `--reuid=${UID}`, `--regid=${UID}`,
    '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '/bin/true'];
  // bubblewrap wants a user namespace for --uid; as root it is otherwise the same jail.
  const bwrap = ['--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts',
    '--uid', String(UID), '--gid', String(UID), '--dev-bind', '/', '/', '--proc', '/proc', '--cap-drop', 'ALL', '/bin/true'];

  const rows: Array<[string, number]> = [];
  await addon(Math.min(50, N)); // warm-up: memfd, page cache, JIT
  rows.push(['jailctl addon (launchJail, from Node)', await addon(N)]);
  const c = Number(execFileSync(loop, [helper, planFile, String(N)], { encoding: 'utf8' }).trim());
  rows.push(['raw C loop (jail_launch)', c]);
  check('unshare', unshare);
  rows.push(['unshare(1) + setpriv(1), spawnSync', timeSync(() => check('unshare', unshare), N)]);
  if (spawnSync('bwrap', ['--version']).status === 0) {
    check('bwrap', bwrap);
    rows.push(['bubblewrap, spawnSync', timeSync(() => check('bwrap', bwrap), N)]);
  } else rows.push(['bubblewrap (not installed)', NaN]);
  rows.push(["Node's spawnSync('/bin/true'), no jail", timeSync(() => check('/bin/true', []), N)]);
  const floorUs = Number(execFileSync(floor, [String(N)], { encoding: 'utf8' }).trim());
  rows.push(['kernel floor: clone(5 ns) + exec, no setup', floorUs]);
  rmSync(dir, { recursive: true, force: true });

  // Containment, same run: the bare jail (no cgroup, no filter) and the full one.
  const bare = { ...plan, seccomp: { mode: 'none' as const, deny: [], allow: [] } };
  const tree = CgroupTree.prepare(readLayout(), { name: `jailctl-${process.pid}`, moveSelf: false });
  let contained: Array<[string, number]>;
  try {
    await addon(Math.min(20, N), plan, tree);
    // Round-robin, so that each variant sees the same load on a shared machine.
    const runs: Array<[string, () => Promise<number>]> = [
      ['no cgroup, no seccomp filter', () => once(bare)],
      ['seccomp filter only', () => once(plan)],
      ['cgroup + seccomp filter (a respawn)', () => once(plan, tree)],
      ['new cgroup + seccomp filter (a first start)', () => once(plan, tree, `bench-${Math.random().toString(36).slice(2)}`)],
    ];
    const times = runs.map((): number[] => []);
    for (let i = 0; i < N; i++) for (let k = 0; k < runs.length; k++) times[k]!.push(await runs[k]![1]());
    contained = runs.map(([name], k) => [name, median(times[k]!)]);
  } finally {
    tree.remove();
  }

  const ours = rows[0]![1];
  console.log(`\nlaunch of one jail (5 namespaces, uid ${UID}, no capabilities, /bin/true), median of ${N}:\n`);
  for (const [name, us] of rows)
    console.log(`  ${name.padEnd(42)} ${Number.isNaN(us) ? '     -' : (us / 1000).toFixed(3).padStart(6)} ms   ours/this = ${(ours / us).toFixed(2)}`);
  const ratio = ours / c;
  console.log(`\naddon vs raw C loop: ${ratio.toFixed(2)}x (target <= 1.2x)  ${ratio <= 1.2 ? 'OK' : 'MISSED'}`);
  const spawn = rows.at(-2)![1];
  console.log(`addon vs spawnSync(/bin/true): ${(ours / spawn).toFixed(2)}x (target < 1x)  ${ours < spawn ? 'OK' : 'MISSED'}`);
  console.log(`jail set-up beyond the kernel floor: ${((ours - floorUs) / 1000).toFixed(3)} ms; spawnSync leaves ${((spawn - floorUs) / 1000).toFixed(3)} ms for it`);
  console.log(`\ncontainment, the same jail, median of ${N}:\n`);
  const base = contained[0]![1];
  for (const [name, us] of contained) console.log(`  ${name.padEnd(42)} ${(us / 1000).toFixed(3).padStart(6)} ms   this/bare = ${(us / base).toFixed(2)}`);
  const full = contained[2]![1] / base;
  console.log(`\ncgroup + seccomp vs neither: ${full.toFixed(2)}x (target <= 1.3x)  ${full <= 1.3 ? 'OK' : 'MISSED'}`);
  console.log(`a first start, its cgroup made and removed: ${(contained[3]![1] / base).toFixed(2)}x`);
}

main().catch((err: unknown) => {
  console.error(`bench:launch: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
