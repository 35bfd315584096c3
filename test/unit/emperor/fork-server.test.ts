// The emperor's side of the fork server without a base: which files are bases or adopted,
// the base rules (with file:line), the adoption plan's fds by slot, the wire packets, and
// the registry of bases that adoptions wait for.
import { chownSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb } from '../../../src/config/users';
import { parsePidPacket, planFrame, requestPacket } from '../../../src/emperor/adopt';
import { BaseDownError, ForkBases } from '../../../src/emperor/fork-bases';
import { SerialOpen } from '../../../src/emperor/jail-source';
import { readBaseFile } from '../../../src/emperor/fork-rules';
import { checkTenantSocket, OnDemandError } from '../../../src/emperor/on-demand';
import { DEFAULT_EMPEROR_OPTIONS, type EmperorOptions } from '../../../src/emperor/options';
import { buildVassal, type VassalBuildContext } from '../../../src/emperor/vassal-config';
import { ConfigError, PlanError } from '../../../src/errors';
import { serializeAdoptionPlan } from '../../../src/plan/serialize';
import { thrown } from '../../helpers/thrown';

const users = parseUserDb('root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n');
const options: EmperorOptions = { ...DEFAULT_EMPEROR_OPTIONS, useForkServer: '/run/fs/base.sock', forkBases: ['perlbase.ini'] };
const ctx = (over: Partial<VassalBuildContext> = {}): VassalBuildContext => ({
  options, users, baseEnv: {}, env: {}, emperorFd: 10, configFd: 11,
  privileges: { uid: 0, gid: 0, caps: new Set(['sys_admin', 'setuid', 'setgid']) }, ...over,
});

let dir = '';
const rules = suite('fork rules');
rules.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-fork-'));
});
rules.after(() => rmSync(dir, { recursive: true, force: true }));

const source = (name: string, text: string, uid = 0) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  if (uid !== 0) chownSync(path, uid, uid);
  return { name, path, monitor: `dir://${dir}`, mtimeNs: 0n, uid, gid: uid };
};
const BASE = '[jail]\nearly-psgi = app.psgi\nfork-server = /run/fs/base.sock\n';

rules('a base: host namespaces, root, every capability, no filter', () => {
  const b = buildVassal(source('perlbase.ini', BASE), ctx());
  assert.equal(b.fork, { kind: 'base', socket: '/run/fs/base.sock' });
  assert.equal(b.plan.namespaces, []);
  assert.is(b.plan.uid, undefined);
  assert.is(b.plan.seccomp.mode, 'none');
  assert.ok(b.plan.caps.includes('sys_admin') && b.plan.caps.includes('setuid'));
  assert.match(b.plan.program.argv.join(' '), /jailctl-psgi\.pl/);
});

rules('a base takes no cpu-max, io-weight or cgroup-opt of its own (its vassals would stay in its cgroups); vassals-cpu-max is every vassal\'s', () => {
  for (const line of ['cpu-max = 50%', 'io-weight = 200', 'cgroup-opt = pids.max=10']) {
    const e = thrown(() => buildVassal(source('perlbase.ini', `${BASE}${line}\n`), ctx()), ConfigError);
    assert.match(e.message, /perlbase\.ini:4: a fork-server base takes no (cpu-max|io-weight|cgroup-opt): the vassals adopted from it would stay in the base's own/);
  }
  const b = buildVassal(source('perlbase.ini', BASE), ctx({ options: { ...options, vassalsCpuMax: '50%' }, cgroups: { unsupported: () => [] } }));
  assert.is(b.fork?.kind, 'base');
});

rules('early-psgi with fork-server in a file no vassal-fork-base names: refused, with the emperor line to add', () => {
  const e = thrown(() => buildVassal(source('other.ini', BASE), ctx()), ConfigError);
  assert.match(e.message, /other\.ini:2: early-psgi with fork-server makes a fork-server base, but the emperor has no vassal-fork-base naming other\.ini: add `vassal-fork-base = other\.ini`/);
});

rules('tyrant mode: a base file with a second hard link is refused; a tenant\'s socket names an IP address, never a host name', () => {
  const base = source('perlbase.ini', BASE).path;
  assert.is(readBaseFile(base).entries.length, 2);
  linkSync(base, join(dir, 'linked.ini'));
  assert.match(thrown(() => readBaseFile(base), ConfigError).message, /has 2 hard links: a fork-server base runs as root, so it must be one root-owned file with a single link/);
  rmSync(join(dir, 'linked.ini'));
  for (const ok of ['127.0.0.1:8080', ':8080', '[::1]:8080']) checkTenantSocket('t.ini', ok, { vassalsCap: [] });
  assert.match(thrown(() => checkTenantSocket('t.ini', 'localhost:8080', { vassalsCap: [] }), OnDemandError).message, /an IP address .* not a host name/);
});

rules('tyrant mode: a tenant\'s file cannot choose its base (the emperor\'s emperor-use-fork-server applies)', () => {
  const tyrant = ctx({ options: { ...options, tyrant: true }, users: parseUserDb('root:x:0:0::/root:/bin/sh\nt:x:1001:1001::/:/bin/sh\n', 'root:x:0:\nt:x:1001:\n') });
  const adopted = buildVassal(source('t.ini', '[jail]\nprocesses = 1\n', 1001), tyrant);
  assert.equal(adopted.fork, { kind: 'adopted', server: '/run/fs/base.sock' });
  const e = thrown(() => buildVassal(source('t.ini', '[jail]\nfork-server = /run/other/base.sock\n', 1001), tyrant), ConfigError);
  assert.match(e.message, /t\.ini:2: in tyrant mode a tenant's file does not choose its fork-server base/);
});

rules('a base refuses unshare and uid with the line and the reason; needs early-psgi and fork-server', () => {
  const e1 = thrown(() => buildVassal(source('perlbase.ini', `${BASE}unshare = net\n`), ctx()), ConfigError);
  assert.match(e1.message, /perlbase\.ini:4: a fork-server base runs in the host's namespaces: an orphan must reach the emperor/);
  const e2 = thrown(() => buildVassal(source('perlbase.ini', `${BASE}uid = 1001\n`), ctx()), ConfigError);
  assert.match(e2.message, /perlbase\.ini:4: a fork-server base runs as root/);
  const e3 = thrown(() => buildVassal(source('perlbase.ini', '[jail]\nearly-psgi = app.psgi\n'), ctx()), ConfigError);
  assert.match(e3.message, /needs fork-server = PATH/);
  const e4 = thrown(() => buildVassal(source('perlbase.ini', '[jail]\nfork-server = /x.sock\n'), ctx()), ConfigError);
  assert.match(e4.message, /needs early-psgi = APP\.psgi/);
});

rules('an emperor that is not root cannot run a base; a custom attribute is the emperor\'s, not an option', () => {
  const e = thrown(() => buildVassal(source('perlbase.ini', BASE), ctx({ privileges: { uid: 1000, gid: 1000, caps: new Set(['setuid', 'setgid']) } })), ConfigError);
  assert.match(e.message, /a fork-server base runs as root .* this emperor runs as uid 1000/);
  const b = buildVassal(source('c.ini', '[jail]\nmy-base = /run/b.sock\n'), ctx({ options: { ...options, forkServerAttr: 'my-base' } }));
  assert.equal(b.fork, { kind: 'adopted', server: '/run/b.sock' });
  assert.not.ok(b.warnings.some((w) => w.includes('my-base')), b.warnings.join('\n'));
  assert.not.match(b.configText!, /my-base/);
});

rules('tyrant mode: a tenant-owned file named by vassal-fork-base is refused', () => {
  const e = thrown(() => buildVassal(source('perlbase.ini', BASE, 1001), ctx({ options: { ...options, tyrant: true } })), ConfigError);
  assert.match(e.message, /owned by uid 1001: in tyrant mode a fork-server base runs as root and must be a root-owned file/);
});

rules('adopted: no program of its own; http-socket held (fd 0), not in what it reads', () => {
  const b = buildVassal(source('one.ini', '[jail]\nhttp-socket = 127.0.0.1:8181\nprocesses = 4\nuid = 1001\ngid = 1001\n'), ctx({ onDemand: { fd: 12, address: '127.0.0.1:8181' } }));
  assert.equal(b.fork, { kind: 'adopted', server: '/run/fs/base.sock', listen: '127.0.0.1:8181' });
  assert.ok(b.plan.fds.some((f) => f.src === 12 && f.dst === 0));
  assert.ok(b.plan.namespaces.includes('pid') && b.plan.namespaces.includes('mount'));
  assert.not.match(b.configText!, /http-socket/);
  assert.match(b.configText!, /processes = 4/);
  // A program of its own: spawned.
  assert.is(buildVassal(source('own.ini', '[jail]\npsgi = x.psgi\n'), ctx()).fork, undefined);
  assert.is(buildVassal(source('app.ini', '[jail]\napp = x.js\n'), ctx()).fork, undefined);
  // The per-vassal attribute names another base.
  assert.equal(buildVassal(source('a.ini', '[jail]\nfork-server = /run/other.sock\n'), ctx({ options: { ...options, useForkServer: undefined } })).fork, { kind: 'adopted', server: '/run/other.sock' });
  // No fork server applies: spawned.
  assert.is(buildVassal(source('b.ini', '[jail]\n'), ctx({ options: { ...DEFAULT_EMPEROR_OPTIONS, binaryPath: '/bin/true' } })).fork, undefined);
});

rules('adopted in tyrant mode: its http-socket follows the on-demand address rules', () => {
  const e = thrown(() => buildVassal(source('t.ini', '[jail]\nhttp-socket = 127.0.0.1:80\n', 1001), ctx({ options: { ...options, tyrant: true }, users: parseUserDb('t:x:1001:1001::/:/bin/sh\n', 't:x:1001:\n') })), Error);
  assert.match(e.message, /port 80 is below 1024/);
});

rules.run();

const wire = suite('adoption wire');
wire.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-fork-'));
});
wire.after(() => rmSync(dir, { recursive: true, force: true }));

wire('the adoption plan names fds by slot: emperor 0, config 1, socket 2, then the rest', () => {
  const b = buildVassal(source('one.ini', '[jail]\nhttp-socket = 127.0.0.1:8181\n'), ctx({ onDemand: { fd: 12, address: '127.0.0.1:8181' }, stdio: { out: 20, err: 21 } }));
  const plan = { ...b.plan, cgroup: { dirFd: 30, procsFds: [31] } };
  const w = serializeAdoptionPlan(plan, { emperor: 10, config: 11, socket: 12 });
  assert.equal(w.fds, [10, 11, 12, 20, 21, 30, 31]);
  assert.is(w.mask, 0x87);
  const text = w.bytes.toString('latin1');
  assert.ok(text.includes('cgroup\x01\x005') && text.includes('cgroup-procs\x01\x006'));
  assert.ok(text.includes('0:3') && text.includes('1:4') && text.includes('2:0') && text.includes('3:1') && text.includes('4:2'));
  assert.not.ok(text.includes('10:3'));
  const refusedPlan = thrown(() => serializeAdoptionPlan({ ...plan, program: { ...plan.program, privileged: true } }, { emperor: 10, config: 11 }), PlanError);
  assert.match(refusedPlan.message, /cannot have a privileged program/);
});

wire('request packet, plan frame, pid packet', () => {
  const p = requestPacket(['perl', 'x'], 0x83);
  assert.equal([...p.subarray(0, 4)], [35, 9, 0, 0x83]);
  assert.equal([...p.subarray(4, 6)], [4, 0]);
  assert.equal([...planFrame(Buffer.from('abc')).subarray(0, 4)], [3, 0, 0, 0]);
  const kv = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([k.length, 0]), Buffer.from(k), Buffer.from([v.length, 0]), Buffer.from(v)]);
  const packet = (body: Buffer): Buffer => Buffer.concat([Buffer.from([35, body.length, 0, 0]), body]);
  assert.is(parsePidPacket(packet(kv('pid', '4242'))), 4242);
  assert.throws(() => parsePidPacket(packet(kv('pid', '-1'))), /pid = "-1"/);
  assert.throws(() => parsePidPacket(packet(kv('pod', '1'))), /no well-formed `pid`/);
  assert.throws(() => parsePidPacket(Buffer.from([17, 0, 0, 0])), /not 35/);
  assert.throws(() => parsePidPacket(packet(Buffer.from([200, 0, 1]))), /no well-formed/);
});

wire.run();

const bases = suite('ForkBases');

bases('an adoption waits for accepting; a loading base is waited for, a down one times out naming it', async () => {
  const b = new ForkBases(() => undefined);
  const ac = new AbortController();
  b.loading('/s', 'perlbase.ini', 100);
  let got = 0;
  const waiting = b.waitFor('/s', 'one.ini', 50, ac.signal).then((x) => (got = x.pid));
  await new Promise((r) => setTimeout(r, 80)); // loading: longer than the timeout, still waiting
  assert.is(got, 0);
  b.accepting('/s', 100);
  await waiting;
  assert.is(got, 100);
  b.down('/s', 100, 'exited with 1');
  const err = await b.waitFor('/s', 'two.ini', 30, ac.signal).catch((e: unknown) => e);
  assert.instance(err, BaseDownError);
  assert.match((err as Error).message, /its base perlbase\.ini \(fork server \/s\) is down \(exited with 1\) and stayed down for 0\.03 s/);
  const none = await b.waitFor('/nobody', 'x.ini', 10, ac.signal).catch((e: unknown) => e);
  assert.match((none as Error).message, /no base vassal serves the fork server \/nobody/);
});

bases('a dead base respawned in time: pending adoptions go to the new one', async () => {
  const b = new ForkBases(() => undefined);
  const ac = new AbortController();
  b.loading('/s', 'perlbase.ini', 1);
  b.accepting('/s', 1);
  b.down('/s', 1, 'killed');
  const waiting = b.waitFor('/s', 'one.ini', 200, ac.signal);
  b.loading('/s', 'perlbase.ini', 2);
  b.accepting('/s', 2);
  assert.is((await waiting).pid, 2);
});

// A task that runs until released, recording its start.
function gate(log: string[], name: string): { task: () => Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const done = new Promise<void>((r) => (release = r));
  return { task: () => (log.push(name), done), release: () => release() };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

bases('rolling re-adoptions: four at a time per base, each base its own queue, one waiting per vassal', async () => {
  const b = new ForkBases(() => undefined);
  const log: string[] = [];
  const a = Array.from({ length: 6 }, (_, i) => gate(log, `a${i}`));
  a.forEach((g, i) => b.roll('/a', `v${i}.ini`, g.task));
  const other = gate(log, 'b0');
  b.roll('/b', 'w0.ini', other.task);
  await tick();
  assert.equal(log, ['a0', 'a1', 'a2', 'a3', 'b0'], 'four of base /a, and /b does not wait behind them');
  assert.is(b.rollsWaiting, 2);
  // v4 is renewed again while it waits: its newer task replaces the stale one.
  const newer = gate(log, 'a4-newer');
  b.roll('/a', 'v4.ini', newer.task);
  assert.is(b.rollsWaiting, 2, 'still one waiting task per vassal');
  a[0]!.release();
  a[1]!.release();
  await tick();
  await tick();
  assert.equal(log.slice(5), ['a5', 'a4-newer'], 'the replaced task never runs; the newest is queued last');
  for (const g of [...a, newer, other]) g.release();
  await tick();
  assert.is(b.rollsWaiting, 0);
});

bases('a failing roll task is logged with its vassal and does not stop the queue', async () => {
  const lines: string[] = [];
  const b = new ForkBases((l) => lines.push(l));
  let ran = false;
  b.roll('/a', 'bad.ini', () => Promise.reject(new Error('boom')));
  b.roll('/a', 'good.ini', async () => {
    ran = true;
  });
  await tick();
  await tick();
  assert.ok(ran);
  assert.match(lines.join('\n'), /bad\.ini: internal error in a rolling re-adoption: Error: boom/);
});

bases.run();

const serial = suite('SerialOpen');

serial('one opening at a time, in order; one no longer wanted when its turn comes is not begun; a throw is reported', async () => {
  const errors: string[] = [];
  const s = new SerialOpen((err) => errors.push(err.message));
  const log: string[] = [];
  let wanted = 3;
  const first = gate(log, 'open 1');
  s.run(() => true, first.task);
  s.run(() => wanted === 2, async () => void log.push('open 2'));
  s.run(() => wanted === 3, async () => void log.push('open 3'));
  await tick();
  assert.equal(log, ['open 1'], 'the next waits for the one before to settle');
  first.release();
  await tick();
  await tick();
  assert.equal(log, ['open 1', 'open 3'], 'open 2 was superseded before its turn');
  wanted = 4;
  s.run(() => true, () => Promise.reject(new Error('boom')));
  s.run(() => true, async () => void log.push('open 5'));
  await tick();
  await tick();
  assert.equal(errors, ['boom']);
  assert.equal(log.at(-1), 'open 5', 'and the queue goes on');
});

serial.run();
