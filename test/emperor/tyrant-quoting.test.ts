// Tyrant mode: a tenant's value in the sysadmin's root hook (the README's `vassal_name = %n`
// pattern) arrives there as one literal word, never as shell code. A real emperor, real
// tenant files (uid 1001), real hooks run by /bin/sh as root.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, pidsWith, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('tyrant mode: tenant values in root hooks');
const fx = emperorFixture(test, 0o755);

function owned(name: string, text: string, uid = 1001): string {
  const path = fx.dir.write(name, text);
  chownSync(path, uid, uid);
  return path;
}

// The sysadmin's include, out of the watched directory: the hook prints the tenant's
// vassal_name into got-TAG (TAG is the tenant's too, so it is quoted as well).
function sysadminInclude(command: string): string {
  const conf = join(fx.dir.dir, 'conf');
  mkdirSync(conf, { mode: 0o755 });
  const file = join(conf, 'tenants.ini');
  writeFileSync(file, ini(`exec-as-root = ${command}`));
  return file;
}

const pwned = (): string[] => readdirSync(fx.dir.dir).filter((n) => n.startsWith('PWNED'));

test('$(…), backquotes, `;` and quotes in a tenant\'s vassal_name reach the root hook literally', async () => {
  const dir = fx.dir.dir;
  const include = sysadminInclude(`printf %%s %(vassal_name) > ${dir}/got-%(tag)`);
  const hostile = [
    `$(touch ${dir}/PWNED-1)`,
    `\`touch ${dir}/PWNED-2\``,
    `x; touch ${dir}/PWNED-3`,
    `it's'; touch ${dir}/PWNED-4; '`,
    `"; touch ${dir}/PWNED-5; "`,
  ];
  hostile.forEach((name, i) => owned(`t${i}.ini`, ini(`vassal_name = ${name}`, `tag = ${i}`, 'unshare = fs,pid', `unprivileged-binary-patch-arg = sleep ${77300 + i}`)));
  // A line break cannot be written in ini; YAML can.
  owned('nl.yaml', `jail:\n  vassal_name: "web\\ntouch ${dir}/PWNED-6"\n  tag: nl\n  unshare: fs,pid\n  unprivileged-binary-patch-arg: sleep 77309\n`);
  const e = fx.start(['--emperor', dir, '--emperor-tyrant', '--emperor-freq', '1', '--vassals-include', include]);
  for (let i = 0; i < hostile.length; i++) {
    await waitUntil(() => pidsWith(`sleep ${77300 + i}`).length === 1, `tenant ${i}'s jail`);
    assert.is(readFileSync(join(dir, `got-${i}`), 'utf8'), hostile[i], `the hook got tenant ${i}'s value as one word`);
  }
  await e.waitForLog(/nl\.yaml: \S+tenants\.ini:2: `exec-as-root` gets %\(vassal_name\), which holds a tenant's value \(from \S+nl\.yaml:2\), and it has a NUL or line break/);
  assert.equal(pidsWith('sleep 77309'), [], 'the refused vassal never ran');
  assert.not.ok(existsSync(join(dir, 'got-nl')));
  assert.equal(pwned(), [], 'no tenant command ran as root');
});

test('in the sysadmin\'s quotes the value stays one literal word; in backquotes it is refused; a tenant cannot name root\'s program', async () => {
  const dir = fx.dir.dir;
  const value = `'"; touch ${dir}/PWNED-q; "'$(touch ${dir}/PWNED-r)`;
  const include = sysadminInclude(`printf %%s '%(vassal_name)' "-%(tag)-" > ${dir}/got-%(tag)`);
  owned('q.ini', ini(`vassal_name = ${value}`, 'tag = q', 'unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 77311'));
  const e = fx.start(['--emperor', dir, '--emperor-tyrant', '--vassals-include', include]);
  await waitUntil(() => pidsWith('sleep 77311').length === 1, 'the quoted tenant\'s jail');
  assert.is(readFileSync(join(dir, 'got-q'), 'utf8'), `${value}-q-`);
  await e.stop();

  const backquoted = join(fx.dir.dir, 'conf', 'backquoted.ini');
  writeFileSync(backquoted, ini(`exec-as-root = echo \`echo %(vassal_name)\` > ${dir}/got-b`));
  const patch = join(fx.dir.dir, 'conf', 'patch.ini');
  writeFileSync(patch, ini('privileged-binary-patch = %(program)'));
  owned('b.ini', ini(`vassal_name = $(touch ${dir}/PWNED-b)`, 'unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 77312'));
  const b = fx.start(['--emperor', dir, '--emperor-tyrant', '--vassals-include', backquoted]);
  await b.waitForLog(/b\.ini: \S+backquoted\.ini:2: `exec-as-root` gets %\(vassal_name\), which holds a tenant's value \(from \S+b\.ini:2\) inside `\$\(…\)`, `\$\{…\}`, backquotes or a here-document, where no quoting holds/);
  await b.stop();
  owned('p.ini', ini('program = /bin/sh', 'unshare = fs,pid'));
  const p = fx.start(['--emperor', dir, '--emperor-tyrant', '--vassals-include', patch]);
  await p.waitForLog(/p\.ini: \S+patch\.ini:2: `privileged-binary-patch` gets %\(program\), which holds a tenant's value \(from \S+p\.ini:2\): root would run a program the tenant names/);
  assert.equal(pwned(), []);
  assert.not.ok(existsSync(join(dir, 'got-b')));
});

test.run();
