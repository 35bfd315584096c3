// The addon without root: marshalling, the errno shape, the stage table, fd passing,
// the fd watcher, reaping and the subreaper flag.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { binding, CgroupFileKind } from '../../src/native/binding';
import { LAUNCH_STAGES } from '../../src/plan/stages';
import { serializePlan } from '../../src/plan/serialize';
import { makePlan } from '../helpers/plan';

// One uwsgi keyval entry, for keys serializePlan() never writes.
function keyval(key: string, value: string): Buffer {
  const k = Buffer.from(key);
  const v = Buffer.from(value);
  const head = Buffer.alloc(2);
  head.writeUInt16LE(k.length);
  const vhead = Buffer.alloc(2);
  vhead.writeUInt16LE(v.length);
  return Buffer.concat([head, k, vhead, v]);
}

const shape = suite('binding shape');

shape('the stage table matches the TypeScript LaunchStage union, in order', () => {
  assert.equal(binding.stageNames(), [...LAUNCH_STAGES]);
});

shape('a syscall failure throws an ErrnoException-shaped error', () => {
  try {
    binding.pidfdSendSignal(999, 0);
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException;
    assert.is(e.code, 'EBADF');
    assert.is(e.errno, -9);
    assert.is(e.syscall, 'pidfd_send_signal');
    assert.is(e.message, 'pidfd_send_signal: Bad file descriptor');
  }
});

shape('an errno libuv has no name for is named by the C library: waitid on a process that is not our child is ECHILD', () => {
  const pidfd = binding.pidfdOpen(1);
  try {
    const err = (() => {
      try {
        binding.waitPidfd(pidfd);
      } catch (e: unknown) {
        return e as NodeJS.ErrnoException;
      }
      return undefined;
    })();
    assert.is(err?.code, 'ECHILD');
    assert.is(err?.errno, -osConstants.errno.ECHILD);
  } finally {
    closeSync(pidfd);
  }
});

shape('wrong argument types throw TypeError', () => {
  assert.throws(() => (binding.launch as unknown as (x: unknown) => void)('not a buffer'), TypeError);
  assert.throws(() => (binding.readStatus as unknown as (x: unknown) => void)('x'), TypeError);
  assert.throws(() => new binding.FdWatcher(0, 'nope' as unknown as () => void), TypeError);
});

shape('a malformed plan is refused before any clone, naming the entry', () => {
  const bytes = serializePlan(makePlan(['true']));
  try {
    binding.launch(bytes.subarray(0, bytes.length - 1));
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException & { stage: string; item: number };
    assert.is(e.code, 'EINVAL');
    assert.is(e.stage, 'plan');
    assert.ok(e.item >= 0);
  }
});

shape('strerror gives the C library words', () => {
  assert.is(binding.strerror(1), 'Operation not permitted');
});

shape('setChildSubreaper turns the flag on and off', () => {
  assert.is(binding.setChildSubreaper(true), true);
  assert.is(binding.setChildSubreaper(false), false);
});

shape.run();

const fds = suite('fd passing and watching');

fds('sendFds/recvFds move fds across a UNIX socket, close-on-exec', () => {
  const [a, b] = binding.socketPair();
  const file = openSync('/proc/self/status', 'r');
  assert.is(binding.sendFds(a, Buffer.from('hi'), [file, file]), 2);
  const msg = binding.recvFds(b, 16, 4);
  assert.is(msg.data.toString(), 'hi');
  assert.is(msg.fds.length, 2);
  const buf = Buffer.alloc(5);
  readSync(msg.fds[0]!, buf, 0, 5, 0);
  assert.is(buf.toString(), 'Name:', 'the received fd reads the same file');
  assert.match(readFileSync(`/proc/self/fdinfo/${msg.fds[0]}`, 'utf8'), /flags:\s+0?2\d{6}/, 'O_CLOEXEC is set');
  for (const fd of [...msg.fds, file, a, b]) closeSync(fd);
});

fds('sendFds refuses fds without a payload byte', () => {
  const [a, b] = binding.socketPair();
  assert.throws(() => binding.sendFds(a, Buffer.alloc(0), [a]), (err: NodeJS.ErrnoException) => err.code === 'EINVAL');
  closeSync(a);
  closeSync(b);
});

fds('FdWatcher sees a peer hang up', async () => {
  const [a, b] = binding.socketPair();
  const events = await new Promise<number>((resolve) => {
    const w = new binding.FdWatcher(a, (ev) => {
      w.close();
      resolve(ev);
    });
    closeSync(b);
  });
  assert.ok(events > 0, `events ${events}`);
  closeSync(a);
});

fds('FdWatcher reports a readable fd on the event loop and stops on close', async () => {
  const fifo = `/tmp/jailctl-fifo-${process.pid}`;
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, 'r+'); // O_RDWR: a FIFO opened this way never blocks
  unlinkSync(fifo);
  let calls = 0;
  await new Promise<void>((resolve) => {
    const w = new binding.FdWatcher(fd, (events) => {
      calls++;
      assert.is(events & 1, 1, 'readable');
      w.close();
      resolve();
    });
    writeSync(fd, 'x');
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.is(calls, 1, 'no callback after close');
  closeSync(fd);
});

fds('a throwing FdWatcher callback is an uncaughtException, not an abort of the process', () => {
  const script = `
    const { binding } = require('./src/native/binding');
    process.on('uncaughtException', (err) => { console.log('caught ' + err.message); process.exit(0); });
    const [a, b] = binding.socketPair();
    new binding.FdWatcher(a, () => { throw new Error('boom'); });
    require('node:fs').closeSync(b);`;
  const out = execFileSync(process.execPath, ['-r', 'tsm', '-e', script], { encoding: 'utf8' });
  assert.is(out, 'caught boom\n');
});

fds('watching an fd leaves its file status flags alone (an on-demand socket stays blocking)', () => {
  const [a, b] = binding.socketPair();
  const flags = (): number => parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${a}`, 'utf8'))![1]!, 8);
  const before = flags();
  const w = new binding.FdWatcher(a, () => undefined);
  assert.is(flags() & 0o4000, 0, 'no O_NONBLOCK');
  assert.is(flags(), before);
  w.close();
  closeSync(a);
  closeSync(b);
});

fds('a closed FdWatcher lets its callback, and what the callback holds, be collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const [a, b] = binding.socketPair();
  let ref: WeakRef<object> | undefined;
  (() => {
    const payload = { plan: 'x'.repeat(1000) };
    ref = new WeakRef(payload);
    // The usual shape: the callback closes over its own watcher (to close it) and more.
    const w = new binding.FdWatcher(a, () => w.close() ?? payload);
    w.close();
  })();
  for (let i = 0; i < 5 && ref!.deref() !== undefined; i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
  assert.is(ref!.deref(), undefined, 'the watcher kept its callback alive after close()');
  closeSync(a);
  closeSync(b);
});

fds.run();

const refusals = suite('launches refused before any clone');

refusals('a launch from a thread other than the main thread is refused (EINVAL, stage prepare)', async () => {
  const { Worker } = await import('node:worker_threads');
  const { ROOT } = await import('../helpers/cli');
  const plan = serializePlan(makePlan(['true']));
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    const b = require(${JSON.stringify(require.resolve('node-gyp-build'))})(${JSON.stringify(ROOT)});
    try {
      const c = b.launch(new Uint8Array(workerData));
      parentPort.postMessage({ launched: c.pid });
    } catch (e) {
      parentPort.postMessage({ code: e.code, stage: e.stage, message: e.message });
    }`;
  const worker = new Worker(script, { eval: true, workerData: plan });
  const got = await new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(got, {
    code: 'EINVAL',
    stage: 'prepare',
    message: 'launch: only the main thread may launch a jail (its parent-death signal follows the launching thread)',
  });
});

refusals('a uid without a gid is refused by the executor too, naming the uid entry', () => {
  const bytes = serializePlan(makePlan(['true'], { uid: 1001 }));
  try {
    binding.launch(bytes);
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException & { stage: string; item: number };
    assert.is(e.code, 'EINVAL');
    assert.is(e.stage, 'plan');
    assert.is(e.item, 0);
  }
});

refusals('the production addon has no clone3 fallback knob: `no-clone3` is an unknown key', () => {
  const bytes = Buffer.concat([serializePlan(makePlan(['true'])), keyval('no-clone3', '1')]);
  try {
    binding.launch(bytes);
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException & { stage: string };
    assert.is(e.code, 'EINVAL');
    assert.is(e.stage, 'plan');
  }
});

refusals.run();

const cgroups = suite('launch into a cgroup');

// The cgroup2 mount point and our own cgroup in it, or undefined without one.
function unifiedCgroup(): { mount: string; own: string } | undefined {
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' - '))
    .find(([, tail]) => tail?.startsWith('cgroup2 '))?.[0]?.split(' ')[4];
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  return mount && own !== undefined ? { mount, own: own === '/' ? '' : own } : undefined;
}

cgroups('a launch with `cgroup` runs the program in that cgroup from its first instruction', async () => {
  const where = unifiedCgroup();
  if (process.getuid?.() !== 0 || !where) {
    console.log('  (skipped: needs root and a cgroup2 hierarchy)');
    return;
  }
  const rel = `${where.own}/jailctl-addon-${process.pid}`;
  const dir = `${where.mount}${rel}`;
  const out = `/tmp/jailctl-addon-cgroup-${process.pid}`;
  mkdirSync(dir);
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  const outFd = openSync(out, 'w');
  try {
    const plan = makePlan(['cat', '/proc/self/cgroup'], { fds: [{ src: outFd, dst: 1 }], cgroup: { dirFd, procsFds: [] } });
    const c = binding.launch(serializePlan(plan));
    const code = await new Promise<number | null>((resolve) => {
      const w = new binding.FdWatcher(c.pidfd, () => {
        const r = binding.waitPidfd(c.pidfd);
        if (r) {
          w.close();
          resolve(r.code);
        }
      });
    });
    closeSync(c.pidfd);
    closeSync(c.statusFd);
    assert.is(code, 0);
    assert.match(readFileSync(out, 'utf8'), new RegExp(`^0::${rel}$`, 'm'));
  } finally {
    closeSync(dirFd);
    closeSync(outFd);
    unlinkSync(out);
    rmdirSync(dir);
  }
});

cgroups.run();

const unix = suite('connectUnix and non-blocking fd passing (the fork server client)');

const fdFlags = (fd: number): number =>
  parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);

unix('connectUnix gives a close-on-exec, non-blocking connection; the peer sees our pid', () => {
  const path = `/tmp/jailctl-connect-${process.pid}.sock`;
  const listener = binding.listenSocket(path);
  const fd = binding.connectUnix(path);
  assert.ok(fdFlags(fd) & constants.O_NONBLOCK, 'O_NONBLOCK');
  assert.ok(fdFlags(fd) & 0o2000000, 'O_CLOEXEC');
  assert.is(binding.peerCredentials(fd).uid, process.getuid!(), 'connected (SO_PEERCRED of the listener side)');
  for (const f of [fd, listener]) closeSync(f);
  unlinkSync(path);
});

unix('connectUnix throws errno errors: no listener is ECONNREFUSED or ENOENT, a full backlog EAGAIN', () => {
  const path = `/tmp/jailctl-connect-${process.pid}.sock`;
  const errOf = (fn: () => unknown): NodeJS.ErrnoException => {
    try {
      fn();
    } catch (err: unknown) {
      return err as NodeJS.ErrnoException;
    }
    throw new Error('did not throw');
  };
  const missing = errOf(() => binding.connectUnix(`${path}.missing`));
  assert.is(missing.code, 'ENOENT');
  assert.is(missing.syscall, 'connect');
  assert.is(missing.errno, -2);
  const listener = binding.listenSocket(path);
  closeSync(listener); // the socket file stays, nobody listens
  assert.is(errOf(() => binding.connectUnix(path)).code, 'ECONNREFUSED');
  // A listener nobody accepts on: the connections pile up in its backlog (1024) until
  // the kernel refuses one, at once, with EAGAIN.
  const held = binding.listenSocket(path);
  const conns: number[] = [];
  let full: NodeJS.ErrnoException | undefined;
  const start = Date.now();
  for (let i = 0; i < 2000 && !full; i++) {
    try {
      conns.push(binding.connectUnix(path));
    } catch (err: unknown) {
      full = err as NodeJS.ErrnoException;
    }
  }
  assert.ok(full, 'the backlog filled up');
  assert.is(full!.code, 'EAGAIN');
  assert.ok(Date.now() - start < 5000, 'never blocked');
  for (const f of [...conns, held]) closeSync(f);
  unlinkSync(path);
  assert.throws(() => (binding.connectUnix as unknown as (x: unknown) => number)(3), TypeError);
});

unix('recvFds on a non-blocking socket: EAGAIN while empty, then the data and fds, then EOF as empty data', () => {
  const [a, b] = binding.socketPair();
  binding.setNonBlocking(b);
  try {
    binding.recvFds(b, 16, 4);
    assert.unreachable('should have thrown');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException;
    assert.is(e.code, 'EAGAIN');
    assert.is(e.syscall, 'recvmsg');
  }
  const file = openSync('/proc/self/status', 'r');
  binding.sendFds(a, Buffer.from('pid'), [file]);
  const msg = binding.recvFds(b, 16, 4);
  assert.is(msg.data.toString(), 'pid');
  assert.is(msg.fds.length, 1);
  closeSync(a);
  const eof = binding.recvFds(b, 16, 4);
  assert.is(eof.data.length, 0);
  assert.is(eof.fds.length, 0);
  for (const f of [...msg.fds, file, b]) closeSync(f);
});

unix.run();

const cgroupRead = suite('cgroupReadNumbers');

cgroupRead('each kind parses its file as cgroupfs writes it; fd -1, a missing key, `max` and a short file give NaN', () => {
  const dir = mkdtempSync(`${tmpdir()}/cgroup-read-`);
  const files: Array<[string, CgroupFileKind, number]> = [
    ['123456789\n', CgroupFileKind.number, 123456789],
    ['max\n', CgroupFileKind.number, NaN],
    ['usage_usec 4200\nuser_usec 4000\nsystem_usec 200\n', CgroupFileKind.usageUsec, 4200],
    ['low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n', CgroupFileKind.oomKill, 2],
    ['oom_kill_disable 0\nunder_oom 0\noom_kill 7\n', CgroupFileKind.oomKill, 7],
    ['nr_descendants 3\nnr_dying_descendants 1\n', CgroupFileKind.nrDescendants, 3],
    ['nr_dying_descendants 1\n', CgroupFileKind.nrDescendants, NaN],
    ['some avg10=12.50 avg60=1.00 avg300=0.00 total=99\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n', CgroupFileKind.avg10, 12.5],
    ['full avg10=3.00\n', CgroupFileKind.avg10, NaN],
    ['', CgroupFileKind.number, NaN],
    [Array.from({ length: 5000 }, (_, i) => `${100000 + i}\n`).join(''), CgroupFileKind.lines, 5000],
  ];
  const fds = Int32Array.from(files, ([text], i) => {
    writeFileSync(`${dir}/f${i}`, text);
    return openSync(`${dir}/f${i}`, 'r');
  });
  try {
    const kinds = Uint8Array.from(files, ([, kind]) => kind);
    const out = new Float64Array(files.length);
    // Twice: each read is a pread at offset 0, so a held file reads the same again.
    for (let round = 0; round < 2; round++) {
      binding.cgroupReadNumbers(fds, kinds, out);
      files.forEach(([text, , want], i) => assert.equal(out[i], want, `${JSON.stringify(text.slice(0, 40))}, round ${round}`));
    }
    binding.cgroupReadNumbers(Int32Array.of(-1), Uint8Array.of(CgroupFileKind.number), out.subarray(0, 1));
    assert.ok(Number.isNaN(out[0]));
    assert.throws(() => binding.cgroupReadNumbers(fds, kinds, new Float64Array(1)), /one element per file/);
    assert.throws(() => binding.cgroupReadNumbers(Int32Array.of(fds[0]!), Uint8Array.of(9), new Float64Array(1)), /unknown kind 9/);
    assert.throws(() => (binding.cgroupReadNumbers as unknown as (...a: unknown[]) => void)([fds[0]], kinds, out), TypeError);
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true });
  }
});

cgroupRead.run();
