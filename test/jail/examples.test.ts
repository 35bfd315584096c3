// Every example vassal in jails/ runs and does what its comment says, alone under
// `jailctl run` and all together under `jailctl emperor` (the README's first command).
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctlAsync, ROOT } from '../helpers/cli';
import { pidsWith, waitUntil } from '../helpers/emperor';
import { processState } from '../helpers/proc';
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

// The fork-server example's vassals: their ports, workers and uids (jails/forkserver/vassals).
const ADOPTED = [{ name: 'one.ini', port: 8181, workers: 4, uid: 1001 }, { name: 'two.ini', port: 8282, workers: 8, uid: 1002 }];

// The processes whose command line holds `text`, with their real uid and parent.
function processesWith(text: string): Array<{ pid: number; uid: number; ppid: number }> {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) return [];
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return [{ pid: Number(p), uid: Number(/^Uid:\t(\d+)/m.exec(status)![1]), ppid: Number(/^PPid:\t(\d+)/m.exec(status)![1]) }];
    } catch {
      return []; // exited meanwhile
    }
  });
}

async function body(port: number): Promise<string> {
  return fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), (err: Error) => `error: ${err.message}`);
}

test('forkserver/: the fork-server docs\' example: one and two adopted from perlbase.ini as 1001 and 1002, at once; a file dropped later too', async () => {
  // As the README runs it, with a 1 s load instead of 10 (MYAPP_SLEEP) and sockets of its own.
  const dir = mkdtempSync('/tmp/jailctl-forkserver-');
  const emperor = jailctlAsync(['emperor', '--ini', join(JAILS, 'forkserver', 'emperor.ini'), '--vassal-set', 'env=MYAPP_SLEEP=1',
    '--emperor-control-socket', join(dir, 'control.sock')]);
  let log = '';
  emperor.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  emperor.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => emperor.on('exit', (code) => resolve(code)));
  const later = join(JAILS, 'forkserver', 'vassals', 'three.ini');
  try {
    await waitUntil(() => /\[perlbase\.ini\] I am the App/.test(log), `the base loads the app\n${log}`);
    await waitUntil(() => /fork server: the app is loaded/.test(log), 'the base is up', 10_000).catch((err: Error) => {
      // Seen once in a full run (the log stopped at "I am the App"): say what the base was doing.
      const base = Number(/perlbase\.ini: running \(pid (\d+)/.exec(log)?.[1]);
      throw new Error(`${err.message}\n${base > 0 ? processState(base) : 'no base pid'}\n${log}`);
    });
    const up = Date.now();
    for (const v of ADOPTED) assert.is(await body(v.port), 'Hello World', `${v.name}\n${log}`);
    const answered = Date.now() - up;
    for (const v of ADOPTED) {
      const top = Number(new RegExp(`${v.name.replace('.', '\\.')}: running \\(pid (\\d+), uid ${v.uid}\\)`).exec(log)?.[1]);
      assert.ok(top > 0, `${v.name} running as ${v.uid}\n${log}`);
      // The first worker answers while the master may still be forking the others.
      const workers = (): number => processesWith(`emperor://${v.name}`).filter((p) => p.uid === v.uid && readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('(worker)')).length;
      await waitUntil(() => workers() >= v.workers, `${v.name}: ${v.workers} workers as uid ${v.uid}`);
      assert.is(workers(), v.workers, `${v.name}: ${v.workers} workers as uid ${v.uid}`);
      assert.is(Number(/^PPid:\t(\d+)/m.exec(readFileSync(`/proc/${top}/status`, 'utf8'))![1]), emperor.pid, `${v.name}: its jail's top process is the emperor's child`);
      assert.not.equal(readlinkSync(`/proc/${top}/ns/pid`), readlinkSync('/proc/self/ns/pid'), `${v.name}: a pid namespace of its own`);
      assert.match(readFileSync(`/proc/${top}/cgroup`, 'utf8'), /jailctl-\d+\/vassals\/(one|two)\.ini/, `${v.name}: a cgroup of its own`);
    }
    // Dropped in later: adopted at once, the 1 s load not paid again.
    writeFileSync(later, '[uwsgi]\nhttp-socket = 127.0.0.1:8383\nuid = 1001\ngid = 1001\n');
    const dropped = Date.now();
    for (let i = 0; (await body(8383)) !== 'Hello World'; i++) {
      assert.ok(i < 200, `three.ini answers\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const tookMs = Date.now() - dropped;
    console.log(`forkserver/: one and two answered ${answered} ms after the base was up; three.ini ${tookMs} ms after it was dropped (the app takes 1000 ms to load)`);
    assert.is((log.match(/I am the App/g) ?? []).length, 1, 'the app was loaded once, by the base');
  } finally {
    rmSync(later, { force: true });
    emperor.kill('SIGTERM');
  }
  assert.is(await exited, 0, log);
  assert.equal(processesWith('jailctl-psgi'), [], 'nothing left running');
});

test('nginx-netns/: nginx in an empty network namespace serves through the socket the emperor bound (NGINX=5;)', async () => {
  const dir = mkdtempSync('/tmp/jailctl-nginx-netns-');
  const emperor = jailctlAsync(['emperor', '--emperor', join(JAILS, 'nginx-netns', 'vassals'), '--emperor-control-socket', join(dir, 'control.sock'), '--emperor-logs-dir', 'none', '--emperor-stats', join(dir, 'stats.sock')]);
  let log = '';
  emperor.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  emperor.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => emperor.on('exit', (code) => resolve(code)));
  try {
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch('http://127.0.0.1:8686/').then((r) => r.text(), () => '');
      if (body === '') await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(body, 'hello from nginx in an empty network namespace\n', log);
    const master = pidsWith('nginx: master process nginx -p ./ -c nginx.conf')[0]!;
    assert.ok(master > 0, log);
    assert.is.not(readlinkSync(`/proc/${master}/ns/net`), readlinkSync('/proc/self/ns/net'), 'nginx has a network namespace of its own');
    assert.not.match(readFileSync(`/proc/${master}/net/dev`, 'utf8'), /eth|ens|enp/, 'with no interface but lo');
  } finally {
    emperor.kill('SIGTERM');
  }
  assert.is(await exited, 0, log);
  assert.match(log, /signal 3 \(SIGQUIT\) received/, 'stopped by its stop-signal');
  assert.equal(pidsWith('nginx -p ./ -c nginx.conf'), [], 'no nginx left');
  rmSync(dir, { recursive: true, force: true });
});

// `jailctl emperor --ini DIR/emperor.ini` with its control socket (and stats) in a test
// directory; the log, and a stop that resolves with the exit code.
function exampleEmperor(dir: string, ...extra: string[]): { log: () => string; stop: () => Promise<number | null> } {
  const tmp = mkdtempSync('/tmp/jailctl-example-');
  const child = jailctlAsync(['emperor', '--ini', join(JAILS, dir, 'emperor.ini'), '--emperor-control-socket', join(tmp, 'control.sock'), '--emperor-stats', join(tmp, 'stats.sock'), ...extra]);
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(tmp, { recursive: true, force: true });
      return code;
    },
  };
}

async function bodyOf(url: string, tries = 100): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const body = await fetch(url).then((r) => r.text(), () => '');
    if (body !== '') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  return '';
}

test('ondemand/: nothing runs until the first connection, which starts the Node app', async () => {
  const e = exampleEmperor('ondemand');
  try {
    await waitUntil(() => /hello\.ini: on demand|hello\.ini: holding 127\.0\.0\.1:8484/.test(e.log()), `held on demand\n${e.log()}`);
    assert.not.match(e.log(), /hello\.ini: running/, 'nothing started before a connection');
    assert.match(await bodyOf('http://127.0.0.1:8484/'), /./, e.log());
    assert.match(e.log(), /hello\.ini: a connection on 127\.0\.0\.1:8484; spawning/);
  } finally {
    assert.is(await e.stop(), 0);
  }
});

test('tyrant/: alice\'s file runs as alice (its owner), with the emperor\'s ceilings', async () => {
  const file = join(JAILS, 'tyrant', 'vassals', 'alice.ini');
  chownSync(file, 1001, 1001);
  const e = exampleEmperor('tyrant');
  try {
    await waitUntil(() => /alice runs as uid 1001, in a jail of her own/.test(e.log()), `alice's vassal\n${e.log()}`);
    assert.match(e.log(), /1001\/alice\.ini: running \(pid \d+, uid 1001\)/);
  } finally {
    assert.is(await e.stop(), 0);
    chownSync(file, 0, 0);
  }
});

test('rootfs/: busybox httpd on a busybox root built by npm run rootfs, the site bound in read-only', async () => {
  const work = mkdtempSync('/var/tmp/jailctl-example-root-');
  chmodSync(work, 0o755);
  const root = join(work, 'busybox');
  const built = spawnSync('bash', [join(ROOT, 'rootfs', 'build'), root], { encoding: 'utf8' });
  assert.is(built.status, 0, built.stderr);
  const e = exampleEmperor('rootfs', '--vassal-set', `busybox_root=${root}`);
  try {
    assert.is(await bodyOf('http://127.0.0.1:8585/index.html'), 'hello from a jail on its own root\n', e.log());
  } finally {
    assert.is(await e.stop(), 0);
    rmSync(work, { recursive: true, force: true });
  }
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
