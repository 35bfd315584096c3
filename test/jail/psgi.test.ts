// The PSGI host (src/runtime/psgi) as a vassal under the real emperor: a Perl app in a jail
// with a prefork master, the emperor protocol, graceful reloads that refuse nothing, on
// demand through fd 0, heartbeats, and an app that cannot load blacklisted.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { alive, emperorFixture, freePort, sleep, waitUntil } from '../helpers/emperor';
import { descendants } from '../helpers/proc';
import { adoptionRequest, keyvals, psgiProcesses, PSGI_FIXTURES, readBytes, readUntilEof, sendRequest, waitClosed } from '../helpers/psgi';
import { binding } from '../../src/native/binding';
import { configPacket } from '../../src/emperor/protocol';
import { jailexecLibrary, PSGI_HOST } from '../../src/runtime/psgi/command';
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

test('a worker that dies is replaced; a reload whose new workers cannot load leaves the old ones serving', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app('maybe.psgi');
  const lines = ['unshare = fs', 'uid = nobody', 'psgi = maybe.psgi', `http-socket = ${address}`];
  fx.dir.write('api.ini', ini(...lines, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('api.ini', (v) => v?.accepting === 1, 'accepting');
  const jailPid = (await e.vassal('api.ini'))!.pid;
  const [victim] = psgiProcesses(e.child.pid!).workers;
  process.kill(victim!, 'SIGKILL');
  await e.waitForLog(/worker \d+ died \(signal 9\); replacing it/);
  await waitUntil(() => psgiProcesses(e.child.pid!).workers.length === 2 && !psgiProcesses(e.child.pid!).workers.includes(victim!), 'a new worker');
  // It has loaded the app once it answers (by its pid in the jail), not before: only then
  // may the app break, or the replacement itself would fail to load.
  const fresh = psgiProcesses(e.child.pid!).workers.find((p) => p !== victim)!;
  const inJail = readFileSync(`/proc/${fresh}/status`, 'utf8').match(/^NSpid:.*\t(\d+)$/m)![1];
  for (let i = 0; !(await get(address)).includes(`ok ${inJail}\n`); i++) assert.ok(i < 500, 'the replacement worker serves');
  fx.dir.write('broken', '');
  fx.dir.write('api.ini', ini(...lines, 'processes = 3'));
  await e.waitForLog(/reload failed: a new worker died before it could serve \(status 1\); the 2 old worker\(s\) keep serving the previous config/);
  await e.waitForVassal('api.ini', (v) => v?.state === 'running', 'running again');
  for (let i = 0; i < 20; i++) assert.match(await get(address), /^200 ok \d+\n$/, 'still served');
  assert.is(psgiProcesses(e.child.pid!).workers.length, 2, 'the two old workers');
  assert.is((await e.vassal('api.ini'))!.pid, jailPid, 'the same jail');
});

test('removing the file stops the vassal: master and workers go', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  const file = fx.dir.write('gone.ini', ini('unshare = fs', 'psgi = hello.psgi', `http-socket = ${address}`, 'processes = 2'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('gone.ini', (v) => v?.accepting === 1, 'accepting');
  assert.is(psgiProcesses(e.child.pid!).workers.length, 2);
  unlinkSync(file);
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

test('on its own (--ini FILE): serves, SIGHUP reloads without refusing a request, SIGTERM stops it with its workers', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  app();
  // Relative to the file's directory, as under `jailctl run`.
  const file = fx.dir.write('alone.ini', ['[uwsgi]', 'psgi = hello.psgi', `http-socket = ${address}`, 'processes = 2', ''].join('\n'));
  const host = spawn('/usr/bin/perl', [PSGI_HOST, '--ini', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  host.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((r) => host.on('exit', (code) => r(code)));
  await waitUntil(() => descendants(host.pid!).length === 2 && /serving .*hello\.psgi on 127\.0\.0\.1:\d+ with 2 worker/.test(log), 'two workers');
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const clients = Array.from({ length: 2 }, async () => {
    for (let i = 0; running; i++) {
      try {
        const body = await get(address, '/', i % 2 === 1);
        if (body.startsWith('200 hello from')) ok++;
        else failures.push(body);
      } catch (err: unknown) {
        failures.push(String(err));
      }
    }
  });
  const first = new Set(descendants(host.pid!).map((p) => p.pid));
  for (let i = 0; i < 2; i++) {
    await sleep(300);
    host.kill('SIGHUP');
    await waitUntil(() => (log.match(/reloading: new workers first/g) ?? []).length === i + 1, 'the reload');
  }
  await waitUntil(() => descendants(host.pid!).length === 2 && descendants(host.pid!).every((p) => !first.has(p.pid)), 'a new generation only', 15000);
  running = false;
  await Promise.all(clients);
  assert.equal(failures, [], 'no request failed across two SIGHUP reloads');
  assert.ok(ok > 20, `requests served: ${ok}`);
  const workers = descendants(host.pid!).map((p) => p.pid);
  host.kill('SIGTERM');
  assert.is(await exited, 0, `exit status; log:\n${log}`);
  await waitUntil(() => workers.every((pid) => !alive(pid)), 'the workers to go');
});

// A base of this emperor (vassal-fork-base): it loads its app, then binds its socket and says
// ready and accepting.
async function startBase(extraArgs: string[] = []) {
  app('base.psgi');
  const sock = join(fx.dir.dir, 'fork', 'base.sock');
  fx.dir.write('base.ini', ini('early-psgi = base.psgi', `fork-server = ${sock}`));
  const e = fx.start(['--emperor', fx.dir.dir, '--vassal-fork-base', 'base.ini', ...extraArgs]);
  const v = await e.waitForVassal('base.ini', (x) => x?.accepting === 1 && x.ready === 1, 'the base ready and accepting');
  return { e, sock, pid: v!.pid };
}

test('a fork-server base loads its app first, then serves on a 0600 socket in a 0700 root directory', async () => {
  const { e, sock } = await startBase();
  const log = e.log();
  assert.match(log, /I am the App[\s\S]*fork server: the app is loaded; serving adoptions on /, 'the app first, then the socket');
  const s = statSync(sock);
  assert.ok(s.isSocket(), 'a socket');
  assert.is(s.mode & 0o777, 0o600);
  const d = statSync(join(fx.dir.dir, 'fork'));
  assert.is(d.mode & 0o777, 0o700);
  assert.is(d.uid, 0);
  assert.is(psgiProcesses(e.child.pid!).all.length, 1, 'the base alone: no workers');
});

test('a connection that is not from the emperor is closed: nothing forked, logged, the base keeps serving', async () => {
  const { e, sock, pid } = await startBase();
  const before = psgiProcesses(e.child.pid!).all;
  for (let i = 1; i <= 2; i++) {
    const [mine, theirs] = binding.socketPair();
    const conn = binding.connectUnix(sock);
    // A well-formed request: argv, and the emperor pipe and config pipe (here one socketpair
    // end each). The base checks the peer first: it may have closed before we send.
    const closedFirst = sendRequest(conn, adoptionRequest(['/usr/bin/perl', 'jailctl-psgi.pl', '--ini', 'emperor://x.ini'], 0x83), [theirs, theirs]);
    assert.is(closedFirst ? 'closed' : await waitClosed(conn, 10000), 'closed', 'the base closed the connection');
    closeSync(conn);
    closeSync(mine);
    closeSync(theirs);
    // The peer as the base sees it: our pid, or 0 while the emperor still gives a base a pid
    // namespace of its own (then nobody outside it can be adopted from it at all).
    await e.waitForLog(new RegExp(String.raw`(fork server: refused a connection from pid (?:${process.pid}|0) uid 0, not the emperor [^\n]*EPERM[^\n]*nothing forked[\s\S]*){${i}}`));
  }
  assert.equal(psgiProcesses(e.child.pid!).all, before, 'nothing forked');
  const v = (await e.vassal('base.ini'))!;
  assert.is(v.pid, pid, 'the same base');
  assert.is(v.accepting, 1, 'still accepting');
});

test('a touched base: the emperor stops it (status 0) and starts a new one, which loads the app again', async () => {
  const { e, pid } = await startBase();
  fx.dir.write('base.ini', `${ini('early-psgi = base.psgi', `fork-server = ${join(fx.dir.dir, 'fork', 'base.sock')}`)}; touched\n`);
  await e.waitForLog(/\[psgi \d+\] fork server: stop[\s\S]*base\.ini: old jail exited with status 0/);
  const v = await e.waitForVassal('base.ini', (x) => x !== undefined && x.pid !== pid && x.accepting === 1, 'a new base, accepting');
  assert.ok(v!.pid !== pid);
  assert.is((e.log().match(/I am the App/g) ?? []).length, 2, 'the new base loaded the app itself');
});

// The test plays the emperor (a child subreaper, the base's parent) and speaks the wire
// format itself: the V path of jail_fork_server_serve, end to end, without src/emperor.
test('EOF on its emperor pipe: a base leaves at once (POSIX::read says "0 but true" there), it does not spin', async () => {
  app('base.psgi');
  const sock = join(fx.dir.dir, 'fork', 'base.sock');
  const [emperorEnd, baseEmperor] = binding.socketPair();
  const [configEnd, baseConfig] = binding.socketPair();
  writeSync(configEnd, configPacket(`[uwsgi]\nearly-psgi = ${join(fx.dir.dir, 'base.psgi')}\nfork-server = ${sock}\n`));
  const base = spawn('/usr/bin/perl', [PSGI_HOST], {
    stdio: ['ignore', 'pipe', 'pipe', baseEmperor, baseConfig],
    env: { PATH: '/usr/bin:/bin', JAIL_EMPEROR_FD: '3', JAIL_EMPEROR_FD_CONFIG: '4', JAIL_EXEC_LIB: jailexecLibrary() },
  });
  let log = '';
  base.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  base.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exit = new Promise<number | null>((r) => base.on('exit', (code) => r(code)));
  closeSync(baseEmperor);
  closeSync(baseConfig);
  try {
    assert.equal(await readBytes(emperorEnd, 2, 15000), [1, 5], `the base: ready, accepting\n${log}`);
    closeSync(emperorEnd);
    const code = await Promise.race([exit, sleep(5000).then(() => 'still running')]);
    assert.is(code, 0, `the base left: ${log}`);
    assert.match(log, /fork server: the emperor is gone \(EOF on the emperor pipe\); leaving/);
  } finally {
    if (base.exitCode === null) base.kill('SIGKILL');
    closeSync(configEnd);
  }
});

test('direct adoption: the adopted vassal serves the app the base loaded, as nobody, on fd 0; the base reloads without it', async () => {
  app('base.psgi');
  const sock = join(fx.dir.dir, 'fork', 'base.sock');
  assert.ok(binding.setChildSubreaper(true));
  const own: number[] = [];
  const pair = (): [number, number] => {
    const p = binding.socketPair();
    own.push(...p);
    return p;
  };
  let log = '';
  let started: ReturnType<typeof spawn> | undefined;
  try {
    const [emperorEnd, baseEmperor] = pair();
    const [configEnd, baseConfig] = pair();
    writeSync(configEnd, configPacket(`[uwsgi]\nearly-psgi = ${join(fx.dir.dir, 'base.psgi')}\nfork-server = ${sock}\n`));
    const base = spawn('/usr/bin/perl', [PSGI_HOST], {
      stdio: ['ignore', 'pipe', 'pipe', baseEmperor, baseConfig],
      env: { PATH: '/usr/bin:/bin', JAIL_EMPEROR_FD: '3', JAIL_EMPEROR_FD_CONFIG: '4', JAIL_EXEC_LIB: jailexecLibrary() },
    });
    started = base;
    base.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    base.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const baseExit = new Promise<number | null>((r) => base.on('exit', (code) => r(code)));
    assert.equal(await readBytes(emperorEnd, 2, 15000), [1, 5], 'the base: ready, accepting');

    // The vassal's pipes, its listening socket (held by "the emperor") and a pipe for its stderr.
    const [vEmperor, vEmperorChild] = pair();
    const [vConfig, vConfigChild] = pair();
    const [vLog, vLogChild] = pair();
    const port = await freePort();
    const listening = binding.listenSocket(`127.0.0.1:${port}`);
    own.push(listening);
    const argv = ['/usr/bin/perl', PSGI_HOST, '--ini', 'emperor://adopted.ini'];
    // Slots: 0 emperor pipe, 1 config pipe, 2 the on-demand (listening) socket, 3 its log.
    // With pid and mount namespaces and a fresh /proc, as the emperor gives every vassal.
    const plan = keyvals([
      ['ns', 'mount'], ['ns', 'pid'], ['mount', 'proc'], ['mount-dst', '/proc'],
      ['uid', '65534'], ['gid', '65534'], ['no-new-privs', '1'],
      ['path', '/usr/bin/perl'], ...argv.map((a) => ['argv', a] as const),
      ['env', 'PATH=/usr/bin:/bin'], ['env', 'JAIL_EMPEROR_FD=3'], ['env', 'JAIL_EMPEROR_FD_CONFIG=4'], ['env', 'JAIL_VASSAL=adopted.ini'],
      ['fd', '0:3'], ['fd', '1:4'], ['fd', '2:0'], ['fd', '3:1'], ['fd', '3:2'],
    ]);
    const conn = binding.connectUnix(sock);
    own.push(conn);
    binding.sendFds(conn, adoptionRequest(argv, 0x87), [vEmperorChild, vConfigChild, listening, vLogChild]);
    const frame = Buffer.alloc(4);
    frame.writeUInt32LE(plan.length);
    writeSync(vConfig, Buffer.concat([frame, plan, configPacket('[uwsgi]\nprocesses = 2\n')]));
    for (const fd of [vEmperorChild, vConfigChild, vLogChild]) closeSync(fd);
    own.splice(own.indexOf(vEmperorChild), 1);
    own.splice(own.indexOf(vConfigChild), 1);
    own.splice(own.indexOf(vLogChild), 1);

    const reply = await readUntilEof(conn, 15000);
    assert.ok(reply.eof, `the reply ends (EOF); base log:\n${log}`);
    assert.is(reply.data[0], 35, 'a keyval packet, modifier1 35');
    const size = reply.data.readUInt16LE(1);
    const body = reply.data.subarray(4, 4 + size);
    assert.is(body.subarray(2, 5).toString(), 'pid');
    const pid = Number(body.subarray(7).toString());
    assert.ok(pid > 0 && pid !== base.pid, `the adopted jail's top pid: ${pid}`);
    assert.is(reply.fds.length, 1, 'its pidfd');
    const pidfd = reply.fds[0]!;
    own.push(pidfd);
    assert.is((reply.data.length - 4 - size) % 16, 0, 'then whole status records');

    let vLogText = '';
    const vLogWatch = new binding.FdWatcher(vLog, () => {
      try {
        const { data } = binding.recvFds(vLog, 65536, 0);
        vLogText += data.toString();
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
    });
    try {
      assert.equal(await readBytes(vEmperor, 2, 15000), [1, 5], 'the adopted vassal: workers up, accepting');
      const answer = await get(`127.0.0.1:${port}`, '/hi');
      const m = /^200 adopted (\d+) uid 65534 loaded by (\d+) path \/hi\n$/.exec(answer);
      assert.ok(m, `answered: ${answer}`);
      assert.is(Number(m![2]), base.pid, 'the app was loaded by the base');
      assert.ok(Number(m![1]) !== base.pid, 'and is served by a worker of the adopted vassal');
      const inJail = psgiProcesses(pid);
      assert.is(inJail.workers.length, 2, `processes = 2 in the adopted vassal: ${JSON.stringify(inJail)}`);
      assert.is(inJail.masters.length, 1, 'its master, below the init of its pid namespace');
      assert.is((log.match(/I am the App/g) ?? []).length, 1, 'the app loaded once, in the base');
      assert.not.match(vLogText, /I am the App/);
      assert.match(vLogText, /adopted: serving the app loaded by the base/);

      // Byte 1 to the base: it leaves (a new base would load new code); the vassal stays.
      writeSync(emperorEnd, Buffer.of(1));
      assert.is(await baseExit, 0, 'the base exits 0 on a reload byte');
      assert.match(await get(`127.0.0.1:${port}`, '/still'), /^200 adopted \d+ uid 65534 .* path \/still\n$/, 'the adopted vassal keeps serving');

      // Byte 2: a graceful stop of the adopted vassal; we reap it by its pidfd.
      writeSync(vEmperor, Buffer.of(2));
      await waitUntil(() => {
        const r = binding.waitPidfd(pidfd);
        if (r) assert.is(r.code, 0, 'the adopted vassal exits 0');
        return r !== null;
      }, 'the adopted vassal to exit', 15000);
    } finally {
      vLogWatch.close();
    }
  } finally {
    binding.setChildSubreaper(false);
    for (const fd of own) closeSync(fd);
    if (started?.exitCode === null) started.kill('SIGKILL'); // a failed assertion leaves no base behind
  }
});

test.run();
