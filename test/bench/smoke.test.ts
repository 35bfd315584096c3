// Every benchmark in bench/, run as `npm run bench:*` would, with a tiny N: the figures mean
// nothing here, but a bench that no longer runs (a changed option, a protocol, a path) fails
// the suite instead of rotting until someone needs it. Each must finish and print its
// comparison with the peer it measures against.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/cli';
import { requireRoot } from '../helpers/root';

requireRoot();

const test = suite('benchmarks, smoke mode');

// `npm run NAME` with env; its output, after checking it ended well.
function bench(name: string, env: Record<string, string>, timeoutMs: number): string {
  const r = spawnSync('npm', ['run', '-s', name], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  assert.is(r.status, 0, `npm run ${name} (${r.signal ?? 'exit ' + r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('bench:launch compares the addon with the raw C loop, unshare+setpriv, bubblewrap and spawnSync', () => {
  const out = bench('bench:launch', { JAILCTL_BENCH_N: '5' }, 120_000);
  assert.match(out, /addon vs raw C loop: [\d.]+x/);
  assert.match(out, /cgroup \+ seccomp vs neither: [\d.]+x/);
});

test('bench:cpu spins a jail with cpu-max and one without, read from their cgroups', () => {
  assert.match(bench('bench:cpu', { JAILCTL_BENCH_SECONDS: '0.5' }, 60_000), /cpu-max 20%: held at [\d.]+%/);
});

test('bench:detect times our emperor and uWSGI\'s on the same events', () => {
  const out = bench('bench:detect', { JAILCTL_BENCH_N: '3', JAILCTL_BENCH_UWSGI_N: '1' }, 240_000);
  assert.match(out, /rename → exec/);
  assert.match(out, /uWSGI/);
});

test('bench:scale starts many jails under both emperors', () => {
  const out = bench('bench:scale', { JAILCTL_BENCH_VASSALS: '3', JAILCTL_BENCH_UWSGI_VASSALS: '3', JAILCTL_BENCH_IDLE_S: '1', JAILCTL_BENCH_SETTLE_S: '0' }, 240_000);
  assert.match(out, /ours\/uWSGI = [\d.]+/);
  assert.match(out, /emperor CPU at rest, 1 s .*\n[^]*emperor CPU at rest, 1 s +[\d.]+ % +(ours\/uWSGI = [\d.]+|ours\/uWSGI: uWSGI used 0 ticks)/);
});

test('bench:ondemand runs the three set-ups', () => {
  const out = bench('bench:ondemand', { JAILCTL_BENCH_CYCLES: '1', JAILCTL_BENCH_WARM: '5', JAILCTL_BENCH_LOAD: '5' }, 300_000);
  assert.match(out, /uWSGI/);
  assert.match(out, /Node cold start: .* a\/b = [\d.]+ /);
});

test('bench:death SIGKILLs both emperors and times their vassals\' end', () => {
  const out = bench('bench:death', { JAILCTL_BENCH_VASSALS: '3', JAILCTL_BENCH_ROUNDS: '1', JAILCTL_BENCH_GIVE_UP_MS: '5000' }, 180_000);
  assert.match(out, /ratio jailctl\/uWSGI [\d.]+/);
});

test('bench:forkserver times adopted vassals against cold ones and uWSGI, and a rolling deploy', () => {
  const out = bench('bench:forkserver', { JAILCTL_BENCH_LOAD_S: '1', JAILCTL_BENCH_DROPS: '1', JAILCTL_BENCH_MANY: '3', JAILCTL_BENCH_DEMAND: '1', JAILCTL_BENCH_DEPLOY: '3' }, 300_000);
  assert.match(out, /drop → first 200: .* adopted\/cold = [\d.]+/);
  assert.match(out, /PSS per vassal .* adopted\/cold = [\d.]+/);
  assert.match(out, /ours\/uWSGI = [\d.]+/);
  assert.match(out, /rolling deploy: 3 vassals, \d+ requests, failed 0 /);
});

test('bench:metrics times a scrape of our /metrics against uWSGI\'s stats', () => {
  const out = bench('bench:metrics', { JAILCTL_BENCH_VASSALS: '3', JAILCTL_BENCH_UWSGI_VASSALS: '3', JAILCTL_BENCH_SCRAPES: '3' }, 240_000);
  assert.match(out, /jailctl GET \/metrics, 3 vassals\s+[\d.]+ ms/);
  assert.match(out, /ours \/metrics \/ uWSGI stats\s+[\d.]+/);
});

test('bench:pg times rows against uWSGI\'s pg:// and against files', () => {
  const out = bench('bench:pg', { JAILCTL_BENCH_N: '3', JAILCTL_BENCH_UWSGI_N: '1', JAILCTL_BENCH_MOVES: '2', JAILCTL_BENCH_MANY: '5' }, 240_000);
  assert.match(out, /INSERT → exec .* ours\/uWSGI p50 = [\d.]+/);
  assert.match(out, /UPDATE host → exec +p50 [\d.]+/);
  assert.match(out, /5 rows → all running [\d.]+; the same as files [\d.]+; pg\/files = [\d.]+/);
});

test.run();
