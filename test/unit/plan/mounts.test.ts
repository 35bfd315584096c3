// compileMounts() through compilePlan(): what a vassal file's rootfs, overlay, bind,
// rootfs-readonly and tmp lines become, in order, and each refusal with its line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RawVassalConfig } from '../../../src/config/types';
import { parseUserDb } from '../../../src/config/users';
import { PlanError } from '../../../src/errors';
import { compilePlan } from '../../../src/plan/compile';
import { describeMount, parseBind } from '../../../src/plan/mounts';
import { rawIni } from '../../helpers/plan';
import { thrown } from '../../helpers/thrown';

const users = parseUserDb('root:x:0:0:root:/root:/bin/sh\nweb:x:1001:1001::/srv/web:/bin/sh\n', 'root:x:0:\nweb:x:1001:\n');
const baseEnv = { PATH: '/usr/bin:/bin' };
const RUN = 'unprivileged-binary-patch-arg = /bin/sh';

const raw = (...lines: string[]): RawVassalConfig => rawIni('/etc/jails/web.ini', lines);

const mounts = (...lines: string[]) => compilePlan(raw(...lines, RUN), { users, baseEnv }).plan;
const refusal = (...lines: string[]): string => thrown(() => mounts(...lines), PlanError).message;
const kinds = (plan: { mounts: readonly { kind: string; dst?: string }[] }): string[] => plan.mounts.map((m) => `${m.kind} ${m.dst ?? '-'}`);

const test = suite('mounts');

test('rootfs: the root first, then binds, /proc, a minimal /dev, /tmp, and a read-only / last', () => {
  const plan = mounts('unshare = pid', 'rootfs = /srv/roots/web', 'bind = /srv/app:/app:ro', 'bind = /run/sock', 'rootfs-readonly = true');
  assert.equal(plan.namespaces, ['pid', 'mount'], 'a mount namespace is added for the root');
  assert.equal(kinds(plan), [
    'root -', 'bind /app', 'bind /run/sock', 'proc /proc',
    'tmpfs /dev', 'bind /dev/null', 'bind /dev/zero', 'bind /dev/full', 'bind /dev/random', 'bind /dev/urandom', 'bind /dev/tty',
    'devpts /dev/pts', 'symlink /dev/ptmx', 'tmpfs /dev/shm', 'symlink /dev/fd', 'symlink /dev/stdin', 'symlink /dev/stdout', 'symlink /dev/stderr',
    'tmpfs /tmp', 'readonly /',
  ]);
  assert.equal(plan.mounts[0], { kind: 'root', src: '/srv/roots/web', flags: [], option: 'rootfs', line: 3 });
  assert.equal(plan.mounts[1], { kind: 'bind', src: '/srv/app', dst: '/app', flags: ['ro'], option: 'bind', line: 4 });
  assert.equal(plan.mounts[3]!.flags, ['hidepid'], 'its /proc hides other users\' processes');
  assert.equal(plan.mounts.find((m) => m.dst === '/dev/null')!.flags, ['dev'], 'device nodes work through their binds only');
  assert.equal(plan.mounts.find((m) => m.dst === '/dev/stderr')!.src, '/proc/self/fd/2');
  assert.equal(plan.mounts.at(-2), { kind: 'tmpfs', dst: '/tmp', size: 64 * 1024 * 1024, mode: 0o1777, flags: [] });
});

test('chroot and pivot_root are rootfs; overlay is a root with a writable layer of tmp-size', () => {
  assert.equal(mounts('chroot = /srv/r').mounts[0]!.src, '/srv/r');
  assert.equal(mounts('pivot_root = /srv/r /old').mounts[0]!.src, '/srv/r', 'OLD is not kept');
  const o = mounts('overlay = /srv/images/debian', 'tmp-size = 16m').mounts[0]!;
  assert.equal(o, { kind: 'overlay', src: '/srv/images/debian', size: 16 * 1024 * 1024, flags: [], option: 'overlay', line: 2 });
  assert.is(mounts('rootfs = roots/web').mounts[0]!.src, '/etc/jails/roots/web', 'relative to the vassal file\'s directory');
});

test('without a root: binds in a mount namespace of their own, /proc with pid, tmp = private', () => {
  assert.equal(mounts('bind = /srv/data').namespaces, ['mount'], 'a bind adds a mount namespace');
  const plan = mounts('unshare = pid,fs', 'bind = /srv/data:/data', 'tmp = private');
  assert.equal(kinds(plan), ['bind /data', 'proc /proc', 'tmpfs /tmp']);
  assert.equal(plan.mounts[1]!.flags, [], 'the /proc of a jail without its own root is a plain one');
  assert.equal(kinds(mounts('unshare = fs')), [], 'nothing to mount');
});

test('a jail with a root and no pid namespace gets no /proc, and a warning that says why', () => {
  const { plan, warnings } = compilePlan(raw('rootfs = /srv/r', RUN), { users, baseEnv });
  assert.not.ok(plan.mounts.some((m) => m.kind === 'proc'));
  assert.equal(warnings, ['/etc/jails/web.ini:2: rootfs without unshare = pid: the jail gets no /proc (a new one would show the host\'s processes); add pid to unshare']);
});

test('refusals name the line and the fix', () => {
  assert.is(refusal('rootfs = /a', 'overlay = /b'), '/etc/jails/web.ini:3: overlay: a jail has one root: `rootfs` (line 2) already sets it; keep one of the two');
  assert.match(refusal('bind = /a:b'), /web\.ini:2: bind: `b` is a path in the jail: make it absolute/);
  assert.match(refusal('bind = /a:/b/../c'), /web\.ini:2: bind: `\/b\/\.\.\/c`: a path in the jail has no empty, `\.` or `\.\.` component/);
  assert.match(refusal('bind = /a:/b:/c:ro'), /web\.ini:2: bind: expected SRC, SRC:DST or SRC:DST:ro/);
  assert.match(refusal('bind = /a:/'), /web\.ini:2: bind: cannot bind onto the jail's root: set rootfs = SRC instead/);
  assert.match(refusal('rootfs-readonly = true'), /web\.ini:2: rootfs-readonly: the jail has no root of its own: set rootfs = DIR too/);
  assert.match(refusal('overlay = /a', 'rootfs-readonly = yes'), /web\.ini:3: rootfs-readonly: an overlay root is there to be written to/);
  assert.match(refusal('rootfs = /a', 'rootfs-readonly = maybe'), /web\.ini:3: rootfs-readonly: expected true or false, got `maybe`/);
  assert.match(refusal('rootfs = /a', 'tmp = shared'), /web\.ini:3: tmp: a jail with a root of its own gets a private \/tmp .*bind = \/tmp:\/tmp/);
  assert.match(refusal('rootfs = '), /web\.ini:2: rootfs: empty path/);
});

test('a tenant\'s lines: paths opened with no symlink, a bind source that must be the tenant\'s own', () => {
  const plan = compilePlan(raw('rootfs = /srv/t/root', 'bind = /srv/t/app:/app:ro', RUN), {
    users, baseEnv, tenantFile: true, credentials: { uid: 1001, gid: 1001, groups: [] },
  }).plan;
  assert.equal(plan.mounts[0]!.flags, ['nosymlinks']);
  assert.equal(plan.mounts[1], { kind: 'bind', src: '/srv/t/app', dst: '/app', flags: ['ro', 'nosymlinks', 'owner'], owner: 1001, option: 'bind', line: 3 });
  const admin = compilePlan({ ...raw(RUN), entries: [{ key: 'bind', value: '/srv/shared', line: 1, file: '/etc/jailctl/include.ini' }, ...raw(RUN).entries] }, {
    users, baseEnv, tenantFile: true, credentials: { uid: 1001, gid: 1001, groups: [] },
  }).plan;
  assert.equal(admin.mounts[0]!.flags, [], 'the sysadmin\'s include binds as it says');
});

test('parseBind and describeMount', () => {
  assert.equal(parseBind('/a'), { src: '/a', mode: 'rw' });
  assert.equal(parseBind('/a:/b:ro'), { src: '/a', dst: '/b', mode: 'ro' });
  assert.equal(parseBind('/a:ro'), { src: '/a', mode: 'ro' });
  assert.is(parseBind(':/b'), undefined);
  assert.is(describeMount({ kind: 'bind', src: '/srv/app', dst: '/app', flags: ['ro', 'owner'], owner: 1001 }), 'bind /srv/app → /app (ro, owner 1001)');
  assert.is(describeMount({ kind: 'root', src: '/srv/r', flags: [] }), 'the jail\'s root /srv/r');
  assert.is(describeMount({ kind: 'tmpfs', dst: '/tmp', size: 4096, mode: 0o1777, flags: [] }), 'mount tmpfs on /tmp');
});

test.run();
