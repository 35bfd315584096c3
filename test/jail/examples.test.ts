// Every example vassal in jails/ runs and does what its comment says, alone under
// `jailctl run` and all together under `jailctl emperor` (the README's first command).
import { readdirSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctlAsync, ROOT } from '../helpers/cli';
import { pidsWith, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';

requireRoot();

const JAILS = join(ROOT, 'jails');
const test = suite('examples in jails/');

// Runs `jailctl run FILE` until its output has `lines` lines, then stops it with SIGTERM.
async function runUntil(file: string, lines: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = jailctlAsync(['run', join(JAILS, file)]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitUntil(() => stdout.split('\n').length > lines || child.exitCode !== null, `${lines} lines from ${file}`).catch(() => undefined);
  child.kill('SIGTERM');
  return { stdout, stderr, code: await exited };
}

async function nginxBody(): Promise<string> {
  let body = '';
  for (let i = 0; i < 100 && body === ''; i++) {
    body = await fetch('http://127.0.0.1:8080/').then((r) => r.text(), () => '');
    if (body === '') await new Promise((r) => setTimeout(r, 50));
  }
  return body;
}

function nginxUids(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return /^Name:\tnginx$/m.test(status) ? [Number(/^Uid:\t(\d+)/m.exec(status)![1])] : [];
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return []; // exited meanwhile
      throw err;
    }
  });
}

test('every example has a test here', () => {
  const files = readdirSync(JAILS).filter((f) => /\.(ini|ya?ml|json)$/.test(f)).sort();
  assert.equal(files, ['app.ini', 'caps.yaml', 'hello.ini', 'hooks.json', 'limits.ini', 'nginx.ini']);
});

test('hello.ini: hook as root, program as nobody in its own namespaces; SIGTERM stops it', async () => {
  const r = await runUntil('hello.ini', 2);
  assert.match(r.stdout, /^hook: running as root in a jail named hello\nhello from hello as nobody; processes I can see: \d, files in \/tmp: 0\n$/, r.stderr);
  assert.is(r.code, 128 + 15, 'the vassal was stopped by the forwarded SIGTERM');
});

test('caps.yaml: exactly net_bind_service, env set, no new privileges', async () => {
  const r = await runUntil('caps.yaml', 4);
  assert.is(r.stdout, 'hi\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nNoNewPrivs:\t1\n', r.stderr);
});

test('limits.ini: its own cgroup holds 30 forks at pids-max 16; the seccomp filter refuses a user namespace', async () => {
  const r = await runUntil('limits.ini', 2);
  assert.match(r.stdout, /^no user namespace: the seccomp filter refused it\nforked (\d+) of 30: pids-max held the rest\n$/, r.stderr);
  const forked = Number(/forked (\d+)/.exec(r.stdout)![1]);
  assert.ok(forked > 0 && forked <= 13, `at most 16 with the init, sh and perl (${forked} forked)`);
});

test('hooks.json: a root hook prepares a private mount the vassal reads', async () => {
  const r = await runUntil('hooks.json', 1);
  assert.is(r.stdout, 'written by a root hook\n', r.stderr);
  assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes('/tmp/jailctl-demo'), 'the mount stayed in the jail');
});

test('nginx.ini: nginx as a privileged patch serves, its worker runs as www-data', async () => {
  const child = jailctlAsync(['run', join(JAILS, 'nginx.ini')]);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    assert.is(await nginxBody(), 'hello from nginx in a jail\n', stderr);
    const users = nginxUids();
    assert.ok(users.includes(0) && users.includes(33), `nginx master as root and worker as www-data: ${users}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, 'nginx stops cleanly on SIGTERM forwarded through the jail');
});

async function appBody(): Promise<string> {
  let body = '';
  for (let i = 0; i < 100 && body === ''; i++) {
    body = await fetch('http://127.0.0.1:8081/', { headers: { connection: 'close' } }).then((r) => r.text(), () => '');
    if (body === '') await new Promise((r) => setTimeout(r, 50));
  }
  return body;
}

test('app.ini: a Node app under the app server, two workers, as nobody', async () => {
  const child = jailctlAsync(['run', join(JAILS, 'app.ini')]);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    assert.match(await appBody(), /^hello from a jailed Node app: worker \d+, uid 65534, request 1 of this worker\n$/, stderr);
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, `the app server stops cleanly on SIGTERM\n${stderr}`);
});

test('the README\'s main command: the emperor runs every example at once, and SIGTERM ends them all', async () => {
  const emperor: ChildProcess = jailctlAsync(['emperor', '--emperor', 'jails/']);
  let log = '';
  emperor.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  emperor.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => emperor.on('exit', (code) => resolve(code)));
  try {
    for (const name of ['app.ini', 'caps.yaml', 'hello.ini', 'hooks.json', 'limits.ini', 'nginx.ini'])
      await waitUntil(() => new RegExp(`${name.replace('.', '\\.')}: running`).test(log), `${name} running\n${log}`);
    assert.is(await nginxBody(), 'hello from nginx in a jail\n', log);
    assert.match(await appBody(), /^hello from a jailed Node app/, log);
    await waitUntil(() => /hello from hello as nobody/.test(log) && /written by a root hook/.test(log) && /CapEff:\t0000000000000400/.test(log), `the examples' output in\n${log}`);
    assert.not.match(log, /blacklisted|warning/, log);
  } finally {
    emperor.kill('SIGTERM');
  }
  assert.is(await exited, 0, log);
  assert.equal(pidsWith('sleep infinity'), [], 'nothing left running');
  assert.equal(nginxUids(), []);
});

test.run();
