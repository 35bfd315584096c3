// A vassal's cgroup serves every launch of it: a respawn goes into the directory the last
// jail left, after its end took whatever remained (cgroup.kill). On Linux 6.18 a process
// cloned with CLONE_INTO_CGROUP into a cgroup that a cgroup.kill once emptied is SIGKILLed
// at birth; placement by a cgroup.procs write is not. Real jails through the executor.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CgroupTree, closeLaunchFds, openLaunchFdsFor, readLayout } from '../../src/jail/cgroup';
import { launchJail, type Jail } from '../../src/jail/launch';
import type { CgroupLimits } from '../../src/plan/types';
import { makePlan } from '../helpers/plan';
import { requireRoot } from '../helpers/root';

requireRoot();

const test = suite('a jail cgroup used again');
const LIMITS: CgroupLimits = { pidsMax: { option: 'pids-max', value: 64 }, opts: [] };
const layout = readLayout();

async function run(tree: CgroupTree, argv: string[], joinUnified?: boolean): Promise<{ jail: Jail; code: number | null; signal: number | null; fresh: boolean }> {
  const cgroup = tree.create(['vassals', 'again'], LIMITS);
  const fds = joinUnified === undefined ? cgroup.openLaunchFds() : openLaunchFdsFor(cgroup.dirs, joinUnified);
  let jail: Jail;
  try {
    jail = launchJail(makePlan(argv, { cgroup: fds, limits: LIMITS }), { cgroup });
  } finally {
    closeLaunchFds(fds);
  }
  await jail.started.catch(() => undefined);
  const exit = await jail.exited;
  return { jail, ...exit, fresh: cgroup.fresh };
}

test('a respawn into the cgroup its predecessor\'s kill emptied starts, and lands in it', async () => {
  if (!layout.unified) return; // pure v1: no CLONE_INTO_CGROUP to go wrong
  // As the emperor does: from an `emperor` cgroup of its own, made now.
  const tree = CgroupTree.prepare(layout, { name: `jailctl-${process.pid}`, moveSelf: true });
  try {
    // The first leaves a process behind, which its end's cgroup.kill takes.
    const first = await run(tree, ['/bin/sh', '-c', 'sleep 77301 & exit 0']);
    assert.is(first.fresh, true);
    assert.equal([first.code, first.signal], [0, null]);
    const out = '/proc/self/cgroup';
    const second = await run(tree, ['/bin/sh', '-c', `grep -q '^0::.*/vassals/again$' ${out}`]);
    assert.is(second.fresh, false, 'the same directory');
    assert.equal([second.code, second.signal], [0, null], 'not SIGKILLed at birth, and in the vassal\'s cgroup');
    // What the kernel does with the other placement, for the record (a fixed kernel passes too).
    const cloned = await run(tree, ['/bin/true'], false);
    if (cloned.signal === 9) console.log('  (this kernel SIGKILLs a clone3(CLONE_INTO_CGROUP) into a cgroup emptied by cgroup.kill)');
  } finally {
    tree.remove();
  }
  assert.not.match(readFileSync('/proc/self/cgroup', 'utf8'), /jailctl-/);
});

test('from a cgroup it did not make (jailctl run stays where it was started), a jail is always placed by a write', () => {
  if (!layout.unified) return;
  const tree = CgroupTree.prepare(layout, { name: `jailctl-${process.pid}`, moveSelf: false });
  try {
    const cgroup = tree.create(['vassals', 'placed'], LIMITS);
    const fds = cgroup.openLaunchFds();
    try {
      assert.is(cgroup.fresh, false);
      assert.is(fds.dirFd, undefined, 'no CLONE_INTO_CGROUP: the launcher\'s own cgroup may have been killed before');
      assert.is(fds.procsFds.length, cgroup.dirs.v1.length + 1, 'the unified cgroup.procs too');
    } finally {
      closeLaunchFds(fds);
    }
  } finally {
    tree.remove();
  }
});

test.run();
