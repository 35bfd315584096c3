// Several emperors on one host, started with nothing but their sources: each is named after
// its first source, listens on its own socket in /run/jailctl/emperors and logs into its own
// directory; `jailctl ps` finds the only one, or is told which with --emperor NAME; two
// emperors of the same name are refused with the fix.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl, jailctlAsync } from '../helpers/cli';
import { pidsWith, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('several emperors');
const area = mkdtempSync('/tmp/jailctl-several-');
const tag = area.slice(-6).replace(/[^A-Za-z0-9]/g, 'x');
const running: Array<{ child: ChildProcess; log: () => string; exited: Promise<number | null> }> = [];

// A directory NAME holding one vassal that says `up` and sleeps with a marker of its own.
function site(parent: string, name: string, marker: string): string {
  const dir = join(area, parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'web.ini'), ini('unshare = ipc,uts', `unprivileged-binary-patch-arg = /bin/sh -c "echo up; exec sleep ${marker}"`));
  return dir;
}

function start(...args: string[]): (typeof running)[number] {
  const child = jailctlAsync(['emperor', ...args]);
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const e = { child, log: () => log, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
  running.push(e);
  return e;
}

test.after(async () => {
  for (const e of running) if (e.child.exitCode === null) e.child.kill('SIGTERM');
  await Promise.all(running.map((e) => e.exited));
  for (const name of [`alpha${tag}`, `beta${tag}`, `gamma${tag}`]) rmSync(`/var/log/jailctl/${name}`, { recursive: true, force: true });
  rmSync(area, { recursive: true, force: true });
});

test('two emperors with nothing but their sources; ps --emperor picks one, ps alone asks which', async () => {
  const a = start('--emperor', site('one', `alpha${tag}`, '77911'));
  const b = start('--emperor', site('two', `beta${tag}`, '77912'));
  for (const [e, name] of [[a, `alpha${tag}`], [b, `beta${tag}`]] as const) {
    await waitUntil(() => e.log().includes(`control socket /run/jailctl/emperors/${name}.sock`), `${name}'s control socket\n${e.log()}`);
    await waitUntil(() => pidsWith(name === `alpha${tag}` ? 'sleep 77911' : 'sleep 77912').length === 1, `${name}'s vassal`);
  }
  const ps = jailctl(['ps', '--emperor', `beta${tag}`, '--json']);
  assert.is(ps.status, 0, ps.stderr);
  const rows = JSON.parse(ps.stdout) as Array<{ name: string; config: string }>;
  assert.equal(rows.map((r) => r.config), [join(area, 'two', `beta${tag}`, 'web.ini')], 'beta\'s vassal only');
  const which = jailctl(['ps']);
  assert.is(which.status, 3, which.stdout);
  assert.match(which.stderr, /jailctl: \d+ emperors run \(.*: say which, with --emperor NAME/);
  assert.ok(which.stderr.includes(`alpha${tag}`) && which.stderr.includes(`beta${tag}`), which.stderr);
  await waitUntil(() => existsSync(`/var/log/jailctl/alpha${tag}/web.ini.log`), 'alpha logs into a directory of its name');
  const gone = jailctl(['ps', '--emperor', `gamma${tag}`]);
  assert.is(gone.status, 3);
  assert.match(gone.stderr, new RegExp(`no emperor answers at /run/jailctl/emperors/gamma${tag}\\.sock`));
});

test('a second emperor of the same name is refused with the fix; emperor-name gives it another', async () => {
  const twin = start('--emperor', site('three', `alpha${tag}`, '77913'));
  assert.is(await twin.exited, 125, twin.log());
  assert.match(twin.log(), new RegExp(`emperor-control-socket /run/jailctl/emperors/alpha${tag}\\.sock: another emperor \\(pid \\d+\\) serves it; give this one a name of its own \\(--emperor-name NAME\\)`));
  assert.equal(pidsWith('sleep 77913'), [], 'it started nothing');
  const named = start('--emperor', join(area, 'three', `alpha${tag}`), '--emperor-name', `gamma${tag}`);
  await waitUntil(() => pidsWith('sleep 77913').length === 1, `gamma's vassal\n${named.log()}`);
  const ps = jailctl(['ps', '--emperor', `gamma${tag}`]);
  assert.is(ps.status, 0, ps.stderr);
  assert.match(ps.stdout, /^web\.ini\s+running/m);
  const bad = start('--emperor', area, '--emperor-name', '../x');
  assert.is(await bad.exited, 125);
  assert.match(bad.log(), /emperor-name \.\.\/x: an emperor's name is 1 to 64 letters/);
});

test.run();
