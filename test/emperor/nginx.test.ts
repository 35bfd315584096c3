// nginx as a vassal, the reference docs' recipe done right, with Debian's nginx under a real
// emperor: exec'd directly (the emperor watches the real master), started as root with a
// container's default capabilities (its chown of the temp paths works), its access log on
// /dev/stdout, a touch that reloads it by SIGHUP (same master, new workers, no request
// refused under load), and a removal that leaves no nginx process.
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emperorFixture, freePort, pidsWith, sleep, waitUntil } from '../helpers/emperor';
import { descendants, procTable } from '../helpers/proc';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('nginx as a vassal');
const fx = emperorFixture(test, 0o755);
// The site's config, out of /tmp (each jail has a private one).
const site = mkdtempSync('/var/tmp/jailctl-nginx-');
chmodSync(site, 0o755);
test.after(() => rmSync(site, { recursive: true, force: true }));

// A site on 127.0.0.1:PORT whose pid file, temp paths and logs are the jail's own.
function nginxConf(port: number): string {
  return [
    'worker_processes 2;',
    'pid /tmp/nginx.pid;',
    'error_log /dev/stderr notice;',
    'user nobody nogroup;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log /dev/stdout;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path /tmp/${t};`),
    `  server { listen 127.0.0.1:${port}; location / { return 200 "nginx here\\n"; } }`,
    '}', '',
  ].join('\n');
}

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.end();
  });
}

// The nginx master of this test's config, and its workers.
function nginxOf(conf: string): { master: number; workers: number[] } | undefined {
  const master = pidsWith(`nginx: master process nginx -c ${conf}`)[0];
  if (master === undefined) return undefined;
  return { master, workers: descendants(master, procTable()).map((p) => p.pid).sort() };
}

test('the docs\' recipe as written: nginx runs, logs to the emperor, reloads by SIGHUP on a touch without refusing a request, goes whole on rm', async () => {
  const port = await freePort();
  const conf = join(site, 'site.conf');
  writeFileSync(conf, nginxConf(port));
  const file = fx.dir.write('nginx.ini', ini(
    'unshare = fs,pid,ipc,uts', 'tmp = private', 'reload-signal = SIGHUP', 'stop-signal = SIGQUIT',
    `privileged-binary-patch-arg = nginx -c ${conf} -g "daemon off;"`,
  ));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);
  await waitUntil(async () => (await get(port)) === '200 nginx here\n', 'nginx answering', 15_000);
  await e.waitForLog(/\[nginx\.ini\] 127\.0\.0\.1 - - \[[^\]]+\] "GET \/ HTTP\/1\.1" 200/);
  const before = nginxOf(conf)!;
  assert.ok(before, 'an nginx master with this config');
  assert.is(before.workers.length, 2, 'and its two workers');
  const v = (await e.vassal('nginx.ini'))!;
  assert.is(procTable().get(before.master)!.ppid, v.init_pid, 'nginx is the jail\'s program itself, not a shell\'s child');
  assert.is(v.pid, before.master, 'the stats give the program\'s pid (nginx\'s master), the init\'s beside it');
  assert.match(readFileSync(`/proc/${before.workers[0]}/status`, 'utf8'), /^Uid:\t65534\t/m, 'its workers run as nobody');

  // Four clients in a loop while the file is touched.
  let stop = false;
  let ok = 0;
  const failed: string[] = [];
  const clients = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const r = await get(port);
      if (r === '200 nginx here\n') ok++;
      else failed.push(r);
    }
  });
  await sleep(300);
  const now = new Date();
  utimesSync(file, now, now);
  await e.waitForLog(/nginx\.ini: config changed; SIGHUP sent \(reload-signal\)/);
  await waitUntil(() => {
    const after = nginxOf(conf);
    return after !== undefined && after.workers.length === 2 && after.workers.every((w) => !before.workers.includes(w));
  }, 'new workers', 15_000);
  await sleep(300);
  stop = true;
  await Promise.all(clients);
  assert.is(nginxOf(conf)!.master, before.master, 'the same master');
  assert.equal(failed, [], `no request failed (${ok} answered)`);
  assert.ok(ok > 20, `requests ran all along (${ok})`);
  assert.not.match(e.log(), /nginx\.ini: .*restarting the jail/);

  rmSync(file);
  await e.waitForLog(/nginx\.ini: stopped/);
  await waitUntil(() => pidsWith(`nginx -c ${conf}`).length === 0 && nginxOf(conf) === undefined, 'no nginx process left', 10_000);
  // Its own log has every line (the emperor's echo drops what comes over 100 a second).
  assert.match(readFileSync(join(e.logsDir, 'nginx.ini.log'), 'utf8'), /signal 3 \(SIGQUIT\) received/, 'SIGQUIT: nginx\'s graceful stop');
});

test('a privileged patch without cap keeps a container\'s default capabilities; cap narrows them', async () => {
  fx.dir.write('caps.ini', ini('unshare = fs,pid', 'privileged-binary-patch-arg = /bin/sh -c "grep CapEff /proc/self/status; exec sleep 77901"'));
  fx.dir.write('narrow.ini', ini('unshare = fs,pid', 'cap = net_bind_service', 'privileged-binary-patch-arg = /bin/sh -c "grep CapEff /proc/self/status; exec sleep 77902"'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-freq', '1']);
  // chown 0, dac_override 1, fowner 3, fsetid 4, kill 5, setgid 6, setuid 7, setpcap 8,
  // net_bind_service 10, net_raw 13, sys_chroot 18, mknod 27, audit_write 29, setfcap 31.
  await e.waitForLog(/\[caps\.ini\] CapEff:\s+00000000a80425fb$/m);
  await e.waitForLog(/\[narrow\.ini\] CapEff:\s+0000000000000400$/m);
});

test.run();
