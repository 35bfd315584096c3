// A vassal that writes as fast as it can: it may be slowed, the emperor must not be. It still
// answers `ps` about as often as before, and its own CPU use stays bounded.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ask } from '../../src/cli/control-client';
import { emperorFixture, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('a flooding vassal');
const fx = emperorFixture(test, 0o755);

/** Clock ticks per second of /proc/PID/stat (USER_HZ). */
const HZ = 100;

// utime + stime of a process, in ticks.
function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

// ps round trips, one after the other, for `ms`; how many were answered.
async function psRoundTrips(e: RunningEmperor, ms: number): Promise<number> {
  let n = 0;
  for (const end = Date.now() + ms; Date.now() < end; n++) {
    const answer = await ask(e.controlPath, { command: 'ps' });
    assert.ok(answer.ok);
  }
  return n;
}

const WINDOW_MS = 4000;

test('ps keeps answering, the emperor\'s CPU stays under 30% of a core, the flood reaches its log', async () => {
  fx.dir.write('calm.ini', ini('unshare = fs,pid,ipc,uts', 'uid = nobody', 'unprivileged-binary-patch-arg = sleep 87901'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);
  await e.waitForVassal('calm.ini', (x) => x?.state === 'running', 'calm running');
  const pid = (await e.stats()).pid;
  const before = await psRoundTrips(e, WINDOW_MS);

  fx.dir.write('flood.ini', ini('unshare = fs,pid,ipc,uts', 'uid = nobody', 'unprivileged-binary-patch-arg = yes flood-87902'));
  await e.waitForVassal('flood.ini', (x) => x?.state === 'running', 'flood running');
  const log = join(e.logsDir, 'flood.ini.log');
  await waitUntil(() => statSync(log, { throwIfNoEntry: false })?.size !== undefined, 'the flood\'s log');
  await sleep(500);
  const during = await psRoundTrips(e, WINDOW_MS);
  // Measured apart from the ps window, whose own requests cost the emperor CPU too.
  const t0 = cpuTicks(pid);
  const w0 = Date.now();
  await sleep(WINDOW_MS);
  const share = (cpuTicks(pid) - t0) / HZ / ((Date.now() - w0) / 1000);

  console.log(`flood: ps round trips ${before} before / ${during} during; emperor CPU ${(share * 100).toFixed(0)}% of a core`);
  assert.ok(during >= before / 3, `ps round trips in ${WINDOW_MS} ms: ${before} before the flood, ${during} during it`);
  assert.ok(share < 0.3, `the emperor used ${(share * 100).toFixed(0)}% of a core while the vassal flooded`);
  assert.match(readFileSync(log, 'utf8').slice(0, 4096), /stdout flood-87902/);
});

test.run();
