// What other local users can do to the emperor's sockets (issue 11, part 3): the stats server
// in tyrant mode is root's unless made public, and reads a bounded request; the control
// socket (0666) bounds each uid's connections, idle ones and the request line; root always
// gets in. Real emperors as root, a real unprivileged user (uid 1001, setpriv).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { emperorFixture, freePort, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('the emperor\'s sockets and other local users');
const fx = emperorFixture(test, 0o755);

// Writes to `target` until the other side closes; resolves with the bytes it took and the ms.
function flood(target: { path: string }, first: string): Promise<{ bytes: number; ms: number; answer: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    // Half-open: the peer's end of its answer does not stop us, only its closing.
    const sock = connect({ ...target, allowHalfOpen: true });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let bytes = 0;
    let answer = '';
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      clearTimeout(give);
      sock.destroy();
      resolve({ bytes, ms: Date.now() - t0, answer });
    };
    // Without a bound the peer would take everything: stop after 10 s and let the test fail.
    const give = setTimeout(end, 10000);
    const pump = (): void => {
      while (!done && !sock.destroyed && sock.write(chunk)) bytes += chunk.length;
    };
    sock.on('connect', () => {
      sock.write(first);
      pump();
    });
    sock.on('drain', () => {
      bytes += chunk.length;
      pump();
    });
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('close', end);
    sock.on('error', end);
  });
}

test('stats: in tyrant mode a TCP address needs emperor-stats-public; an endless request is cut off', async () => {
  const port = await freePort();
  let e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-stats', `127.0.0.1:${port}`]);
  const { code } = await e.exited;
  assert.is(code, 125, e.log());
  assert.match(e.log(), new RegExp(`jailctl: emperor-stats 127\\.0\\.0\\.1:${port}: in tyrant mode the stats list every tenant's vassals, and any local user can connect to a TCP port; give a UNIX socket path \\(only root may connect: --emperor-stats /run/jailctl/stats\\.sock; tenants see their own with jailctl stats\\), or set emperor-stats-public = true to publish them`));
  e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-stats', `127.0.0.1:${port}`, '--emperor-stats-public']);
  assert.is((await e.stats()).emperor_tyrant, 1, 'public on purpose: served');
  await e.stop();

  e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForLog(/watching/);
  const endless = await flood({ path: e.statsPath }, 'GET /');
  assert.ok(endless.bytes < 4 * 1024 * 1024, `the server stopped taking bytes (took ${endless.bytes})`);
  assert.ok(endless.ms < 5000, `and closed the connection (after ${endless.ms} ms)`);
  // A 431 when the request line came within the server's 25 ms for HTTP; on a loaded box the
  // raw document may go first. Either way the endless rest is refused.
  assert.match(endless.answer, /^(HTTP\/1\.0 431 |\{)/);
  // A request head that never ends is cut off after the timeout, the normal ones still work.
  const slow = await new Promise<number>((resolve) => {
    const t0 = Date.now();
    const sock = connect(e.statsPath, () => sock.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    sock.on('close', () => resolve(Date.now() - t0));
    sock.on('error', () => undefined);
  });
  assert.ok(slow >= 2500 && slow < 6000, `a slow request closed after the timeout (${slow} ms)`);
  assert.is((await e.stats()).pid, e.child.pid);
});

// uid 1001 opening `n` connections to `path`; it reports on stdout what became of them.
function holder(path: string, n: number): { child: ChildProcess; last(): { open: number; refused: number; closed: number; idle: number } } {
  const script = `
    const net = require('net');
    const st = { open: 0, refused: 0, closed: 0, idle: 0 };
    for (let i = 0; i < ${n}; i++) {
      const s = net.connect(process.argv[1]);
      s.setEncoding('utf8');
      s.on('connect', () => st.open++);
      s.on('data', (d) => { if (d.includes('"ELIMIT"')) st.refused++; if (d.includes('"ETIMEDOUT"')) st.idle++; });
      s.on('close', () => st.closed++);
      s.on('error', () => undefined);
    }
    setInterval(() => process.stdout.write(JSON.stringify(st) + '\\n'), 100);`;
  const child = spawn('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', process.execPath, '-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return {
    child,
    last: () => JSON.parse(out.trimEnd().split('\n').pop() || '{"open":0,"refused":0,"closed":0,"idle":0}'),
  };
}

test('control: one user\'s connections are bounded and idle ones closed; root\'s ps and new vassals still work', async () => {
  const e: RunningEmperor = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1', '--emperor-control-idle-timeout', '4']);
  await e.waitForLog(/watching/);
  const h = holder(e.controlPath, 100);
  try {
    await waitUntil(() => h.last().open === 100 && h.last().refused === 68, 'the 33rd and later connections refused', 8000);
    await sleep(300);
    assert.is(h.last().closed, 68, 'the refused ones are closed by the emperor');
    const tenant = jailctl(['ps', '--json', '--socket', e.controlPath], { wrap: ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'] });
    assert.is(tenant.status, 1, JSON.stringify(tenant));
    assert.match(tenant.stderr, /uid 1001 already holds 32 connections to the emperor \(emperor-control-max-connections = 32\); end some \(jailctl logs -f, enter\) and retry/);
    // Root is never refused, and the emperor still has fds for a new vassal.
    const ps = jailctl(['ps', '-a', '--json', '--socket', e.controlPath]);
    assert.is(ps.status, 0, ps.stderr);
    fx.dir.write('late.ini', ini('unshare = fs,pid', 'uid = 1002', 'gid = 1002', 'unprivileged-binary-patch-arg = sleep 79301'));
    await e.waitForVassal('late.ini', (v) => v?.state === 'running', 'the new vassal running');
    // The 32 that never asked anything are closed after the idle timeout; then the user is back.
    await waitUntil(() => h.last().closed === 100, 'the idle connections closed', 8000);
    assert.is(h.last().idle, 32, 'each told why');
    const again = jailctl(['ps', '--json', '--socket', e.controlPath], { wrap: ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'] });
    assert.is(again.status, 0, again.stderr);
  } finally {
    h.child.kill();
  }
});

test('control: a request line without end is cut off, and no more is read', async () => {
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForLog(/watching/);
  const endless = await flood({ path: e.controlPath }, '{"command":"ps","x":"');
  assert.ok(endless.bytes < 4 * 1024 * 1024, `the emperor stopped taking bytes (took ${endless.bytes})`);
  assert.ok(endless.ms < 5000, `and closed the connection (after ${endless.ms} ms)`);
  assert.match(endless.answer, /"code":"EBADREQ","error":"a request line is at most 65536 bytes"/);
});

test.run();
