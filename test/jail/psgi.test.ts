// The PSGI host (src/runtime/psgi) as a vassal under the real emperor: a Perl app in a jail
// with a prefork master, the emperor protocol, graceful reloads that refuse nothing, on
// demand through fd 0, heartbeats, and an app that cannot load blacklisted.
import { copyFileSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, sleep, waitUntil } from '../helpers/emperor';
import { descendants } from '../helpers/proc';
import { psgiProcesses, PSGI_FIXTURES } from '../helpers/psgi';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('PSGI host vassal');
const fx = emperorFixture(test, 0o755);

// GET over TCP (host:port) or a UNIX socket (a path), on a connection of its own unless keepAlive.
function get(address: string, path = '/', keepAlive = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = address.includes('/')
      ? { socketPath: address }
      : { host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) };
    const req = request({ ...target, path, headers: keepAlive ? {} : { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

function app(name = 'hello.psgi'): void {
  copyFileSync(join(PSGI_FIXTURES, name), join(fx.dir.dir, name));
}

test('a PSGI app with three workers answers as nobody; ready, accepting, then loyal', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  fx.dir.write('shop.ini', ini('unshare = fs,ipc,uts', 'uid = nobody', 'psgi = hello.psgi', `http-socket = ${address}`, 'processes = 3'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('shop.ini', (v) => v?.accepting === 1 && v.ready === 1, 'ready and accepting');
  const pids = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const body = await get(address, `/x${i}`);
    assert.match(body, new RegExp(`^200 hello from \\d+ uid 65534 path /x${i}\\n$`));
    pids.add(/from (\d+)/.exec(body)![1]!);
  }
  assert.ok(pids.size >= 1 && pids.size <= 3, `served by the workers: ${[...pids]}`);
  const procs = psgiProcesses(e.child.pid!);
  assert.is(procs.workers.length, 3, `three workers: ${JSON.stringify(procs)}`);
  assert.is(procs.masters.length, 1, 'one master');
  await e.waitForVassal('shop.ini', (v) => (v?.loyal ?? 0) > 0, 'loyal after the first request');
  assert.match(await get(address, '/stream', true), /^200 part 1\npart 2\npart 3\n$/, 'a streamed (chunked) response');
  assert.not.match(e.log(), /unknown option/);
});

test('touching the file under a stream of requests: a graceful reload, no request fails', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  const lines = ['unshare = fs', 'uid = nobody', 'psgi = hello.psgi', `http-socket = ${address}`, 'processes = 2'];
  fx.dir.write('api.ini', ini(...lines));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('api.ini', (v) => v?.accepting === 1, 'accepting');
  const jailPid = (await e.vassal('api.ini'))!.pid;
  let ok = 0;
  const failures: string[] = [];
  const workers = new Set<string>();
  let running = true;
  const clients = Array.from({ length: 3 }, async (_, c) => {
    for (let i = 0; running; i++) {
      try {
        // Half on keep-alive connections, as browsers and proxies talk.
        const body = await get(address, '/slow/5', (i + c) % 2 === 1);
        if (/^200 hello from \d+ /.test(body)) {
          ok++;
          workers.add(/from (\d+)/.exec(body)![1]!);
        } else failures.push(body);
      } catch (err: unknown) {
        failures.push(String(err));
      }
    }
  });
  for (let i = 0; i < 3; i++) {
    await sleep(400);
    const n = (e.log().match(/api\.ini: reloaded/g) ?? []).length;
    fx.dir.write('api.ini', `${ini(...lines)}; reload ${i}\n`);
    await e.waitForLog(new RegExp(`(api\\.ini: reloaded[\\s\\S]*){${n + 1}}`));
  }
  await sleep(400);
  running = false;
  await Promise.all(clients);
  assert.equal(failures, [], 'no request failed across three reloads');
  assert.ok(ok > 50, `requests served: ${ok}`);
  assert.ok(workers.size >= 4, `new workers took over: ${workers.size} distinct`);
  assert.is((await e.vassal('api.ini'))!.pid, jailPid, 'the jail itself stayed');
  assert.match(e.log(), /reloading: new workers first/);
});

test('removing the file stops the vassal: master and workers go', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  const file = fx.dir.write('gone.ini', ini('unshare = fs', 'psgi = hello.psgi', `http-socket = ${address}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('gone.ini', (v) => v?.accepting === 1, 'accepting');
  assert.is(psgiProcesses(e.child.pid!).workers.length, 2);
  require('node:fs').unlinkSync(file);
  await e.waitForVassal('gone.ini', (v) => v === undefined, 'removed');
  await waitUntil(() => psgiProcesses(e.child.pid!).all.length === 0, 'every PSGI process to leave');
  const after = await get(address).then((body) => `answered: ${body}`, (err: NodeJS.ErrnoException) => err.code);
  assert.is(after, 'ECONNREFUSED', 'nothing listens any more');
});

test('on demand: fd 0 is the socket; a net-less jail serves through it; die-on-idle goes back on demand', async () => {
  const address = join(fx.dir.dir, 'web.sock');
  app();
  fx.dir.write('web.ini', ini('unshare = fs,net,ipc,uts', 'uid = nobody', 'psgi = hello.psgi', 'idle = 1', 'die-on-idle = true'));
  fx.dir.write('web.ini.socket', `${address}\n`);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('web.ini', (v) => v?.state === 'on-demand', 'on demand');
  assert.is(psgiProcesses(e.child.pid!).all.length, 0, 'nothing runs before the first connection');
  for (let cycle = 1; cycle <= 2; cycle++) {
    assert.match(await get(address, `/cycle${cycle}`), new RegExp(`^200 hello from \\d+ uid 65534 path /cycle${cycle}\\n$`));
    await e.waitForLog(new RegExp(`(web\\.ini: exited with status 0; back to on demand[\\s\\S]*){${cycle}}`), 15000);
    await waitUntil(() => psgiProcesses(e.child.pid!).all.length === 0, 'nothing left running');
  }
  assert.match(e.log(), /idle for 1 s: leaving \(die-on-idle\)/);
});

test('idle without die-on-idle: the workers go; the next request brings them back', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  fx.dir.write('quiet.ini', ini('unshare = fs', 'psgi = hello.psgi', `http-socket = ${address}`, 'idle = 1', 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('quiet.ini', (v) => v?.accepting === 1, 'accepting');
  assert.match(await get(address), /^200 hello/);
  await e.waitForLog(/idle for 1 s: workers stopped until the next connection/);
  await waitUntil(() => psgiProcesses(e.child.pid!).workers.length === 0, 'the workers to leave');
  assert.is(psgiProcesses(e.child.pid!).masters.length, 1, 'the master waits');
  assert.match(await get(address, '/again'), /path \/again/, 'the connection waited in the backlog and was served');
  await e.waitForLog(/a connection: workers back/);
});

test('heartbeat keeps a vassal alive past emperor-required-heartbeat', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  fx.dir.write('beat.ini', ini('unshare = fs', 'psgi = hello.psgi', `http-socket = ${address}`, 'heartbeat = 1'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-required-heartbeat', '2']);
  const first = await e.waitForVassal('beat.ini', (v) => v?.accepting === 1 && v.last_heartbeat > 0, 'a first heartbeat');
  await sleep(5000);
  const v = (await e.vassal('beat.ini'))!;
  assert.is(v.pid, first!.pid, 'not killed as hung');
  assert.ok(v.last_heartbeat > first!.last_heartbeat, 'heartbeats kept coming');
  assert.not.match(e.log(), /beat\.ini: no heartbeat/);
  assert.match(await get(address), /^200 hello/);
});

test('an app that dies at load: the error is logged, the vassal is blacklisted, not respawned in a tight loop', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app('broken.psgi');
  fx.dir.write('broken.ini', ini('unshare = fs', 'psgi = broken.psgi', `http-socket = ${address}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-throttle', '200']);
  await e.waitForLog(/cannot load the app: .*no database configured/);
  await e.waitForVassal('broken.ini', (v) => v?.state === 'blacklisted', 'blacklisted', 30000);
  const starts = (e.log().match(/a worker died before it could serve/g) ?? []).length;
  assert.ok(starts >= 1 && starts < 20, `started ${starts} times before the blacklist`);
  assert.ok((await e.stats()).blacklist.some((b) => b.id === 'broken.ini'));
});

test.run();
