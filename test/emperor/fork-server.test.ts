// The fork server, for real: a real emperor, a real base (the PSGI host with early-psgi and
// fork-server), vassals adopted from it, each a whole jail. The reference example of issue 13
// (test/fixtures/forkserver: myapp.pl sleeps 2 s at load; one.ini and two.ini are adopted).
// Times are only ever compared with each other (adoption against the app's load), never
// with a number of seconds.
import { chownSync, copyFileSync, readFileSync, readlinkSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { emperorFixture, freePort, sleep, waitUntil, type RunningEmperor, type StatsVassal } from '../helpers/emperor';
import { descendants, procTable } from '../helpers/proc';
import { requireRoot } from '../helpers/root';

requireRoot();

const test = suite('fork server');
const fx = emperorFixture(test, 0o755);
const FIXTURES = join(__dirname, '..', 'fixtures', 'forkserver');
// The bases' socket directories of a test, removed once its emperor has stopped.
const runDirs: string[] = [];
test.after.each(() => {
  for (const d of runDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// GET on 127.0.0.1:PORT, a connection of its own: `STATUS BODY`.
function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'close' }, timeout: 20_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

// Until PORT answers 200 (connection refused while nobody holds it yet).
async function answer(port: number, path = '/', timeoutMs = 20_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const r = await get(port, path);
      if (r.startsWith('200 ')) return r;
      last = r;
    } catch (err: unknown) {
      last = String(err);
    }
    await sleep(20);
  }
  throw new Error(`127.0.0.1:${port}${path} did not answer: ${last}`);
}

interface Setup {
  readonly e: RunningEmperor;
  readonly socket: string;
  readonly ports: { readonly one: number; readonly two: number; readonly three: number };
}

// The fixtures in the test's directory, and an emperor on it (its base's socket in a
// directory of this test's own, which the base creates root-only).
async function start(files: readonly string[], ...args: string[]): Promise<Setup> {
  for (const f of ['myapp.pl', ...files]) copyFileSync(join(FIXTURES, f), join(fx.dir.dir, f));
  const ports = { one: await freePort(), two: await freePort(), three: await freePort() };
  const socket = `/run/jailctl-test-fs-${process.pid}-${Date.now().toString(36)}/base.sock`;
  runDirs.push(dirname(socket));
  const e = fx.start([
    '--emperor', fx.dir.dir, '--emperor-freq', '1',
    '--emperor-use-fork-server', socket, '--vassal-fork-base', 'perlbase.ini',
    '--vassal-set', `fs_socket=${socket}`, '--vassal-set', `one_port=${ports.one}`, '--vassal-set', `two_port=${ports.two}`, '--vassal-set', `three_port=${ports.three}`,
    ...args,
  ]);
  return { e, socket, ports };
}

// Waits for the vassal to be in `state` and returns its stats.
const inState = async (e: RunningEmperor, id: string, state: string, timeoutMs = 20_000): Promise<StatsVassal> =>
  (await e.waitForVassal(id, (v) => v?.state === state, state, timeoutMs))!;

// How long the base took from its start to accepting: what adoption must beat by far.
async function baseLoad(e: RunningEmperor, id = 'perlbase.ini'): Promise<number> {
  await e.waitForVassal(id, (v) => (v?.pid ?? 0) > 0, 'a base process');
  const t0 = Date.now();
  await e.waitForVassal(id, (v) => v?.accepting === 1, 'the base accepting', 30_000);
  return Date.now() - t0;
}

const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const nsOf = (pid: number, ns: string): string => readlinkSync(`/proc/${pid}/ns/${ns}`);
const cgroupOf = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8');

test('the reference example: one and two are adopted once the base is up, answer at once, and are whole jails', async () => {
  const { e, ports } = await start(['perlbase.ini', 'one.ini', 'two.ini']);
  const load = await baseLoad(e);
  const t0 = Date.now();
  const [one, two] = await Promise.all([answer(ports.one), answer(ports.two)]);
  const adopted = Date.now() - t0;
  assert.is(one, '200 Hello World\n');
  assert.is(two, '200 Hello World\n');
  assert.ok(adopted * 4 < load, `adopted and answering in ${adopted} ms, a fraction of the app's load (${load} ms)`);
  assert.match(e.log(), /\[perlbase\.ini\] I am the App/);
  assert.is(e.log().match(/I am the App/g)!.length, 1, 'the app was loaded once, by the base');

  const emperor = e.child.pid!;
  const table = procTable();
  for (const [id, uid, workers] of [['one.ini', 1001, 4], ['two.ini', 1002, 8]] as const) {
    const v = await inState(e, id, 'running');
    assert.is(v.adopted, 1, `${id}: stats say adopted`);
    assert.is(table.get(v.init_pid)!.ppid, emperor, `${id}: its top process is the emperor's child`);
    assert.is.not(nsOf(v.init_pid, 'pid'), nsOf(emperor, 'pid'), `${id}: its own pid namespace`);
    assert.is.not(nsOf(v.init_pid, 'mnt'), nsOf(emperor, 'mnt'), `${id}: its own mount namespace`);
    const below = descendants(v.init_pid, table).map((p) => p.pid);
    await waitUntil(() => descendants(v.init_pid).length >= workers + 1, `${id}: its master and ${workers} workers`);
    for (const pid of [v.init_pid, ...below]) {
      if (pid !== v.init_pid) assert.is(uidOf(pid), uid, `${id}: pid ${pid} runs as ${uid}`);
      assert.match(cgroupOf(pid), new RegExp(`/jailctl-${emperor}/vassals/${id.replace('.', '\\.')}$`, 'm'), `${id}: pid ${pid} is in its own cgroup beneath the emperor's`);
    }
    assert.match(await get(id === 'one.ini' ? ports.one : ports.two, '/who'), new RegExp(`^200 pid \\d+ uid ${uid} gid ${uid}`));
  }
  const ps = jailctl(['ps', '--socket', e.controlPath]);
  assert.match(ps.stdout, /one\.ini\s.*\badopted\b/);
  assert.not.match(ps.stdout, /perlbase\.ini\s.*\badopted\b/);

  // Dropped in later: adopted from the running base, without the app's load.
  const t1 = Date.now();
  writeFileSync(join(fx.dir.dir, 'three.ini'), readFileSync(join(FIXTURES, 'one.ini'), 'utf8').replace('one_port', 'three_port'));
  assert.is(await answer(ports.three), '200 Hello World\n');
  const later = Date.now() - t1;
  assert.ok(later * 4 < load, `a vassal dropped in later answers in ${later} ms (the app's load: ${load} ms)`);
  assert.is(e.log().match(/I am the App/g)!.length, 1);
});

test('a killed adopted vassal is adopted again; killing the base: pending adoptions wait for the new one', async () => {
  const { e, ports } = await start(['perlbase.ini', 'one.ini']);
  await baseLoad(e);
  await answer(ports.one);
  const first = await inState(e, 'one.ini', 'running');
  process.kill(first.pid, 'SIGKILL');
  const again = (await e.waitForVassal('one.ini', (v) => v?.state === 'running' && v.pid !== first.pid, 'adopted again'))!;
  assert.is(again.adopted, 1);
  assert.is(await answer(ports.one), '200 Hello World\n');
  assert.is(procTable().get(again.init_pid)!.ppid, e.child.pid, 'the new jail\'s top process is the emperor\'s child');

  // The base dies; a vassal dropped in now waits for the next base (no failed first attempt).
  const base = await inState(e, 'perlbase.ini', 'running');
  process.kill(base.pid, 'SIGKILL');
  await e.waitForVassal('perlbase.ini', (v) => v?.pid !== base.pid, 'the base gone');
  writeFileSync(join(fx.dir.dir, 'two.ini'), readFileSync(join(FIXTURES, 'two.ini'), 'utf8'));
  await e.waitForLog(/two\.ini: new config/);
  assert.is(await answer(ports.one), '200 Hello World\n', 'one serves on while its base is down');
  assert.is(await answer(ports.two, '/', 30_000), '200 Hello World\n');
  const two = await inState(e, 'two.ini', 'running');
  assert.is(two.adopted, 1);
  assert.is(two.launch_error, null);
  assert.not.match(e.log(), /two\.ini: .*not adopted/);
  assert.is(e.log().match(/I am the App/g)!.length, 2, 'the new base loaded the app again');
});

// Every process in a cgroup of that emperor's: the base, a middle process forked from it (in
// the base's cgroup until it places its jail), adopted vassals and their workers. Read from
// /proc, since a SIGKILLed emperor leaves its cgroups behind.
function inCgroupsOf(emperor: number): number[] {
  const out: number[] = [];
  for (const pid of procTable().keys()) {
    try {
      if (cgroupOf(pid).includes(`/jailctl-${emperor}/`)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('SIGKILL of the emperor while adoptions are under way: the base, the adopted vassals and the adoptions in flight all die with it', async () => {
  const { e, ports } = await start(['perlbase.ini', 'one.ini']);
  await baseLoad(e);
  await answer(ports.one);
  const emperor = e.child.pid!;
  const files = await Promise.all(Array.from({ length: 12 }, async (_, i) => [`m${i}.ini`, `[uwsgi]\nhttp-socket = 127.0.0.1:${await freePort()}\nprocesses = 2\nuid = 1001\ngid = 1001\n`] as const));
  for (const [name, text] of files) fx.dir.write(name, text);
  await e.waitForLog(/m\d+\.ini: new config/);
  assert.ok(inCgroupsOf(emperor).length >= 2, 'the base and one at least are in the emperor\'s cgroups');
  e.child.kill('SIGKILL');
  await e.exited;
  await waitUntil(() => inCgroupsOf(emperor).length === 0, 'no process left in the dead emperor\'s cgroups', 10_000);
});

test('a vassal file rewritten in a burst: its socket is held once at a time, and it is adopted and answers', async () => {
  const { e, ports } = await start(['perlbase.ini']);
  await baseLoad(e);
  // Each complete version (renamed into place) makes the emperor look at the file again,
  // perhaps while the look before still opens the socket: a second bind of it failed
  // (EADDRINUSE) and the vassal with it (found by bench:forkserver's 100 files at once;
  // a race, so this test may pass without the fix, the unit test of SerialOpen may not).
  const file = join(fx.dir.dir, 'burst.ini');
  for (let i = 0; i < 8; i++) {
    writeFileSync(`${file}.tmp`, `[uwsgi]\nhttp-socket = 127.0.0.1:${ports.three}\nprocesses = 1\n# version ${i}\n`);
    renameSync(`${file}.tmp`, file);
  }
  assert.is(await answer(ports.three), '200 Hello World\n');
  assert.is((await inState(e, 'burst.ini', 'running')).adopted, 1);
  assert.not.match(e.log(), /burst\.ini: cannot hold/);
});

// A cgroup limit of pid's jail: memory (bytes) or pids, from the v1 hierarchy of that
// controller when there is one, else from the unified one (read, never assumed).
function limitOf(pid: number, controller: 'memory' | 'pids'): number | 'max' {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]!.split(',').includes(controller));
  const candidates = v1
    ? [`/sys/fs/cgroup/${controller}${v1.split(':')[2]}/${controller === 'memory' ? 'memory.limit_in_bytes' : 'pids.max'}`]
    : ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].map((root) => `${root}${lines.find((l) => l.startsWith('0::'))!.slice(3)}/${controller}.max`);
  for (const file of candidates) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      return text === 'max' ? 'max' : Number(text);
    } catch {
      // not this one
    }
  }
  throw new Error(`no ${controller} limit file for pid ${pid} among ${candidates.join(', ')}`);
}

// The workers of an adopted jail: its top process → the master → them.
const workersOf = (top: number): number[] => {
  const table = procTable();
  const master = [...table.values()].find((p) => p.ppid === top);
  return master ? [...table.values()].filter((p) => p.ppid === master.pid).map((p) => p.pid).sort() : [];
};

test('an adopted vassal: its cgroup limits, its heartbeat, and a reload (SIGHUP: new workers, the same jail, nothing refused)', async () => {
  const { e, ports } = await start(['perlbase.ini'], '--emperor-required-heartbeat', '2');
  await baseLoad(e);
  fx.dir.write('beat.ini', '[uwsgi]\nhttp-socket = 127.0.0.1:%(three_port)\nprocesses = 2\nheartbeat = 1\nmemory-max = 96m\npids-max = 30\n');
  assert.is(await answer(ports.three), '200 Hello World\n');
  const first = (await e.waitForVassal('beat.ini', (v) => v?.state === 'running' && v.last_heartbeat > 0, 'a first heartbeat', 20_000))!;
  assert.is(first.adopted, 1);
  await waitUntil(() => workersOf(first.init_pid).length === 2, 'its master and 2 workers');
  for (const pid of [first.init_pid, ...workersOf(first.init_pid)]) {
    assert.is(limitOf(pid, 'memory'), 96 << 20, `pid ${pid}: memory-max 96m`);
    assert.is(limitOf(pid, 'pids'), 30, `pid ${pid}: pids-max 30`);
  }

  // Past emperor-required-heartbeat: beating, so not taken for hung.
  await sleep(4500);
  const later = (await e.vassal('beat.ini'))!;
  assert.is(later.pid, first.pid, 'not killed as hung');
  assert.ok(later.last_heartbeat > first.last_heartbeat, 'heartbeats kept coming');
  assert.not.match(e.log(), /beat\.ini: no heartbeat/);

  // SIGHUP to the emperor: every vassal reloads; this one under load.
  const before = workersOf(first.init_pid);
  let served = 0;
  let failed = 0;
  let running = true;
  const client = (async () => {
    while (running) {
      const r = await get(ports.three).catch((err: Error) => err.message);
      if (r.startsWith('200 ')) served++;
      else failed++;
    }
  })();
  await sleep(300);
  process.kill(e.child.pid!, 'SIGHUP');
  await waitUntil(() => {
    const now = workersOf(first.init_pid);
    return now.length === 2 && now.every((w) => !before.includes(w));
  }, 'a new generation of workers', 20_000);
  await sleep(300);
  running = false;
  await client;
  assert.is((await e.vassal('beat.ini'))!.pid, first.pid, 'the same jail: reloaded, not restarted');
  assert.ok(served > 0, `${served} requests served during the reload`);
  assert.is(failed, 0, `${failed} of ${served + failed} failed`);
});

test('a plan over 64 KiB (a big environment) reaches the adopted vassal whole, through the config pipe', async () => {
  const { e, ports } = await start(['perlbase.ini']);
  await baseLoad(e);
  // Four values of 30,000 bytes (one option value holds at most 32 KiB): a 120 KiB plan.
  const env = [1, 2, 3, 4].map((i) => `env = BIG${i}=${'x'.repeat(30_000)}\n`).join('');
  fx.dir.write('big.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:%(three_port)\nprocesses = 1\n${env}`);
  for (const i of [1, 2, 3, 4]) assert.is(await answer(ports.three, `/env/BIG${i}`), '200 length 30000\n');
  assert.is((await inState(e, 'big.ini', 'running')).adopted, 1);
});

test('a base that never comes up: the vassal fails with an error naming the base and what it waited for', async () => {
  const { e } = await start(['perlbase.ini', 'one.ini'], '--emperor-fork-server-timeout', '1');
  writeFileSync(join(fx.dir.dir, 'myapp.pl'), 'die "this app does not load\\n";\n');
  utimesSync(join(fx.dir.dir, 'perlbase.ini'), new Date(), new Date());
  await e.waitForLog(/one\.ini: not adopted: its base perlbase\.ini \(fork server \S+base\.sock\) is down \([^)]*\) and stayed down for 1 s \(emperor-fork-server-timeout\)/, 30_000);
  const v = await e.vassal('one.ini');
  assert.match(String(v!.launch_error), /not adopted: its base perlbase\.ini/);
  // No base at all for a vassal's own fork-server attribute.
  writeFileSync(join(fx.dir.dir, 'lone.ini'), '[uwsgi]\nfork-server = /run/jailctl-nobody/none.sock\nhttp-socket = 127.0.0.1:%(three_port)\n');
  await e.waitForLog(/lone\.ini: not adopted: no base vassal serves the fork server \/run\/jailctl-nobody\/none\.sock/, 30_000);
  assert.ok((await e.stats()).pid > 0, 'the emperor lives on');
});

test('bases that send garbage, close early, never answer or say pid 0 and go silent fail those adoptions only, each named', async () => {
  const dir = `/run/jailctl-test-fake-${process.pid}-${Date.now().toString(36)}`;
  runDirs.push(dir);
  const modes = ['garbage', 'close', 'silent', 'pid0'];
  const bases = modes.map((m) => `${m}base.ini`);
  const { e, ports } = await start(['perlbase.ini', 'one.ini'], '--emperor-fork-server-timeout', '1', ...bases.flatMap((b) => ['--vassal-fork-base', b]));
  for (const m of modes) {
    fx.dir.write(`${m}base.ini`, `[uwsgi]\nearly-psgi = myapp.pl\nfork-server = ${dir}/${m}.sock\nunprivileged-binary-patch-arg = /usr/bin/perl ${join(FIXTURES, 'fakebase.pl')} ${m} ${dir}/${m}.sock\n`);
    fx.dir.write(`to-${m}.ini`, `[uwsgi]\nfork-server = ${dir}/${m}.sock\nprocesses = 1\n`);
  }
  await e.waitForLog(/to-garbage\.ini: not adopted \(stage reply\): base garbagebase\.ini \(pid \d+, fork server \S+garbage\.sock\) sent byte 255 where its pid packet \(35\) starts/, 30_000);
  await e.waitForLog(/to-close\.ini: not adopted \(stage reply\): base closebase\.ini \(pid \d+, fork server \S+close\.sock\) closed the connection before its pid packet/, 30_000);
  await e.waitForLog(/to-silent\.ini: not adopted \(stage reply\): base silentbase\.ini \(pid \d+, fork server \S+silent\.sock\) did not answer the adoption request within 1 s/, 30_000);
  // pid 0 and then nothing: given up after the same timeout, and the connection closed.
  await e.waitForLog(/to-pid0\.ini: not adopted \(stage reply\): base pid0base\.ini forked nothing and sent no failure record within 1 s of its pid packet/, 30_000);
  await e.waitForLog(/fake base \(pid0\): the emperor closed the connection/, 30_000);
  // The emperor and the well-behaved base's vassal are fine.
  assert.is(await answer(ports.one), '200 Hello World\n');
  for (const m of modes) assert.match(String((await e.vassal(`to-${m}.ini`))!.launch_error), /not adopted/);
});

test('a base file may not unshare or set a uid: refused with its line and the reason', async () => {
  const { e } = await start(['one.ini']);
  writeFileSync(join(fx.dir.dir, 'perlbase.ini'), '[uwsgi]\nearly-psgi = myapp.pl\nfork-server = %(fs_socket)\nunshare = net\n');
  await e.waitForLog(/perlbase\.ini: \S+perlbase\.ini:4: a fork-server base runs in the host's namespaces: an orphan must reach the emperor/);
});

test('on demand + fork server: nothing runs until the first connection, which adopts the vassal', async () => {
  const { e, ports } = await start(['perlbase.ini'], '--emperor-on-demand-extension', '.socket');
  writeFileSync(join(fx.dir.dir, 'lazy.ini'), '[uwsgi]\nprocesses = 2\nuid = 1001\ngid = 1001\n');
  writeFileSync(join(fx.dir.dir, 'lazy.ini.socket'), `127.0.0.1:${ports.one}\n`);
  await baseLoad(e);
  const held = await inState(e, 'lazy.ini', 'on-demand');
  assert.is(held.pid, 0);
  assert.is(await get(ports.one), '200 Hello World\n', 'the first connection waits in the backlog and is served');
  const v = await inState(e, 'lazy.ini', 'running');
  assert.is(v.adopted, 1);
  assert.is(uidOf(descendants(v.init_pid).at(-1)!.pid), 1001);
});

test('tyrant mode: tenants\' vassals adopted from a root-owned base run as their owners; a tenant\'s base file is refused', async () => {
  const { e, ports } = await start(['perlbase.ini'], '--emperor-tyrant');
  for (const [name, uid, port] of [['alice.ini', 1001, ports.one], ['bob.ini', 1002, ports.two]] as const) {
    const path = join(fx.dir.dir, name);
    writeFileSync(path, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nprocesses = 2\n`);
    chownSync(path, uid, uid);
  }
  await baseLoad(e, 'root/perlbase.ini');
  for (const [id, uid, port] of [['1001/alice.ini', 1001, ports.one], ['1002/bob.ini', 1002, ports.two]] as const) {
    assert.match(await answer(port, '/who'), new RegExp(`^200 pid \\d+ uid ${uid} gid ${uid}`));
    const v = await inState(e, id, 'running');
    assert.is(v.adopted, 1);
  }
  // A tenant's file named by vassal-fork-base is never a base.
  const own = join(fx.dir.dir, 'perlbase.ini');
  chownSync(own, 1002, 1002);
  utimesSync(own, new Date(), new Date());
  await e.waitForLog(/perlbase\.ini: .*owned by uid 1002: in tyrant mode a fork-server base runs as root and must be a root-owned file/, 20_000);
});

test('rolling deploy: new code in the app and a touch of the base; every vassal serves it, no request fails', async () => {
  const app = (v: string): string => `sleep 1;\nmy $v = '${v}';\nmy $app = sub { return [200, ['Content-Type' => 'text/plain'], ["Hello $v\\n"]] };\n`;
  const { e, ports } = await start(['perlbase.ini']);
  writeFileSync(join(fx.dir.dir, 'myapp.pl'), app('v1'));
  utimesSync(join(fx.dir.dir, 'perlbase.ini'), new Date(), new Date());
  const all = [ports.one, ports.two, ports.three];
  for (const [i, port] of all.entries()) writeFileSync(join(fx.dir.dir, `r${i}.ini`), `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nprocesses = 2\nuid = 100${1 + (i % 2)}\ngid = 100${1 + (i % 2)}\n`);
  for (const port of all) await e.waitForVassal(`r${all.indexOf(port)}.ini`, (v) => v?.state === 'running', 'running', 30_000);
  for (const port of all) assert.is(await answer(port), '200 Hello v1\n');
  const before = await Promise.all(all.map((_, i) => e.vassal(`r${i}.ini`)));

  const failures: string[] = [];
  const seen = all.map(() => new Set<string>());
  let ok = 0;
  let running = true;
  const loops = all.map(async (port, i) => {
    while (running) {
      try {
        const r = await get(port);
        if (r.startsWith('200 Hello ')) {
          ok++;
          seen[i]!.add(r);
        } else failures.push(`${port}: ${r}`);
      } catch (err: unknown) {
        failures.push(`${port}: ${String(err)}`);
      }
    }
  });
  await sleep(300);
  writeFileSync(join(fx.dir.dir, 'myapp.pl'), app('v2'));
  utimesSync(join(fx.dir.dir, 'perlbase.ini'), new Date(), new Date());
  await waitUntil(() => seen.every((s) => s.has('200 Hello v2\n')), 'every vassal serving v2', 40_000);
  // Once every old instance is gone, only v2 is served.
  await e.waitForLog(new RegExp(`(old instance \\(pid \\d+\\) exited[\\s\\S]*){${all.length}}`), 30_000);
  for (const s of seen) s.clear();
  await sleep(300);
  running = false;
  await Promise.all(loops);
  assert.equal(failures, [], 'no request failed');
  assert.ok(ok > 100, `${ok} requests`);
  for (const s of seen) assert.equal([...s], ['200 Hello v2\n']);
  for (const [i, v] of before.entries()) {
    const now = await e.vassal(`r${i}.ini`);
    assert.is(now!.adopted, 1);
    assert.is.not(now!.pid, v!.pid, `r${i}.ini: a new instance`);
    assert.is(now!.on_demand, '');
  }
});

test.run();
