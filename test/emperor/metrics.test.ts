// emperor-metrics against a real emperor: GET /metrics checked by Prometheus' own promtool
// (Debian's prometheus package), then read for what each vassal and the emperor do; and who
// may connect in tyrant mode.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctlRun } from '../helpers/cli';
import { alive, emperorFixture, freePort, pidsWith, waitUntil } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('emperor metrics');
const fx = emperorFixture(test, 0o755);

function get(target: { port: number } | { socketPath: string }, path = '/metrics'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...('port' in target ? { host: '127.0.0.1', port: target.port } : target), path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// promtool's verdict on the text (exit 0, and no lint problem printed).
function promtool(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.is(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
  assert.is(`${r.stdout}${r.stderr}`.trim(), '', 'promtool has no lint complaint');
}

/** One sample's value, by name and (a subset of) labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('GET /metrics: promtool accepts it; per vassal state, restarts, memory and its limit, processes; launches, failures by stage, config-to-running', async () => {
  const port = await freePort();
  fx.dir.write('web.ini', ini('unshare = fs,pid,ipc', 'memory-max = 64m', 'uid = 1001', 'gid = 1001', "unprivileged-binary-patch-arg = sh -c 'sleep 79601 & exec sleep 79602'"));
  fx.dir.write('bad.ini', ini('uid = nosuchuser', 'unprivileged-binary-patch-arg = sleep 79603'));
  fx.dir.write('crash.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sh -c "exit 7"'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-metrics', `127.0.0.1:${port}`, '--emperor-name', 'metrics-test']);
  await e.waitForVassal('web.ini', (v) => v?.state === 'running', 'running');
  await e.waitForVassal('bad.ini', (v) => v?.state === 'failed', 'failed');
  await e.waitForVassal('crash.ini', (v) => v?.state === 'blacklisted', 'blacklisted');
  await e.waitForLog(/metrics on 127\.0\.0\.1:\d+ \(GET \/metrics\)/);
  const r = await get({ port });
  assert.is(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  promtool(r.body);
  const text = r.body;
  const web = { vassal: 'web.ini', uid: '1001' };
  assert.is(sample(text, 'jailctl_vassal_state', { ...web, state: 'running' }), 1);
  assert.is(sample(text, 'jailctl_vassal_state', { vassal: 'bad.ini', state: 'failed' }), 1);
  assert.is(sample(text, 'jailctl_vassal_state', { vassal: 'crash.ini', state: 'blacklisted' }), 1);
  assert.ok(text.includes(`source="dir://${fx.dir.dir}"`) || text.includes(`source="${fx.dir.dir}"`), 'the source is a label');
  assert.is(sample(text, 'jailctl_vassal_memory_max_bytes', web), 64 * 1024 * 1024);
  assert.ok(sample(text, 'jailctl_vassal_memory_bytes', web)! > 0, 'memory charged to its cgroup');
  assert.is(sample(text, 'jailctl_vassal_processes', web), 3, 'the jail\'s init, sh\'s sleep and the exec\'d sleep');
  assert.is(sample(text, 'jailctl_vassal_loyal', web), 0);
  assert.is(sample(text, 'jailctl_vassal_on_demand', web), 0);
  assert.is(sample(text, 'jailctl_vassal_last_exit_code', { vassal: 'crash.ini' }), 7);
  assert.ok(sample(text, 'jailctl_vassal_restarts_total', { vassal: 'crash.ini' }) !== undefined);
  // The emperor's own.
  assert.is(sample(text, 'jailctl_emperor_info', { emperor: 'metrics-test' }), 1);
  assert.is(sample(text, 'jailctl_emperor_vassals', { state: 'running' }), 1);
  assert.is(sample(text, 'jailctl_emperor_vassals', { state: 'stopped' }), 0, 'every state is there, 0 included');
  assert.is(sample(text, 'jailctl_emperor_blacklisted'), 1);
  assert.ok(sample(text, 'jailctl_emperor_launches_total')! >= 2, 'web and crash launched');
  assert.ok(sample(text, 'jailctl_emperor_launch_failures_total', { stage: 'plan' })! >= 1, 'bad.ini fails at stage plan');
  assert.ok(sample(text, 'jailctl_emperor_config_to_running_seconds_count')! >= 1);
  assert.is(sample(text, 'jailctl_emperor_source_up', { state: 'up' }), 1);
  assert.ok(sample(text, 'process_resident_memory_bytes')! > 10e6, 'its own RSS');
  assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag');
  // Another path says where the metrics are; another method is refused.
  const other = await get({ port }, '/');
  assert.is(other.status, 404);
  assert.match(other.body, /\/metrics/);
});

test('tyrant mode: TCP is refused without emperor-metrics-public; a socket is root\'s (0600), or root\'s and a group\'s (0660)', async () => {
  const port = await freePort();
  chownSync(fx.dir.write('alice.ini', ini('unprivileged-binary-patch-arg = sleep 79611')), 1001, 1001);
  const refused = await jailctlRun(['emperor', '--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-metrics', `127.0.0.1:${port}`, '--emperor-control-socket', 'none', '--emperor-logs-dir', 'none']);
  assert.is.not(refused.status, 0);
  assert.match(refused.stderr + refused.stdout, /emperor-metrics 127\.0\.0\.1:\d+: in tyrant mode the metrics name every tenant's vassals and uids.*emperor-metrics-public/);

  const path = join(fx.dir.dir, 'metrics.sock');
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-metrics', path]);
  await e.waitForVassal('1001/alice.ini', (v) => v?.state === 'running', 'running');
  await waitUntil(() => { try { return statSync(path).isSocket(); } catch { return false; } }, 'the metrics socket');
  assert.is(statSync(path).mode & 0o777, 0o600);
  const root = await get({ socketPath: path });
  assert.is(sample(root.body, 'jailctl_vassal_state', { vassal: '1001/alice.ini', uid: '1001', state: 'running' }), 1);
  // The tenant cannot connect (curl as uid 1001 through the socket).
  const tenant = spawnSync('setpriv', ['--reuid=1001', '--regid=1001', '--clear-groups', process.execPath, '-e',
    `require('http').get({socketPath:${JSON.stringify(path)},path:'/metrics'},()=>process.exit(0)).on('error',(e)=>{console.log(e.code);process.exit(3)})`], { encoding: 'utf8' });
  assert.is(tenant.status, 3, tenant.stdout + tenant.stderr);
  assert.match(tenant.stdout, /EACCES/);
});

test('emperor-metrics-group: the socket is 0660 with that group', async () => {
  chownSync(fx.dir.write('alice.ini', ini('unprivileged-binary-patch-arg = sleep 79621')), 1001, 1001);
  const path = join(fx.dir.dir, 'metrics.sock');
  fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--emperor-metrics', path, '--emperor-metrics-group', '1002']);
  await waitUntil(() => { try { return statSync(path).isSocket(); } catch { return false; } }, 'the metrics socket');
  const st = statSync(path);
  assert.is(st.mode & 0o777, 0o660);
  assert.is(st.gid, 1002);
  const member = spawnSync('setpriv', ['--reuid=1001', '--regid=1002', '--clear-groups', process.execPath, '-e',
    `require('http').get({socketPath:${JSON.stringify(path)},path:'/metrics'},(r)=>process.exit(r.statusCode===200?0:4)).on('error',(e)=>{console.log(e.code);process.exit(3)})`], { encoding: 'utf8' });
  assert.is(member.status, 0, member.stdout + member.stderr);
});

// The emperor's children whose command line runs the metrics exporter.
function exporters(emperorPid: number): number[] {
  return pidsWith('metrics-exporter').filter((pid) => {
    try {
      return Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1]) === emperorPid;
    } catch {
      return false;
    }
  });
}

test('the exporter is a process of its own: killed, it comes back and the next scrape answers; it exits with the emperor, and the socket goes', async () => {
  fx.dir.write('web.ini', ini('unshare = fs,pid,ipc', 'unprivileged-binary-patch-arg = sleep 79631'));
  const path = join(fx.dir.dir, 'metrics.sock');
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-metrics', path]);
  await e.waitForVassal('web.ini', (v) => v?.state === 'running', 'running');
  assert.is(sample((await get({ socketPath: path })).body, 'jailctl_vassal_state', { vassal: 'web.ini', state: 'running' }), 1);
  const [first, ...more] = exporters(e.child.pid!);
  assert.ok(first !== undefined && more.length === 0, `one exporter: ${[first, ...more].join(' ')}`);
  // Its environment is the emperor's choice (and Node's IPC channel), not the caller's.
  assert.equal(readFileSync(`/proc/${first}/environ`, 'latin1').split('\0').filter(Boolean).sort(), ['NODE_CHANNEL_FD=3', 'NODE_CHANNEL_SERIALIZATION_MODE=json', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin']);
  assert.is(readlinkSync(`/proc/${first}/cwd`), '/');
  process.kill(first!, 'SIGKILL');
  await e.waitForLog(new RegExp(`metrics exporter \\(pid ${first}\\) exited \\(SIGKILL\\); starting it again in 1 s`));
  // The scrape made meanwhile waits in the backlog for the new exporter.
  const again = await get({ socketPath: path });
  assert.is(again.status, 200);
  assert.is(sample(again.body, 'jailctl_vassal_state', { vassal: 'web.ini', state: 'running' }), 1);
  promtool(again.body);
  const [second] = exporters(e.child.pid!);
  assert.ok(second !== undefined && second !== first, `a new exporter: ${second}`);
  // The emperor's own figures, read by the exporter from /proc, and the exporter's.
  assert.ok(sample(again.body, 'process_open_fds')! > 3);
  assert.ok(sample(again.body, 'jailctl_metrics_exporter_resident_memory_bytes')! > 1e6);
  e.child.kill('SIGKILL');
  await e.exited;
  await waitUntil(() => !alive(second!), 'the exporter to exit with the emperor');
});

test('a clean stop removes the metrics socket', async () => {
  const path = join(fx.dir.dir, 'metrics.sock');
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-metrics', path]);
  await waitUntil(() => { try { return statSync(path).isSocket(); } catch { return false; } }, 'the metrics socket');
  assert.is((await get({ socketPath: path })).status, 200);
  const exporter = exporters(e.child.pid!)[0]!;
  await e.stop();
  assert.not.ok(existsSync(path), 'the socket file is gone');
  assert.not.ok(alive(exporter), 'the exporter is gone');
});

test.run();
