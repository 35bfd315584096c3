// Escape attempts through what root runs for a tenant (docs/SECURITY.md, "root-run steps"):
// `jailctl enter` (by the tenant through the emperor, and by root), `enter --root`, and the
// sysadmin's root hooks under tyrant mode. The tenant (uid 1001) owns a directory of fake
// commands that leave a marker when they run, puts it first in its PATH and sets variables
// a root shell would obey; every attempt must find root untouched by them. Real emperor,
// real jails, real terminals (tmux).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliCommand, jailctl, ROOT, type CliResult } from '../helpers/cli';
import { emperorFixture, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('root-run steps take nothing a tenant controls');
const fx = emperorFixture(test, 0o755);
const AS_TENANT = ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'];

// /var/tmp/…: the jail sees it (its /tmp is private). bin/ is the tenant's, full of fakes.
let ws = '';
test.before.each(() => {
  ws = mkdtempSync('/var/tmp/jailctl-rootsteps-');
  chmodSync(ws, 0o755);
  mkdirSync(join(ws, 'bin'));
  mkdirSync(join(ws, 'marks'), { mode: 0o777 });
  chmodSync(join(ws, 'marks'), 0o777);
  for (const name of ['id', 'env', 'sh', 'true', 'grep', 'pwd', 'hostname']) {
    const fake = join(ws, 'bin', name);
    writeFileSync(fake, `#!/bin/sh\necho "fake ${name} ran as $(/usr/bin/id -u)" >> ${ws}/marks/ran\necho PWNED\n`);
    chmodSync(fake, 0o755);
  }
  chownSync(join(ws, 'bin'), 1001, 1001);
});
test.after.each(() => rmSync(ws, { recursive: true, force: true }));

const marks = (): string => (existsSync(join(ws, 'marks', 'ran')) ? readFileSync(join(ws, 'marks', 'ran'), 'utf8') : '');

// The tenant's hostile environment: its fakes first, an empty entry (the cwd), and
// variables that make a root shell or the dynamic linker run the tenant's code.
const hostileEnv = (): string[] => [
  `env = PATH=${ws}/bin::/usr/bin:/bin`, `env = LD_PRELOAD=${ws}/bin/evil.so`, `env = BASH_ENV=${ws}/bin/id`,
  `env = ENV=${ws}/bin/id`, 'env = TENANT_SECRET=mine',
];

async function startVassal(program: string, ...extra: string[]): Promise<RunningEmperor> {
  fx.dir.write('web.ini', ini(
    'unshare = fs,pid,net,ipc,uts', 'tmp = private', 'uid = 1001', 'gid = 1001', `chdir = ${ws}/bin`, ...hostileEnv(), ...extra,
    `unprivileged-binary-patch-arg = ${program}`,
  ));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('web.ini', (v) => v?.state === 'running', 'running');
  return e;
}

function enter(e: RunningEmperor, args: string[], wrap: readonly string[] = []): CliResult {
  return jailctl(['enter', '--socket', e.controlPath, ...args], { wrap });
}

const CAP_EFF = /^CapEff:\s+([0-9a-f]+)$/m;

test('enter takes capabilities from the launch plan: a vassal in a user namespace of its own (unshare -r) gives none', async () => {
  // Without the seccomp filter, which refuses user namespaces: this tests where enter's caps come from.
  const e = await startVassal('/usr/bin/unshare -r /bin/sleep 79301', 'seccomp = none');
  // The vassal's /proc shows a full CapEff now (of its own user namespace)…
  await waitUntil(() => {
    const r = spawnSync('pgrep', ['-f', '^/bin/sleep 79301$'], { encoding: 'utf8' });
    const pid = r.stdout.trim().split('\n')[0];
    return !!pid && /^CapEff:\s+0*1?f{9,}/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  }, 'the vassal inside its own user namespace');
  // …and the command entered into its jail, by the tenant (through the emperor) or by root,
  // holds nothing in the host's.
  for (const wrap of [AS_TENANT, []]) {
    const r = enter(e, ['web', '--', '/bin/grep', '-E', '^(CapEff|CapPrm|CapAmb|Uid)', '/proc/self/status'], wrap);
    assert.is(r.status, 0, r.stderr);
    assert.is(CAP_EFF.exec(r.stdout)?.[1], '0000000000000000', `${wrap.length ? 'tenant' : 'root'}: ${r.stdout}`);
    assert.match(r.stdout, /^CapAmb:\s+0+$/m);
    assert.match(r.stdout, /^Uid:\s+1001\s/m);
  }
});

test('enter --root: a fixed environment, the host\'s PATH and cwd /, whatever the jail\'s processes hold', async () => {
  const e = await startVassal('/bin/sleep 79302');
  const r = enter(e, ['--root', 'web', '--', '/bin/sh', '-c', 'id -u; pwd; /usr/bin/env']);
  assert.is(r.status, 0, r.stderr);
  const [uid, cwd, ...env] = r.stdout.trimEnd().split('\n');
  assert.equal([uid, cwd], ['0', '/']);
  assert.ok(env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'), env.join('\n'));
  assert.equal(env.filter((kv) => /^(LD_PRELOAD|BASH_ENV|ENV|TENANT_SECRET)=/.test(kv)), [], 'nothing of the tenant\'s environment');
  assert.is(enter(e, ['--root', 'web', '--', 'id', '-u']).stdout, '0\n', 'a bare name is the host\'s id');
  assert.is(marks(), '', 'no fake ran');
});

test('enter by root as the vassal: its environment, but commands come from the host\'s PATH (no empty entry, no tenant dir)', async () => {
  const e = await startVassal('/bin/sleep 79303');
  const r = enter(e, ['web', '--', 'id', '-u']);
  assert.equal([r.status, r.stdout], [0, '1001\n'], r.stderr);
  // Through the emperor, the tenant may use its own PATH: it runs as itself, nothing gained.
  assert.is(enter(e, ['web', '--', 'id'], AS_TENANT).stdout, 'PWNED\n');
  assert.is(marks(), 'fake id ran as 1001\n', 'only the tenant\'s own enter ran its fake, as the tenant');
});

test('the sysadmin\'s root hooks under tyrant mode never see a tenant\'s env lines', async () => {
  const include = join(ws, 'hooks.ini');
  writeFileSync(include, ini(`exec-as-root = id -u > ${ws}/marks/hook-id; /usr/bin/env > ${ws}/marks/hook-env`, 'env = SITE=from-the-sysadmin'));
  const path = fx.dir.write('web.ini', ini('unshare = fs,pid,net,ipc,uts', 'tmp = private', ...hostileEnv(), 'unprivileged-binary-patch-arg = /usr/bin/env'));
  chownSync(path, 1001, 1001);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--vassals-include', include]);
  await e.waitForLog(/\[(?:[^\]]*\/)?web\.ini\] TENANT_SECRET=mine/);
  assert.is(readFileSync(join(ws, 'marks', 'hook-id'), 'utf8'), '0\n', 'the hook ran as root, with the host\'s id');
  const hookEnv = readFileSync(join(ws, 'marks', 'hook-env'), 'utf8').split('\n');
  assert.equal(hookEnv.filter((kv) => /^(LD_PRELOAD|BASH_ENV|ENV|TENANT_SECRET)=/.test(kv)), [], hookEnv.join('\n'));
  assert.ok(hookEnv.includes('SITE=from-the-sysadmin'), 'the sysadmin\'s own env line reaches it');
  assert.ok(!hookEnv.some((kv) => kv.startsWith('PATH=') && kv.includes(ws)), 'PATH is not the tenant\'s');
  assert.is(marks(), '', 'no fake ran');
  // The vassal itself (the tenant's program) still gets the tenant's environment.
  assert.match(e.log(), /\[(?:[^\]]*\/)?web\.ini\] LD_PRELOAD=/);
});

// tmux as the operator's terminal: text a jailed process pushes into it with TIOCSTI would
// be run by the operator's (root's) shell once jailctl exits.
function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', 'jailctl-rootsteps', ...args], { encoding: 'utf8' });
  assert.is(r.status, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('enter -T (pipes) gives the command neither root\'s terminal nor its session: TIOCSTI injects nothing', async () => {
  // The seccomp filter refuses TIOCSTI already (EPERM, the escape suite): without it, this
  // tests the other wall, a session of its own without a controlling terminal.
  const e = await startVassal('/bin/sleep 79304', 'seccomp = none');
  const marker = join(ws, 'marks', 'injected');
  // TIOCSTI (0x5412) on fds 0-2 and /dev/tty, one character at a time, then report.
  const push = `for my $fh (*STDIN, *STDOUT, *STDERR) { my $ok = 1; for (split //, "touch ${marker}\\n") { $ok &&= ioctl($fh, 0x5412, $_) } print STDOUT "fd ", fileno($fh), ": ", ($ok ? "pushed" : "refused: $!"), "\\n" } if (open(my $t, "+<", "/dev/tty")) { print STDOUT "tty: opened\\n" } else { print STDOUT "tty: $!\\n" }`;
  const [cmd, argv] = cliCommand(['enter', '-T', '--socket', e.controlPath, 'web', '--', '/usr/bin/perl', '-e', push]);
  const line = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  tmux('new-session', '-d', '-s', 'tiocsti', '-x', '200', '-y', '50', `cd ${ROOT} && ${line} > ${ws}/marks/perl-out 2>&1; echo EXITED=$?; exec /bin/sh`);
  try {
    const screen = (): string => tmux('capture-pane', '-p', '-t', 'tiocsti');
    await waitUntil(() => /EXITED=\d+/.test(screen()), `jailctl enter ends:\n${screen()}`, 30000);
    await sleep(500); // whatever was pushed is read by the shell now
    const out = readFileSync(join(ws, 'marks', 'perl-out'), 'utf8');
    assert.match(out, /^fd 0: refused: Inappropriate ioctl for device$/m, out);
    assert.match(out, /^fd 1: refused/m, out);
    assert.match(out, /^tty: No such device or address$/m, 'no controlling terminal in its session');
    assert.is(existsSync(marker), false, `root's shell ran what the jail pushed:\n${screen()}`);
  } finally {
    spawnSync('tmux', ['-L', 'jailctl-rootsteps', 'kill-server']);
  }
});

test('emperor-logs-dir none: vassals get pipes (and /dev/null), never the emperor\'s own stdio; logs come from memory', async () => {
  fx.dir.write('web.ini', ini('unshare = fs,pid', 'uid = 1001', 'gid = 1001',
    'unprivileged-binary-patch-arg = /bin/sh -c "for fd in 0 1 2; do echo fd$fd=$(readlink /proc/$$/fd/$fd); done; exec /bin/sleep 79306"'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-logs-dir', 'none']);
  await e.waitForLog(/\[web\.ini\] fd2=\S+/);
  const log = e.log();
  const fd = (n: number): string => new RegExp(`\\[web\\.ini\\] fd${n}=(\\S+)`).exec(log)![1]!;
  const emperors = [0, 1, 2].map((n) => readlinkSync(`/proc/${e.child.pid}/fd/${n}`));
  assert.is(fd(0), '/dev/null');
  for (const n of [1, 2]) {
    assert.match(fd(n), /^pipe:\[\d+\]$/, `fd ${n} is a pipe of the emperor's: ${fd(n)}`);
    assert.not.ok(emperors.includes(fd(n)), `fd ${n} is not the emperor's own ${emperors.join(', ')}`);
  }
  const logs = jailctl(['logs', '--socket', e.controlPath, 'web', '-n', '3']);
  assert.is(logs.status, 0, logs.stderr);
  assert.match(logs.stdout, /fd1=pipe:/);
});

test('enter through the emperor: input is delivered in full before end of input, however slowly the command reads', async () => {
  const e = await startVassal('/bin/sleep 79305');
  const input = 'x'.repeat(3 * 1024 * 1024); // past what the emperor would queue (1 MiB) without backpressure
  const [cmd, argv] = cliCommand(['enter', '--socket', e.controlPath, 'web', '--', '/bin/sh', '-c', 'sleep 1; /usr/bin/wc -c'], AS_TENANT);
  const r = spawnSync(cmd, argv, { cwd: ROOT, input, encoding: 'utf8', timeout: 30000 });
  assert.is(r.stdout.trim(), String(input.length), r.stderr);
  const [rcmd, rargv] = cliCommand(['enter', '--socket', e.controlPath, 'web', '--', '/bin/sh', '-c', 'sleep 1; /usr/bin/wc -c']);
  assert.is(spawnSync(rcmd, rargv, { cwd: ROOT, input, encoding: 'utf8', timeout: 30000 }).stdout.trim(), String(input.length), 'as root too');
});

test.run();
