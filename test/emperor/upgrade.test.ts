// `jailctl emperor --upgrade`: the emperor re-executes itself (same pid) and takes its
// running jails back. Under load on 20 vassals (one on demand): no request fails and every
// vassal keeps its pid; the new emperor supervises them (a stop, a crash); and one that is
// SIGKILLed afterwards still takes every jail with it.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl, ROOT } from '../helpers/cli';
import { alive, emperorFixture, freePort, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor upgrade in place');
const fx = emperorFixture(test, 0o755);

const APP = 'export default (req, res) => res.end(`app ${process.pid}\\n`);\n';
const HTTPD = 19;

// One GET on a connection of its own; the body, or why it failed.
async function get(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(10_000) });
    return `${res.status} ${await res.text()}`;
  } catch (err: unknown) {
    return `failed: ${String((err as Error).cause ?? err)}`;
  }
}

interface Site {
  readonly name: string;
  readonly port: number;
}

// 19 busybox httpd vassals and one Node app on demand, all answering.
async function twentySites(): Promise<{ e: RunningEmperor; sites: Site[] }> {
  const www = join(fx.dir.dir, 'www');
  mkdirSync(www);
  fx.dir.write('www/index.html', 'hello\n');
  fx.dir.write('server.mjs', APP);
  const sites: Site[] = [];
  for (let i = 0; i < HTTPD; i++) {
    const port = await freePort();
    const name = `site${i}.ini`;
    fx.dir.write(name, ini('unshare = fs,pid,ipc,uts', `unprivileged-binary-patch-arg = busybox httpd -f -p 127.0.0.1:${port} -h ${www}`));
    sites.push({ name, port });
  }
  const port = await freePort();
  fx.dir.write('lazy.ini', ini('unshare = fs,pid,net,ipc,uts', 'uid = nobody', 'app = server.mjs'));
  fx.dir.write('lazy.ini.socket', `127.0.0.1:${port}\n`);
  sites.push({ name: 'lazy.ini', port });
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket', '--emperor-freq', '1']);
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'on-demand', 'on demand');
  for (const s of sites) await waitUntil(async () => (await get(s.port)).startsWith('200 '), `${s.name} answering`, 15_000);
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'running', 'running (its first request spawned it)');
  return { e, sites };
}

const pidsOf = async (e: RunningEmperor): Promise<Record<string, number>> =>
  Object.fromEntries((await e.stats()).vassals.map((v) => [v.id, v.pid]));

function upgrade(e: RunningEmperor): ReturnType<typeof jailctl> {
  return jailctl(['emperor', '--upgrade', '--emperor-control-socket', e.controlPath], { timeout: 60_000 });
}

test('an upgrade under load on 20 vassals (one on demand) fails no request, keeps every pid, and the new emperor supervises them', async () => {
  const { e, sites } = await twentySites();
  const before = await pidsOf(e);
  assert.is(Object.keys(before).length, 20);
  assert.ok(Object.values(before).every((pid) => pid > 0), JSON.stringify(before));
  const emperorPid = e.child.pid!;

  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const load = Promise.all(sites.map(async (s) => {
    while (running) {
      const body = await get(s.port);
      if (body.startsWith('200 ')) ok++;
      else failures.push(`${s.name}: ${body}`);
    }
  }));
  await sleep(500);
  const atUpgrade = ok;
  const r = upgrade(e);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}\n${e.log().slice(-4000)}`);
  assert.match(r.stdout, new RegExp(`upgraded in place \\(pid ${emperorPid}, .*took back 20 vassal\\(s\\), 20 jail\\(s\\) running on, none restarted`));
  await sleep(1000);
  running = false;
  await load;
  assert.equal(failures, [], 'no request failed across the upgrade');
  assert.ok(ok > atUpgrade + 20, `requests served after the upgrade began: ${ok - atUpgrade}`);

  assert.is((await e.stats()).pid, emperorPid, 'the same emperor process');
  assert.equal(await pidsOf(e), before, 'every vassal kept its pid');
  assert.match(e.log(), /upgrade: handing 20 vassal\(s\) over and executing /);
  assert.is((e.log().match(/\[emperor\] watching /g) ?? []).length, 2, 'the emperor started again (its new code)');
  assert.not.match(e.log(), /: running \(pid [\s\S]*upgraded in place[\s\S]*: running \(pid/, 'no jail launched after the upgrade');

  // The new emperor supervises what it took back: a stop, a crash, an on-demand return.
  const stop = jailctl(['stop', 'site0.ini', '--socket', e.controlPath]);
  assert.is(stop.status, 0, stop.stderr);
  await waitUntil(() => !alive(before['site0.ini']!), 'site0\'s jail gone');
  assert.is((await e.vassal('site0.ini'))?.state, 'stopped');
  process.kill(before['site1.ini']!, 'SIGKILL');
  await e.waitForVassal('site1.ini', (v) => (v?.pid ?? 0) > 0 && v!.pid !== before['site1.ini'], 'site1 respawned after its crash');
  assert.ok((await get(sites[1]!.port)).startsWith('200 '));
  assert.ok((await get(sites[HTTPD]!.port)).startsWith('200 app '), 'the on-demand vassal serves through the socket the old emperor held');
});

test('an emperor SIGKILLed after an upgrade still takes every jail with it', async () => {
  const { e } = await twentySites();
  const r = upgrade(e);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  const pids = Object.values(await pidsOf(e));
  assert.ok(pids.every((pid) => pid > 0 && alive(pid)));
  e.child.kill('SIGKILL');
  await e.exited;
  await waitUntil(() => pids.every((pid) => !alive(pid) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')), 'every jail gone with the emperor', 10_000);
});

// The program file an emperor runs, as a test's "installed version" of jailctl: an upgrade
// execs it again (its pre-flight first). `broken` lines come after jailctl is loaded.
function writeVersion(broken = ''): string {
  return fx.dir.write('version.ts', `import { main } from '${ROOT}/src/cli/jailctl';\n${broken}\nvoid main(process.argv);\n`);
}

// Three busybox httpd vassals answering, under an emperor run from version.ts with --ini emperor.ini.
async function threeSites(): Promise<{ e: RunningEmperor; sites: Site[] }> {
  mkdirSync(join(fx.dir.dir, 'www'));
  fx.dir.write('www/index.html', 'hello\n');
  const sites: Site[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    fx.dir.write(`site${i}.ini`, ini('unshare = fs,pid,ipc,uts', `unprivileged-binary-patch-arg = busybox httpd -f -p 127.0.0.1:${port} -h ${join(fx.dir.dir, 'www')}`));
    sites.push({ name: `site${i}.ini`, port });
  }
  mkdirSync(join(fx.dir.dir, 'conf'));
  fx.dir.write('conf/emperor.ini', '[jail]\nemperor-freq = 1\n');
  const e = fx.start(['--emperor', fx.dir.dir, '--ini', join(fx.dir.dir, 'conf', 'emperor.ini')], [], writeVersion());
  for (const s of sites) await waitUntil(async () => (await get(s.port)).startsWith('200 '), `${s.name} answering`, 15_000);
  return { e, sites };
}

test('an upgrade to a version that cannot start (a missing module, a module that throws, a config it refuses) is refused, and every jail runs on', async () => {
  const { e, sites } = await threeSites();
  const before = await pidsOf(e);
  const refused = async (what: RegExp): Promise<void> => {
    const r = upgrade(e);
    assert.is(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, what);
    assert.match(r.stderr, /not upgraded, nothing changed: the new version failed its pre-flight \(stage exit\): .*fix that and run jailctl emperor --upgrade again/s);
    assert.equal(await pidsOf(e), before, 'every vassal kept its pid');
    for (const s of sites) assert.ok((await get(s.port)).startsWith('200 '), `${s.name} answers`);
    assert.is((await e.stats()).pid, e.child.pid, 'the same emperor, not restarted');
  };
  writeVersion("import './no-such-module';");
  await refused(/it exited with status 1; its stderr: .*Cannot find module '\.\/no-such-module'/s);
  writeVersion("throw new Error('a module of the new version throws at load');");
  await refused(/its stderr: .*a module of the new version throws at load/s);
  writeVersion();
  fx.dir.write('conf/emperor.ini', '[jail]\nemperor-freq = often\n');
  await refused(/it exited with status 125; its stderr: jailctl: .*emperor-freq/s);
  assert.is((e.log().match(/\[emperor\] watching /g) ?? []).length, 1, 'the old emperor never exec\'d');
  assert.match(e.log(), /upgrade: not upgraded, nothing changed: the new version failed its pre-flight \(stage exit\)/);
  // Still supervising: a crash is respawned by the old emperor.
  process.kill(before['site0.ini']!, 'SIGKILL');
  await e.waitForVassal('site0.ini', (v) => (v?.pid ?? 0) > 0 && v!.pid !== before['site0.ini'], 'site0 respawned after its crash');
  await waitUntil(async () => (await get(sites[0]!.port)).startsWith('200 '), 'site0 answering again', 15_000);
  const again = await pidsOf(e);

  fx.dir.write('conf/emperor.ini', '[jail]\nemperor-freq = 1\n');
  const r = upgrade(e);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}\n${e.log().slice(-3000)}`);
  assert.match(r.stdout, /took back 3 vassal\(s\), 3 jail\(s\) running on, none restarted/);
  assert.equal(await pidsOf(e), again);
  assert.match(e.log(), /upgrade: pre-flight passed \(version /);
});

test('a non-root caller may not upgrade the emperor', async () => {
  fx.dir.write('one.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 78301'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('one.ini', (v) => v?.state === 'running', 'running');
  const pid = (await e.vassal('one.ini'))!.pid;
  const r = jailctl(['emperor', '--upgrade', '--emperor-control-socket', e.controlPath], { wrap: ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'] });
  assert.is(r.status, 1);
  assert.match(r.stderr, /only root may upgrade the emperor/);
  assert.is((await e.vassal('one.ini'))!.pid, pid);
});

test.run();
