// The Node app server as a vassal: a tenant's request listener, in a jail, with workers,
// the emperor protocol, graceful reloads that refuse nothing, and cheap mode when idle.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, pidsWith, sleep, waitUntil } from '../helpers/emperor';
import { descendants } from '../helpers/proc';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('node app server vassal');
const fx = emperorFixture(test, 0o755);

// This emperor's app server processes: other emperors on the box (another test run) have theirs.
const appServers = (emperorPid: number): number[] =>
  descendants(emperorPid).map((p) => p.pid).filter((pid) => pidsWith('runtime/node/main').includes(pid));

const ESM_APP = `export default (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(\`pid=\${process.pid} uid=\${process.getuid()} url=\${req.url}\\n\`);
};
`;

// One request on its own connection (no keep-alive: a new connection must reach a worker).
async function get(port: number, path = '/'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return res.text();
}

// Keep-alive, as browsers and proxies talk: a retiring worker must not cut these either.
async function getKeepAlive(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/`)).text();
}

test('an ESM app with two workers answers as nobody, and reports accepting and loyal', async () => {
  const port = await freePort();
  fx.dir.write('server.mjs', ESM_APP);
  fx.dir.write('shop.ini', ini('unshare = fs,pid,ipc,uts', 'uid = nobody', 'app = server.mjs', `http-socket = 127.0.0.1:${port}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('shop.ini', (v) => v?.accepting === 1 && v.ready === 1, 'accepting');
  const pids = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const body = await get(port, `/x${i}`);
    assert.match(body, new RegExp(`^pid=\\d+ uid=65534 url=/x${i}\\n$`));
    pids.add(/pid=(\d+)/.exec(body)![1]!);
  }
  assert.ok(pids.size >= 1 && pids.size <= 2, `served by the workers: ${[...pids]}`);
  assert.is(appServers(e.child.pid!).length, 3, 'a master and two workers');
  await e.waitForVassal('shop.ini', (v) => (v?.loyal ?? 0) > 0, 'loyal after the first request');
  assert.not.match(e.log(), /unknown option/);
});

test('a CommonJS app works too; a graceful reload under load refuses nothing', async () => {
  const port = await freePort();
  fx.dir.write('server.cjs', 'module.exports = (req, res) => res.end(`ok ${process.pid}\\n`);\n');
  fx.dir.write('api.ini', ini('unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('api.ini', (v) => v?.accepting === 1, 'accepting');
  const jailPid = (await e.vassal('api.ini'))!.pid;
  let ok = 0;
  const failures: string[] = [];
  const workers = new Set<string>();
  let running = true;
  const load = (async () => {
    while (running) {
      try {
        const body = ok % 2 ? await getKeepAlive(port) : await get(port);
        if (/^ok \d+\n$/.test(body)) {
          ok++;
          workers.add(body);
        } else failures.push(body);
      } catch (err: unknown) {
        failures.push(String((err as Error).cause ?? err));
      }
    }
  })();
  for (let i = 0; i < 3; i++) {
    await sleep(300);
    const n = (e.log().match(/api\.ini: reloaded/g) ?? []).length;
    fx.dir.write('api.ini', `${ini('unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`, 'processes = 2')}; reload ${i}\n`);
    await e.waitForLog(new RegExp(`(api\\.ini: reloaded[\\s\\S]*){${n + 1}}`));
  }
  await sleep(300);
  running = false;
  await load;
  assert.equal(failures, [], 'no request failed across three reloads');
  assert.ok(ok > 50, `requests served: ${ok}`);
  assert.ok(workers.size >= 4, `new workers took over: ${workers.size} distinct`);
  assert.is((await e.vassal('api.ini'))!.pid, jailPid, 'the jail itself stayed');
});

test('an app that throws at load: its stack is logged, the vassal is blacklisted', async () => {
  const port = await freePort();
  fx.dir.write('broken.mjs', 'throw new Error("no database configured");\n');
  fx.dir.write('broken.ini', ini('unshare = pid', 'app = broken.mjs', `http-socket = 127.0.0.1:${port}`));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-throttle', '200']);
  // Its stack, line by line, each echoed as `[broken.ini] …` by the emperor (and kept in its log).
  await e.waitForLog(/cannot load the app: Error: no database configured\n\S+ \[\S+\.ini\]\s+at /);
  await e.waitForVassal('broken.ini', (v) => v?.state === 'blacklisted', 'blacklisted');
});

test('idle: the workers go after N seconds; the next request brings them back and is served', async () => {
  const port = await freePort();
  fx.dir.write('server.mjs', ESM_APP);
  fx.dir.write('quiet.ini', ini('unshare = fs,pid', 'app = server.mjs', `http-socket = 127.0.0.1:${port}`, 'idle = 1', 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('quiet.ini', (v) => v?.accepting === 1, 'accepting');
  assert.match(await get(port), /^pid=/);
  await e.waitForLog(/idle for 1 s: workers stopped until the next connection/);
  // Only the master is left: the app server's processes all run main.ts, the master with --ini.
  await waitUntil(() => appServers(e.child.pid!).length === 1, 'the workers to leave');
  assert.match(readFileSync(`/proc/${appServers(e.child.pid!)[0]}/cmdline`, 'utf8'), /--ini/);
  assert.match(await get(port, '/again'), /url=\/again/, 'the connection waited in the backlog and was served');
  await e.waitForLog(/a connection: workers back/);
});

test('a reload whose new workers cannot serve leaves the old ones serving', async () => {
  const port = await freePort();
  // The app refuses to load once the file `broken` is there: only the new generation sees it.
  fx.dir.write('server.cjs', "if (require('fs').existsSync(__dirname + '/broken')) throw new Error('cannot load');\nmodule.exports = (req, res) => res.end(`ok ${process.pid}\\n`);\n");
  fx.dir.write('api.ini', ini('unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('api.ini', (v) => v?.accepting === 1, 'accepting');
  const jailPid = (await e.vassal('api.ini'))!.pid;
  // Both workers loaded (accepting is said at the first): each has answered.
  const seen = new Set<string>();
  const end = Date.now() + 10000;
  while (seen.size < 2 && Date.now() < end) seen.add(/^ok (\d+)\n$/.exec(await get(port))![1]!);
  assert.is(seen.size, 2, 'both old workers serve');
  fx.dir.write('broken', '');
  fx.dir.write('api.ini', ini('unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`, 'processes = 3'));
  await e.waitForLog(/\[api\.ini\] .*reload failed: a new worker died before it could serve \(status 1\); the 2 old worker\(s\) keep serving the previous config/);
  await e.waitForVassal('api.ini', (v) => v?.state === 'running', 'running again');
  for (let i = 0; i < 20; i++) assert.match(await get(port), /^ok \d+\n$/, 'still served');
  assert.is((await e.vassal('api.ini'))!.pid, jailPid, 'the same jail');
});

// Which process answered: the master serving the app itself, or a forked worker.
const ROLE_APP = "module.exports = (req, res) => {\n  if (req.url === '/throw') setTimeout(() => { throw new Error('the app broke'); }, 50);\n  res.end(`${process.env.JAIL_APP_WORKER ? 'worker' : 'master'} ${process.pid}\\n`);\n};\n";

test('processes = 1: the master serves the app itself; reloads under load hand over to a worker and refuse nothing', async () => {
  const port = await freePort();
  fx.dir.write('server.cjs', ROLE_APP);
  const lines = ['unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`];
  fx.dir.write('one.ini', ini(...lines));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('one.ini', (v) => v?.accepting === 1 && v.ready === 1, 'accepting');
  assert.match(await get(port), /^master \d+\n$/);
  assert.is(appServers(e.child.pid!).length, 1, 'one process: no worker was forked');
  const jailPid = (await e.vassal('one.ini'))!.pid;
  const answers = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  const load = Array.from({ length: 3 }, async (_, i) => {
    while (running) {
      try {
        const body = i === 0 ? await getKeepAlive(port) : await get(port);
        const role = /^(master|worker) \d+\n$/.exec(body)?.[1];
        if (role) answers.set(role, (answers.get(role) ?? 0) + 1);
        else failures.push(body);
      } catch (err: unknown) {
        failures.push(String((err as Error).cause ?? err));
      }
    }
  });
  for (let i = 0; i < 3; i++) {
    await sleep(300);
    const n = (e.log().match(/one\.ini: reloaded/g) ?? []).length;
    fx.dir.write('one.ini', `${ini(...lines)}; reload ${i}\n`);
    await e.waitForLog(new RegExp(`(one\\.ini: reloaded[\\s\\S]*){${n + 1}}`));
  }
  await sleep(300);
  running = false;
  await Promise.all(load);
  assert.equal(failures, [], 'no request failed across three reloads');
  assert.ok((answers.get('master') ?? 0) > 0 && (answers.get('worker') ?? 0) > 0, `served by both: ${[...answers]}`);
  assert.match(await get(port), /^worker \d+\n$/, 'new code runs in a fresh process');
  await waitUntil(() => appServers(e.child.pid!).length === 2, 'the master and one worker');
  assert.is((await e.vassal('one.ini'))!.pid, jailPid, 'the jail itself stayed');
});

test('processes = 1: an app that throws while the master serves it is logged, and a worker takes over', async () => {
  const port = await freePort();
  fx.dir.write('server.cjs', ROLE_APP);
  fx.dir.write('brittle.ini', ini('unshare = fs,pid', 'uid = nobody', 'app = server.cjs', `http-socket = 127.0.0.1:${port}`));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('brittle.ini', (v) => v?.accepting === 1, 'accepting');
  const jailPid = (await e.vassal('brittle.ini'))!.pid;
  assert.match(await get(port, '/throw'), /^master \d+\n$/);
  await e.waitForLog(/the app threw: Error: the app broke/);
  await e.waitForLog(/died \(status 1\); replacing it/);
  await waitUntil(async () => /^worker \d+\n$/.test(await get(port)), 'a forked worker to answer');
  assert.is((await e.vassal('brittle.ini'))!.pid, jailPid, 'the same jail');
});

test.run();
