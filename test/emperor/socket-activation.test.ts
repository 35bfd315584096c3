// socket-activation = systemd: the sockets the emperor holds (on demand, and held-socket =
// NAME=ADDRESS lines) reach the program at fd 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES and
// LISTEN_PID, the program's pid in its pid namespace (set by the executor after the jail's
// init forked it). Real programs take them: Debian's uWSGI, our Node app server, our PSGI host.
import { readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, pidsWith, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('socket activation (systemd)');
const fx = emperorFixture(test, 0o755);

function get(address: string, path = '/'): Promise<string> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

// /proc/PID/status NSpid: its pid in each pid namespace, the host's first, its jail's last.
function nsPids(pid: number): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'))!;
  return line.split(/\s+/).slice(1).map(Number);
}

// The environment a process was exec'd with (unsetenv() later does not change it).
function execEnv(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) out[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  return out;
}

const fdTarget = (pid: number, fd: number): string => readlinkSync(`/proc/${pid}/fd/${fd}`);

test('an unmodified uWSGI on demand takes the held socket through LISTEN_FDS and answers; LISTEN_PID is its pid in the jail', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  fx.dir.write('hello.psgi', 'my $app = sub { return [200, ["Content-Type" => "text/plain"], ["psgi $$\\n"]]; };\n');
  fx.dir.write('psgi.ini', [
    '[uwsgi]', 'plugins = psgi', `psgi = ${join(fx.dir.dir, 'hello.psgi')}`, 'protocol = http', 'master = true',
    'processes = 1', 'socket-activation = systemd', 'unshare = ipc,uts', 'uid = nobody', '',
  ].join('\n'));
  fx.dir.write('psgi.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket', '--binary-path', '/usr/bin/uwsgi']);
  await e.waitForVassal('psgi.ini', (v) => v?.state === 'on-demand', 'on demand');
  assert.equal(pidsWith('uwsgi'), [], 'no uWSGI process while on demand');
  assert.match(await get(address), /^200 psgi \d+\n$/);
  const v = await e.waitForVassal('psgi.ini', (x) => x?.state === 'running' && x.pid > 0, 'running');
  // The master: the jail's program, pid 2 under its init.
  const master = pidsWith('uwsgi').find((p) => nsPids(p).at(-1) === 2);
  assert.ok(master !== undefined, `a uWSGI master at pid 2 of its jail (emperor's view: vassal pid ${v!.pid})`);
  const env = execEnv(master!);
  assert.is(env.LISTEN_PID, '2', 'LISTEN_PID is the pid inside the namespace');
  assert.is.not(Number(env.LISTEN_PID), master, 'not the host pid');
  assert.is(env.LISTEN_FDS, '1');
  assert.is(env.LISTEN_FDNAMES, 'on-demand');
  assert.is(env.UWSGI_EMPEROR_FD, '4', 'the emperor pipe moved behind the socket');
  assert.match(fdTarget(master!, 3), /^socket:/);
  assert.is(fdTarget(master!, 0), '/dev/null', 'nothing at fd 0: uWSGI served through LISTEN_FDS');
});

test('two named held sockets arrive at fd 3 and 4 in order with their names; LISTEN_PID is the program\'s pid in the jail', async () => {
  const [web, admin] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  // Prints what it got, each fd's port, and waits.
  fx.dir.write('probe.sh', [
    'echo "pid=$$ listen_pid=$LISTEN_PID fds=$LISTEN_FDS names=$LISTEN_FDNAMES emperor=$JAIL_EMPEROR_FD"',
    'exec perl -MSocket -e \'$| = 1; for my $fd (3, 4) { open(my $f, "+<&=", $fd) or die; my ($port) = unpack_sockaddr_in(getsockname($f)); print "fd$fd=$port\\n" } sleep 86433\'',
    '',
  ].join('\n'));
  fx.dir.write('two.ini', ini('unshare = fs,pid,ipc,uts', 'uid = nobody', 'socket-activation = systemd', `held-socket = web=${web}`,
    `held-socket = admin=${admin}`, `unprivileged-binary-patch-arg = /bin/sh ${join(fx.dir.dir, 'probe.sh')}`));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('two.ini', (v) => v?.state === 'running', 'running');
  const log = join(e.logsDir, 'two.ini.log');
  await waitUntil(() => /fd4=/.test(safeRead(log)), 'the probe printed its fds');
  const text = safeRead(log);
  assert.match(text, /pid=2 listen_pid=2 fds=2 names=web:admin emperor=5/);
  assert.match(text, `fd3=${web.split(':')[1]}`);
  assert.match(text, `fd4=${admin.split(':')[1]}`);
  assert.match(e.log(), `two.ini: holding ${web}, ${admin}`);
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

test('the Node app server serves on both held sockets; the held sockets outlive a jail restart; its app sees no LISTEN_*', async () => {
  const [web, admin] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  fx.dir.write('server.mjs', 'export default (req, res) => res.end(`node ${process.env.LISTEN_PID ?? "unset"} ${process.env.LISTEN_FDS ?? "unset"}\\n`);\n');
  const lines = ['unshare = fs,pid,net,ipc,uts', 'uid = nobody', 'app = server.mjs', 'socket-activation = systemd', `held-socket = web=${web}`, `held-socket = admin=${admin}`];
  fx.dir.write('node.ini', ini(...lines));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('node.ini', (v) => v?.state === 'running' && v.accepting === 1, 'accepting');
  assert.is(await get(web), '200 node unset unset\n');
  assert.is(await get(admin), '200 node unset unset\n');
  const first = (await e.vassal('node.ini'))!.pid;
  // A changed jail (a new env line): a new jail, the same sockets (never bound again).
  fx.dir.write('node.ini', ini(...lines, 'env = AGAIN=1'));
  await e.waitForVassal('node.ini', (v) => v?.state === 'running' && v.pid !== first && v.pid > 0 && v.accepting === 1, 'restarted');
  assert.is(await get(admin), '200 node unset unset\n');
  assert.is(e.log().split('node.ini: holding').length - 1, 1, 'held once, across the restart');
});

test('the PSGI host on demand takes LISTEN_FDS and answers; its app sees no LISTEN_*', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  fx.dir.write('env.psgi', 'my $app = sub { return [200, ["Content-Type" => "text/plain"], ["psgi " . ($ENV{LISTEN_PID} // "unset") . "\\n"]]; };\n');
  fx.dir.write('perl.ini', ini('unshare = fs,pid,net,ipc,uts', 'uid = nobody', 'psgi = env.psgi', 'socket-activation = systemd'));
  fx.dir.write('perl.ini.socket', address);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('perl.ini', (v) => v?.state === 'on-demand', 'on demand');
  assert.is(await get(address), '200 psgi unset\n');
});

test('held-socket without socket-activation = systemd, and a bad mode, fail naming the line', async () => {
  fx.dir.write('fd0.ini', ini('uid = nobody', `held-socket = web=127.0.0.1:${await freePort()}`, 'unprivileged-binary-patch-arg = sleep 86434'));
  fx.dir.write('bad.ini', ini('uid = nobody', 'socket-activation = inetd', 'unprivileged-binary-patch-arg = sleep 86435'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  const a = await e.waitForVassal('fd0.ini', (v) => v?.state === 'failed', 'failed');
  assert.match(a!.launch_error!, /fd0\.ini:3: .*held-socket needs socket-activation = systemd/);
  const b = await e.waitForVassal('bad.ini', (v) => v?.state === 'failed', 'failed');
  assert.match(b!.launch_error!, /bad\.ini:3: .*`inetd`: expected uwsgi .* or systemd/);
});

test.run();
