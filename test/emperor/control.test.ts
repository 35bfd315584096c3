// jailctl ps / stats / reload / stop / start / unblacklist against a real emperor, through
// its real control socket, as root and as a tenant (setpriv), checked against /proc.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliCommand, jailctlRun, ROOT, type CliResult } from '../helpers/cli';
import { alive, emperorFixture, pidsWith, startEmperor, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('control socket');
const fx = emperorFixture(test, 0o755);

const sleeper = (tag: number, uid: number): string =>
  ini('unshare = fs,pid,ipc,uts', `uid = ${uid}`, `gid = ${uid}`, `unprivileged-binary-patch-arg = sh -c 'sleep ${tag} & exec sleep ${tag + 1}'`);

interface Row {
  name: string;
  state: string;
  pid: number;
  uid: number | null;
  gid: number | null;
  namespaces: string[];
  processes: number;
  memoryBytes: number;
  error: string | null;
}

function start(): RunningEmperor {
  return fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);
}

// `jailctl ARGS… --socket <the emperor's>`, as root or (`as`) another uid.
// Asynchronously: the emperor echoes its vassals' output to the test's pipe, and a
// spawnSync here would leave that pipe unread until the emperor blocked writing to it.
function cli(e: RunningEmperor, args: string[], as?: number): Promise<CliResult> {
  const wrap = as === undefined ? [] : ['setpriv', `--reuid=${as}`, `--regid=${as}`, '--clear-groups'];
  return jailctlRun([...args, '--socket', e.controlPath], { wrap });
}

async function ps(e: RunningEmperor, as?: number): Promise<Row[]> {
  const r = await cli(e, ['ps', '-a', '--json'], as);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

async function running(e: RunningEmperor, name: string): Promise<Row> {
  await e.waitForVassal(name, (v) => v?.state === 'running', 'running');
  return (await ps(e)).find((r) => r.name === name)!;
}

test('ps shows each vassal\'s state, pid, uid:gid, namespaces and the whole jail\'s processes; --json parses', async () => {
  fx.dir.write('alice.ini', sleeper(78101, 1001));
  fx.dir.write('bob.ini', sleeper(78111, 1002));
  fx.dir.write('broken.ini', ini('unprivileged-binary-patch-arg = /nonexistent/program'));
  const e = start();
  const alice = await running(e, 'alice.ini');
  const bob = await running(e, 'bob.ini');
  await e.waitForVassal('broken.ini', (v) => v?.state === 'failed', 'failed');
  const stats = await e.stats();
  assert.is(alice.pid, stats.vassals.find((v) => v.id === 'alice.ini')!.init_pid, 'the jail the stats give (their pid is the program\'s)');
  assert.equal([alice.uid, alice.gid, bob.uid, bob.gid], [1001, 1001, 1002, 1002]);
  assert.equal(alice.namespaces, ['mount', 'pid', 'ipc', 'uts']);
  // The jail's init, the sleep sh put in the background and the one it became.
  await waitUntil(async () => (await ps(e)).find((r) => r.name === 'alice.ini')!.processes === 3, 'the jail\'s three processes');
  assert.ok((await ps(e)).find((r) => r.name === 'alice.ini')!.memoryBytes > 0);
  const failed = (await ps(e)).find((r) => r.name === 'broken.ini')!;
  assert.equal([failed.state, failed.pid], ['failed', 0]);
  assert.match(failed.error!, /No such file or directory/);

  const table = (await cli(e, ['ps']));
  assert.is(table.status, 0);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+STATE\s+PID\s+UID:GID\s+NS\s+UP\s+RESTARTS\s+LOYAL\s+MODE\s+PROCS\s+MEM\s+CPU%$/);
  assert.match(lines[1]!, new RegExp(`^alice\\.ini\\s+running\\s+${alice.pid}\\s+1001:1001\\s+mnt,pid,ipc,uts\\s`));
  assert.is(lines.length, 3, 'the failed one only with -a');
  assert.not.match(table.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
  assert.match((await cli(e, ['ps', '-a'])).stdout, /broken\.ini\s+failed.*No such file or directory/);
  const statsCli = JSON.parse((await cli(e, ['stats', '--json'])).stdout) as { vassals: Array<{ id: string }> };
  assert.equal(statsCli.vassals.map((v) => v.id).sort(), ['alice.ini', 'bob.ini', 'broken.ini']);
});

test('stop, start and reload change the state as ps shows; unblacklist takes a vassal off', async () => {
  fx.dir.write('web.ini', sleeper(78121, 1001));
  const e = start();
  const first = await running(e, 'web.ini');
  let r = (await cli(e, ['stop', 'web']));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^web\.ini: stopped \(.*\); it stays so until `jailctl start web\.ini` or its file changes\n$/);
  assert.equal(pidsWith('sleep 78122'), [], 'the whole jail is gone');
  assert.is((await ps(e)).find((x) => x.name === 'web.ini')!.state, 'stopped');
  await new Promise((res) => setTimeout(res, 1500));
  assert.is((await ps(e)).find((x) => x.name === 'web.ini')!.state, 'stopped', 'and stays stopped (no respawn)');
  r = (await cli(e, ['stop', 'web.ini']));
  assert.equal([r.status, r.stderr.trim()], [1, 'jailctl: web.ini is already stopped']);

  assert.is((await cli(e, ['start', 'web.ini'])).stdout, 'web.ini: starting\n');
  const second = await running(e, 'web.ini');
  assert.ok(second.pid !== first.pid && alive(second.pid));
  r = (await cli(e, ['start', 'web.ini']));
  assert.equal([r.status, r.stderr.trim()], [1, `jailctl: web.ini is already running (pid ${second.pid})`]);

  assert.is((await cli(e, ['reload', 'web.ini'])).stdout, 'web.ini: reloading\n');
  await e.waitForLog(/web\.ini: reload asked by uid 0 \(pid \d+\); restarting the jail/);
  await waitUntil(async () => { const x = (await ps(e)).find((y) => y.name === 'web.ini')!; return x.state === 'running' && x.pid !== second.pid; }, 'a new jail after the reload');

  // A crash loop lands on the blacklist; unblacklist gives it its next attempt now.
  fx.dir.write('crash.ini', ini('unprivileged-binary-patch-arg = false'));
  // At its third attempt it waits 3 s: time for the CLI to ask while it is blacklisted (at
  // the first, its 1 s wait may be over by the time a loaded machine has started jailctl).
  await waitUntil(async () => ((await e.stats()).blacklist.find((b) => b.id === 'crash.ini')?.attempt ?? 0) >= 3 && (await e.vassal('crash.ini'))?.state === 'blacklisted', 'a third attempt on the blacklist', 20000);
  assert.is((await cli(e, ['unblacklist', 'crash.ini'])).stdout, 'crash.ini: off the blacklist\n');
  await e.waitForLog(/crash\.ini: off the blacklist \(SIGURG\); spawning now/);
  assert.is((await cli(e, ['unblacklist', 'web.ini'])).stdout, 'web.ini was not blacklisted\n');
});

test('a tenant sees and controls only the vassals running as itself', async () => {
  fx.dir.write('alice.ini', sleeper(78131, 1001));
  fx.dir.write('bob.ini', sleeper(78141, 1002));
  const e = start();
  await running(e, 'alice.ini');
  const bob = await running(e, 'bob.ini');
  assert.equal((await ps(e, 1001)).map((x) => x.name), ['alice.ini']);
  assert.equal((await ps(e, 1002)).map((x) => x.name), ['bob.ini']);
  assert.equal((await ps(e, 1003)), [], 'a user with no vassal sees none');
  let r = (await cli(e, ['stop', 'bob.ini'], 1001));
  assert.equal([r.status, r.stderr.trim()], [1, 'jailctl: no vassal bob.ini among the vassals running as uid 1001']);
  r = (await cli(e, ['reload', 'bob'], 1001));
  assert.is(r.status, 1);
  assert.ok(alive(bob.pid), 'bob\'s jail untouched');
  const stats = JSON.parse((await cli(e, ['stats', '--json'], 1001)).stdout) as { vassals: Array<{ id: string }> };
  assert.equal(stats.vassals.map((v) => v.id), ['alice.ini'], 'the stats are filtered too');
  r = (await cli(e, ['stop', 'alcie.ini'], 1001));
  assert.is(r.stderr.trim(), 'jailctl: no vassal alcie.ini among the vassals running as uid 1001 (did you mean alice.ini?)');
  r = (await cli(e, ['stop', 'alice'], 1001));
  assert.is(r.status, 0, r.stderr);
  assert.is((await ps(e)).find((x) => x.name === 'alice.ini')!.state, 'stopped');
  assert.is((await ps(e)).find((x) => x.name === 'bob.ini')!.state, 'running');
});

test('top renders a frame: the busiest jail first, with its CPU% over the interval', async () => {
  fx.dir.write('busy.ini', ini('unshare = fs,pid', 'uid = 1001', 'gid = 1001', "unprivileged-binary-patch-arg = sh -c 'while :; do :; done'"));
  fx.dir.write('idle.ini', sleeper(78151, 1002));
  const e = start();
  await running(e, 'busy.ini');
  await running(e, 'idle.ini');
  const r = (await cli(e, ['top', '--once', '--interval', '0.5']));
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^jailctl top - \d\d:\d\d:\d\d  2 vassals, 2 running  CPU [\d.]+%  MEM \S+  \(sorted by cpu; q quits\)$/);
  assert.match(lines[2]!, /^NAME\s+STATE\s+PID/);
  const busy = lines[3]!.split(/\s+/);
  assert.is(busy[0], 'busy.ini', 'the spinning jail sorts first');
  assert.ok(Number(busy.at(-1)) > 20, `busy.ini's CPU%: ${busy.at(-1)}`);
  assert.match(lines[4]!, /^idle\.ini\s+running/);
  assert.match((await cli(e, ['top', '--once', '--sort', 'mem', '--interval', '0.2'])).stdout, /sorted by mem/);
  assert.is((await cli(e, ['top', '--sort', 'size'])).status, 1);
});

test('logs: both streams stamped and kept, the tail, following, rotation, and only one\'s own', async () => {
  fx.dir.write('web.ini', ini('unshare = fs,pid', 'uid = 1001', 'gid = 1001',
    "unprivileged-binary-patch-arg = sh -c 'echo started; echo warned >&2; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done'"));
  fx.dir.write('chatty.ini', ini('unshare = fs,pid', 'uid = 1002', 'gid = 1002',
    "unprivileged-binary-patch-arg = sh -c 'while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; sleep 0.01; done'"));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-logs-max-size', '8k']);
  await running(e, 'web.ini');
  await e.waitForLog(/\[web\.ini\] tick 3/);
  const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
  const all = (await cli(e, ['logs', 'web', '-n', '1000']));
  assert.is(all.status, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`^${stamp} stdout started\n`, 'm'));
  assert.match(all.stdout, new RegExp(`^${stamp} stderr warned\n`, 'm'));
  const two = (await cli(e, ['logs', 'web.ini', '-n', '2'])).stdout.trimEnd().split('\n');
  assert.is(two.length, 2);
  assert.match(two[1]!, new RegExp(`^${stamp} stdout tick \\d+$`));
  assert.ok(readFileSync(join(e.logsDir, 'web.ini.log'), 'utf8').includes('stdout started'), 'kept in DIR/NAME.log');

  // -f prints the tail, then new lines as they come.
  const [cmd, argv] = cliCommand(['logs', 'web', '-n', '0', '-f', '--socket', e.controlPath]);
  const follower = spawn(cmd, argv, { cwd: ROOT });
  let followed = '';
  follower.stdout.on('data', (c: Buffer) => (followed += c.toString()));
  try {
    await waitUntil(() => (followed.match(/stdout tick \d+\n/g) ?? []).length >= 3, 'three new lines followed');
  } finally {
    follower.kill();
  }

  await waitUntil(() => existsSync(join(e.logsDir, 'chatty.ini.log.1')), 'the chatty log rotated');
  assert.ok(statSync(join(e.logsDir, 'chatty.ini.log')).size <= 8192, 'the current log stays under its cap');

  const r = (await cli(e, ['logs', 'chatty'], 1001));
  assert.equal([r.status, r.stderr.trim()], [1, 'jailctl: no vassal chatty among the vassals running as uid 1001']);
  assert.is((await cli(e, ['logs', 'web', '-n', '1'], 1001)).status, 0, 'its own log it may read');
});

test('the socket: a live emperor\'s is never taken, a dead one\'s is replaced; no emperor is exit 3', async () => {
  const e = start();
  await e.waitForLog(/control socket/);
  const second = startEmperor(['--emperor', fx.dir.dir, '--emperor-control-socket', e.controlPath, '--emperor-stats', `${fx.dir.dir}/stats2.sock`], fx.dir.dir);
  const end = await second.exited;
  assert.is(end.code, 125);
  assert.match(second.log(), new RegExp(`emperor-control-socket \\S+control\\.sock: another emperor \\(pid ${e.child.pid}\\) serves it`));
  assert.is((await cli(e, ['ps'])).status, 0, 'the first still answers');

  e.child.kill('SIGKILL');
  await e.exited;
  assert.ok(existsSync(e.controlPath), 'a SIGKILLed emperor leaves its socket');
  const r = (await cli(e, ['ps']));
  assert.is(r.status, 3);
  assert.match(r.stderr, /^jailctl: no emperor answers at \S+control\.sock \(ECONNREFUSED\)/);
  const third = fx.start(['--emperor', fx.dir.dir]);
  await third.waitForLog(/control socket/);
  assert.is((await cli(third, ['ps'])).status, 0, 'the stale socket was replaced');
  assert.match((await cli(third, ['stop', 'nothing'])).stderr, /^jailctl: no vassal nothing\n$/);
});

test.run();
