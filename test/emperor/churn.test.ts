// The emperor under churn: files added, touched, removed and put back faster than jails
// start and stop. Whatever the order, at the end the emperor's table matches the directory.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pidsWith, emperorFixture, waitUntil, alive } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const putBack = suite('a file put back while its jail is stopping');
const fx = emperorFixture(putBack, 0o755);

putBack('runs again once the old jail is down', async () => {
  // Ignores SIGTERM (its sleep inherits that): stopping lasts until the curse SIGKILL.
  const slow = ini('unshare = fs,pid,ipc,uts', 'uid = nobody', `unprivileged-binary-patch-arg = sh -c 'trap "" TERM; sleep 86501; true'`);
  fx.dir.write('slow.ini', slow);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1', '--emperor-curse-tolerance', '1']);
  const first = await e.waitForVassal('slow.ini', (x) => x?.state === 'running', 'running');
  await waitUntil(() => pidsWith('sleep 86501').length === 2, 'its sh and sleep');
  const old = pidsWith('sleep 86501');
  rmSync(join(fx.dir.dir, 'slow.ini'));
  await e.waitForVassal('slow.ini', (x) => x?.state === 'stopping', 'stopping');
  fx.dir.write('slow.ini', slow);
  await e.waitForLog(/slow\.ini: still alive after 1 s; SIGKILL/);
  await waitUntil(() => !alive(first!.pid), 'the old jail to be killed');
  // Through more than one rescan: the periodic pass must not be what saves it.
  const next = await e.waitForVassal('slow.ini', (x) => x?.state === 'running' && x.pid !== first!.pid, 'the put-back file running again');
  assert.ok(alive(next!.pid));
  assert.equal(old.filter(alive), [], 'nothing of the old jail is left');
  await waitUntil(() => pidsWith('sleep 86501').length === 2, 'the new jail\'s sh and sleep');
});

putBack.run();
