// contrib/jailctl-emperor.service and its hardened variant, started as systemd would start
// them: the unit's ExecStart line (its paths moved into a test directory), a clean
// environment with NOTIFY_SOCKET, and for the hardened one the unit's User and
// AmbientCapabilities (setpriv). READY=1 must arrive once the first scan has run, STOPPING=1
// at SIGTERM, and no vassal may inherit NOTIFY_SOCKET.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { splitWords } from '../../src/plan/words';
import { ROOT } from '../helpers/cli';
import { pidsWith, waitUntil } from '../helpers/emperor';
import { receiver } from '../helpers/notify';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('systemd unit');
const CONTRIB = join(ROOT, 'contrib');
// The hardened unit's User: a uid of its own here (no passwd entry needed).
const EMPEROR_UID = 10050;

// The [Service] settings of a unit file (the last value of each key).
function service(file: string): Map<string, string> {
  const out = new Map<string, string>();
  let inService = false;
  for (const raw of readFileSync(join(CONTRIB, file), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inService = line === '[Service]';
    else if (inService && line && !line.startsWith('#')) out.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1));
  }
  return out;
}


interface Started {
  readonly emperor: ChildProcess;
  readonly log: () => string;
  readonly notes: () => string[];
  readonly control: string;
  stop(): Promise<number | null>;
  /** SIGKILL for what is left after a failed test (the emperor, the notify receiver). */
  kill(): void;
}

// The unit a test started: whatever a failed assertion left running is killed after it.
let current: Started | undefined;
test.after.each(() => {
  current?.kill();
  current = undefined;
});

// The unit's ExecStart with its paths in `dir`, as systemd starts it.
async function startUnit(file: string, dir: string, vassals: string, wrap: readonly string[] = []): Promise<Started> {
  const unit = service(file);
  const map: Array<[string, string]> = [
    ['/usr/local/bin/jailctl', join(ROOT, 'bin', 'jailctl')],
    ['/etc/jailctl/vassals', vassals], ['/srv/jailctl/vassals', vassals],
    ['/run/jailctl/emperors/main.sock', join(dir, 'run', 'emperor.sock')], ['/run/jailctl/emperors/tenants.sock', join(dir, 'run', 'emperor.sock')],
    ['/var/log/jailctl/main', join(dir, 'log')], ['/var/log/jailctl/tenants', join(dir, 'log')],
    ['/var/lib/jailctl/main', join(dir, 'state')], ['/var/lib/jailctl/tenants', join(dir, 'state')],
  ];
  const argv = splitWords(unit.get('ExecStart')!).map((w) => map.find(([from]) => w === from)?.[1] ?? w);
  const notify = join(dir, 'notify.sock');
  const r = receiver(notify);
  await waitUntil(() => r.got().includes('LISTENING'), 'the notify socket');
  // What systemd gives a service: a clean environment of its own.
  const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', `NOTIFY_SOCKET=${notify}`, 'INVOCATION_ID=0123456789abcdef'];
  const emperor = spawn(wrap[0] ?? 'env', [...wrap.slice(1), ...(wrap.length ? ['env'] : []), '-i', ...env, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  emperor.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  emperor.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => emperor.on('exit', (code) => resolve(code)));
  return (current = {
    emperor, log: () => log, notes: () => r.got().filter((l) => l !== 'LISTENING'), control: join(dir, 'run', 'emperor.sock'),
    kill() {
      if (emperor.exitCode === null && emperor.signalCode === null) emperor.kill('SIGKILL');
      r.proc.kill();
    },
    async stop() {
      emperor.kill('SIGTERM');
      const code = await exited;
      r.proc.kill();
      return code;
    },
  });
}

test('the units: notify, a delegated cgroup, the emperor stops its own vassals', () => {
  for (const file of ['jailctl-emperor.service', 'jailctl-emperor-hardened.service']) {
    const unit = service(file);
    assert.is(unit.get('Type'), 'notify', file);
    assert.is(unit.get('Delegate'), 'yes', file);
    assert.is(unit.get('KillMode'), 'mixed', file);
    assert.match(unit.get('ExecStart')!, /^\/usr\/local\/bin\/jailctl emperor /, file);
    assert.match(unit.get('ExecReload')!, /kill -HUP \$MAINPID/, file);
  }
  const hardened = service('jailctl-emperor-hardened.service');
  assert.is(hardened.get('User'), 'jailctl');
  assert.is(hardened.get('AmbientCapabilities'), 'CAP_SETUID CAP_SETGID CAP_KILL');
  assert.match(hardened.get('ExecStart')!, /--emperor-tyrant/);
});

test('jailctl-emperor.service: READY=1 after the first scan, STOPPING=1 at SIGTERM, no vassal sees NOTIFY_SOCKET', async () => {
  const dir = mkdtempSync('/var/tmp/jailctl-systemd-');
  try {
    const vassals = join(dir, 'vassals');
    mkdirSync(vassals);
    writeFileSync(join(vassals, 'web.ini'), ini('unshare = fs,pid', 'uid = nobody', 'unprivileged-binary-patch-arg = sleep 77601'));
    const u = await startUnit('jailctl-emperor.service', dir, vassals);
    await waitUntil(() => u.notes().some((n) => n.includes('READY=1')), `READY=1\n${u.log()}`, 20_000);
    const ready = u.notes().find((n) => n.includes('READY=1'))!;
    assert.match(ready, new RegExp(`MAINPID=${u.emperor.pid}`), 'the pid systemd started');
    assert.match(u.log(), /watching dir:\/\//, 'after the first scan');
    await waitUntil(() => pidsWith('sleep 77601').length === 1, 'the vassal');
    const environ = readFileSync(`/proc/${pidsWith('sleep 77601')[0]}/environ`, 'utf8');
    assert.not.match(environ, /NOTIFY_SOCKET/, 'the vassal does not inherit NOTIFY_SOCKET');
    const ps = spawnSync(join(ROOT, 'bin', 'jailctl'), ['ps', '--socket', u.control], { encoding: 'utf8' });
    assert.match(ps.stdout, /web\.ini\s/, `jailctl ps: ${ps.stderr}`);
    assert.is(await u.stop(), 0, u.log());
    assert.ok(u.notes().some((n) => n.includes('STOPPING=1')), u.notes().join('\n'));
    await waitUntil(() => pidsWith('sleep 77601').length === 0, 'the vassal gone with it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the hardened unit: its User and AmbientCapabilities only; tenants run as themselves; READY=1', async () => {
  const dir = mkdtempSync('/var/tmp/jailctl-systemd-');
  try {
    chmodSync(dir, 0o755);
    const vassals = join(dir, 'vassals');
    mkdirSync(vassals, { mode: 0o1775 });
    chownSync(vassals, 0, EMPEROR_UID);
    for (const d of ['run', 'log', 'state']) {
      mkdirSync(join(dir, d), { mode: d === 'state' ? 0o700 : 0o755 });
      chownSync(join(dir, d), EMPEROR_UID, EMPEROR_UID); // RuntimeDirectory, LogsDirectory, StateDirectory
    }
    const file = join(vassals, 'alice.ini');
    writeFileSync(file, ini('unprivileged-binary-patch-arg = sleep 77602'));
    chownSync(file, 1001, 1001);
    const caps = '+setuid,+setgid,+kill';
    const u = await startUnit('jailctl-emperor-hardened.service', dir, vassals, [
      'setpriv', `--reuid=${EMPEROR_UID}`, `--regid=${EMPEROR_UID}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=-all,${caps}`,
    ]);
    await waitUntil(() => u.notes().some((n) => n.includes('READY=1')), `READY=1\n${u.log()}`, 20_000);
    await waitUntil(() => pidsWith('sleep 77602').length === 1, `alice's vassal\n${u.log()}`);
    const status = readFileSync(`/proc/${pidsWith('sleep 77602')[0]}/status`, 'utf8');
    assert.match(status, /^Uid:\t1001\t/m, 'alice\'s vassal runs as alice');
    assert.match(readFileSync(`/proc/${u.emperor.pid}/status`, 'utf8'), /^Uid:\t10050\t/m, 'the emperor as its User');
    assert.is(await u.stop(), 0, u.log());
    await waitUntil(() => pidsWith('sleep 77602').length === 0, 'the vassal gone with it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
