// Tyrant mode as a hosting provider runs it: tenants' files owned by their users (1001,
// 1002) in one directory, a real emperor (root, or dropped to uid 10000 keeping only
// setuid/setgid), real jails; who runs as whom is read from /proc.
import { once } from 'node:events';
import { chmodSync, chownSync, lchownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, pidsWith, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('tyrant mode');
const fx = emperorFixture(test, 0o755);

// A vassal that sleeps; `tag` (unique in this file) finds its process in /proc.
const sleeper = (tag: number, ...extra: string[]): string =>
  ini('unshare = fs,pid,ipc,uts', ...extra, `unprivileged-binary-patch-arg = sleep ${tag}`);
const plainSleeper = (tag: number, ...extra: string[]): string => ini(...extra, `unprivileged-binary-patch-arg = sleep ${tag}`);

// Writes NAME into the vassal directory, owned by uid:gid.
function owned(name: string, text: string, uid: number, gid = uid): string {
  const path = fx.dir.write(name, text);
  chownSync(path, uid, gid);
  return path;
}

interface ProcStatus {
  uid: number;
  gid: number;
  groups: number[];
  capEff: bigint;
}

function statusOf(path: string): ProcStatus {
  const text = readFileSync(path, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1] ?? '';
  return {
    uid: Number(field('Uid').split(/\s+/)[0]),
    gid: Number(field('Gid').split(/\s+/)[0]),
    groups: field('Groups').split(/\s+/).filter(Boolean).map(Number),
    capEff: BigInt(`0x${field('CapEff')}`),
  };
}

// The one process running `sleep TAG`, once it is there.
async function jailed(tag: number): Promise<{ pid: number } & ProcStatus> {
  await waitUntil(() => pidsWith(`sleep ${tag}`).length === 1, `the jail running sleep ${tag}`);
  const pid = pidsWith(`sleep ${tag}`)[0]!;
  return { pid, ...statusOf(`/proc/${pid}/status`) };
}

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

// setgid is capability 6, setuid 7, kill 5, net_bind_service 10.
const SETUID_SETGID = (1n << 6n) | (1n << 7n);

function start(...args: string[]): RunningEmperor {
  return fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-freq', '1', ...args]);
}

test('two tenants each run as the owner of their file; uid or gid lines cannot change that', async () => {
  owned('alice.ini', sleeper(77101), 1001);
  owned('bob.ini', sleeper(77102), 1002);
  owned('same.ini', sleeper(77103, 'uid = 1001', 'gid = 1001'), 1001);
  owned('root.ini', sleeper(77104, 'uid = 0'), 1001);
  owned('other.ini', sleeper(77105, 'uid = 1002'), 1001);
  owned('group.ini', sleeper(77106, 'gid = 0'), 1001);
  const e = start();
  const alice = await jailed(77101);
  const bob = await jailed(77102);
  assert.equal([alice.uid, alice.gid, alice.groups], [1001, 1001, []], 'alice: her ids, no supplementary groups');
  assert.equal([bob.uid, bob.gid], [1002, 1002]);
  assert.is((await jailed(77103)).uid, 1001, 'uid = the owner is fine');
  await e.waitForLog(/root\.ini: \S+root\.ini:3: uid: root: in tyrant mode this vassal runs as its file's owner, uid 1001; remove the line \(or set uid = 1001\)/);
  await e.waitForLog(/other\.ini: \S+other\.ini:3: uid: uid 1002: in tyrant mode/);
  await e.waitForLog(/group\.ini: \S+group\.ini:3: gid: root: in tyrant mode this vassal runs with its file's group, gid 1001/);
  for (const tag of [77104, 77105, 77106]) assert.equal(pidsWith(`sleep ${tag}`), [], `sleep ${tag} never ran`);
  const stats = await e.stats();
  assert.is(stats.emperor_tyrant, 1);
  assert.is(stats.vassals.find((v) => v.id === '1001/root.ini')!.state, 'failed');
  assert.is(stats.vassals.find((v) => v.id === '1001/alice.ini')!.uid, 1001, 'in tyrant mode a vassal is OWNER/NAME');
});

test('a root-owned file is refused with one line, not one per scan, and starts once given to a tenant', async () => {
  const path = fx.dir.write('web.ini', sleeper(77111));
  const e = start();
  await e.waitForLog(/web\.ini: \S+web\.ini: owner: owned by root \(uid 0\): in tyrant mode a vassal runs as its file's owner, and never as root; give the file to its tenant \(chown USER:GROUP \S+web\.ini\)/);
  await sleep(2500); // two rescans at emperor-freq 1
  assert.is(count(e.log(), /web\.ini: .*owned by root/), 1, e.log());
  assert.equal(pidsWith('sleep 77111'), []);
  chownSync(path, 1001, 1001);
  const v = await jailed(77111);
  assert.is(v.uid, 1001);
  // A group of root is refused too.
  chownSync(path, 1001, 0);
  await e.waitForLog(/web\.ini: \S+web\.ini: owner: owned by group root \(gid 0\)/);
  await waitUntil(() => pidsWith('sleep 77111').length === 0, 'the vassal stopped');
});

test('when the owner changes, the vassal is the new owner\'s (the old one stops); its group, it restarts; given to root, it stops', async () => {
  const path = owned('web.ini', sleeper(77121), 1001);
  const e = start();
  const first = await jailed(77121);
  assert.is(first.uid, 1001);
  chownSync(path, 1002, 1002);
  await e.waitForLog(/1001\/web\.ini: \S+web\.ini now belongs to 1002: 1001\/web\.ini stops, 1002\/web\.ini starts/);
  await waitUntil(() => pidsWith('sleep 77121').length === 1 && pidsWith('sleep 77121')[0] !== first.pid, 'the new jail alone');
  const second = await jailed(77121);
  assert.equal([second.uid, second.gid], [1002, 1002]);
  await e.waitForVassal('1001/web.ini', (v) => v === undefined, 'the old identity gone');
  // Only the group: the same identity, restarted with it.
  chownSync(path, 1002, 1003);
  await e.waitForLog(/1002\/web\.ini: the file's owner changed \(1002:1002 → 1002:1003\); restarting the jail/);
  await waitUntil(() => pidsWith('sleep 77121').length === 1 && pidsWith('sleep 77121')[0] !== second.pid, 'the jail with the new group');
  assert.equal((await jailed(77121)).gid, 1003);
  chownSync(path, 0, 0);
  await e.waitForLog(/1002\/web\.ini: \S+web\.ini now belongs to root: 1002\/web\.ini stops, root\/web\.ini starts/);
  await e.waitForLog(/root\/web\.ini: \S+ owner: owned by root \(uid 0\).*; not started/);
  await waitUntil(() => pidsWith('sleep 77121').length === 0, 'the vassal gone');
  await e.waitForVassal('root/web.ini', (v) => v?.state === 'failed', 'failed');
});

test('root hooks, privileged patches, capabilities and no-new-privs = false are refused unless the emperor allows them', async () => {
  owned('hook.ini', ini('unshare = fs,pid,uts', 'exec-as-root = hostname tenant-hook', 'unprivileged-binary-patch-arg = sleep 77131'), 1001);
  owned('priv.ini', ini('unshare = fs,pid', 'privileged-binary-patch-arg = sleep 77132'), 1001);
  owned('cap.ini', ini('unshare = fs,pid', 'cap = net_bind_service', 'unprivileged-binary-patch-arg = sleep 77133'), 1001);
  owned('nnp.ini', ini('unshare = fs,pid', 'no-new-privs = false', 'unprivileged-binary-patch-arg = sleep 77134'), 1001);
  const e = start();
  await e.waitForLog(/hook\.ini: \S+hook\.ini:3: exec-as-root: runs as root, which a tenant's file may not ask for in tyrant mode \(the emperor's emperor-tyrant-allow-root-hooks allows it\)/);
  await e.waitForLog(/priv\.ini: \S+priv\.ini:3: privileged-binary-patch-arg: runs as root/);
  await e.waitForLog(/cap\.ini: \S+cap\.ini:3: cap: `net_bind_service` is not among the capabilities the emperor lets tenants have \(vassals-cap: none\)/);
  await e.waitForLog(/nnp\.ini: \S+nnp\.ini:3: no-new-privs: a tenant's jail always has no_new_privs/);
  for (const tag of [77131, 77132, 77133, 77134]) assert.equal(pidsWith(`sleep ${tag}`), []);
  await e.stop();

  // The sysadmin allows root hooks and one capability: the same files run.
  start('--emperor-tyrant-allow-root-hooks', '--vassals-cap', 'net_bind_service');
  const hooked = await jailed(77131);
  assert.is(hooked.uid, 1001, 'the hook ran as root, the vassal as its owner');
  assert.is(spawnSync('nsenter', ['-t', String(hooked.pid), '-u', 'hostname'], { encoding: 'utf8' }).stdout.trim(), 'tenant-hook');
  assert.is((await jailed(77132)).uid, 0, 'an allowed privileged patch runs as root');
  const capped = await jailed(77133);
  assert.is(capped.uid, 1001);
  assert.is(capped.capEff, 1n << 10n, 'exactly net_bind_service');
});

test('symlinks: a link must belong to its target\'s owner (root\'s too, advised chown -h); with nofollow the link\'s owner counts', async () => {
  const targets = join(fx.dir.dir, 'targets');
  mkdirSync(targets, { mode: 0o755 });
  const aliceFile = join(targets, 'alice-web.ini');
  const bobFile = join(targets, 'bob-web.ini');
  writeFileSync(aliceFile, sleeper(77141));
  chownSync(aliceFile, 1001, 1001);
  writeFileSync(bobFile, sleeper(77142));
  chownSync(bobFile, 1002, 1002);
  symlinkSync(aliceFile, join(fx.dir.dir, 'rootlink.ini')); // made by root
  symlinkSync(aliceFile, join(fx.dir.dir, 'mine.ini'));
  lchownSync(join(fx.dir.dir, 'mine.ini'), 1001, 1001);
  symlinkSync(bobFile, join(fx.dir.dir, 'theirs.ini'));
  lchownSync(join(fx.dir.dir, 'theirs.ini'), 1001, 1001);
  for (const nofollow of [false, true]) {
    const e = start(...(nofollow ? ['--emperor-tyrant-nofollow'] : []));
    if (nofollow)
      await e.waitForLog(/rootlink\.ini: \S+rootlink\.ini: owner: a symlink owned by root \(uid 0\): .*\(chown -h USER:GROUP \S+rootlink\.ini\)/);
    else
      await e.waitForLog(/rootlink\.ini: \S+rootlink\.ini: owner: a symlink of uid 0 to \S+alice-web\.ini, a file of uid 1001: in tyrant mode a link must belong to its target's owner .*chown -h 1001:1001 \S+rootlink\.ini, else remove it/);
    await e.waitForLog(/theirs\.ini: \S+theirs\.ini: owner: a symlink of uid 1001 to \S+bob-web\.ini, a file of uid 1002: in tyrant mode a link must belong to its target's owner/);
    const mine = await jailed(77141);
    assert.is(mine.uid, 1001, 'alice\'s link to alice\'s file runs as alice');
    assert.equal(pidsWith('sleep 77142'), [], 'bob\'s file never ran, as anyone');
    const ids = (await e.stats()).vassals.map((v) => `${v.id} ${v.state}`).sort();
    assert.equal(ids, ['1001/mine.ini running', `${nofollow ? 'root' : '1001'}/rootlink.ini failed`, `${nofollow ? '1001' : '1002'}/theirs.ini failed`].sort());
    await e.stop();
    await waitUntil(() => pidsWith('sleep 77141').length === 0, 'the emperor\'s vassal gone');
  }
});

test('emperor-tyrant-initgroups gives a vassal its owner\'s supplementary groups from /etc/group', async () => {
  // The emperor runs in a mount namespace of its own where /etc/passwd and /etc/group
  // name a tenant user with two extra groups; the host's files are not touched.
  const etc = join(fx.dir.dir, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  const passwd = join(etc, 'passwd');
  const group = join(etc, 'group');
  writeFileSync(passwd, `${readFileSync('/etc/passwd', 'utf8')}jt-tenant:x:1001:1001::/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(group, `${readFileSync('/etc/group', 'utf8')}jt-tenant:x:1001:\njt-shared:x:3001:jt-tenant\njt-extra:x:3002:someone,jt-tenant\njt-not:x:3003:someone\n`);
  owned('g.ini', sleeper(77151), 1001);
  const wrap = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/passwd && mount --bind "$1" /etc/group && shift && exec "$@"', passwd, group];
  fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-tyrant-initgroups'], wrap);
  const v = await jailed(77151);
  assert.equal([v.uid, v.gid, v.groups], [1001, 1001, [3001, 3002]]);
  assert.ok(readFileSync(`/proc/${v.pid}/environ`, 'utf8').split('\0').includes('USER=jt-tenant'));
});

test('on demand: a tenant\'s socket file is its own, names a TCP port of 1024 or more, and never a UNIX path', async () => {
  const victim = join(fx.dir.dir, 'victim.sock');
  const server = createServer().listen(victim);
  await once(server, 'listening');
  try {
    const port = await freePort();
    owned('ok.ini', plainSleeper(77191), 1001);
    owned('ok.ini.socket', `127.0.0.1:${port}\n`, 1001);
    owned('unix.ini', plainSleeper(77192), 1001);
    owned('unix.ini.socket', `${victim}\n`, 1001);
    owned('low.ini', plainSleeper(77193), 1001);
    owned('low.ini.socket', '127.0.0.1:80\n', 1001);
    owned('theirs.ini', plainSleeper(77194), 1001);
    owned('theirs.ini.socket', `127.0.0.1:${port + 1}\n`, 1002);
    const e = start('--emperor-on-demand-extension', '.socket');
    await e.waitForLog(/ok\.ini: on demand, holding 127\.0\.0\.1:\d+/);
    await e.waitForLog(/unix\.ini: \S+unix\.ini\.socket: `\S+victim\.sock`: in tyrant mode a tenant's on-demand socket is host:port; UNIX sockets come from the emperor's emperor-on-demand-directory/);
    await e.waitForLog(/low\.ini: \S+low\.ini\.socket: port 80 is below 1024, which a tenant may not bind/);
    await e.waitForLog(/theirs\.ini: \S+theirs\.ini\.socket: owned by uid 1002, not by the vassal's owner \(uid 1001\)/);
    assert.ok(statSync(victim).isSocket() && server.listening, 'the victim\'s socket is untouched');
  } finally {
    server.close();
  }
});

// Every thread of a process: [tid, status].
function threads(pid: number): Array<[number, ProcStatus]> {
  return readdirSync(`/proc/${pid}/task`).map((t) => [Number(t), statusOf(`/proc/${pid}/task/${t}/status`)]);
}

// The emperor's own file as uWSGI's docs show it: drop to uid 10000 keeping `caps`. It lives
// in a subdirectory, out of the watched one.
function unprivilegedEmperorFile(caps: string): string {
  const etc = join(fx.dir.dir, 'conf');
  mkdirSync(etc, { mode: 0o755 });
  const conf = join(etc, 'emperor.ini');
  writeFileSync(conf, ['[uwsgi]', `emperor = ${fx.dir.dir}`, 'emperor-tyrant = true', 'uid = 10000', 'gid = 10000', `cap = ${caps}`, ''].join('\n'));
  return conf;
}

test('an emperor that drops to uid 10000 keeping setuid,setgid still starts each tenant as its owner', async () => {
  const conf = unprivilegedEmperorFile('setgid,setuid');
  owned('alice.ini', plainSleeper(77161), 1001);
  owned('bob.ini', plainSleeper(77162), 1002);
  owned('jailed.ini', sleeper(77163), 1001);
  chmodSync(owned('secret.ini', plainSleeper(77164), 1001), 0o600);
  const e = fx.start(['--ini', conf]);
  await e.waitForLog(/running as uid 10000 with setgid,setuid/);
  await e.waitForLog(/warning: no CAP_KILL/);
  const alice = await jailed(77161);
  const bob = await jailed(77162);
  assert.equal([alice.uid, alice.gid, alice.capEff], [1001, 1001, 0n]);
  assert.equal([bob.uid, bob.gid, bob.capEff], [1002, 1002, 0n]);
  await e.waitForLog(/jailed\.ini: \S+jailed\.ini: unshare: namespaces \(mount,pid,ipc,uts\) need CAP_SYS_ADMIN: run the emperor as root, or give the vassal none.*this emperor runs as uid 10000 with setgid,setuid/);
  await e.waitForLog(/secret\.ini: \S+secret\.ini: cannot read: permission denied \(EACCES\); this emperor runs as uid 10000: make the file readable by it \(mode 0640 with the emperor's group\), or give it cap dac_read_search/);
  // Capabilities are per thread: the main thread, which launches, holds exactly the two;
  // every thread runs as uid 10000, and the others hold none.
  const pid = e.child.pid!;
  for (const [tid, st] of threads(pid)) {
    assert.is(st.uid, 10000, `thread ${tid} runs as uid 10000`);
    if (tid === pid) assert.is(st.capEff, SETUID_SETGID, 'the main thread keeps setuid,setgid');
    else assert.is(st.capEff, 0n, `thread ${tid} holds none`);
  }
  // Stopping a tenant's vassal works without CAP_KILL.
  await sleep(100);
  const stats = await e.stats();
  assert.is(stats.uid, 10000);
  rmSync(join(fx.dir.dir, 'bob.ini'));
  await waitUntil(() => pidsWith('sleep 77162').length === 0, 'bob\'s vassal stopped by an emperor without CAP_KILL');
  assert.is(pidsWith('sleep 77161').length, 1, 'alice\'s still runs');
});

test('an emperor started as a user with ambient setuid,setgid (systemd User= + AmbientCapabilities=) works the same', async () => {
  chownSync(fx.dir.dir, 10000, 10000); // its stats socket goes there
  owned('alice.ini', plainSleeper(77171), 1001);
  owned('bob.ini', plainSleeper(77172), 1002);
  const wrap = ['setpriv', '--reuid=10000', '--regid=10000', '--clear-groups', '--inh-caps=+setuid,+setgid', '--ambient-caps=+setuid,+setgid'];
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant'], wrap);
  assert.equal([(await jailed(77171)).uid, (await jailed(77172)).uid], [1001, 1002]);
  for (const [tid, st] of threads(e.child.pid!)) assert.equal([st.uid, st.capEff], [10000, SETUID_SETGID], `thread ${tid}`);
  await e.waitForLog(/no CAP_SYS_ADMIN \(uid 10000 with setgid,setuid\)/);
});

test('with cap = setgid,setuid,kill, tenants\' vassals die with a SIGKILLed unprivileged emperor', async () => {
  const conf = unprivilegedEmperorFile('setgid,setuid,kill');
  owned('alice.ini', plainSleeper(77181), 1001);
  const e = fx.start(['--ini', conf]);
  await jailed(77181);
  assert.not.match(e.log(), /no CAP_KILL/);
  e.child.kill('SIGKILL');
  await e.exited;
  await waitUntil(() => pidsWith('sleep 77181').length === 0, 'the vassal killed by PR_SET_PDEATHSIG');
});

test.run();
