// Signals an emperor handles, sent in a tight loop while it upgrades itself (SIGUSR2
// starts an upgrade, and again in each new emperor; SIGHUP reloads every vassal): none may
// end it in the window between the exec and the new emperor's handlers (native/binding/
// sigkeep.c), every jail survives with its pid, and the signals are acted on.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('signals across an emperor upgrade');
const fx = emperorFixture(test, 0o755);

const pidsOf = async (e: RunningEmperor): Promise<Record<string, number>> =>
  Object.fromEntries((await e.stats()).vassals.map((v) => [v.id, v.pid]));

test('SIGHUP and SIGUSR2 in a tight loop across upgrades: the emperor and every jail survive, and the signals are acted on', async () => {
  for (let i = 0; i < 3; i++) fx.dir.write(`calm${i}.ini`, ini('unshare = fs,pid', 'reload-signal = SIGWINCH', `unprivileged-binary-patch-arg = sleep ${78311 + i}`));
  const e = fx.start(['--emperor', fx.dir.dir]);
  for (let i = 0; i < 3; i++) await e.waitForVassal(`calm${i}.ini`, (v) => v?.state === 'running', 'running');
  const before = await pidsOf(e);
  const pid = e.child.pid!;
  const execs = (): number => (e.log().match(/\[emperor\] watching /g) ?? []).length;
  // One upgrade (SIGUSR2); once its pre-flight passed, SIGHUP and SIGUSR2 every few ms
  // (alternately) until a second after the new emperor took its jails back: the exec, Node's
  // start and the loading of every module happen under it.
  process.kill(pid, 'SIGUSR2');
  await e.waitForLog(/upgrade: pre-flight passed/, 120_000);
  let sent = 0;
  let gone: unknown;
  const storm = setInterval(() => {
    try {
      process.kill(pid, sent++ % 2 ? 'SIGHUP' : 'SIGUSR2');
    } catch (err: unknown) {
      gone = err;
    }
  }, 2);
  await waitUntil(() => execs() >= 2 || gone !== undefined || e.child.exitCode !== null, 'the exec under the storm', 120_000);
  await sleep(1000);
  clearInterval(storm);
  assert.is(gone, undefined, `the emperor died under the storm:\n${e.log().slice(-4000)}`);
  // What the last signals started ends: each pre-flight in an exec or a refusal.
  const settled = (): boolean => {
    const log = e.log();
    const count = (re: RegExp): number => (log.match(re) ?? []).length;
    return count(/upgrade: pre-flight: /g) === count(/upgraded in place/g) + count(/upgrade: not upgraded/g);
  };
  await waitUntil(settled, 'the last upgrade over', 120_000);
  await sleep(500);
  await waitUntil(settled, 'the last upgrade over', 120_000);
  assert.is(e.child.exitCode, null, e.log().slice(-4000));
  assert.is((await e.stats()).pid, pid, 'the same emperor process');
  assert.equal(await pidsOf(e), before, 'every jail survived with its pid');
  const afterFirst = e.log().slice(e.log().indexOf('upgraded in place'));
  assert.ok(sent > 100, `signals sent: ${sent}`);
  assert.match(afterFirst, /SIGHUP: reloading every vassal/, 'the new emperor acted on SIGHUP');
  assert.match(afterFirst, /calm0\.ini: SIGHUP; SIGWINCH sent \(reload-signal\)/);
  const lines = e.log().length;
  process.kill(pid, 'SIGHUP');
  await waitUntil(() => /SIGHUP: reloading every vassal/.test(e.log().slice(lines)), 'a SIGHUP now is acted on');
});

test.run();
