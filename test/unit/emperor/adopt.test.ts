// The fork-server client (adopt.ts) against bases that misbehave, played in-process by a
// node server on a real UNIX socket: the peer is this very process, so the peer check
// passes with our own pid. No root needed; no mock of the kernel (real sockets, real fds).
import { closeSync, mkdtempSync, readSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdoptError, requestAdoption, type AdoptRequest } from '../../../src/emperor/adopt';
import { binding } from '../../../src/native/binding';

const test = suite('requestAdoption');
let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-adopt-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

// A base played by `onConnection`, on DIR/NAME.sock.
async function base(name: string, onConnection: (s: Socket) => void): Promise<{ path: string; server: Server }> {
  const path = join(dir, `${name}.sock`);
  const server = createServer((s) => {
    s.on('error', () => undefined); // the client's close (ECONNRESET) is expected
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server };
}

// One request with real fds (a socket pair as emperor and config pipes); the error it fails with.
async function refused(path: string, over: Partial<AdoptRequest> = {}): Promise<{ err: AdoptError; frame: Buffer }> {
  const [ours, theirs] = binding.socketPair();
  const [configOurs, configTheirs] = binding.socketPair();
  try {
    const err = await requestAdoption({
      vassal: 'one.ini', base: { name: 'perlbase.ini', pid: process.pid, socket: path }, argv: ['perl', 'host'],
      plan: Buffer.from('planbytes'), fds: [theirs, configTheirs], mask: 0x83, configFd: configOurs, timeoutMs: 2000, ...over,
    }).then(() => assert.unreachable('adopted'), (e: unknown) => e);
    assert.instance(err, AdoptError);
    const buf = Buffer.alloc(64);
    binding.setNonBlocking(configTheirs); // nothing there when nothing was sent
    let n = 0;
    try {
      n = readSync(configTheirs, buf, 0, buf.length, null);
    } catch {
      n = 0;
    }
    return { err: err as AdoptError, frame: buf.subarray(0, n) };
  } finally {
    for (const fd of [ours, theirs, configOurs, configTheirs]) closeSync(fd);
  }
}

test('garbage instead of a pid packet: stage reply, names the base and the byte', async () => {
  const b = await base('garbage', (s) => s.once('data', () => s.end(Buffer.alloc(16, 0xff))));
  const { err, frame } = await refused(b.path);
  assert.is(err.stage, 'reply');
  assert.match(err.message, /base perlbase\.ini \(pid \d+, fork server \S+garbage\.sock\) sent byte 255 where its pid packet \(35\) starts/);
  assert.equal([...frame.subarray(0, 4)], [9, 0, 0, 0], 'the plan frame went into the config pipe first');
  assert.is(frame.subarray(4, 13).toString(), 'planbytes');
  b.server.close();
});

test('closed without an answer, and a pid packet without its pidfd', async () => {
  const c = await base('close', (s) => s.once('data', () => s.end()));
  assert.match((await refused(c.path)).err.message, /closed the connection before its pid packet/);
  const pidOnly = Buffer.concat([Buffer.from([35, 11, 0, 0, 3, 0]), Buffer.from('pid'), Buffer.from([4, 0]), Buffer.from('4242')]);
  const p = await base('nofd', (s) => s.once('data', () => s.write(pidOnly)));
  assert.match((await refused(p.path)).err.message, /said pid 4242 with 0 fds \(one pidfd expected\)/);
  c.server.close();
  p.server.close();
});

test('a base that never answers: the timeout, named; a stranger at the socket: nothing sent', async () => {
  const kept: Socket[] = [];
  const s = await base('silent', (c) => kept.push(c));
  const { err } = await refused(s.path, { timeoutMs: 100 });
  assert.match(err.message, /did not answer the adoption request within 0\.1 s \(emperor-fork-server-timeout\)/);
  const { err: peer } = await refused(s.path, { base: { name: 'perlbase.ini', pid: 1, socket: s.path } });
  assert.is(peer.stage, 'peer');
  assert.match(peer.message, /is pid \d+ \(uid \d+\), not the base's pid 1; nothing sent/);
  for (const c of kept) c.destroy();
  s.server.close();
  const { err: none } = await refused(join(dir, 'nobody.sock'));
  assert.is(none.stage, 'connect');
  assert.match(none.message, /cannot connect to base perlbase\.ini .*: ENOENT/);
});

test.run();
