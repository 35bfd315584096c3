// The escape suite: a jail as a tenant gets it (five namespaces, uid 1001, no capabilities,
// no_new_privs, a private /tmp, a cgroup of its own, the default seccomp filter) under a
// real emperor, next to another tenant's jail. From inside, escape/probe.c makes one real
// syscall after another to see, reach or change the host, the emperor and the other tenant;
// every attempt must be refused with the errno that proves the defence. The table it prints is the one in docs/SECURITY.md. Then a fork bomb
// under max-procs, with the emperor and another tenant watched while it runs.
import { spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  readlinkSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLayout, v1Holding } from '../../src/jail/cgroup/layout';
import { jailctl, ROOT } from '../helpers/cli';
import { alive, sleep, startEmperor, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

// eslint-disable-next-line @typescript-eslint/no-require-imports
const addonPath = (require('node-gyp-build') as { path(dir: string): string }).path(ROOT);

// The probe's attempt ids that must come back `blocked`, in its order: the first ones,
// then (after the documented rows, so that no row of docs/SECURITY.md changes its number)
// those added since.
const FIRST = [
  'proc-pids', 'fds', 'private-tmp', 'kill-emperor', 'kill-tenant', 'emperor-environ', 'emperor-cmdline', 'ptrace',
  'tcp-loopback', 'tcp-outside', 'abstract-socket', 'sysv-shm', 'stats-socket', 'vassal-dir', 'mount',
  'remount-root', 'umount-proc', 'pivot-root', 'chroot', 'setuid-exec', 'become-root', 'capabilities',
  'kernel-code', 'hostname', 'emperor-binary', 'executor-on-disk', 'mknod', 'raw-disk', 'rlimit', 'root-links',
  'open-by-handle', 'unshare', 'setns', 'kernel-tunables', 'cgroup', 'reboot', 'clock', 'user-namespace',
];
// Open doors docs/SECURITY.md lists: in the table, never asserted closed.
const DOCUMENTED = ['shared-dirs', 'host-unix-socket', 'other-config'];
// Its own cgroup's limits and the seccomp filter's calls, each proven against a control.
const ADDED = ['cgroup-limits', 'cgroup-parent', 'cgroup-tenant', 'kernel-interfaces', 'tiocsti', 'mount-api', 'clone3'];
// Made only from a jail adopted from a fork-server base (its run has these after the rest).
const ADOPTED = ['fork-server', 'fork-base'];
const MUST_FAIL = [...FIRST, ...ADDED, ...ADOPTED];

interface Row {
  id: string;
  verdict: string;
  attempt: string;
  detail: string;
}

const test = suite('escape');

// Undone in reverse order after each test, whatever happened.
const undo: Array<() => unknown> = [];
test.after.each(async () => {
  while (undo.length > 0) await undo.pop()!();
});

// A root-owned 0755 directory under /var/tmp: the jail sees it (its /tmp is private) and
// may run what is in it, but not write there.
function workspace(): string {
  const dir = mkdtempSync('/var/tmp/jailctl-escape-');
  chmodSync(dir, 0o755);
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// cc's output, so the probe is built for this machine's kernel headers; static for a jail
// whose root has no C library.
function compileProbe(dir: string, staticBuild = false): string {
  const probe = join(dir, 'probe');
  const sources = readdirSync(join(__dirname, 'escape')).filter((n) => n.endsWith('.c')).map((n) => join(__dirname, 'escape', n));
  const cc = spawnSync('cc', ['-O2', '-Wall', ...(staticBuild ? ['-static'] : []), '-o', probe, ...sources], { encoding: 'utf8' });
  assert.is(cc.status, 0, `cc failed:\n${cc.stderr}`);
  return probe;
}

// A root-owned mode 4755 copy of the probe, checked to raise uid 1001 to euid 0 on the
// host (without no_new_privs): inside the jail only no_new_privs can stop it.
function setuidCopy(probe: string): string {
  const suid = `${probe}-suid`;
  copyFileSync(probe, suid);
  chmodSync(suid, 0o4755);
  const control = spawnSync('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', suid, 'euid'], { encoding: 'utf8' });
  assert.is(control.stdout, '0\n', `the set-uid copy gives euid 0 on the host: ${control.stderr}`);
  return suid;
}

// The control for the seccomp attempts: the probe's filtered calls made on the host as the
// jail's uid, without the filter, as `id:RESULT,…` for the probe's `unfiltered=`. Inside,
// a call's EPERM (ENOSYS) is the filter's only where this answered something else.
function unfilteredCalls(probe: string, uid: number): string {
  const control = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', probe, 'unfiltered'], { encoding: 'utf8' });
  assert.is(control.status, 0, `probe unfiltered: ${control.stderr}`);
  const lines = control.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0 && lines.every((l) => /^[\w-]+\t\w+$/.test(l)), `probe unfiltered:\n${control.stdout}`);
  return lines.map((l) => l.replace('\t', ':')).join(',');
}

// The directories of a jail's cgroups, as the host sees them (from its pid 1's /proc/PID/cgroup),
// in the unified and the pids and memory hierarchies where mounted.
function cgroupDirsOf(pid: number): string[] {
  const layout = parseLayout(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
  const dirs = [layout.unified, v1Holding(layout, 'pids'), v1Holding(layout, 'memory')].flatMap((h) => (h ? [h.ownDir] : []));
  assert.ok(dirs.length > 0 && dirs.every((d) => existsSync(`${d}/cgroup.procs`)), `the jail of pid ${pid} has cgroups: ${dirs.join(' ')}`);
  assert.ok(dirs.every((d) => !d.includes(':') && !d.includes(' ')), `cgroup directories pass as one argument: ${dirs.join(' ')}`);
  return dirs;
}

// A server on the host that accepts and hangs up; closed after the test.
function listen(target: { port: number; host: string } | { path: string }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.end());
    server.once('error', reject);
    server.listen(target, () => resolve(server));
    undo.push(() => new Promise((done) => server.close(done)));
  });
}

// Resolves once a connection from the host works.
function reachable(target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(target, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

// A SysV shared memory segment in the host's IPC namespace, mode 0666 (so only the
// namespace can hide it).
function hostShm(): number {
  const r = spawnSync('ipcmk', ['-M', '4096', '-p', '0666'], { encoding: 'utf8' });
  const id = /id: (\d+)/.exec(r.stdout)?.[1];
  assert.ok(id, `ipcmk: ${r.stdout}${r.stderr}`);
  undo.push(() => spawnSync('ipcrm', ['-m', id]));
  return Number(id);
}

// A block device of the host (the disk under / when it can be told), mode 0600 or 0660.
function hostDisk(): string {
  const devices = readdirSync('/dev').map((n) => join('/dev', n)).filter((p) => lstatSync(p).isBlockDevice());
  const rootDev = statSync('/').dev;
  const disk = devices.find((p) => lstatSync(p).rdev === rootDev) ?? devices[0];
  assert.ok(disk, 'no block device in /dev');
  return disk;
}

// A file in the host's /tmp that uid 1001 could read, were it visible.
function hostTmpFile(): string {
  const path = `/tmp/jailctl-escape-${process.pid}-${Date.now()}`;
  writeFileSync(path, 'host secret\n', { mode: 0o644 });
  chownSync(path, 1001, 1001);
  undo.push(() => rmSync(path, { force: true }));
  return path;
}

// Written beside, then renamed in (as deploy tools do), so the emperor never reads half a file.
function drop(vassals: string, name: string, text: string): void {
  writeFileSync(join(vassals, `.${name}`), text);
  renameSync(join(vassals, `.${name}`), join(vassals, name));
}

// An emperor watching DIR/vassals, its stats socket in DIR (where the jail can try it).
function startIn(dir: string, extra: string[] = []): { e: RunningEmperor; vassals: string } {
  const vassals = join(dir, 'vassals');
  mkdirSync(vassals, { mode: 0o755 });
  const e = startEmperor(['--emperor', vassals, '--emperor-freq', '1', ...extra], dir);
  undo.push(() => e.stop());
  return { e, vassals };
}

// The pid of the process whose command line is exactly `argv`.
function pidOf(...argv: string[]): number | undefined {
  const want = `${argv.join('\0')}\0`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readProc(`/proc/${name}/cmdline`) === want) return Number(name);
  }
  return undefined;
}

// A /proc file, or undefined when its process is gone.
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

// The processes whose real uid is `uid`, zombies included (RLIMIT_NPROC counts them too).
function processesOf(uid: number): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const real = /^Uid:\t(\d+)/m.exec(readProc(`/proc/${name}/status`) ?? '')?.[1];
    if (real !== undefined && Number(real) === uid) n++;
  }
  return n;
}

// The probe's ESCAPE lines: the emperor keeps its stdout and echoes each line as `[probe.ini] …`.
function parseRows(log: string): Row[] {
  return log.split('\n').flatMap((l) => {
    const m = /\[probe\.ini\] (ESCAPE\t.*)$/.exec(l);
    return m ? [m[1]!] : [];
  }).map((l) => {
    const [, id, verdict, attempt, detail] = l.split('\t');
    return { id: id!, verdict: verdict!, attempt: attempt!, detail: detail ?? '' };
  });
}

// A Markdown table with aligned columns, as docs/SECURITY.md shows it.
function table(rows: readonly Row[]): string {
  const head = ['#', 'attempt', 'result', 'detail'];
  const cells = rows.map((r, i) => [String(i + 1), r.attempt, r.verdict, r.detail]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (cols: string[]): string =>
    `| ${cols.map((x, c) => (c === cols.length - 1 ? x : x.padEnd(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => '-'.repeat(c === widths.length - 1 ? 8 : w + 2)).join('|')}|`;
  return [line(head), rule, ...cells.map(line)].join('\n');
}

// The fork-server base of an adopted run: its app runs the probe (its argv one per line in
// DIR/probe.args) at the first request, in a worker of the adopted vassal, with only fds 0-3
// (as a spawned probe has them), and answers with the probe's exit status.
function forkSocket(): string {
  const sockDir = mkdtempSync('/run/jailctl-escape-');
  chmodSync(sockDir, 0o700);
  undo.push(() => rmSync(sockDir, { recursive: true, force: true }));
  return join(sockDir, 'base.sock');
}

function dropForkBase(dir: string, vassals: string, sock: string): void {
  const app = join(dir, 'probe.psgi');
  writeFileSync(app, [
    'use POSIX ();',
    'my $app = sub {',
    `  open my $fh, '<', '${join(dir, 'probe.args')}' or return [500, [], ["probe.args: $!"]];`,
    '  my @argv = split /\n/, do { local $/; <$fh> };',
    '  my $pid = fork // return [500, [], ["fork: $!"]];',
    '  if (!$pid) { POSIX::close($_) for 4 .. 1023; exec { $argv[0] } @argv; POSIX::_exit(127) }',
    '  waitpid($pid, 0);',
    '  return [200, [], ["probe exited " . ($? >> 8) . "\n"]];',
    '};', '',
  ].join('\n'));
  drop(vassals, 'base.ini', ini(`early-psgi = ${app}`, `fork-server = ${sock}`));
}

// One GET on 127.0.0.1:port; the body, or the error.
function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

// The open files of a process, as `readlink /proc/PID/fd/N` names them (socket:[inode]…).
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkOf(`/proc/${pid}/fd/${fd}`)).filter(Boolean);
}

function readlinkOf(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

test('from inside a jail, every attempt on the host, the emperor and another tenant is refused', () => escapeFrom('spawned'));

test('from inside a jail adopted from a fork-server base: the same, and the base is out of reach', () => escapeFrom('adopted'));

test('from inside a jail on a root of its own (an overlay on a busybox root): the same, and the documented doors are shut', () => escapeFrom('rootfs'));

// A file the host made in each directory it shares with jails that have no root of their
// own (/dev/shm, /var/tmp): a jail that cannot see them does not share the directory.
function sharedMarkers(): string {
  const marks = ['/dev/shm', '/var/tmp'].map((d) => join(d, `jailctl-escape-marker-${process.pid}`));
  for (const m of marks) {
    writeFileSync(m, 'host\n', { mode: 0o644 });
    undo.push(() => rmSync(m, { force: true }));
  }
  return marks.join(':');
}

async function escapeFrom(kind: 'spawned' | 'adopted' | 'rootfs'): Promise<void> {
  const dir = workspace();
  const probe = compileProbe(dir, kind === 'rootfs');
  const suid = setuidCopy(probe);
  const ownRoot = kind === 'rootfs' ? join(dir, 'root') : undefined;
  if (ownRoot) {
    const built = spawnSync('bash', [join(ROOT, 'rootfs', 'build'), ownRoot], { encoding: 'utf8' });
    assert.is(built.status, 0, `rootfs/build: ${built.stderr}`);
  }
  const tcp = await listen({ port: 0, host: '127.0.0.1' });
  const tcpPort = (tcp.address() as AddressInfo).port;
  const abstract = `jailctl-escape-${process.pid}-${Date.now()}`;
  await listen({ path: `\0${abstract}` });
  // Controls: both answer on the host, so a refusal inside is the namespace's doing.
  await reachable({ port: tcpPort, host: '127.0.0.1' });
  await reachable({ path: `\0${abstract}` });
  const hostSocket = join(dir, 'host.sock');
  await listen({ path: hostSocket });
  chmodSync(hostSocket, 0o666);
  const hostTmp = hostTmpFile();
  const hostnameBefore = hostname();
  const helper = join(ROOT, 'build', 'Release', 'jail-helper');

  const forkSock = kind === 'adopted' ? forkSocket() : undefined;
  const { e, vassals } = startIn(dir, forkSock ? ['--emperor-use-fork-server', forkSock, '--vassal-fork-base', 'base.ini'] : []);
  // The other tenant writes a secret into its own private /tmp, then sleeps.
  drop(vassals, 'other.ini', ini(
    'unshare = fs,net,ipc,pid,uts', 'tmp = private', 'uid = 1002', 'gid = 1002',
    "unprivileged-binary-patch-arg = sh -c 'echo s > /tmp/other-secret && exec sleep 87301'",
  ));
  const other = await e.waitForVassal('other.ini', (x) => x?.state === 'running', 'the other tenant running');
  await waitUntil(() => pidOf('sleep', '87301') !== undefined, "the other tenant's sleep");
  const otherVassal = pidOf('sleep', '87301')!;
  assert.is(readFileSync(`/proc/${otherVassal}/root/tmp/other-secret`, 'utf8'), 's\n',
    "the secret is there, in the other jail's /tmp (seen from the host through its root)");

  const facts: Record<string, string | number> = {
    emperor: e.child.pid!,
    tenant: other!.pid,
    'tenant-vassal': otherVassal,
    tcp: tcpPort,
    abstract,
    shm: hostShm(),
    stats: e.statsPath,
    vassals,
    config: join(vassals, 'probe.ini'),
    'other-config': join(vassals, 'other.ini'),
    node: process.execPath,
    ...(existsSync(helper) ? { helper } : {}),
    addon: addonPath,
    suid,
    'host-tmp': hostTmp,
    'host-socket': hostSocket,
    disk: hostDisk(),
    'other-cgroups': cgroupDirsOf(other!.pid).join(':'),
    unfiltered: unfilteredCalls(probe, 1001),
    'shared-markers': sharedMarkers(),
  };
  const jail = ['unshare = fs,net,ipc,pid,uts', 'tmp = private', 'uid = 1001', 'gid = 1001'];
  if (ownRoot) {
    // The probe and its set-uid copy, bound in read-only (and nosuid, as every bind).
    jail.push(`overlay = ${ownRoot}`, `bind = ${probe}:/probe:ro`, `bind = ${suid}:/probe-suid:ro`);
    facts.suid = '/probe-suid';
    facts.root = 'own';
  }
  const program = ownRoot ? '/probe' : probe;
  let base: { pid: number } | undefined;
  if (forkSock) {
    // Adopted: the base's app runs the probe in a worker of the vassal at its first request.
    dropForkBase(dir, vassals, forkSock);
    base = await e.waitForVassal('base.ini', (x) => Boolean(x?.accepting), 'the fork-server base accepting');
    facts['fork-server'] = forkSock;
    facts.base = base!.pid;
    writeFileSync(join(dir, 'probe.args'), [probe, ...Object.entries(facts).map(([k, v]) => `${k}=${v}`)].join('\n'));
    const free = await listen({ port: 0, host: '127.0.0.1' });
    const port = (free.address() as AddressInfo).port;
    await new Promise((done) => free.close(done));
    drop(vassals, 'probe.ini', ini(...jail, `http-socket = 127.0.0.1:${port}`));
    const adopted = await e.waitForVassal('probe.ini', (x) => Boolean(x?.accepting), 'the probe vassal adopted and accepting');
    assert.ok(adopted!.adopted, `probe.ini is adopted: ${JSON.stringify(adopted)}`);
    assert.match(await get(port), /probe exited 26/);
  } else {
    const args = Object.entries(facts).map(([k, v]) => `${k}=${v}`).join(' ');
    drop(vassals, 'probe.ini', ini(...jail, `unprivileged-binary-patch-arg = ${program} ${args}`));
  }
  // A probe that dies half way never prints ESCAPE-DONE: its exit fails the test at once.
  const end = await e.waitForLog(/\[probe\.ini\] ESCAPE-DONE\t\d+$|probe\.ini: (exited with status (?!26\b)\d+|killed by signal \w+)/m);
  assert.match(end, /ESCAPE-DONE/, `the probe did not finish:\n${e.log()}`);
  if (!forkSock) await e.waitForLog(/probe\.ini: exited with status 26: not respawned/);

  const rows = parseRows(e.log());
  console.log(`\n${kind}:\n${table(rows)}\n`);

  assert.equal(rows.map((r) => r.id), [...FIRST, ...DOCUMENTED, ...ADDED, ...(forkSock ? ADOPTED : [])], 'every attempt ran, once, in order');
  assert.is(/\[probe\.ini\] ESCAPE-DONE\t(\d+)$/m.exec(e.log())![1], String(rows.length));
  assert.ok(MUST_FAIL.length >= 20);
  // In a root of its own the documented doors are shut as well.
  const open = rows.filter((r) => (MUST_FAIL.includes(r.id) || (ownRoot && DOCUMENTED.includes(r.id))) && r.verdict !== 'blocked');
  assert.equal(open.map((r) => `${r.id}: ${r.verdict}: ${r.detail}`), [], 'attempts not blocked');

  // And from outside: nothing the probe tried left a mark.
  assert.ok(alive(otherVassal), "the other tenant's program survived its SIGKILL");
  assert.is((await e.vassal('other.ini'))!.pid, other!.pid, 'and its jail was never restarted');
  assert.is(hostname(), hostnameBefore);
  assert.is(readdirSync(vassals).sort().join(' '), `${forkSock ? 'base.ini ' : ''}other.ini probe.ini`, 'no vassal file was added');
  assert.is(e.child.exitCode, null, 'the emperor is alive');
  if (base) await adoptedFromOutside(e, base.pid);
}

// An adopted vassal as the host sees it: the emperor's child, the plan's credentials and
// filter, and no open file of the base's (its fork-server socket, its connections, its pipes).
async function adoptedFromOutside(e: RunningEmperor, basePid: number): Promise<void> {
  const top = Number((await e.vassal('probe.ini'))!.init_pid); // `pid` is the program's, its child
  assert.is(Number(/^PPid:\t(\d+)/m.exec(readProc(`/proc/${top}/status`) ?? '')?.[1]), e.child.pid, "the adopted jail's top process is the emperor's child");
  const vassal = Number(readFileSync(`/proc/${top}/task/${top}/children`, 'utf8').trim().split(' ')[0]);
  const status = readProc(`/proc/${vassal}/status`) ?? '';
  assert.match(status, /^Uid:\t1001\t1001\t1001\t1001$/m);
  assert.match(status, /^CapEff:\t0+$/m);
  assert.match(status, /^NoNewPrivs:\t1$/m);
  assert.match(status, /^Seccomp:\t2$/m);
  const theirs = new Set(openFiles(basePid).filter((f) => !f.startsWith('/dev/null')));
  const shared = openFiles(vassal).filter((f) => theirs.has(f));
  assert.equal(shared, [], `the adopted vassal holds none of the base's open files (base: ${[...theirs].join(' ')})`);
}

// The bomb's jail options; its program comes last.
const BOMB_JAIL = ['unshare = fs,pid,ipc,uts', 'uid = 1003', 'gid = 1003', 'max-procs = 30'];

test('a fork bomb stops at max-procs; the emperor and other tenants carry on; removing it leaves nothing', async () => {
  const dir = workspace();
  // An unknown option is only a warning: check the limit really applies before any bomb.
  const limits = join(dir, 'limits.ini');
  writeFileSync(limits, ini(...BOMB_JAIL, 'unprivileged-binary-patch-arg = grep "Max processes" /proc/self/limits'));
  const check = jailctl(['run', limits]);
  assert.match(check.stdout, /Max processes\s+30\s+30\s/, `max-procs = 30 is not applied:\n${check.stdout}${check.stderr}`);

  const { e, vassals } = startIn(dir);
  // Forks as fast as it can; when refused, waits 50 ms and tries again (a spinning bomb
  // would only measure the CPU, which max-procs does not limit).
  drop(vassals, 'bomb.ini', ini(...BOMB_JAIL,
    "unprivileged-binary-patch-arg = perl -e 'for (;;) { fork // select(undef, undef, undef, 0.05) }'"));
  const bomb = await e.waitForVassal('bomb.ini', (x) => x?.state === 'running' || x?.state === 'failed', 'the bomb to start');
  assert.is(bomb!.state, 'running', `bomb.ini did not start: ${bomb!.launch_error}`);

  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, processesOf(1003));
      // The emergency brake, should the limit fail: every jail dies with the emperor.
      if (most > 30) e.child.kill('SIGKILL');
      await sleep(20);
    }
  })();
  try {
    await waitUntil(() => processesOf(1003) >= 30, 'the bomb to reach max-procs', 5000);
    await sleep(300); // and to keep trying
    assert.ok(most <= 30, `at most 30 processes of uid 1003, saw ${most}`);
    drop(vassals, 'calm.ini', ini(
      'unshare = fs,pid,ipc,uts', 'uid = 1002', 'gid = 1002', 'unprivileged-binary-patch-arg = sleep 87302',
    ));
    const calm = await e.waitForVassal('calm.ini', (x) => x?.state === 'running', 'another tenant running next to the bomb');
    let slowest = 0;
    for (const end = Date.now() + 2000; Date.now() < end;) {
      const asked = Date.now();
      await e.stats();
      slowest = Math.max(slowest, Date.now() - asked);
      await sleep(100);
    }
    console.log(`fork bomb: at most ${most} processes of uid 1003; the emperor's stats answered within ${slowest} ms`);
    assert.ok(most <= 30, `still at most 30 processes of uid 1003, saw ${most}`);
    assert.ok(slowest < 1000, `the emperor's stats answered within ${slowest} ms`);

    rmSync(join(vassals, 'bomb.ini'));
    await waitUntil(() => processesOf(1003) === 0, 'no process of uid 1003 left', 5000);
    assert.is((await e.vassal('calm.ini'))!.pid, calm!.pid, 'the other tenant was never restarted');
    assert.ok(alive(pidOf('sleep', '87302')!), 'and its program still runs');
  } finally {
    sampling = false;
    await sampler;
  }
});

test.run();
