// The emperor under churn: files added, touched, removed and put back faster than jails
// start and stop. Whatever the order, at the end the emperor's table matches the directory.
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ask } from '../../src/cli/control-client';
import { pidsWith, emperorFixture, sleep, waitUntil, alive, type RunningEmperor } from '../helpers/emperor';
import { descendants, procTable, zombiesUnder } from '../helpers/proc';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const putBack = suite('a file put back while its jail is stopping');
const fx = emperorFixture(putBack, 0o755);

putBack('its vassal directory removed and made again: the emperor lives on, and a Node vassal without chdir starts in the new one', async () => {
  const node = (tag: number): string => ini('unshare = fs,pid', 'uid = nobody', `unprivileged-binary-patch-arg = ${process.execPath} -e "console.log('cwd ${tag}', process.cwd()); setInterval(() => {}, 1000)"`);
  fx.dir.write('first.ini', node(1));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);
  await e.waitForLog(/\[first\.ini\] cwd 1 \/tmp\/jailctl-test-/);
  rmSync(fx.dir.dir, { recursive: true });
  await e.waitForLog(/first\.ini: stopped|first\.ini: config removed/);
  await e.waitForLog(/is gone: working in \/ until it is back/);
  mkdirSync(fx.dir.dir);
  chmodSync(fx.dir.dir, 0o755);
  fx.dir.write('second.ini', node(2));
  await e.waitForLog(/\[second\.ini\] cwd 2 \/tmp\/jailctl-test-/, 20_000);
  assert.not.match(e.log(), /uv_cwd|ENOENT: no such file or directory, uv_cwd/);
  await e.waitForLog(/second\.ini: running/);
  assert.is(e.child.exitCode, null, 'the emperor lives on');
});

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

// Small, seeded, and the same on every run (mulberry32).
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PsRow {
  name: string;
  state: string;
  pid: number;
}

async function psRows(e: RunningEmperor): Promise<PsRow[]> {
  const answer = await ask(e.controlPath, { command: 'ps' });
  assert.ok(answer.ok, JSON.stringify(answer));
  return answer.vassals as PsRow[];
}

const churn = suite('churn');
const cfx = emperorFixture(churn, 0o755);

/** Files, operations, and the seed: enough to have caught every bug of issue 11 part 4. */
const FILES = 48;
const OPERATIONS = 700;
const SEED = 1104;
const TAG = 87000; // file i runs `sleep TAG+i`

churn('random add/touch/remove/put-back: the table matches the directory, nothing is left behind', async () => {
  const random = prng(SEED);
  const pick = (n: number): number => Math.floor(random() * n);
  // A third ignore SIGTERM, so that their stop lasts until the curse and files come back meanwhile.
  const text = (i: number, generation: number): string => ini(
    'unshare = fs,pid,ipc,uts', 'uid = nobody', `; generation ${generation}`,
    i % 3 === 0 ? `unprivileged-binary-patch-arg = sh -c 'trap "" TERM; sleep ${TAG + i}; true'` : `unprivileged-binary-patch-arg = sleep ${TAG + i}`,
  );
  const name = (i: number): string => `v${String(i).padStart(3, '0')}.ini`;
  const path = (i: number): string => join(cfx.dir.dir, name(i));
  const present = new Set<number>();
  const reserved = new Set<number>();
  let generation = 0;
  const put = (i: number): void => {
    // Half written in place, half renamed in (what deploy tools do: an inotify move).
    if (random() < 0.5) writeFileSync(path(i), text(i, ++generation));
    else {
      const tmp = join(cfx.dir.dir, `.${name(i)}.tmp`);
      writeFileSync(tmp, text(i, ++generation));
      renameSync(tmp, path(i));
    }
    present.add(i);
  };
  const take = (i: number): void => {
    if (random() < 0.5) rmSync(path(i));
    else renameSync(path(i), join(cfx.dir.dir, `${name(i)}.gone`)); // moved out: not a vassal name
    present.delete(i);
  };
  for (let i = 0; i < FILES; i += 2) put(i);
  const e = cfx.start(['--emperor', cfx.dir.dir, '--emperor-freq', '1', '--emperor-curse-tolerance', '1']);
  await e.waitForLog(/watching/);
  const putBacks: Array<Promise<void>> = [];
  for (let op = 0; op < OPERATIONS; op++) {
    const i = pick(FILES);
    const r = random();
    if (reserved.has(i)) continue;
    if (!present.has(i)) put(i);
    else if (r < 0.4) put(i); // touched: a new mtime and text
    else if (r < 0.7) take(i);
    else {
      // Removed and put back a moment later: while its jail starts, runs or stops.
      take(i);
      reserved.add(i); // no other operation touches it until it is back
      const delay = pick(1500);
      putBacks.push(sleep(delay).then(() => {
        reserved.delete(i);
        put(i);
      }));
    }
    await sleep(pick(120));
  }
  await Promise.all(putBacks);

  const wanted = [...present].sort((a, b) => a - b).map(name);
  let rows: PsRow[] = [];
  const converged = async (): Promise<boolean> => {
    rows = await psRows(e);
    const running = rows.filter((r) => r.state === 'running' && alive(r.pid)).map((r) => r.name).sort();
    return rows.length === wanted.length && JSON.stringify(running) === JSON.stringify(wanted);
  };
  const end = Date.now() + 30000;
  while (!(await converged()) && Date.now() < end) await sleep(200);
  const missing = wanted.filter((n) => !rows.some((r) => r.name === n && r.state === 'running'));
  const extra = rows.filter((r) => !wanted.includes(r.name)).map((r) => `${r.name} (${r.state})`);
  assert.equal({ missing, extra }, { missing: [], extra: [] }, `ps matches the directory; ps: ${JSON.stringify(rows.filter((r) => r.state !== 'running'))}`);

  const emperorPid = (await e.stats()).pid;
  const table = procTable();
  const under = new Set(descendants(emperorPid, table).map((p) => p.pid));
  for (let i = 0; i < FILES; i++) {
    const pids = pidsWith(`sleep ${TAG + i}`);
    if (!present.has(i)) assert.equal(pids, [], `${name(i)} is gone, and so is every process of its jail`);
    else {
      const jail = rows.find((r) => r.name === name(i))!;
      const mine = new Set(descendants(jail.pid, table).map((p) => p.pid));
      assert.equal(pids.filter((p) => !mine.has(p)), [], `${name(i)}: only its current jail runs (pid ${jail.pid})`);
      assert.ok(under.has(jail.pid), `${name(i)}: its jail is the emperor's`);
    }
  }
  await waitUntil(() => zombiesUnder(emperorPid).length === 0, 'no zombie under the emperor', 2000)
    .catch(() => assert.unreachable(`zombies under the emperor: ${JSON.stringify(zombiesUnder(emperorPid))}`));
  assert.ok((await psRows(e)).length === wanted.length, 'the emperor still answers');
});

churn.run();
