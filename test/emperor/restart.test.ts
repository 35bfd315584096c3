// What operators say with `jailctl stop` / `start` holds across emperor restarts: kept in
// emperor-state-dir (root's only), read by the next emperor, which leaves those vassals
// stopped. Real emperors, the real CLI, checked against /proc and the file itself.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { emperorFixture, pidsWith, startEmperor, stateDirOf, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('operator stops across emperor restarts');
const fx = emperorFixture(test, 0o755);

const sleeper = (tag: number): string => ini('unshare = fs,pid', `unprivileged-binary-patch-arg = sleep ${tag}`);

const start = (): RunningEmperor => fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);

function cli(e: RunningEmperor, ...args: string[]): string {
  const r = jailctl([...args, '--socket', e.controlPath]);
  assert.is(r.status, 0, `jailctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const kept = (): string[] => (JSON.parse(readFileSync(join(stateDirOf(fx.dir.dir), 'stopped.json'), 'utf8')) as { stopped: string[] }).stopped;

test('a vassal stopped with jailctl stop stays stopped through a restart, until jailctl start', async () => {
  fx.dir.write('wiki.ini', sleeper(78201));
  fx.dir.write('blog.ini', sleeper(78202));
  let e = start();
  await e.waitForVassal('wiki.ini', (v) => v?.state === 'running', 'running');
  await e.waitForVassal('blog.ini', (v) => v?.state === 'running', 'running');
  assert.match(cli(e, 'stop', 'wiki'), /wiki\.ini: stopped/);
  assert.equal(kept(), ['wiki.ini']);
  const file = statSync(join(stateDirOf(fx.dir.dir), 'stopped.json'));
  assert.equal([file.uid, file.mode & 0o777], [0, 0o600], 'root\'s only');
  assert.is(statSync(stateDirOf(fx.dir.dir)).mode & 0o777, 0o700);
  await e.stop();

  e = start();
  const blog = await e.waitForVassal('blog.ini', (v) => v?.state === 'running', 'running after the restart');
  assert.ok(blog!.pid > 0);
  const wiki = await e.vassal('wiki.ini');
  assert.equal([wiki?.state, wiki?.pid], ['stopped', 0], 'the operator\'s stop held');
  assert.equal(pidsWith('sleep 78201'), [], 'nothing of wiki runs');
  assert.match(e.log(), /wiki\.ini: stopped by an operator/);
  assert.match(cli(e, 'ps', '-a'), /wiki\.ini\s+stopped/);
  // A safety-net rescan (emperor-freq 1) does not start it either.
  await new Promise((r) => setTimeout(r, 1500));
  assert.is((await e.vassal('wiki.ini'))?.state, 'stopped');

  assert.match(cli(e, 'start', 'wiki'), /wiki\.ini: starting/);
  await e.waitForVassal('wiki.ini', (v) => v?.state === 'running', 'running after jailctl start');
  assert.equal(kept(), []);
  await e.stop();

  e = start();
  await e.waitForVassal('wiki.ini', (v) => v?.state === 'running', 'running: the start held too');
});

test('a new file starts a stopped vassal (as without a restart), and its stop is forgotten', async () => {
  const path = fx.dir.write('wiki.ini', sleeper(78211));
  const e = start();
  await e.waitForVassal('wiki.ini', (v) => v?.state === 'running', 'running');
  cli(e, 'stop', 'wiki.ini');
  assert.equal(kept(), ['wiki.ini']);
  const later = new Date(Date.now() + 5000);
  utimesSync(path, later, later);
  await e.waitForVassal('wiki.ini', (v) => v?.state === 'running', 'running after its file changed');
  await waitUntil(() => kept().length === 0, 'the stop forgotten');
});

test('an emperor-state-dir others may write is refused at start, with the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-open-state-'));
  chmodSync(dir, 0o777);
  try {
    fx.dir.write('wiki.ini', sleeper(78221));
    const e = startEmperor(['--emperor', fx.dir.dir, '--emperor-state-dir', join(dir, 'state')], fx.dir.dir);
    const exit = await e.exited;
    assert.is(exit.code, 125, e.log());
    assert.match(e.log(), new RegExp(`emperor-state-dir ${dir}/state: ${dir} is writable by everyone \\(mode 777\\).*chmod go-w`));
    assert.equal(pidsWith('sleep 78221'), [], 'no vassal started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
