// Monitors on real directories: inotify events within the same second, ignored files,
// symlinks with and without nofollow, glob patterns, and the spec syntax.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, lutimesSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createMonitor, MonitorSpecError } from '../../../src/monitors';
import { DirMonitor } from '../../../src/monitors/dir';
import { GlobMonitor } from '../../../src/monitors/glob';
import type { Monitor, MonitorEvent } from '../../../src/monitors/types';
import { thrown } from '../../helpers/thrown';

const test = suite('monitors');
let dir: string;
let monitor: Monitor | undefined;
const events: string[] = [];
const quiet = { freq: 3600, nofollow: false, warn: () => undefined };

function record(e: MonitorEvent): void {
  events.push(`${e.kind} ${e.source.name}`);
}

async function waitForEvents(n: number): Promise<string[]> {
  for (let i = 0; i < 200 && events.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return events.splice(0);
}

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-monitor-'));
  events.length = 0;
});
test.after.each(() => {
  monitor?.close();
  monitor = undefined;
  rmSync(dir, { recursive: true, force: true });
});

test('dir: existing files at start, then rename-in, sub-second touch and rm through inotify alone', async () => {
  writeFileSync(join(dir, 'a.ini'), '[jail]\n');
  monitor = new DirMonitor(dir, quiet); // an hour between rescans: only inotify can see what follows
  monitor.start(record);
  assert.equal(await waitForEvents(1), ['add a.ini']);
  writeFileSync(join(dir, '.b.tmp'), 'jail: {}\n');
  renameSync(join(dir, '.b.tmp'), join(dir, 'b.yaml'));
  assert.equal(await waitForEvents(1), ['add b.yaml']);
  const m = statSync(join(dir, 'a.ini')).mtime;
  utimesSync(join(dir, 'a.ini'), m, new Date(m.getTime() + 1)); // 1 ms later: same second
  assert.equal(await waitForEvents(1), ['change a.ini']);
  rmSync(join(dir, 'b.yaml'));
  assert.equal(await waitForEvents(1), ['remove b.yaml']);
});

test('dir: skeletons, editor files and dotfiles are no vassals', async () => {
  for (const f of ['app.skel', '.web.ini.swp', 'web.ini~', '.#web.ini', 'notes.txt', 'c.json']) writeFileSync(join(dir, f), '{}');
  mkdirSync(join(dir, 'd.ini'));
  monitor = new DirMonitor(dir, quiet);
  monitor.start(record);
  assert.equal(await waitForEvents(1), ['add c.json']);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(events, []);
});

test('dir: a symlink follows its target\'s mtime; with nofollow, its own', async () => {
  writeFileSync(join(dir, 'app.skel'), '[jail]\n');
  symlinkSync(join(dir, 'app.skel'), join(dir, 'one.ini'));
  symlinkSync(join(dir, 'app.skel'), join(dir, 'two.ini'));
  const follow = new DirMonitor(dir, quiet);
  const nofollow = new DirMonitor(dir, { ...quiet, nofollow: true });
  const a: string[] = [];
  const b: string[] = [];
  follow.start((e) => a.push(`${e.kind} ${e.source.name}`));
  nofollow.start((e) => b.push(`${e.kind} ${e.source.name}`));
  a.length = b.length = 0;
  const t = new Date(Date.now() + 10_000);
  lutimesSync(join(dir, 'one.ini'), t, t);
  follow.rescan();
  nofollow.rescan();
  assert.equal(a, [], 'the target did not change');
  assert.equal(b, ['change one.ini'], 'only the touched link');
  utimesSync(join(dir, 'app.skel'), t, t);
  follow.rescan();
  assert.equal(a.sort(), ['change one.ini', 'change two.ini'], 'both links follow the skeleton');
  follow.close();
  nofollow.close();
});

test('dir: a directory that appears later is picked up by the rescan', async () => {
  const later = join(dir, 'later');
  monitor = new DirMonitor(later, { ...quiet, freq: 0.1 });
  monitor.start(record);
  mkdirSync(later);
  writeFileSync(join(later, 'x.ini'), '[jail]\n');
  assert.equal(await waitForEvents(1), ['add x.ini']);
});

test('glob: wildcards in directories; a new matching directory is watched at once', async () => {
  mkdirSync(join(dir, 'blog'));
  writeFileSync(join(dir, 'blog', 'blog.ini'), '[jail]\n');
  writeFileSync(join(dir, 'blog', 'other.txt'), '');
  monitor = new GlobMonitor(`${dir}/*/*.ini`, quiet);
  monitor.start(record);
  assert.equal(await waitForEvents(1), ['add blog.ini']);
  mkdirSync(join(dir, 'wiki'));
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(dir, 'wiki', 'wiki.ini'), '[jail]\n');
  assert.equal(await waitForEvents(1), ['add wiki.ini']);
  const m = statSync(join(dir, 'wiki', 'wiki.ini')).mtime;
  utimesSync(join(dir, 'wiki', 'wiki.ini'), m, new Date(m.getTime() + 1));
  assert.equal(await waitForEvents(1), ['change wiki.ini'], 'a touch is seen through inotify, not the hourly rescan');
  rmSync(join(dir, 'blog'), { recursive: true });
  assert.equal(await waitForEvents(1), ['remove blog.ini']);
});

test('specs: dir://, glob://, a bare directory, a bare pattern; mistakes explained', () => {
  assert.instance(createMonitor(`dir://${dir}`, quiet), DirMonitor);
  assert.instance(createMonitor(dir, quiet), DirMonitor);
  assert.instance(createMonitor(`glob://${dir}/*.ini`, quiet), GlobMonitor);
  assert.instance(createMonitor(`${dir}/*.ini`, quiet), GlobMonitor);
  assert.is(createMonitor(`${dir}/*.ini`, quiet).spec, `glob://${dir}/*.ini`);
  assert.match(thrown(() => createMonitor('mysql://db', quiet), MonitorSpecError).message, 'unknown monitor `mysql://`; jailctl knows dir://, glob:// and pg://');
  assert.match(thrown(() => createMonitor('pg://db', quiet), MonitorSpecError).message, 'expected pg://CONNINFO;QUERY');
  writeFileSync(join(dir, 'web.ini'), '');
  assert.match(thrown(() => createMonitor(join(dir, 'web.ini'), quiet), MonitorSpecError).message, 'is a file, not a directory of vassals');
});

test.run();
