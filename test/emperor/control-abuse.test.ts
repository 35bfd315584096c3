// A tenant (uid 1001) misusing the control socket with its own running vassal, through raw
// JSON lines from a process of its own uid: messages after its enter session ended, failed
// enters repeated, output it never reads, requests pipelined by the thousand. The emperor
// must stay up, keep its fds and memory bounded, and go on answering root.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { alive, emperorFixture, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { zombiesUnder } from '../helpers/proc';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('control socket abuse by a tenant');
const fx = emperorFixture(test, 0o755);

async function startWeb(): Promise<RunningEmperor> {
  fx.dir.write('web.ini', ini('unshare = fs,pid', 'uid = 1001', 'gid = 1001', 'unprivileged-binary-patch-arg = /bin/sleep 79401'));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('web.ini', (v) => v?.state === 'running', 'running');
  return e;
}

// Runs `script` (JavaScript, with `sock` connected to the control socket) as uid 1001.
function asTenant(e: RunningEmperor, script: string, timeoutMs = 20_000): { status: number | null; stdout: string; stderr: string } {
  const prelude = `const sock = require('net').connect(${JSON.stringify(e.controlPath)}); const send = (m) => sock.write(JSON.stringify(m) + '\\n');`;
  const r = spawnSync('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', process.execPath, '-e', prelude + script], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const rssKb = (pid: number): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const rootPs = (e: RunningEmperor): number | null => jailctl(['ps', '--socket', e.controlPath], { timeout: 10_000 }).status;

test('messages after an enter session ended (resize, input, eof) are no-ops, not a crash', async () => {
  const e = await startWeb();
  const r = asTenant(e, `
    let buf = '';
    send({ command: 'enter', vassal: 'web', argv: ['/bin/true'], tty: true });
    sock.on('data', (d) => {
      buf += d;
      if (!buf.includes('"exit"')) return;
      for (let i = 0; i < 200; i++) { send({ resize: [80 + i, 24] }); send({ in: 'eA==' }); send({ resize: ['x', 1e12] }); }
      send({ eof: true });
      setTimeout(() => { console.log('sent'); process.exit(0); }, 500);
    });`);
  assert.is(r.stdout.trim(), 'sent', r.stderr);
  await sleep(300);
  assert.ok(alive(e.child.pid!), `the emperor is alive:\n${e.log().slice(-2000)}`);
  assert.is(rootPs(e), 0);
});

test('a failed enter (a command line too long for a plan) leaves no fd behind', async () => {
  const e = await startWeb();
  const before = fdCount(e.child.pid!);
  const r = asTenant(e, `
    let answers = 0;
    const go = () => {
      const s = require('net').connect(${JSON.stringify(e.controlPath)});
      s.write(JSON.stringify({ command: 'enter', vassal: 'web', argv: ['€'.repeat(22000)], tty: answers % 2 === 0 }) + '\\n');
      s.on('data', () => undefined);
      s.on('close', () => { if (++answers < 40) go(); else { console.log('done'); process.exit(0); } });
    };
    sock.destroy();
    go();`, 60_000);
  assert.is(r.stdout.trim(), 'done', r.stderr);
  await sleep(300);
  const after = fdCount(e.child.pid!);
  assert.ok(after <= before + 3, `the emperor's fds: ${before} before, ${after} after 40 failed enters`);
});

test('output a tenant never reads is held back, not buffered: the emperor\'s memory stays bounded', async () => {
  const e = await startWeb();
  const pid = e.child.pid!;
  const before = rssKb(pid);
  const reader = spawn('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', process.execPath, '-e', `
    const sock = require('net').connect(${JSON.stringify(e.controlPath)});
    sock.write(JSON.stringify({ command: 'enter', vassal: 'web', argv: ['/bin/cat', '/dev/zero'], tty: false }) + '\\n');
    sock.pause(); // and never read
    setTimeout(() => process.exit(0), 30000);`], { stdio: 'ignore' });
  try {
    await sleep(4000);
    const grown = rssKb(pid) - before;
    assert.ok(grown < 64 * 1024, `the emperor grew by ${grown} KiB in 4 s of /dev/zero nobody reads`);
    assert.is(rootPs(e), 0, 'root is still answered');
  } finally {
    reader.kill('SIGKILL');
  }
  // The client gone, its command (reparented to the emperor, a subreaper) is reaped, so
  // nothing keeps the jail's pid namespace from emptying: the vassal still stops.
  await waitUntil(() => zombiesUnder(pid).length === 0, `no zombie left under the emperor: ${JSON.stringify(zombiesUnder(pid))}`);
  assert.is(jailctl(['stop', '--socket', e.controlPath, 'web'], { timeout: 30_000 }).status, 0, 'the vassal stops');
});

test('a thousand pipelined requests nobody reads hold one answer, and root is answered meanwhile', async () => {
  const e = await startWeb();
  const pid = e.child.pid!;
  const before = rssKb(pid);
  const flooder = spawn('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', process.execPath, '-e', `
    const sock = require('net').connect(${JSON.stringify(e.controlPath)});
    const line = JSON.stringify({ command: 'stats' }) + '\\n';
    sock.write(line.repeat(Math.floor(60000 / line.length)));
    sock.pause();
    setTimeout(() => process.exit(0), 30000);`], { stdio: 'ignore' });
  try {
    await sleep(2000);
    assert.is(rootPs(e), 0);
    const grown = rssKb(pid) - before;
    assert.ok(grown < 64 * 1024, `the emperor grew by ${grown} KiB`);
    assert.is(jailctl(['logs', '--socket', e.controlPath, 'web', '-n', '100000']).status, 1, 'more lines than a tail gives: refused');
  } finally {
    flooder.kill('SIGKILL');
  }
});

test.run();
