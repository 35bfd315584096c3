// jailctl's own runtimes on a real distribution's root: a PSGI app (the PSGI host on the
// root's own Perl and Plack) and a Node app (the app server, Node bound in) on a Debian 12
// root built by `npm run rootfs -- --debian`, each app's code bound in read-only, under a
// real emperor. What each app reports is read from inside its jail.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { debianRoot } from '../helpers/roots';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('Debian root filesystems');
const fx = emperorFixture(test, 0o755);
// The apps' code, root's and world-readable, as a sysadmin deploys it; its path is a host
// path no Debian root has, so an app sees whether the host's files are out of reach.
const area = mkdtempSync('/var/tmp/jailctl-debian-');
let root: string;

test.before(() => {
  chmodSync(area, 0o755);
  root = debianRoot();
});
test.after(() => rmSync(area, { recursive: true, force: true }));

// Each app answers these lines: its root's Debian version, whether the host's `area` is
// visible, whether its code (bound at /mnt) and its root are writable, how it runs.
const PSGI_APP = [
  'use strict;',
  'sub writable { my ($p) = @_; open(my $f, ">", $p) ? "writable" : ($!{EROFS} ? "EROFS" : "error: $!") }',
  'sub { open(my $v, "<", "/etc/debian_version") or die; my $d = <$v>; chomp $d;',
  '  return [200, ["Content-Type", "text/plain"], [join("", map { "$_\\n" }',
  '    "debian=$d", "host=" . (-e $ENV{HOST_AREA} ? "visible" : "hidden"),',
  '    "app=" . writable("/mnt/x"), "runtime=" . writable("/run/jailctl/package/x"),',
  '    "perl=$^X", "uid=$<")]] }',
].join('\n');

const NODE_APP = `const fs = require('node:fs');
const writable = (p) => { try { fs.writeFileSync(p, 'x'); return 'writable'; } catch (e) { return e.code; } };
module.exports = (req, res) => res.end([
  'debian=' + fs.readFileSync('/etc/debian_version', 'utf8').trim(),
  'host=' + (fs.existsSync(process.env.HOST_AREA) ? 'visible' : 'hidden'),
  'app=' + writable('/mnt/x'), 'root=' + writable('/x'), 'runtime=' + writable('/run/jailctl/package/x'),
  'node=' + process.execPath, 'uid=' + process.getuid(),
].join('\\n') + '\\n');
`;

function appDir(name: string, file: string, text: string): string {
  const dir = join(area, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, file), text, { mode: 0o644 });
  return dir;
}

async function answer(e: RunningEmperor, vassal: string, port: number): Promise<string> {
  await e.waitForVassal(vassal, (v) => v?.accepting === 1, `${vassal} accepting`);
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
  assert.is(res.status, 200);
  return res.text();
}

test('a PSGI app on an overlay of the Debian root: the root\'s Perl and Plack, its code read-only', async () => {
  const port = await freePort();
  const app = appDir('psgi', 'app.psgi', PSGI_APP);
  fx.dir.write('shop.ini', ini('unshare = ipc,uts', `overlay = ${root}`, `bind = ${app}:/mnt:ro`, 'psgi = /mnt/app.psgi',
    `http-socket = 127.0.0.1:${port}`, 'uid = nobody', `env = HOST_AREA=${area}`));
  const e = fx.start(['--emperor', fx.dir.dir]);
  const body = await answer(e, 'shop.ini', port);
  assert.match(body, /^debian=12\.\d+$/m, body);
  assert.match(body, /^host=hidden$/m);
  assert.match(body, /^app=EROFS$/m, 'its code is bound read-only');
  assert.match(body, /^runtime=EROFS$/m, 'so is jailctl\'s runtime');
  assert.match(body, /^perl=\/usr\/bin\/perl$/m);
  assert.match(body, /^uid=65534$/m);
  assert.not.match(e.log(), /shop\.ini.*(warning|error)/i);
});

test('a Node app on the Debian root made read-only: Node and the app server bound in, nothing writable but /tmp', async () => {
  const port = await freePort();
  const app = appDir('node', 'server.cjs', NODE_APP);
  fx.dir.write('api.ini', ini('unshare = ipc,uts', `rootfs = ${root}`, 'rootfs-readonly = true', `bind = ${app}:/mnt:ro`,
    'app = /mnt/server.cjs', `http-socket = 127.0.0.1:${port}`, 'processes = 2', 'uid = nobody', `env = HOST_AREA=${area}`));
  const e = fx.start(['--emperor', fx.dir.dir]);
  const body = await answer(e, 'api.ini', port);
  assert.match(body, /^debian=12\.\d+$/m, body);
  assert.match(body, /^host=hidden$/m);
  assert.match(body, /^app=EROFS$/m);
  assert.match(body, /^root=EROFS$/m, 'rootfs-readonly');
  assert.match(body, /^runtime=EROFS$/m);
  assert.match(body, /^node=\/run\/jailctl\/node$/m);
  assert.match(body, /^uid=65534$/m);
});

test.run();
