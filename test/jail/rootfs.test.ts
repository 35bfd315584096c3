// Jails with a root filesystem of their own, for real: a busybox root built by
// `npm run rootfs` (rootfs/build), jails on it through `jailctl run`, seen from inside and
// from the host. An overlay shared by two jails, binds, a read-only root, and each failure
// as the sysadmin reads it.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl, ROOT } from '../helpers/cli';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir, type VassalDir } from '../helpers/vassal';

requireRoot();

const test = suite('rootfs');
// Built once for the suite (a root-owned 0755 directory, as a sysadmin's would be).
const work = mkdtempSync('/var/tmp/jailctl-rootfs-');
chmodSync(work, 0o755);
const root = join(work, 'busybox');
let dir: VassalDir;

test.before(() => {
  const r = spawnSync('bash', [join(ROOT, 'rootfs', 'build'), root], { encoding: 'utf8' });
  assert.is(r.status, 0, `npm run rootfs -- ${root}: ${r.stderr}`);
  mkdirSync(join(work, 'app'));
  writeFileSync(join(work, 'app', 'index.txt'), 'the app\n');
  writeFileSync(join(work, 'host-secret'), 'host\n', { mode: 0o644 });
});
test.after(() => rmSync(work, { recursive: true, force: true }));
test.before.each(() => {
  dir = vassalDir();
});
test.after.each(() => dir.remove());

// `jailctl run` of a vassal on the busybox root running `script` in its sh; stdout+stderr.
function runOn(lines: readonly string[], script: string): { status: number | null; out: string } {
  const file = dir.write('web.ini', ini('unshare = pid,ipc,uts,net', ...lines, 'uid = nobody', `unprivileged-binary-patch-arg = /bin/sh -c '${script}'`));
  const r = jailctl(['run', file]);
  return { status: r.status, out: r.stdout + r.stderr };
}

test('the jail sees only its root: busybox tools run, the host\'s files are out of reach', () => {
  const r = runOn([`rootfs = ${root}`], [
    'ls / | tr "\\n" " "; echo',
    `test -e ${work} && echo host-visible || echo host-hidden`,
    'test -e /usr/bin/node && echo node || echo no-node',
    'wc -l < /etc/passwd',
    'echo pids=$(ls /proc | grep -c "^[0-9]")',
    'test -e /proc/sys && echo proc-sys || echo no-proc-sys',
    'echo mounts=$(grep -c . /proc/self/mountinfo)',
    'ls /dev | tr "\\n" " "; echo',
    'echo x > /dev/null && head -c 4 /dev/urandom | wc -c',
    'touch /tmp/t && echo tmp-writable',
    'test -e /sys/kernel && echo sys || echo no-sys',
  ].join('; '));
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /^bin dev etc proc root run sbin srv sys tmp usr var $/m, 'the busybox root\'s own tree');
  assert.match(r.out, /^host-hidden$/m);
  assert.match(r.out, /^no-node$/m, 'nothing of the host\'s /usr');
  assert.match(r.out, /^2$/m, 'its own /etc/passwd (root and nobody)');
  assert.match(r.out, /^no-proc-sys$/m, 'a /proc of the jail\'s processes only (subset=pid)');
  assert.ok(Number(/^pids=(\d+)$/m.exec(r.out)![1]) <= 5, r.out);
  assert.ok(Number(/^mounts=(\d+)$/m.exec(r.out)![1]) <= 20, `no host mount is left (the old root is detached): ${r.out}`);
  assert.match(r.out, /^fd full null ptmx pts random shm stderr stdin stdout tty urandom zero $/m, 'a minimal /dev');
  assert.match(r.out, /^4$/m, '/dev/urandom works');
  assert.match(r.out, /^tmp-writable$/m);
  assert.match(r.out, /^no-sys$/m, '/sys stays empty');
});

test('binds bring host paths in, read-only when told; rootfs-readonly keeps / unwritable', () => {
  const r = runOn([`rootfs = ${root}`, `bind = ${work}/app:/srv/app:ro`, `bind = ${work}/app:/srv/rw`, 'rootfs-readonly = true'], [
    'cat /srv/app/index.txt',
    'touch /srv/app/x 2>&1 | grep -o "Read-only file system"',
    'touch /x 2>&1 | grep -o "Read-only file system"',
    'touch /tmp/y && echo tmp-ok',
  ].join('; '));
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /^the app$/m);
  assert.is(r.out.match(/^Read-only file system$/gm)?.length, 2, r.out);
  assert.match(r.out, /^tmp-ok$/m);
  assert.not.ok(existsSync(join(work, 'app', 'x')));
});

test('a symlink in the root cannot lead a bind out of it: the target is made inside', () => {
  const evil = join(work, 'evil-root');
  assert.is(spawnSync('cp', ['-a', root, evil]).status, 0);
  symlinkSync('/../../../../etc', join(evil, 'escape'));
  const r = runOn([`rootfs = ${evil}`, `bind = ${work}/app:/escape/jailctl-rootfs-test`], 'ls /etc/jailctl-rootfs-test');
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /index\.txt/);
  assert.not.ok(existsSync('/etc/jailctl-rootfs-test'), 'the host\'s /etc got nothing');
  assert.ok(existsSync(join(evil, 'etc', 'jailctl-rootfs-test')), 'the target was made in the root\'s own /etc');
});

test('overlay: two jails on one read-only image, each writes its own throw-away layer', () => {
  const a = runOn([`overlay = ${root}`], 'echo a > /var/tmp/mine && cat /var/tmp/mine');
  const b = runOn([`overlay = ${root}`], 'test -e /var/tmp/mine && echo sees-a || echo clean');
  assert.is(a.status, 0, a.out);
  assert.match(a.out, /^a$/m);
  assert.match(b.out, /^clean$/m, b.out);
  assert.not.ok(existsSync(join(root, 'var', 'tmp', 'mine')), 'the image is untouched');
});

test('hooks run as root before the switch, with the host\'s tools, the jail\'s mounts at the root\'s path', () => {
  const r = runOn([`rootfs = ${root}`, `exec-as-root = test -x /usr/bin/node && echo hooked > ${root}/tmp/from-hook`], 'cat /tmp/from-hook');
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /^hooked$/m, 'the hook saw the host (its /usr/bin/node) and wrote into the jail\'s own /tmp');
  assert.not.ok(existsSync(join(root, 'tmp', 'from-hook')), 'which is the jail\'s tmpfs, not the root\'s directory on disk');
});

test('each failure names the operation, the errno and the line', () => {
  let r = runOn(['rootfs = /nonexistent/root'], 'true');
  assert.is.not(r.status, 0);
  assert.match(r.out, /the jail's root \/nonexistent\/root: No such file or directory \(web\.ini:3\)/);
  r = runOn([`rootfs = ${root}`, 'bind = /nonexistent/src:/x'], 'true');
  assert.match(r.out, /bind \/nonexistent\/src → \/x: No such file or directory \(web\.ini:4\)/);
  r = runOn([`rootfs = ${root}`, 'rootfs-readonly = true', `bind = ${work}/app:/new-dir`], 'true');
  assert.is(r.status, 0, `a bind's target is made before / turns read-only: ${r.out}`);
  assert.equal(readdirSync(root).includes('new-dir'), true);
  rmSync(join(root, 'new-dir'), { recursive: true });
});

test('a Node app on the busybox root: jailctl\'s runtime is bound in, and the missing libraries are named', () => {
  writeFileSync(join(work, 'app', 'server.js'), 'module.exports = (req, res) => res.end("hi");\n');
  const file = dir.write('node.ini', ini('unshare = pid', `rootfs = ${root}`, `bind = ${work}/app:/srv/app:ro`, 'app = /srv/app/server.js', 'uid = nobody'));
  const r = jailctl(['run', file]);
  assert.is(r.status, 127, r.stderr);
  assert.match(r.stderr, /node: app "\/run\/jailctl\/node": No such file or directory \(node\.ini:5\); in the jail's root \S+busybox, the program or its loader and libraries are missing: jailctl's app server runs the host's Node, which needs glibc and libstdc\+\+ in the root \(a Debian root has them: npm run rootfs -- --debian DIR\)/);
  assert.not.ok(existsSync(join(root, 'run', 'jailctl')), 'its mount points were made in a tmpfs /run, not in the image');
});

test.run();
