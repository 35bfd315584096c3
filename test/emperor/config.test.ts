// What the emperor makes of a vassal file: magic variables, placeholders, vassal-set,
// vassals-include, JAIL_VASSAL_* from its environment, symlinked skeletons with nofollow,
// glob:// sources, an --ini file of emperor options, and uWSGI's XML files (Debian's uWSGI
// serving one). Observed from inside the jails.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, lutimesSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, pidsWith, emperorFixture, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor config');

const fx = emperorFixture(test, 0o777);

const readWhenThere = async (path: string): Promise<string> => {
  await waitUntil(() => existsSync(path) && readFileSync(path, 'utf8').endsWith('\n'), path);
  return readFileSync(path, 'utf8').trim();
};

test('magic variables, placeholders, vassal-set, vassals-include and JAIL_VASSAL_* reach the jail', async () => {
  const vassals = join(fx.dir.dir, 'vassals');
  mkdirSync(vassals, { mode: 0o755 });
  const out = join(fx.dir.dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  const include = fx.dir.write('defaults.ini', ini(
    'env = FROM_INCLUDE=/tmp/sockets/%(vassal_name).sock included-as-%n',
  ));
  const file = join(vassals, 'shop.ini');
  require('node:fs').writeFileSync(file, ini(
    'vassal_name = %n',
    'env = MAGIC=%n|%e|%x|%c|%d|%p|100%%',
    'env = HOME_OF_IT=$(JAILCTL_TEST_HOME)',
    `unprivileged-binary-patch-arg = sh -c 'env | grep -E "^(MAGIC|FROM_|HOME_OF_IT)" | sort > ${out}/%n.env; echo >> ${out}/%n.env; exec sleep 86420'`,
  ));
  process.env.JAILCTL_TEST_HOME = '/srv/shop';
  process.env.JAIL_VASSAL_ENV = 'FROM_ENV=env-%n';
  let emperor: RunningEmperor;
  try {
    emperor = fx.start(['--emperor', vassals, '--vassal-set', 'env=FROM_SET=set-%n', '--vassals-include', include]);
  } finally {
    delete process.env.JAILCTL_TEST_HOME;
    delete process.env.JAIL_VASSAL_ENV;
  }
  const env = await readWhenThere(join(out, 'shop.env'));
  assert.equal(env.split('\n'), [
    'FROM_ENV=env-shop',
    'FROM_INCLUDE=/tmp/sockets/shop.sock included-as-defaults',
    'FROM_SET=set-shop',
    'HOME_OF_IT=/srv/shop',
    `MAGIC=shop|ini|shop.ini|vassals|${vassals}/|${file}|100%`,
  ]);
  assert.not.match(emperor.log(), /vassal_name/, 'a referenced placeholder is no typo');
});

test('an unreferenced unknown key gets a did-you-mean warning, and the vassal still runs', async () => {
  fx.dir.write('typo.ini', ini('exec-as-rot = true', 'unprivileged-binary-patch-arg = sleep 86421'));
  const emperor = fx.start(['--emperor', fx.dir.dir]);
  await emperor.waitForLog(/typo\.ini:2: unknown option `exec-as-rot` \(did you mean `exec-as-root`\?\)/);
  await emperor.waitForVassal('typo.ini', (v) => v?.state === 'running', 'running');
});

test('emperor-nofollow: touch -h on one symlink reloads only that vassal of a shared skeleton', async () => {
  const out = join(fx.dir.dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  fx.dir.write('app.skel', ini(`unprivileged-binary-patch-arg = sh -c 'echo %n > ${out}/%n; exec sleep 86422'`));
  symlinkSync(join(fx.dir.dir, 'app.skel'), join(fx.dir.dir, 'app1.ini'));
  symlinkSync(join(fx.dir.dir, 'app.skel'), join(fx.dir.dir, 'app2.ini'));
  const emperor = fx.start(['--emperor', fx.dir.dir, '--emperor-nofollow']);
  assert.is(await readWhenThere(join(out, 'app1')), 'app1', '%n is the link\'s name, not the skeleton\'s');
  assert.is(await readWhenThere(join(out, 'app2')), 'app2');
  const a1 = await emperor.waitForVassal('app1.ini', (v) => v?.state === 'running', 'app1');
  const a2 = await emperor.waitForVassal('app2.ini', (v) => v?.state === 'running', 'app2');
  assert.is((await emperor.stats()).vassals.length, 2, 'app.skel itself is no vassal');
  const t = new Date(statSync(join(fx.dir.dir, 'app1.ini'), { throwIfNoEntry: true }).mtimeMs + 5000);
  lutimesSync(join(fx.dir.dir, 'app1.ini'), t, t);
  await emperor.waitForVassal('app1.ini', (v) => v?.state === 'running' && v.pid !== a1!.pid, 'app1 restarted');
  assert.is((await emperor.vassal('app2.ini'))!.pid, a2!.pid, 'app2 untouched');
});

test('glob:// sources merge with dir:// ones, and options come from an --ini file', async () => {
  const sites = join(fx.dir.dir, 'sites');
  for (const s of ['blog', 'shop']) mkdirSync(join(sites, s), { recursive: true });
  fx.dir.write('sites/blog/blog.ini', ini('unprivileged-binary-patch-arg = sleep 86423'));
  const other = join(fx.dir.dir, 'other');
  mkdirSync(other);
  fx.dir.write('other/cron.ini', ini('unprivileged-binary-patch-arg = sleep 86424'));
  const conf = fx.dir.write('emperor.ini', [
    '[jail]',
    `sites = ${sites}`,
    'emperor = glob://%(sites)/*/*.ini', // an emperor file is expanded like a vassal file
    `emperor = dir://${other}`,
    'emperor-freq = 1',
    '',
  ].join('\n'));
  const emperor = fx.start(['--ini', conf]);
  await waitUntil(() => pidsWith('sleep 86423').length === 1 && pidsWith('sleep 86424').length === 1, 'both sources');
  assert.not.match(emperor.log(), /not an emperor option/, 'a key used as %(key) is a placeholder');
  // A new directory matching the glob: picked up without waiting for the rescan.
  mkdirSync(join(sites, 'wiki'));
  fx.dir.write('sites/wiki/wiki.ini', ini('unprivileged-binary-patch-arg = sleep 86425'));
  await waitUntil(() => pidsWith('sleep 86425').length === 1, 'the vassal in the new directory', 5000);
  // Names are file names, unique across sources: a second blog.ini waits, loudly, and takes
  // over when the first one goes.
  fx.dir.write('other/blog.ini', ini('unprivileged-binary-patch-arg = sleep 86426'));
  await emperor.waitForLog(/a vassal named blog\.ini already runs from .*sites\/blog\/blog\.ini; this one waits/);
  assert.equal(pidsWith('sleep 86426'), []);
  rmSync(join(sites, 'blog', 'blog.ini'));
  await waitUntil(() => pidsWith('sleep 86426').length === 1 && pidsWith('sleep 86423').length === 0, 'the waiting blog.ini to take over');
});

test('the stats socket is 0600 whatever the umask, and a file at its path is never deleted', async () => {
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForLog(/watching/);
  assert.is(statSync(e.statsPath).mode & 0o777, 0o600);
  await e.stop();
  const path = fx.dir.write('notes.txt', 'precious\n');
  const second = fx.start(['--emperor', fx.dir.dir, '--emperor-stats', path]);
  await second.exited;
  assert.match(second.log(), /emperor-stats \S+notes\.txt: the address is already in use/);
  assert.is(readFileSync(path, 'utf8'), 'precious\n');
});

test('an XML vassal file: Debian\'s uWSGI serves it (its options through the config pipe), jail options apply, errors name the line', async () => {
  const port = await freePort();
  fx.dir.write('hello.psgi', 'my $app = sub { [200, ["Content-Type" => "text/plain"], ["xml $< " . `hostname`]] };\n');
  fx.dir.write('site.xml', [
    '<?xml version="1.0"?>',
    '<uwsgi>',
    '  <plugins>psgi</plugins>',
    `  <psgi>${join(fx.dir.dir, 'hello.psgi')}</psgi>`,
    `  <http-socket>127.0.0.1:${port}</http-socket>`,
    '  <master/>',
    '  <processes>1</processes>',
    '  <unshare>uts,ipc</unshare>',
    '  <hostname>from-xml</hostname>',
    '  <uid>nobody</uid>',
    '</uwsgi>',
    '',
  ].join('\n'));
  fx.dir.write('broken.xml', '<uwsgi>\n  <uid>nobody</uid>\n  <env>A=1</envv>\n</uwsgi>\n');
  const e = fx.start(['--emperor', fx.dir.dir, '--binary-path', '/usr/bin/uwsgi']);
  await e.waitForVassal('site.xml', (v) => v?.accepting === 1, 'site.xml accepting');
  const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  assert.is(body, 'xml 65534 from-xml\n', 'served by uWSGI as nobody, in a UTS namespace of its own');
  await e.waitForLog(/broken\.xml: \S+broken\.xml:3: XML syntax error: Unexpected close tag/);
  assert.not.match(e.log(), /site\.xml.*unknown option/);
  rmSync(join(fx.dir.dir, 'site.xml'));
  await e.waitForVassal('site.xml', (v) => v === undefined, 'gone');
});

test.run();
