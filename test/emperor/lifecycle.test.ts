// The emperor as a sysadmin sees it: real config files in a real directory, a real
// `jailctl emperor` process, real jails; everything observed through its stats and /proc.
import { existsSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { alive, pidsWith, sleep, emperorFixture, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor lifecycle');

// A vassal that sleeps; `tag` (a unique number) finds its processes in /proc.
const sleeper = (tag: number, ...extra: string[]): string =>
  ini('unshare = fs,pid,ipc,uts', 'uid = nobody', ...extra, `unprivileged-binary-patch-arg = sleep ${tag}`);

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

const fx = emperorFixture(test, 0o755);

function start(...args: string[]): RunningEmperor {
  return fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1', ...args]);
}

test('a dropped config runs, a touched one restarts, a removed one stops with nothing left', async () => {
  const e = start();
  await e.waitForLog(/watching/);
  // Written elsewhere, then renamed in: what editors and deploy tools do.
  writeFileSync(join(fx.dir.dir, '.tmp'), sleeper(86401));
  renameSync(join(fx.dir.dir, '.tmp'), join(fx.dir.dir, 'web.ini'));
  const v = await e.waitForVassal('web.ini', (x) => x?.state === 'running', 'running');
  await waitUntil(() => pidsWith('sleep 86401').length === 1, 'the jail\'s sleep');
  const first = pidsWith('sleep 86401')[0]!;
  assert.ok(v!.pid > 0 && alive(v!.pid), 'stats give the jail\'s live pid');
  assert.equal(v!.namespaces, ['mount', 'pid', 'ipc', 'uts']);
  // A session of its own: Ctrl-C at the emperor's terminal reaches the emperor, not the jail.
  assert.is.not(sessionOf(first), sessionOf(e.child.pid!));

  // Same second, new mtime: uWSGI's whole-second comparison would miss it.
  const now = new Date();
  utimesSync(join(fx.dir.dir, 'web.ini'), now, new Date(now.getTime() + 1));
  await waitUntil(() => !alive(first) && pidsWith('sleep 86401').length === 1, 'a new jail after the touch');
  assert.is.not(pidsWith('sleep 86401')[0], first);
  const after = await e.waitForVassal('web.ini', (x) => x?.state === 'running' && x.pid !== v!.pid, 'the restarted jail');
  assert.is(after!.restarts, 1);

  rmSync(join(fx.dir.dir, 'web.ini'));
  await e.waitForVassal('web.ini', (x) => x === undefined, 'the vassal to be forgotten');
  assert.equal(pidsWith('sleep 86401'), [], 'no process of the jail is left');
  assert.not.ok(alive(after!.pid));
  assert.match(e.log(), /web\.ini: stopped/);
});

test('kill -9 of a loyal vassal respawns it at once', async () => {
  fx.dir.write('web.ini', sleeper(86402));
  const e = start('--vassal-loyal-after', '0.2', '--emperor-throttle', '100');
  await e.waitForVassal('web.ini', (x) => x?.loyal !== undefined && x.loyal > 0, 'loyal');
  const [victim] = pidsWith('sleep 86402');
  process.kill(victim!, 'SIGKILL');
  await waitUntil(() => pidsWith('sleep 86402').length === 1 && pidsWith('sleep 86402')[0] !== victim, 'a respawned jail');
  const v = await e.waitForVassal('web.ini', (x) => x?.state === 'running' && x.respawns === 1, 'one respawn');
  assert.is(v!.launch_error, null);
  assert.match(e.log(), /web\.ini: exited with status 137; respawning/);
});

test('a crash-looping vassal is blacklisted with a growing throttle; others are untouched; SIGURG clears it', async () => {
  fx.dir.write('calm.ini', sleeper(86403));
  fx.dir.write('crash.ini', ini('unshare = pid', 'unprivileged-binary-patch-arg = sh -c "exit 3"'));
  const e = start('--emperor-throttle', '300', '--emperor-max-throttle', '60000');
  const calm = await e.waitForVassal('calm.ini', (x) => x?.state === 'running', 'calm running');
  const levels: number[] = [];
  while (levels.length < 3) {
    const s = await e.stats();
    const b = s.blacklist.find((x) => x.id === 'crash.ini');
    if (b && b.throttle_level !== levels.at(-1)) levels.push(b.throttle_level);
    await sleep(20);
  }
  assert.equal(levels, [300, 600, 900], 'each death adds emperor-throttle');
  assert.is((await e.vassal('crash.ini'))!.state, 'blacklisted');
  assert.is((await e.vassal('calm.ini'))!.pid, calm!.pid, 'the calm vassal never restarted');
  assert.is((await e.vassal('calm.ini'))!.respawns, 0);

  e.child.kill('SIGURG');
  await e.waitForLog(/crash\.ini: off the blacklist \(SIGURG\)/);
  const b = await e.stats();
  const entry = b.blacklist.find((x) => x.id === 'crash.ini');
  assert.ok(entry === undefined || entry.attempt === 1, `the count starts again: ${JSON.stringify(entry)}`);
});

test('a vassal that stops its heartbeat gets the reload byte; still silent after reload-mercy, it is killed whole and respawned', async () => {
  // Beats twice (bytes 1 and 26), then hangs; a second process in the jail must die too.
  fx.dir.write('hung.ini', ini(
    'unshare = fs,pid',
    `unprivileged-binary-patch-arg = sh -c 'sleep 86404 & printf "\\001\\032" >&3; sleep 0.3; printf "\\032" >&3; exec sleep 86405'`,
  ));
  const e = start('--emperor-required-heartbeat', '1', '--reload-mercy', '1');
  await waitUntil(() => pidsWith('sleep 86404').length === 1 && pidsWith('sleep 86405').length === 1, 'the hung vassal');
  const [bg] = pidsWith('sleep 86404');
  const [fg] = pidsWith('sleep 86405');
  const v = await e.waitForVassal('hung.ini', (x) => (x?.last_heartbeat ?? 0) > 0, 'a heartbeat');
  await e.waitForLog(/hung\.ini: no heartbeat for 1 s: hung; reload byte sent, the whole jail is killed if it is still silent in 1 s \(reload-mercy\)/);
  await e.waitForLog(/hung\.ini: no heartbeat for 1 s and 1 s more after the reload byte: hung; killing the whole jail/);
  await waitUntil(() => !alive(bg!) && !alive(fg!), 'every process of the hung jail to die');
  await e.waitForVassal('hung.ini', (x) => x?.state === 'running' && x.pid !== v!.pid, 'the respawned jail');
  await waitUntil(() => pidsWith('sleep 86405').length === 1, 'the new vassal');
});

test('a hung vassal that answers the reload byte (and beats again) is not killed', async () => {
  // Beats, then waits for a byte from the emperor before it beats again, every 0.3 s.
  fx.dir.write('slow.ini', ini(
    'unshare = fs,pid',
    `unprivileged-binary-patch-arg = sh -c 'printf "\\001\\032" >&3; head -c1 <&3 >/dev/null; while :; do printf "\\032" >&3; sleep 0.3; done'`,
  ));
  const e = start('--emperor-required-heartbeat', '1', '--reload-mercy', '2');
  const v = await e.waitForVassal('slow.ini', (x) => (x?.last_heartbeat ?? 0) > 0, 'a heartbeat');
  await e.waitForLog(/slow\.ini: no heartbeat for 1 s: hung; reload byte sent/);
  await new Promise((r) => setTimeout(r, 3500)); // past reload-mercy, and a second required-heartbeat
  const after = await e.vassal('slow.ini');
  assert.is(after!.pid, v!.pid, 'the same jail: it beat again after the reload byte');
  assert.not.match(e.log(), /slow\.ini: .*killing the whole jail/);
});

test('malformed ini, yaml and json: file:line in the log and stats; the emperor and the others carry on', async () => {
  fx.dir.write('good.ini', sleeper(86406));
  fx.dir.write('bad.ini', '[jail]\nuid = nobody\nthis line has no equals sign\n');
  fx.dir.write('bad.yaml', 'jail:\n  uid: nobody\n  unshare: [pid\n'); // js-yaml: the list never closes, at line 4
  fx.dir.write('bad.json', '{"jail": {"uid": "nobody",\n "unshare": }}\n');
  fx.dir.write('badns.ini', ini('unshare = pid,tardis', 'unprivileged-binary-patch-arg = true'));
  const e = start();
  await e.waitForVassal('good.ini', (x) => x?.state === 'running', 'the good vassal');
  for (const [name, line] of [['bad.ini', 3], ['bad.yaml', 4], ['bad.json', 2], ['badns.ini', 2]] as const) {
    const v = await e.waitForVassal(name, (x) => x?.state === 'failed', `${name} failed`);
    assert.match(v!.launch_error!, `${join(fx.dir.dir, name)}:${line}`, `${name}: ${v!.launch_error}`);
    assert.match(e.log(), `${join(fx.dir.dir, name)}:${line}`);
  }
  assert.match(e.log(), /unknown namespace `tardis`; valid: fs \(or mount\), pid, net, ipc, uts/);
  // Fixing the file brings the vassal up.
  fx.dir.write('bad.ini', sleeper(86407));
  await e.waitForVassal('bad.ini', (x) => x?.state === 'running', 'the fixed vassal');
  assert.is(e.child.exitCode, null, 'the emperor is alive');
});

test('SIGTERM stops every jail and the emperor exits 0', async () => {
  fx.dir.write('a.ini', sleeper(86408));
  fx.dir.write('b.yaml', 'jail:\n  unshare: fs,pid\n  unprivileged-binary-patch-arg: sleep 86409\n');
  const pidfile = join(fx.dir.dir, 'emperor.pid');
  const e = start('--emperor-pidfile', pidfile);
  await waitUntil(() => pidsWith('sleep 86408').length === 1 && pidsWith('sleep 86409').length === 1, 'both vassals');
  assert.is(readFileSync(pidfile, 'utf8'), `${e.child.pid}\n`, 'emperor-pidfile holds the emperor\'s pid');
  e.child.kill('SIGTERM');
  const exit = await e.exited;
  assert.equal(exit, { code: 0, signal: null });
  assert.not.ok(existsSync(pidfile), 'and is removed at exit');
  assert.equal(pidsWith('sleep 86408'), []);
  assert.equal(pidsWith('sleep 86409'), []);
  assert.match(e.log(), /SIGTERM: stopping 2 vassal\(s\)/);
});

test('SIGKILL of the emperor takes every jail with it, including those that dropped their uid', async () => {
  fx.dir.write('a.ini', sleeper(86410));
  fx.dir.write('b.ini', ini('unshare = pid', 'uid = nobody', 'unprivileged-binary-patch-arg = sh -c "sleep 86411 & exec sleep 86412"'));
  const e = start();
  await waitUntil(() => pidsWith('sleep 8641').length === 3, 'three processes in two jails');
  e.child.kill('SIGKILL');
  await e.exited;
  await waitUntil(() => pidsWith('sleep 8641').length === 0, 'no process of any jail', 5000);
});

test('a program that does not exist: one clear line, failed, not retried', async () => {
  fx.dir.write('noprog.ini', ini('unshare = pid', 'unprivileged-binary-patch-arg = /usr/bin/no-such-server --port 1'));
  const e = start();
  await e.waitForLog(/noprog\.ini: exec\("\/usr\/bin\/no-such-server"\): No such file or directory|noprog\.ini: .*no-such-server.*No such file or directory/);
  const v = await e.waitForVassal('noprog.ini', (x) => x?.state === 'failed', 'failed');
  assert.match(e.log(), /noprog\.ini: not retried: fix the file or install the program/);
  await sleep(1500);
  assert.is((await e.vassal('noprog.ini'))!.respawns, v!.respawns, 'no further attempt');
  assert.not.match(e.log(), /\] noprog: /, 'every line names the vassal by its file name');
});

test('exit status 26 is not respawned', async () => {
  fx.dir.write('done.ini', ini('unshare = pid', 'unprivileged-binary-patch-arg = sh -c "exit 26"'));
  const e = start();
  await e.waitForLog(/done\.ini: exited with status 26: not respawned/);
  await sleep(1500);
  const v = await e.vassal('done.ini');
  assert.is(v!.state, 'stopped');
  assert.is(v!.respawns, 0);
});

test('SIGHUP restarts every vassal, SIGUSR1 logs the table; a file turned bad leaves the vassal running', async () => {
  fx.dir.write('a.ini', sleeper(86413));
  const e = start();
  const v = await e.waitForVassal('a.ini', (x) => x?.state === 'running', 'running');
  e.child.kill('SIGUSR1');
  await e.waitForLog(/ {2}a\.ini +running +pid \d+/);
  e.child.kill('SIGHUP');
  const after = await e.waitForVassal('a.ini', (x) => x?.state === 'running' && x.pid !== v!.pid, 'restarted by SIGHUP');
  fx.dir.write('a.ini', '[jail]\nunshare = pid,warp\nunprivileged-binary-patch-arg = sleep 86413\n');
  await e.waitForLog(/a\.ini:2: unshare: unknown namespace `warp`.*; the running vassal keeps its previous config/);
  const still = await e.vassal('a.ini');
  assert.is(still!.pid, after!.pid, 'nothing lost on bad input');
  assert.is(still!.state, 'running');
  assert.match(still!.launch_error!, 'unknown namespace `warp`');
});

test.run();
