// The emperor protocol and the stats server, with vassals that speak it: a shell vassal
// that reads its pipe, and an unmodified uWSGI 2.0 (Debian's, with the PSGI plugin).
import { chmodSync, existsSync, mkdtempSync, renameSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { askStats, emperorFixture, freePort, pidsWith, sleep, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor protocol');

const fx = emperorFixture(test, 0o777);

async function httpGet(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return res.text();
}

// Says spawned (1) and loyal (17), then logs every byte it receives; exits on byte 0.
const LISTENER_PL = `open(my $p, '+<&=3') or die "fd 3: $!";
syswrite($p, "\x01\x11");
while (sysread($p, my $b, 1)) {
  open(my $f, '>>', $ARGV[0]) or die "$ARGV[0]: $!"; print $f ord($b), "\n"; close $f;
  exit 0 if ord($b) == 0;
}
`;
const LISTENER = (log: string, tag: number): string => {
  const script = fx.dir.write('listener.pl', LISTENER_PL);
  return `unprivileged-binary-patch-arg = perl ${script} ${log} listener-${tag}`;
};

test('a vassal that speaks the protocol gets byte 1 on touch (same jail, same pid) and byte 0 on rm', async () => {
  const log = join(fx.dir.dir, 'bytes');
  const file = fx.dir.write('talk.ini', ini('unshare = fs,pid', LISTENER(log, 1)));
  const emperor = fx.start(['--emperor', fx.dir.dir]);
  const v = await emperor.waitForVassal('talk.ini', (x) => !!x && x.loyal > 0 && x.ready === 1, 'ready and loyal');
  assert.ok(v!.speaks_protocol);

  // Written beside and renamed in: a file rewritten in place can be seen twice (truncated,
  // then written), and each change is a reload.
  fx.dir.write('.talk.ini', `${readFileSync(file, 'utf8')}\n; a comment changes the mtime\n`);
  renameSync(join(fx.dir.dir, '.talk.ini'), file);
  await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8') === '1\n', 'byte 1 at the vassal');
  assert.is((await emperor.vassal('talk.ini'))!.pid, v!.pid, 'reloaded in place, not restarted');
  assert.match(emperor.log(), /talk\.ini: config changed; reload byte sent/);

  rmSync(file);
  await waitUntil(() => readFileSync(log, 'utf8') === '1\n0\n', 'byte 0 at the vassal');
  await emperor.waitForVassal('talk.ini', (x) => x === undefined, 'gone');
  assert.equal(pidsWith('listener-1'), []);
});

test('a change to the jail options restarts even a vassal that speaks the protocol', async () => {
  const log = join(fx.dir.dir, 'bytes');
  fx.dir.write('talk.ini', ini('unshare = fs,pid', LISTENER(log, 2)));
  const emperor = fx.start(['--emperor', fx.dir.dir]);
  const v = await emperor.waitForVassal('talk.ini', (x) => !!x && x.ready === 1, 'ready');
  fx.dir.write('talk.ini', ini('unshare = fs,pid,uts', 'hostname = other', LISTENER(log, 2)));
  const after = await emperor.waitForVassal('talk.ini', (x) => !!x && x.ready === 1 && x.pid !== v!.pid, 'a new jail');
  assert.equal(after!.namespaces, ['mount', 'pid', 'uts']);
  assert.is(readFileSync(log, 'utf8'), '0\n', 'the old jail was told to stop');
});

test('stats: raw JSON on a plain TCP connection, and an HTTP response to a GET', async () => {
  fx.dir.write('web.ini', ini('unprivileged-binary-patch-arg = sleep 86430'));
  const port = await freePort();
  const emperor = fx.start(['--emperor', fx.dir.dir, '--emperor-stats', `127.0.0.1:${port}`]);
  await emperor.waitForLog(/web\.ini: running/);
  const raw = await askStats({ host: '127.0.0.1', port });
  const doc = JSON.parse(raw);
  for (const key of ['version', 'pid', 'uid', 'gid', 'cwd', 'emperor', 'emperor_tyrant', 'throttle_level', 'vassals', 'blacklist'])
    assert.ok(key in doc, `uWSGI's key ${key}`);
  assert.is(doc.cwd, fx.dir.dir, 'the emperor chdirs to the vassal directory');
  const v = doc.vassals[0];
  for (const key of ['id', 'pid', 'born', 'last_mod', 'last_heartbeat', 'loyal', 'ready', 'accepting', 'last_loyal', 'last_ready',
    'last_accepting', 'first_run', 'last_run', 'cursed', 'on_demand', 'adopted', 'uid', 'gid', 'monitor', 'respawns', 'state', 'namespaces', 'launch_error', 'restarts'])
    assert.ok(key in v, `vassal key ${key}`);
  assert.is(v.id, 'web.ini');
  assert.is(v.monitor, `dir://${fx.dir.dir}`);

  const http = await askStats({ host: '127.0.0.1', port }, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(http, /^HTTP\/1\.[01] 200 OK\r\n/);
  assert.match(http, /Content-Type: application\/json/);
  assert.is(JSON.parse(http.slice(http.indexOf('\r\n\r\n') + 4)).vassals[0].id, 'web.ini');
  const head = await askStats({ host: '127.0.0.1', port }, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(head, /^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\n$/, 'HEAD: headers only');
  const post = await askStats({ host: '127.0.0.1', port }, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  assert.match(post, /^HTTP\/1\.0 405 Method Not Allowed\r\n/);
  const viaFetch = await (await fetch(`http://127.0.0.1:${port}/`)).json() as { pid: number };
  assert.is(viaFetch.pid, emperor.child.pid);
});

test('an unmodified uWSGI vassal: spawned, accepting, loyal, reloads on byte 1, stops on byte 0', async () => {
  const port = await freePort();
  fx.dir.write('hello.psgi', 'my $app = sub { return [200, ["Content-Type" => "text/plain"], ["hello from psgi $$\\n"]]; };\n');
  const file = fx.dir.write('psgi.ini', [
    '[uwsgi]',
    'plugins = psgi',
    `psgi = ${join(fx.dir.dir, 'hello.psgi')}`,
    `http-socket = 127.0.0.1:${port}`,
    'master = true',
    'processes = 1',
    // jail options in the same file: ours, applied to the jail, never seen by uWSGI
    'unshare = ipc,uts',
    'hostname = psgi-jail',
    'uid = nobody',
    '',
  ].join('\n'));
  const emperor = fx.start(['--emperor', fx.dir.dir, '--binary-path', '/usr/bin/uwsgi']);
  await emperor.waitForVassal('psgi.ini', (x) => !!x && x.ready === 1 && x.accepting === 1, 'ready and accepting');
  const first = await httpGet(port);
  assert.match(first, /^hello from psgi \d+/);
  await emperor.waitForVassal('psgi.ini', (x) => !!x && x.loyal > 0, 'loyal after a request');
  assert.not.match(emperor.log(), /unknown option/, 'uWSGI\'s own options get no warning');
  const pid = (await emperor.vassal('psgi.ini'))!.pid;

  fx.dir.write('psgi.ini', `${readFileSync(file, 'utf8')}; touched\n`);
  await emperor.waitForLog(/psgi\.ini: reloaded/);
  assert.is((await emperor.vassal('psgi.ini'))!.pid, pid, 'the jail stayed, uWSGI reloaded inside it');
  let second = '';
  for (let i = 0; i < 50 && !/^hello/.test(second); i++) {
    second = await httpGet(port).catch(() => '');
    if (!/^hello/.test(second)) await sleep(100);
  }
  assert.match(second, /^hello from psgi \d+/);
  assert.is.not(second, first, 'a new worker answers after the reload');

  rmSync(file);
  await emperor.waitForVassal('psgi.ini', (x) => x === undefined, 'gone');
  assert.equal(pidsWith('uwsgi'), [], 'no uWSGI process left');
});

// A port below 1024 that nothing listens on (we are root: we may bind it).
async function freeLowPort(): Promise<number> {
  for (let port = 700 + Math.floor(Math.random() * 200); port < 1000; port++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port below 1024');
}

// GET / over a UNIX socket.
function unixGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a uWSGI vassal as nobody on a port below 1024 and a socket in a root-only directory: the emperor binds them, uWSGI takes them', async () => {
  const port = await freeLowPort();
  const dir = mkdtempSync('/run/jailctl-uwsgi-sock-');
  chmodSync(dir, 0o700);
  try {
    fx.dir.write('hello.psgi', 'my $app = sub { return [200, ["Content-Type" => "text/plain"], ["hello from psgi\\n"]]; };\n');
    fx.dir.write('low.ini', [
      '[uwsgi]', 'plugins = psgi', `psgi = ${join(fx.dir.dir, 'hello.psgi')}`,
      `http-socket = 127.0.0.1:${port}`, `http-socket = ${dir}/app.sock`, 'chmod-socket = 660',
      'master = true', 'processes = 1', 'uid = nobody', '',
    ].join('\n'));
    const emperor = fx.start(['--emperor', fx.dir.dir, '--binary-path', '/usr/bin/uwsgi']);
    await emperor.waitForVassal('low.ini', (x) => !!x && x.accepting === 1, `accepting\n${emperor.log()}`);
    assert.match(await httpGet(port), /^hello from psgi/, 'on the low port');
    assert.match(await unixGet(join(dir, 'app.sock')), /^hello from psgi/, 'on the socket in the root-only directory');
    assert.is(statSync(join(dir, 'app.sock')).mode & 0o777, 0o660, 'chmod-socket applied');
    assert.match(emperor.log(), /\[low\.ini\] uwsgi socket 0 inherited INET address 127\.0\.0\.1:\d+ fd 5/);
    assert.not.match(emperor.log(), /Permission denied/);
    rmSync(join(fx.dir.dir, 'low.ini'));
    await emperor.waitForVassal('low.ini', (x) => x === undefined, 'gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bind-socket: any program gets the socket the emperor bound, listening, at fd 5 (JAIL_LISTEN_FDS)', async () => {
  const port = await freePort();
  const script = fx.dir.write('serve.pl', [
    '$| = 1;',
    'open(my $l, "+<&=5") or die "fd 5: $!";',
    'print "fds=$ENV{JAIL_LISTEN_FDS}\\n";',
    'while (1) { accept(my $c, $l) or die "accept: $!"; print $c "HTTP/1.0 200 OK\\r\\n\\r\\nfrom fd 5\\n"; close $c }', '',
  ].join('\n'));
  fx.dir.write('bound.ini', ini('unshare = fs,pid,net', 'uid = nobody', `bind-socket = 127.0.0.1:${port}`, `unprivileged-binary-patch-arg = perl ${script}`));
  const emperor = fx.start(['--emperor', fx.dir.dir]);
  await emperor.waitForLog(/\[bound\.ini\] fds=5$/m);
  let body = '';
  for (let i = 0; i < 50 && body === ''; i++) {
    body = await httpGet(port).catch(() => '');
    if (body === '') await sleep(100);
  }
  assert.is(body, 'from fd 5\n', 'served from an empty network namespace, through the socket the emperor bound');
});

test.run();
