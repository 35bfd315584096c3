// On-demand vassals: the emperor holds the socket, nothing runs until a connection comes,
// the connection waits in the backlog (never refused), the vassal gets the socket as fd 0,
// and after die-on-idle it is on demand again. TCP and UNIX sockets, all three options.
import { readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, pidsWith, sleep, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('on-demand vassals');
const fx = emperorFixture(test, 0o755);

// GET over TCP (host:port) or a UNIX socket (a path), on a connection of its own.
function get(address: string, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = address.includes('/')
      ? { socketPath: address }
      : { host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) };
    const req = request({ ...target, path, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

const APP = 'export default (req, res) => res.end(`served ${req.url} by ${process.pid} as ${process.getuid()}\\n`);\n';
// This test's app servers only (their cwd is its directory): other emperors on the host may
// run app servers of their own meanwhile.
const appServers = (): number => pidsWith('runtime/node/main').filter((pid) => cwdOf(pid) === fx.dir.dir).length;

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') return undefined; // gone, or going
    throw err;
  }
}

// A vassal with an empty network namespace: it can only serve through the socket it is given.
function writeVassal(name: string, ...extra: string[]): string {
  fx.dir.write('server.mjs', APP);
  return fx.dir.write(name, ini('unshare = fs,pid,net,ipc,uts', 'uid = nobody', 'app = server.mjs', ...extra));
}

async function firstRequestSpawns(name: string, address: string, args: string[]): Promise<void> {
  const e = fx.start(['--emperor', fx.dir.dir, ...args]);
  await e.waitForVassal(name, (v) => v?.state === 'on-demand', 'on demand');
  assert.is(appServers(), 0, 'nothing runs before the first connection');
  assert.is((await e.vassal(name))!.on_demand, address);
  assert.match(await get(address, '/first'), /^200 served \/first by \d+ as 65534\n$/);
  await e.waitForVassal(name, (v) => v?.state === 'running', 'running');
  assert.ok(appServers() >= 1);
}

for (const kind of ['TCP', 'UNIX'] as const) {
  test(`emperor-on-demand-extension, ${kind}: web.ini.socket names the socket; a net-less jail serves through it`, async () => {
    const address = kind === 'TCP' ? `127.0.0.1:${await freePort()}` : join(fx.dir.dir, 'web.sock');
    writeVassal('web.ini');
    fx.dir.write('web.ini.socket', `${address}\n`);
    fx.dir.write('plain.ini', ini('unprivileged-binary-patch-arg = sleep 86440')); // no .socket file: started at once
    await firstRequestSpawns('web.ini', address, ['--emperor-on-demand-extension', '.socket']);
    await waitUntil(() => pidsWith('sleep 86440').length === 1, 'the vassal that is not on demand');
  });

  test(`emperor-on-demand-exec, ${kind}: the command's output names the socket`, async () => {
    const address = kind === 'TCP' ? `127.0.0.1:${await freePort()}` : join(fx.dir.dir, 'exec.sock');
    writeVassal('api.ini');
    const script = fx.dir.write('where.sh', `#!/bin/sh\n# $1 is the vassal file\n[ "$(basename "$1")" = api.ini ] && echo ${address}\n`);
    await firstRequestSpawns('api.ini', address, ['--emperor-on-demand-exec', `sh ${script}`]);
  });
}

test('emperor-on-demand-directory (UNIX, by construction): DIR/NAME.socket', async () => {
  const sockets = join(fx.dir.dir, 'sockets');
  require('node:fs').mkdirSync(sockets);
  writeVassal('blog.ini');
  await firstRequestSpawns('blog.ini', join(sockets, 'blog.socket'), ['--emperor-on-demand-directory', sockets]);
});

test('die-on-idle sends the vassal back on demand; the next request spawns it again, five times', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  writeVassal('shop.ini', 'idle = 1', 'die-on-idle = true');
  fx.dir.write('shop.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('shop.ini', (v) => v?.state === 'on-demand', 'on demand');
  const pids = new Set<string>();
  for (let cycle = 1; cycle <= 5; cycle++) {
    const body = await get(address, `/cycle${cycle}`);
    assert.match(body, new RegExp(`^200 served /cycle${cycle} by`));
    pids.add(body);
    await e.waitForLog(new RegExp(`(shop\\.ini: exited with status 0; back to on demand[\\s\\S]*){${cycle}}`), 10000);
    await waitUntil(() => appServers() === 0, 'nothing left running');
  }
  assert.is(pids.size, 5);
  assert.is((await e.vassal('shop.ini'))!.state, 'on-demand');
});

test('a vassal that binds the on-demand socket itself gets an error naming the line', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  writeVassal('twice.ini', `http-socket = ${address}`);
  fx.dir.write('twice.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  const v = await e.waitForVassal('twice.ini', (x) => x?.state === 'failed', 'failed at once, not at the first connection');
  assert.match(v!.launch_error!, `twice.ini:5: http-socket = ${address} is the on-demand socket the emperor already holds for this vassal; remove the line`);
});

test('an unmodified uWSGI (protocol = http, idle, die-on-idle) runs on demand, twice', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  fx.dir.write('hello.psgi', 'my $app = sub { return [200, ["Content-Type" => "text/plain"], ["psgi $$\\n"]]; };\n');
  fx.dir.write('psgi.ini', [
    '[uwsgi]', 'plugins = psgi', `psgi = ${join(fx.dir.dir, 'hello.psgi')}`, 'protocol = http', 'master = true',
    'processes = 1', 'idle = 1', 'die-on-idle = true', 'unshare = ipc,uts', 'uid = nobody', '',
  ].join('\n'));
  fx.dir.write('psgi.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket', '--binary-path', '/usr/bin/uwsgi']);
  await e.waitForVassal('psgi.ini', (v) => v?.state === 'on-demand', 'on demand');
  for (let cycle = 1; cycle <= 2; cycle++) {
    assert.match(await get(address), /^200 psgi \d+\n$/);
    await e.waitForLog(new RegExp(`(psgi\\.ini: exited with status 0; back to on demand[\\s\\S]*){${cycle}}`), 15000);
    assert.equal(pidsWith('uwsgi'), [], 'no uWSGI process while on demand');
  }
});

test('no request fails across ten reloads under load: the emperor holds the socket throughout', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const lines = ['processes = 2'];
  writeVassal('busy.ini', ...lines);
  fx.dir.write('busy.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('busy.ini', (v) => v?.state === 'on-demand', 'on demand');
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const clients = Array.from({ length: 4 }, async () => {
    while (running || ok < 1000) {
      try {
        const body = await get(address);
        if (body.startsWith('200 served')) ok++;
        else failures.push(body);
      } catch (err: unknown) {
        failures.push(String(err));
      }
      if (!running && ok >= 1000) break;
    }
  });
  for (let i = 0; i < 10; i++) {
    await sleep(150);
    writeVassal('busy.ini', ...lines, `; reload ${i}`);
    await e.waitForLog(new RegExp(`(busy\\.ini: (reloaded|config changed)[\\s\\S]*){${i + 1}}`));
  }
  running = false;
  await Promise.all(clients);
  assert.equal(failures, [], 'every request succeeded');
  assert.ok(ok >= 1000, `${ok} requests`);
});

// Connects, and says how that went: `connected`, or the errno.
function dial(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('a file changed to bind its own on-demand socket: refused at its next start, and the socket closed (clients refused, never left waiting)', async () => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  fx.dir.write('lazy.ini.socket', address);
  fx.dir.write('lazy.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 2'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'on-demand', 'on demand');
  assert.is(await dial(port), 'connected');
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'running', 'running');
  fx.dir.write('lazy.ini', ini('unshare = fs,pid', `socket = ${address}`, 'unprivileged-binary-patch-arg = sleep 2'));
  await e.waitForLog(/lazy\.ini: \S+lazy\.ini:3: socket = 127\.0\.0\.1:\d+ is the on-demand socket the emperor already holds .*; the running vassal keeps its previous config/);
  // Once sleep 2 is done it is on demand again, and the next connection (the first one's,
  // still in the backlog, or this one) starts it from the file as it is now: refused.
  await e.waitForLog(/lazy\.ini: exited with status 0; back to on demand/);
  void dial(port);
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'failed', 'failed');
  assert.is(await dial(port), 'ECONNREFUSED', 'nothing holds the socket of a failed vassal');
  // Fixed: on demand again.
  fx.dir.write('lazy.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 2'));
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'on-demand', 'on demand again');
  assert.is(await dial(port), 'connected');
});

test.run();
