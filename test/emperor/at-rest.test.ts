// The emperor at rest and in a boot storm, through a real emperor: with a long emperor-freq
// (the safety-net rescan far away), changes are still seen at once through inotify; events
// inotify lost (an overflowed queue, made real by stopping the emperor while more events
// than fs.inotify.max_queued_events happen) bring a full rescan at once; and launches in
// flight never exceed emperor-max-launches (counted in /proc: each launch runs a root hook
// that sleeps, before its vassal's exec).
import { closeSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, pidsWith, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor at rest, and boot storms');
const fx = emperorFixture(test, 0o755);

/** emperor-freq in these tests: its safety net (10 periods) is ten minutes away. */
const FREQ = '60';

const sleeper = (tag: number): string => ini('unshare = fs,pid,ipc,uts', 'uid = nobody', `unprivileged-binary-patch-arg = sleep ${tag}`);

// Written elsewhere, then renamed in (what deploy tools do).
function drop(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp`), text);
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
}

async function running(e: RunningEmperor, name: string): Promise<number> {
  return (await e.waitForVassal(name, (v) => v?.state === 'running' && v.pid > 0, 'running'))!.pid;
}

test('with the safety net ten minutes away, an added, changed and removed file is seen at once', async () => {
  drop(fx.dir.dir, 'a.ini', sleeper(78301));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', FREQ]);
  const first = await running(e, 'a.ini');
  drop(fx.dir.dir, 'b.ini', sleeper(78302));
  await running(e, 'b.ini');
  drop(fx.dir.dir, 'a.ini', sleeper(78303));
  await e.waitForVassal('a.ini', (v) => v?.state === 'running' && v.pid !== first, 'restarted on its new config');
  await waitUntil(() => pidsWith('sleep 78303').length === 1 && pidsWith('sleep 78301').length === 0, 'the new jail\'s sleep, the old one gone');
  rmSync(join(fx.dir.dir, 'b.ini'));
  await e.waitForVassal('b.ini', (v) => v === undefined, 'forgotten');
  await waitUntil(() => pidsWith('sleep 78302').length === 0, 'its jail gone');
  assert.not.match(e.log(), /rescanning every file/, 'no lost event, no forced rescan');
});

// Stops the emperor (it reads no inotify event meanwhile), makes more events than one
// inotify queue holds in `dir` (dotfiles created and removed: names the monitor ignores,
// events the kernel queues all the same), runs `then` (its events are dropped: the queue is
// full), and lets the emperor go on.
async function overflow(e: RunningEmperor, dir: string, then: () => void): Promise<void> {
  const max = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
  e.child.kill('SIGSTOP');
  try {
    for (let i = 0; i < max / 2 + 256; i++) {
      const p = join(dir, `.flood${i}`);
      closeSync(openSync(p, 'w'));
      unlinkSync(p);
    }
    then();
  } finally {
    e.child.kill('SIGCONT');
  }
}

for (const kind of ['dir', 'glob'] as const) {
  test(`${kind}://: changes lost in an overflowed inotify queue are found by the rescan the overflow forces`, async () => {
    drop(fx.dir.dir, 'a.ini', sleeper(78311));
    const spec = kind === 'dir' ? `dir://${fx.dir.dir}` : `glob://${fx.dir.dir}/*.ini`;
    const e = fx.start(['--emperor', spec, '--emperor-freq', FREQ]);
    const first = await running(e, 'a.ini');
    await overflow(e, fx.dir.dir, () => {
      drop(fx.dir.dir, 'b.ini', sleeper(78312));
      drop(fx.dir.dir, 'a.ini', sleeper(78313));
    });
    await e.waitForLog(/the inotify queue overflowed \(fs\.inotify\.max_queued_events\), events were lost; rescanning every file now/);
    await running(e, 'b.ini');
    await e.waitForVassal('a.ini', (v) => v?.state === 'running' && v.pid !== first, 'restarted on the config written during the overflow');
    await waitUntil(() => pidsWith('sleep 78313').length === 1 && pidsWith('sleep 78312').length === 1, 'both new jails\' sleeps');
  });
}

// Vassals whose launch takes `hookS` seconds before their exec (a root hook that sleeps).
function slowLaunches(n: number, tag: string, hookS: string): void {
  for (let i = 0; i < n; i++)
    drop(fx.dir.dir, `v${i}.ini`, ini('unshare = fs,pid,ipc,uts', `exec-as-root = sleep ${hookS}`, 'uid = nobody', `unprivileged-binary-patch-arg = sleep ${tag}${i}`));
}

// Processes that are `sleep SECONDS` itself (not a shell running it).
function sleeping(seconds: string): number {
  let n = 0;
  for (const pid of pidsWith(`sleep ${seconds}`)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]!.endsWith('sleep') && argv[1] === seconds) n++;
    } catch {
      // gone
    }
  }
  return n;
}

// The most hooks (launches before their exec) seen at once until every vassal runs.
async function peakInFlight(e: RunningEmperor, n: number, hookS: string): Promise<number> {
  let peak = 0;
  for (const end = Date.now() + 30_000; ;) {
    if (Date.now() > end) throw new Error(`not all ${n} vassals running within 30 s; log:\n${e.log()}`);
    const now = sleeping(hookS);
    peak = Math.max(peak, now);
    const vs = (await e.stats()).vassals;
    if (now === 0 && vs.length === n && vs.every((v) => v.state === 'running')) return peak;
    await sleep(5);
  }
}

test('emperor-max-launches 2: never more than two launches in flight, and every vassal runs', async () => {
  slowLaunches(6, '7832', '0.7832');
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', FREQ, '--emperor-max-launches', '2']);
  const peak = await peakInFlight(e, 6, '0.7832');
  assert.is(peak, 2, 'two hooks at once at most, and two at some point');
  await e.waitForLog(/2 launches in flight \(emperor-max-launches\): \d+ wait for an exec/);
  await e.waitForLog(/launch storm over: 6 launches, at most 2 in flight at once/);
  for (let i = 0; i < 6; i++) assert.is(pidsWith(`sleep 7832${i}`).length, 1, `v${i}.ini's jail runs`);
});

test('the default bound lets them all go at once (the bound is what held them above)', async () => {
  slowLaunches(6, '7833', '0.7833');
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', FREQ]);
  const peak = await peakInFlight(e, 6, '0.7833');
  assert.ok(peak > 2, `${peak} hooks at once`);
  assert.not.match(e.log(), /launches in flight \(emperor-max-launches\)/);
});

test('emperor-spawn-throttle: a storm is throttled the uWSGI way, the level is in the stats, and all run', async () => {
  for (let i = 0; i < 4; i++) drop(fx.dir.dir, `t${i}.ini`, sleeper(78340 + i));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', FREQ, '--emperor-spawn-throttle', '300', '--emperor-max-throttle', '400']);
  await e.waitForLog(/launches within a second of each other: throttling them \(emperor-spawn-throttle 300 ms, at most emperor-max-throttle 400 ms\)/);
  let level = 0;
  await waitUntil(async () => {
    const s = await e.stats();
    level = Math.max(level, Number(s.throttle_level));
    return s.vassals.length === 4 && s.vassals.every((v) => v.state === 'running');
  }, 'all four running', 15_000);
  assert.ok(level >= 300 && level <= 400, `throttle_level ${level}`);
  for (let i = 0; i < 4; i++) assert.is(pidsWith(`sleep ${78340 + i}`).length, 1);
});

test.run();
