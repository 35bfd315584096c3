// After an upgrade's exec, a vassal of the record that cannot be taken back (here: one of
// its fds is not open any more, as in a record of another version) has its whole jail
// killed through its cgroup, a process that left the top one's tree too, with a line that
// names it and why; a pid that is no child of the emperor is left alone. Real jails in
// real cgroups, launched by this process (the emperor after its exec is their parent).
import { closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CgroupTree, readLayout } from '../../src/jail/cgroup';
import { closeLaunchFds } from '../../src/jail/cgroup';
import { launchJail } from '../../src/jail/launch';
import type { VassalRecord } from '../../src/emperor/handover';
import { killUntaken, takeBackVassals } from '../../src/emperor/takeover';
import type { VassalContext } from '../../src/emperor/vassal';
import { cgroupSegments } from '../../src/emperor/vassal-launch';
import { binding } from '../../src/native/binding';
import { NO_LIMITS } from '../../src/plan/types';
import { pidsWith, waitUntil } from '../helpers/emperor';
import { makePlan } from '../helpers/plan';
import { requireRoot } from '../helpers/root';

requireRoot();

const test = suite('a vassal the new emperor cannot take back');

const tree = CgroupTree.prepare(readLayout(), { name: `jailctl-untaken-${process.pid}`, moveSelf: false });
test.after(() => void tree.remove());

// A jail of `name` in its emperor cgroup: a top process and one that left its tree (setsid, double fork).
async function jailOf(name: string, tag: number): Promise<{ pid: number; exited: Promise<unknown> }> {
  const cg = tree.create(cgroupSegments(name, undefined, false), NO_LIMITS);
  const fds = cg.openLaunchFds();
  const jail = launchJail(makePlan(['/bin/sh', '-c', `(setsid sleep ${tag + 1} &); exec sleep ${tag}`], { vassal: name, cgroup: fds }), { cgroup: cg });
  closeLaunchFds(fds);
  await jail.started;
  await waitUntil(() => pidsWith(`sleep ${tag + 1}`).length === 1 && pidsWith(`sleep ${tag}`).length === 1, 'both processes running');
  return { pid: jail.pid, exited: jail.exited };
}

const record = (name: string, pid: number, fds: VassalRecord['fds']): VassalRecord => ({
  name, pid, state: 'running', fds,
  source: { name, path: `/nonexistent/${name}`, monitor: 'dir:///nonexistent', mtimeNs: '1', uid: 0, gid: 0 },
  build: { plan: makePlan(['/bin/true'], { vassal: name }) } as VassalRecord['build'],
  flags: {} as VassalRecord['flags'], times: {} as VassalRecord['times'], counts: { respawns: 0, restarts: 0 },
});

test('its jail is killed whole through its cgroup, and the log names it and why', async () => {
  const { pid, exited } = await jailOf('broken.ini', 78411);
  const [ours, theirs] = binding.socketPair();
  closeSync(theirs);
  closeSync(ours); // a closed fd in the record: taking it back throws EBADF
  const lines: string[] = [];
  const ctx = { options: { logsDir: 'none', logsMaxSize: 1 << 20, tyrant: false }, echo: () => undefined } as unknown as VassalContext;
  const taken = takeBackVassals({ version: 1, vassals: [record('broken.ini', pid, { emperor: ours, config: undefined, stdout: undefined, stderr: undefined })] }, ctx, tree, (l) => lines.push(l));
  assert.equal(taken.vassals, []);
  await exited;
  await waitUntil(() => pidsWith('sleep 78411').length === 0 && pidsWith('sleep 78412').length === 0, 'every process of the jail gone, the one that left its tree too');
  const line = lines.find((l) => l.startsWith('broken.ini: could not be taken back after the upgrade ('));
  assert.ok(line, lines.join('\n'));
  assert.match(line!, /\(fcntl: Bad file descriptor\)/);
  assert.match(line!, new RegExp(`its cgroup .*vassals/broken\\.ini killed, SIGKILL to its top process \\(pid ${pid}\\); it starts afresh from its file`));
  const dir = tree.paths().unified ?? tree.paths().v1[0]!;
  assert.ok(!existsSync(join(dir, 'vassals', 'broken.ini', 'cgroup.procs')) || pidsWith('sleep 7841').length === 0);
});

test('a pid that is not a child of the emperor is left alone', () => {
  // pid 1 is no child of ours: whatever the record says, nothing is signalled.
  assert.match(killUntaken(record('stray.ini', 1, undefined), false, tree), /pid 1 is not a child of this emperor \(no jail of ours\), left alone/);
  assert.match(killUntaken(record('gone.ini', 0, undefined), false, tree), /no jail ran/);
});

test.run();
