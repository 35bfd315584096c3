// Root filesystems under a real emperor in tyrant mode, as a hosting provider gives them:
// each tenant's own busybox root and app under a directory the sysadmin opened to tenants
// (vassals-bind-allow), and every way out of it refused, each with its line and the fix.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/cli';
import { emperorFixture, pidsWith, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('rootfs under the emperor');
const fx = emperorFixture(test, 0o755);
// /var/tmp/…/tenants/alice holds alice's root and app; `shared` a root-owned directory.
const area = mkdtempSync('/var/tmp/jailctl-rootfs-emperor-');
const tenants = join(area, 'tenants');
const alice = join(tenants, 'alice');

test.before(() => {
  chmodSync(area, 0o755);
  mkdirSync(alice, { recursive: true });
  const r = spawnSync('bash', [join(ROOT, 'rootfs', 'build'), join(alice, 'root')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  mkdirSync(join(alice, 'app'));
  writeFileSync(join(alice, 'app', 'index.txt'), 'alice\'s app\n');
  chownSync(alice, 1001, 1001);
  chownSync(join(alice, 'app'), 1001, 1001);
  chownSync(join(alice, 'app', 'index.txt'), 1001, 1001);
  mkdirSync(join(tenants, 'shared'));
  symlinkSync(join(alice, 'app'), join(alice, 'app-link'));
  spawnSync('chown', ['-h', '1001:1001', join(alice, 'app-link')]);
});
test.after(() => rmSync(area, { recursive: true, force: true }));

function owned(name: string, text: string, uid = 1001): string {
  const path = fx.dir.write(name, text);
  chownSync(path, uid, uid);
  return path;
}

function start(...args: string[]): RunningEmperor {
  return fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-freq', '1', '--vassals-bind-allow', tenants, ...args]);
}

const jail = (...lines: string[]): string => ini('unshare = pid,ipc,uts,net', ...lines);

test('a tenant\'s vassal on its own root, with its app bound in read-only, runs as the tenant', async () => {
  owned('web.ini', jail(`rootfs = ${alice}/root`, `bind = ${alice}/app:/srv/app:ro`,
    'unprivileged-binary-patch-arg = /bin/sh -c "cat /srv/app/index.txt; id -u; exec sleep 77801"'));
  const e = start();
  await e.waitForLog(/\[1001\/web\.ini\] alice's app/);
  await e.waitForLog(/\[1001\/web\.ini\] 1001$/m);
  await waitUntil(() => pidsWith('sleep 77801').length === 1, 'the jail\'s sleep');
  const pid = pidsWith('sleep 77801')[0]!;
  const r = spawnSync('cat', [`/proc/${pid}/root/etc/passwd`], { encoding: 'utf8' });
  assert.match(r.stdout, /^nobody:x:65534/m, 'its root is the busybox one');
});

test('a tenant\'s paths outside vassals-bind-allow, of another owner, or through a symlink are refused, each named', async () => {
  owned('outside.ini', jail('rootfs = /', 'unprivileged-binary-patch-arg = /bin/true'));
  owned('etc.ini', jail(`rootfs = ${alice}/root`, 'bind = /etc:/host-etc', 'unprivileged-binary-patch-arg = /bin/true'));
  owned('shared.ini', jail(`rootfs = ${alice}/root`, `bind = ${tenants}/shared:/shared`, 'unprivileged-binary-patch-arg = /bin/true'));
  owned('link.ini', jail(`rootfs = ${alice}/root`, `bind = ${alice}/app-link:/app`, 'unprivileged-binary-patch-arg = /bin/true'));
  const e = start();
  await e.waitForLog(new RegExp(`outside\\.ini: \\S+outside\\.ini:3: rootfs: / is not under ${tenants.replace(/[/.]/g, '\\$&')} \\(vassals-bind-allow\\)`));
  await e.waitForLog(/etc\.ini: \S+etc\.ini:4: bind: \/etc is not under \S+ \(vassals-bind-allow\): in tyrant mode a tenant's bind must lie there/);
  await e.waitForLog(/shared\.ini: .*bind \S+\/shared → \/shared \(nosymlinks, owner 1001\): Operation not permitted \(in tyrant mode a tenant binds only what it owns: chown 1001 \S+\/shared\)/);
  await e.waitForLog(/link\.ini: .*bind \S+\/app-link → \/app \(nosymlinks, owner 1001\): Too many levels of symbolic links \(a tenant's path may hold no symlink: give the real path\)/);
  assert.ok((await e.stats()).pid > 0, 'the emperor lives on');
});

test('without vassals-bind-allow a tenant gets no root or bind at all', async () => {
  owned('web.ini', jail(`rootfs = ${alice}/root`, 'unprivileged-binary-patch-arg = /bin/true'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-freq', '1']);
  await e.waitForLog(/web\.ini: \S+web\.ini:3: rootfs: \S+: in tyrant mode a tenant's rootfs must lie under a directory the sysadmin allows \(vassals-bind-allow\), and the emperor allows none/);
});

test.run();
