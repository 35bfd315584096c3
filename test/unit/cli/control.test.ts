import { suite } from 'uvu';
import { jailctl } from '../../helpers/cli';
import * as assert from 'uvu/assert';
import { cpuPercent, formatBytes, formatUptime, psTable, topFrame } from '../../../src/cli/commands/control';
import { NoEmperorError, socketPath } from '../../../src/cli/control-client';
import type { PsRecord } from '../../../src/emperor/control';

const row = (over: Partial<PsRecord>): PsRecord => ({
  name: 'web.ini', state: 'running', pid: 100, uid: 1001, gid: 1001, namespaces: ['mount', 'pid'], groups: [], caps: [], uptime: 100, restarts: 0,
  loyal: true, onDemand: null, adopted: false, processes: 3, memoryBytes: 3 * 1024 * 1024, cpuSeconds: 5, error: null, lastExit: null,
  limits: {}, oomKills: 0, pressure: null, cgroup: null, seccomp: { mode: 'default', deny: [], allow: [] },
  config: '/etc/jails/web.ini', since: 0, warnings: [], programPid: 101, ...over,
});

const test = suite('ps and top output');

test('sizes and durations read at a glance', () => {
  assert.equal([formatUptime(0), formatUptime(45), formatUptime(600), formatUptime(7200), formatUptime(200000)], ['-', '45s', '10m', '2h', '2d']);
  assert.equal([formatBytes(0), formatBytes(512), formatBytes(1536), formatBytes(205 * 1024 * 1024)], ['-', '512B', '1.5K', '205M']);
});

test('CPU%: over the uptime, or over the interval between two samples', () => {
  assert.is(cpuPercent(row({ cpuSeconds: 5, uptime: 100 })), 5);
  assert.is(cpuPercent(row({ cpuSeconds: 6 }), row({ cpuSeconds: 5.5 }), 1), 50);
  assert.is(cpuPercent(row({ cpuSeconds: 6, pid: 101 }), row({ cpuSeconds: 5.5 }), 1), 6, 'a new jail: its own average');
});

test('the table is coloured by state only on request', () => {
  const rows = [row({}), row({ name: 'bad.ini', state: 'failed', pid: 0, error: 'exec failed' })];
  const plain = psTable(rows, { color: false, all: true });
  assert.not.match(plain, /\x1b\[/);
  assert.match(plain.split('\n')[2]!, /^bad\.ini\s+failed\s+-\s.*exec failed$/);
  const coloured = psTable(rows, { color: true, all: false });
  assert.match(coloured, /\x1b\[32mrunning/, 'running in green');
  assert.match(coloured, /\x1b\[31mfailed/, 'failed in red');
});

test('a top frame sorts by CPU over the interval, busiest first', () => {
  const before = [row({ name: 'a.ini', cpuSeconds: 1 }), row({ name: 'b.ini', cpuSeconds: 1 })];
  const now = [row({ name: 'a.ini', cpuSeconds: 1.1 }), row({ name: 'b.ini', cpuSeconds: 1.9 })];
  const frame = topFrame(now, before, 1, 'cpu', false, new Date('2026-11-22T10:20:30'));
  const lines = frame.split('\n');
  assert.match(lines[0]!, /^jailctl top - 10:20:30  2 vassals, 2 running  CPU 100\.0%/);
  assert.match(lines[3]!, /^b\.ini .* 90\.0$/);
  assert.match(lines[4]!, /^a\.ini .* 10\.0$/);
});

test('the socket: --socket, else JAILCTL_SOCKET, else --emperor NAME\'s, else the only emperor running\'s', () => {
  const none = (): string[] => [];
  assert.is(socketPath({ socket: '/x.sock', emperor: 'a' }, { JAILCTL_SOCKET: '/y.sock' }, none), '/x.sock');
  assert.is(socketPath({ emperor: 'a' }, { JAILCTL_SOCKET: '/y.sock' }, none), '/y.sock');
  assert.is(socketPath({ emperor: 'web' }, {}, none), '/run/jailctl/emperors/web.sock');
  assert.is(socketPath({}, {}, () => ['jails']), '/run/jailctl/emperors/jails.sock');
  assert.throws(() => socketPath({}, {}, none), (e: Error) => e instanceof NoEmperorError && /no emperor is running \(none listens in \/run\/jailctl\/emperors\)/.test(e.message));
  assert.throws(() => socketPath({}, {}, () => ['a', 'b']), (e: Error) => e instanceof NoEmperorError && e.message === '2 emperors run (a, b): say which, with --emperor NAME');
  assert.throws(() => socketPath({ emperor: '../etc' }, {}, none), /--emperor \.\.\/etc: an emperor's name is/);
});

test('--socket and --emperor before the command are jailctl\'s own; the command\'s own win', () => {
  let r = jailctl(['--socket', '/tmp/jailctl-no-such.sock', 'ps']);
  assert.is(r.status, 3, r.stderr);
  assert.match(r.stderr, 'no emperor answers at /tmp/jailctl-no-such.sock');
  r = jailctl(['--emperor', 'nosuch', 'logs', 'web']);
  assert.is(r.status, 3, r.stderr);
  assert.match(r.stderr, 'no emperor answers at /run/jailctl/emperors/nosuch.sock');
  r = jailctl(['--socket', '/tmp/jailctl-a.sock', 'stats', '--socket', '/tmp/jailctl-b.sock']);
  assert.match(r.stderr, 'no emperor answers at /tmp/jailctl-b.sock');
});

test.run();
