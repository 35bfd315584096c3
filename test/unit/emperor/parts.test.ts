// The emperor's pure parts: the blacklist arithmetic, its options, the wire helpers, what a
// uWSGI vassal is handed through the config pipe, and the stats address syntax.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyEmperorOption, DEFAULT_EMPEROR_OPTIONS, EMPEROR_OPTIONS, EmperorOptionError, emperorOptionsFromEntries, findEmperorOption,
} from '../../../src/emperor/options';
import { configPacket } from '../../../src/emperor/protocol';
import { checkStatsExposure, parseStatsAddress } from '../../../src/emperor/stats';
import { blacklistAfterDeath } from '../../../src/emperor/throttle';
import { foreignConfigText } from '../../../src/emperor/vassal-config';
import { thrown } from '../../helpers/thrown';

const test = suite('emperor parts');

test('each death before loyalty adds emperor-throttle, up to emperor-max-throttle', () => {
  let b = blacklistAfterDeath(undefined, 1000, 1000, 2500);
  assert.equal(b, { attempt: 1, throttleMs: 1000, firstAttempt: 1000, lastAttempt: 1000 });
  b = blacklistAfterDeath(b, 3000, 1000, 2500);
  assert.equal([b.attempt, b.throttleMs, b.firstAttempt, b.lastAttempt], [2, 2000, 1000, 3000]);
  b = blacklistAfterDeath(b, 6000, 1000, 2500);
  assert.equal([b.attempt, b.throttleMs], [3, 2500]);
});

test('every option of the issue exists, with help', () => {
  for (const name of ['emperor', 'emperor-freq', 'emperor-nofollow', 'emperor-use-clone', 'emperor-stats', 'emperor-throttle',
    'emperor-max-throttle', 'emperor-required-heartbeat', 'emperor-curse-tolerance', 'vassal-set', 'vassals-include', 'binary-path', 'emperor-pidfile',
    'emperor-stats-public', 'emperor-control-max-connections', 'emperor-control-idle-timeout'])
    assert.ok(findEmperorOption(name)?.help, name);
  assert.is(new Set(EMPEROR_OPTIONS.map((o) => o.name)).size, EMPEROR_OPTIONS.length, 'no duplicates');
});

test('option values: lists accumulate, namespaces are checked, numbers and booleans parsed', () => {
  const acc: Record<string, unknown> = { ...DEFAULT_EMPEROR_OPTIONS };
  const opt = (n: string) => findEmperorOption(n)!;
  applyEmperorOption(acc, opt('emperor'), '/etc/jails', 'cli');
  applyEmperorOption(acc, opt('emperor'), 'glob:///srv/*/j.ini', 'cli');
  applyEmperorOption(acc, opt('emperor-use-clone'), 'fs,net', 'cli');
  applyEmperorOption(acc, opt('emperor-use-clone'), 'mount,uts', 'cli');
  applyEmperorOption(acc, opt('emperor-freq'), '0.5', 'cli');
  applyEmperorOption(acc, opt('emperor-nofollow'), '', 'cli');
  assert.equal(acc.emperor, ['/etc/jails', 'glob:///srv/*/j.ini']);
  assert.equal(acc.useClone, ['mount', 'net', 'uts']);
  assert.is(acc.freq, 0.5);
  assert.is(acc.nofollow, true);
  const err = thrown(() => applyEmperorOption(acc, opt('emperor-use-clone'), 'fs,time', 'e.ini:3'), EmperorOptionError);
  assert.match(err.message, 'e.ini:3: emperor-use-clone: unknown namespace `time`');
  assert.match(thrown(() => applyEmperorOption(acc, opt('emperor-throttle'), 'soon', 'cli'), EmperorOptionError).message, 'expected a number of milliseconds');
});

test('an emperor file: its options apply, a vassal option in it is reported, not fatal', () => {
  const acc: Record<string, unknown> = { ...DEFAULT_EMPEROR_OPTIONS };
  const warnings: string[] = [];
  emperorOptionsFromEntries([{ key: 'emperor', value: '/etc/jails', line: 2 }, { key: 'unshare', value: 'net', line: 3 }], '/etc/emperor.ini', acc, (w) => warnings.push(w));
  assert.equal(acc.emperor, ['/etc/jails']);
  assert.equal(warnings, ['/etc/emperor.ini:3: `unshare` is not an emperor option; ignored']);
});

test('the config pipe packet is uWSGI\'s: modifier1 115, u16le size, modifier2 0', () => {
  const p = configPacket('[uwsgi]\nmaster = 1\n');
  assert.equal([...p.subarray(0, 4)], [115, 19, 0, 0]);
  assert.is(p.subarray(4).toString(), '[uwsgi]\nmaster = 1\n');
  assert.throws(() => configPacket('x'.repeat(70000)), /at most 65535/);
});

test('uWSGI is handed only its own options, already expanded', () => {
  const text = foreignConfigText([
    { key: 'uid', value: 'nobody', line: 1 },
    { key: 'unshare', value: 'ipc', line: 2 },
    { key: 'psgi', value: '/srv/shop/app.psgi', line: 3 },
    { key: 'master', value: 'true', line: 4 },
  ]);
  assert.is(text, '[uwsgi]\npsgi = /srv/shop/app.psgi\nmaster = true\n');
});

test('stats addresses: host:port, :port, [v6]:port, a UNIX path; nonsense refused', () => {
  assert.equal(parseStatsAddress('127.0.0.1:9191'), { host: '127.0.0.1', port: 9191 });
  assert.equal(parseStatsAddress(':9191'), { host: '0.0.0.0', port: 9191 });
  assert.equal(parseStatsAddress('[::1]:9191'), { host: '::1', port: 9191 });
  assert.equal(parseStatsAddress('/run/jailctl/stats.sock'), { path: '/run/jailctl/stats.sock' });
  assert.throws(() => parseStatsAddress('localhost'), /neither host:port/);
  assert.throws(() => parseStatsAddress('x:99999'), /neither host:port/);
});

test('stats exposure: in tyrant mode TCP only with emperor-stats-public; a UNIX path always', () => {
  const tcp = parseStatsAddress('127.0.0.1:9191');
  checkStatsExposure(tcp, '127.0.0.1:9191', { tyrant: false, statsPublic: false });
  checkStatsExposure(tcp, '127.0.0.1:9191', { tyrant: true, statsPublic: true });
  checkStatsExposure(parseStatsAddress('/run/s.sock'), '/run/s.sock', { tyrant: true, statsPublic: false });
  assert.throws(() => checkStatsExposure(tcp, '127.0.0.1:9191', { tyrant: true, statsPublic: false }),
    /^emperor-stats 127\.0\.0\.1:9191: in tyrant mode the stats list every tenant's vassals, and any local user can connect to a TCP port; give a UNIX socket path .* or set emperor-stats-public = true/);
});

test.run();
