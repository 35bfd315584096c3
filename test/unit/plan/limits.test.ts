import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RawVassalConfig } from '../../../src/config/types';
import { parseUserDb } from '../../../src/config/users';
import { PlanError } from '../../../src/errors';
import { compilePlan } from '../../../src/plan/compile';
import { DEFAULT_PIDS_MAX, formatBytes } from '../../../src/plan/limits';
import { tenantLimitRefusal } from '../../../src/emperor/tenant-limits';
import { rawIni } from '../../helpers/plan';
import { thrown } from '../../helpers/thrown';

const users = parseUserDb('root:x:0:0:root:/root:/bin/sh\n', 'root:x:0:\n');
const baseEnv = { PATH: '/usr/bin:/bin' };

const raw = (file: string, ...lines: string[]): RawVassalConfig => rawIni(file, ['unprivileged-binary-patch-arg = /bin/true', ...lines]);
const compile = (...lines: string[]) => compilePlan(raw('/etc/jails/web.ini', ...lines), { users, baseEnv, readFile: (p) => { throw Object.assign(new Error(p), { code: 'ENOENT' }); } }).plan;
const planError = (fn: () => unknown): PlanError => thrown(fn, PlanError);

const limits = suite('cgroup limits');

limits('every jail gets the default pids-max, marked as a default', () => {
  const plan = compile();
  assert.equal(plan.limits.pidsMax, { option: 'pids-max', value: DEFAULT_PIDS_MAX, isDefault: true });
  assert.equal(plan.limits.memoryMax, undefined);
  assert.equal(plan.seccomp, { mode: 'default', deny: [], allow: [] });
});

limits('sizes, counts and CPU shares, each with its line', () => {
  const plan = compile('memory-max = 64m', 'memory-high = 48M', 'pids-max = 20', 'cpu-max = 20%', 'io-weight = 300', 'cgroup-opt = memory.swap.max=0');
  assert.equal(plan.limits.memoryMax, { option: 'memory-max', value: 64 << 20, line: 3 });
  assert.equal(plan.limits.memoryHigh?.value, 48 << 20);
  assert.equal(plan.limits.pidsMax, { option: 'pids-max', value: 20, line: 5 });
  assert.equal(plan.limits.cpuMax?.value, 20);
  assert.equal(plan.limits.ioWeight?.value, 300);
  assert.equal(plan.limits.opts, [{ option: 'cgroup-opt', key: 'memory.swap.max', value: '0', line: 8 }]);
});

limits('`max` lifts a limit, the default pids-max too', () => {
  const plan = compile('pids-max = max', 'memory-max = max');
  assert.equal(plan.limits.pidsMax, undefined);
  assert.equal(plan.limits.memoryMax, undefined);
});

limits('bad values name the line and the form expected', () => {
  assert.match(planError(() => compile('memory-max = lots')).message, /web\.ini:3: memory-max: expected a size/);
  assert.match(planError(() => compile('cpu-max = 50')).message, /did you mean `50%`/);
  assert.match(planError(() => compile('pids-max = 0')).message, /pids-max: expected a number of processes/);
  assert.match(planError(() => compile('io-weight = 20000')).message, /from 1 to 10000/);
  assert.match(planError(() => compile('memory-max = 64m', 'memory-high = 1g')).message, /memory-high: 1g is above memory-max \(64m\)/);
  assert.match(planError(() => compile('cgroup-opt = cgroup.procs=1')).message, /the emperor's to write/);
  assert.match(planError(() => compile('cgroup-opt = memory.max')).message, /expected KEY=VALUE/);
});

limits('formatBytes shows what a sysadmin wrote', () => {
  assert.is(formatBytes(64 << 20), '64m');
  assert.is(formatBytes(1 << 30), '1g');
  assert.is(formatBytes(5000), '5000');
});

const seccomp = suite('seccomp');

seccomp('default, none, and a FILE of deny and allow lines', () => {
  assert.equal(compile('seccomp = none').seccomp.mode, 'none');
  assert.equal(compile('seccomp = default').seccomp.deny, []);
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-seccomp-'));
  writeFileSync(join(dir, 'web.seccomp'), '# extra\ndeny mkdir, rmdir\nallow io_uring_setup\n\n');
  const plan = compilePlan(raw(join(dir, 'web.ini'), 'seccomp = web.seccomp'), { users, baseEnv, readFile: (p) => readFileSync(p, 'utf8') }).plan;
  assert.equal(plan.seccomp, { option: 'seccomp', line: 3, mode: 'default', deny: ['mkdir', 'rmdir'], allow: ['io_uring_setup'], file: join(dir, 'web.seccomp') });
  writeFileSync(join(dir, 'clone3.seccomp'), 'deny clone3\n');
  assert.match(planError(() => compilePlan(raw(join(dir, 'web.ini'), 'seccomp = clone3.seccomp'), { users, baseEnv, readFile: (p) => readFileSync(p, 'utf8') })).message, /clone3 already fails \(ENOSYS/);
  writeFileSync(join(dir, 'bad.seccomp'), 'forbid mkdir\n');
  const err = planError(() => compilePlan(raw(join(dir, 'web.ini'), 'seccomp = bad.seccomp'), { users, baseEnv, readFile: (p) => readFileSync(p, 'utf8') }));
  assert.match(err.message, /bad\.seccomp:1: expected `deny NAME…` or `allow NAME…`/);
  assert.match(planError(() => compile('seccomp = missing.txt')).message, /cannot read \/etc\/jails\/missing\.txt: ENOENT/);
});

const tenant = suite('tyrant ceilings');
const entry = (key: string, value: string) => ({ key, value, line: 4 });

tenant('a tenant may go under a ceiling, never over it or around it', () => {
  const opts = { vassalsMemoryMax: '256m', vassalsCpuMax: '50%' };
  assert.is(tenantLimitRefusal(entry('memory-max', '64m'), opts), undefined);
  assert.match(tenantLimitRefusal(entry('memory-max', '1g'), opts)!, /1g: the emperor lets a tenant have at most 256m \(vassals-memory-max\)/);
  assert.match(tenantLimitRefusal(entry('memory-max', 'max'), opts)!, /max: .* at most 256m/);
  assert.match(tenantLimitRefusal(entry('cpu-max', '80%'), opts)!, /at most 50%/);
  assert.is(tenantLimitRefusal(entry('memory-high', '1g'), opts), undefined, 'no ceiling set: not limited');
});

tenant('pids-max stays under jailctl\'s default unless the sysadmin raises it', () => {
  assert.match(tenantLimitRefusal(entry('pids-max', 'max'), {})!, /at most 1024 \(jailctl's default; the sysadmin may raise it with vassals-pids-max\)/);
  assert.is(tenantLimitRefusal(entry('pids-max', '5000'), { vassalsPidsMax: '8000' }), undefined);
});

tenant('cgroup-opt and a weaker seccomp are the sysadmin\'s', () => {
  assert.match(tenantLimitRefusal(entry('cgroup-opt', 'memory.swap.max=max'), {})!, /may not ask for/);
  assert.match(tenantLimitRefusal(entry('seccomp', 'none'), {})!, /always has the default seccomp filter/);
  assert.match(tenantLimitRefusal(entry('seccomp', '/home/t/allow-all'), {})!, /always has the default/);
  assert.is(tenantLimitRefusal(entry('seccomp', 'default'), {}), undefined);
});

limits.run();
seccomp.run();
tenant.run();
