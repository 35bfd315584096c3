// Tenants among themselves (issue 11, part 3): in tyrant mode a vassal is OWNER/NAME, so one
// tenant's file name never holds back another's; a link is refused when its owner is not its
// target's. Real emperors as root, tenants 1001..1003 (no /etc/passwd entry: OWNER is the uid).
import { chownSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl, type CliResult } from '../helpers/cli';
import { emperorFixture, pidsWith, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('tenants among themselves');
const fx = emperorFixture(test, 0o755);

// A vassal that says who it is, then sleeps; `tag` finds its process in /proc.
const sleeper = (tag: number): string => ini('unshare = fs,pid', `unprivileged-binary-patch-arg = sh -c 'echo hello from $(id -u); exec sleep ${tag}'`);

// DIR/SUB/NAME owned by uid (SUB made, and given to uid, when new).
function owned(sub: string, name: string, text: string, uid: number): string {
  const dir = join(fx.dir.dir, sub);
  if (!existsSync(dir)) {
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, uid, uid);
  }
  const path = join(dir, name);
  writeFileSync(path, text);
  chownSync(path, uid, uid);
  return path;
}

function cli(e: RunningEmperor, args: string[], as?: number): CliResult {
  const wrap = as === undefined ? [] : ['setpriv', `--reuid=${as}`, `--regid=${as}`, '--clear-groups'];
  return jailctl([...args, '--socket', e.controlPath], { wrap });
}

const running = (e: RunningEmperor, id: string): Promise<unknown> => e.waitForVassal(id, (v) => v?.state === 'running', 'running');

// The uid of the one `sleep TAG` (after its sh has exec'd it: the sh's command line holds the
// tag too, as does the $(id -u) it forks).
async function uidOf(tag: number): Promise<number> {
  let uid = -1;
  await waitUntil(() => {
    const pids = pidsWith(`sleep ${tag}`);
    if (pids.length !== 1) return false;
    let status: string;
    try {
      status = readFileSync(`/proc/${pids[0]!}/status`, 'utf8');
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (!/^Name:\s+sleep$/m.test(status)) return false;
    uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    return true;
  }, `the jail running sleep ${tag}`);
  return uid;
}

test('two tenants\' node.ini both run, as OWNER/NAME; only one owner\'s files shadow each other; short names where unique', async () => {
  owned('t1', 'node.ini', sleeper(79201), 1001);
  owned('t2', 'node.ini', sleeper(79202), 1002);
  owned('t3', 'node.ini', sleeper(79203), 1001); // alice's second node.ini
  const e = fx.start(['--emperor', `glob://${fx.dir.dir}/*/node.ini`, '--emperor-tyrant', '--emperor-freq', '1']);
  await running(e, '1001/node.ini');
  await running(e, '1002/node.ini');
  assert.is(await uidOf(79201), 1001);
  assert.is(await uidOf(79202), 1002);
  await e.waitForLog(/t3\/node\.ini: a vassal named 1001\/node\.ini already runs from \S+t1\/node\.ini; this one waits/);
  assert.equal(pidsWith('sleep 79203'), [], 'only the same owner\'s file waits');
  assert.equal((await e.stats()).vassals.map((v) => v.id).sort(), ['1001/node.ini', '1002/node.ini']);

  // Each log in a directory of its owner: no two tenants' NAME.log meet.
  await waitUntil(() => existsSync(join(e.logsDir, '1002', 'node.ini.log')), 'the second tenant\'s log');
  await waitUntil(() => readFileSync(join(e.logsDir, '1001', 'node.ini.log'), 'utf8').includes('hello from 1001'), 'the first tenant\'s log');
  assert.match(readFileSync(join(e.logsDir, '1002', 'node.ini.log'), 'utf8'), /hello from 1002/);
  assert.not.match(readFileSync(join(e.logsDir, '1002', 'node.ini.log'), 'utf8'), /hello from 1001/);

  // Root must say which one; a tenant's short name is its own.
  let r = cli(e, ['stop', 'node.ini']);
  assert.equal([r.status, r.stderr.trim()], [1, 'jailctl: node.ini is ambiguous: 1001/node.ini, 1002/node.ini; give one of these']);
  assert.equal(JSON.parse(cli(e, ['ps', '--json'], 1002).stdout).map((x: { name: string }) => x.name), ['1002/node.ini']);
  r = cli(e, ['logs', 'node', '-n', '5'], 1002);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /hello from 1002/);
  r = cli(e, ['stop', 'node'], 1002);
  assert.is(r.status, 0, r.stderr);
  await waitUntil(() => pidsWith('sleep 79202').length === 0, 'the second tenant\'s vassal stopped');
  assert.is(pidsWith('sleep 79201').length, 1, 'the first tenant\'s untouched');
  r = cli(e, ['start', '1002/node.ini']);
  assert.is(r.status, 0, r.stderr);
  await running(e, '1002/node.ini');

  // The file shadowed for 1001 starts when 1001's first one goes.
  rmSync(join(fx.dir.dir, 't1', 'node.ini'));
  await e.waitForLog(/1001\/node\.ini: \S+t3\/node\.ini takes over/);
  assert.is(await uidOf(79203), 1001);
  assert.is(pidsWith('sleep 79202').length, 1, 'the other tenant\'s untouched');
});

test('a chown makes the file another tenant\'s vassal: the old identity stops, the new one starts as the new owner', async () => {
  const path = owned('t1', 'web.ini', sleeper(79211), 1001);
  const e = fx.start(['--emperor', `glob://${fx.dir.dir}/*/*.ini`, '--emperor-tyrant', '--emperor-freq', '1']);
  await running(e, '1001/web.ini');
  const first = pidsWith('sleep 79211')[0]!;
  chownSync(path, 1003, 1003);
  await e.waitForLog(/1001\/web\.ini: \S+web\.ini now belongs to 1003: 1001\/web\.ini stops, 1003\/web\.ini starts/);
  await waitUntil(() => pidsWith('sleep 79211').length === 1 && pidsWith('sleep 79211')[0] !== first, 'the new jail alone');
  assert.is(await uidOf(79211), 1003);
  await e.waitForVassal('1001/web.ini', (v) => v === undefined, 'the old identity gone');
  assert.equal((await e.stats()).vassals.map((v) => v.id), ['1003/web.ini']);
});

test('a vassal without unshare still gets a /proc of its own: only its jail\'s processes, not the host\'s', async () => {
  owned('t1', 'plain.ini', ini("unprivileged-binary-patch-arg = sh -c 'echo pids: $(ls /proc | grep -E \"^[0-9]+$\"); exec sleep 79221'"), 1001);
  const e = fx.start(['--emperor', `glob://${fx.dir.dir}/*/*.ini`, '--emperor-tyrant']);
  const line = await e.waitForLog(/\[1001\/plain\.ini\] pids: [\d ]*/);
  const pids = line.replace(/.*pids: /, '').trim().split(/\s+/).map(Number);
  assert.ok(pids.length > 0 && pids.length <= 6, `the jail's init, sh, its subshell, ls and grep, no more: ${line}`);
  assert.ok(pids.includes(1), 'its init is pid 1 of what it sees');
  // The line comes before sh execs sleep.
  await waitUntil(() => pidsWith('sleep 79221').length > 0, 'the vassal sleeping');
  const pid = pidsWith('sleep 79221')[0]!;
  assert.is.not(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${e.child.pid!}/ns/mnt`), 'a mount namespace of its own');
});

test('a vassal that dies of max-procs (a fork refused) is told so, with the limit', async () => {
  owned('t1', 'forks.ini', ini('max-procs = 1', "unprivileged-binary-patch-arg = perl -e 'fork // die \"fork: $!\"; sleep 1'"), 1003);
  const e = fx.start(['--emperor', `glob://${fx.dir.dir}/*/*.ini`, '--emperor-tyrant']);
  await e.waitForLog(/\[1003\/forks\.ini\] fork: Resource temporarily unavailable/);
  await e.waitForLog(/1003\/forks\.ini: exited with status \d+; likely cause: max-procs = 1: it counts every process and thread of uid 1003 on the whole host, not only this jail's/);
});

test.run();
