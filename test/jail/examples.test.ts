// Every example vassal in jails/ runs and does what its comment says.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl, jailctlAsync, ROOT } from '../helpers/cli';
import { requireRoot } from '../helpers/root';

requireRoot();

const JAILS = join(ROOT, 'jails');
const test = suite('examples in jails/');

test('every example has a test here', () => {
  const files = readdirSync(JAILS).filter((f) => /\.(ini|ya?ml|json)$/.test(f)).sort();
  assert.equal(files, ['caps.yaml', 'hello.ini', 'hooks.json', 'nginx.ini']);
});

test('hello.ini: hook as root, program as nobody in its own namespaces', () => {
  const r = jailctl(['run', join(JAILS, 'hello.ini')]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hook: running as root in a jail named hello\nhello from hello as nobody; processes I can see: \d\n$/);
});

test('caps.yaml: exactly net_bind_service, env set, no new privileges', () => {
  const r = jailctl(['run', join(JAILS, 'caps.yaml')]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'hi\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nNoNewPrivs:\t1\n');
});

test('hooks.json: a root hook prepares a private mount the vassal reads', () => {
  const r = jailctl(['run', join(JAILS, 'hooks.json')]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'written by a root hook\n');
  assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes('/tmp/jailctl-demo'), 'the mount stayed in the jail');
});

test('nginx.ini: nginx as a privileged patch serves, its worker runs as www-data', async () => {
  const child = jailctlAsync(['run', join(JAILS, 'nginx.ini')]);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch('http://127.0.0.1:8080/').then((r) => r.text(), () => '');
      if (body === '') await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(body, 'hello from nginx in a jail\n', stderr);
    const users = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
      try {
        const status = readFileSync(`/proc/${p}/status`, 'utf8');
        return /^Name:\tnginx$/m.test(status) ? [Number(/^Uid:\t(\d+)/m.exec(status)![1])] : [];
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return []; // exited meanwhile
        throw err;
      }
    });
    assert.ok(users.includes(0) && users.includes(33), `nginx master as root and worker as www-data: ${users}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, 'nginx stops cleanly on SIGTERM forwarded through the jail');
});

test.run();
