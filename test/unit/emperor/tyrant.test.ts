import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb } from '../../../src/config/users';
import { PlanError } from '../../../src/errors';
import { DEFAULT_EMPEROR_OPTIONS } from '../../../src/emperor/options';
import { capabilitiesOfMask, checkLaunchable, checkSignalling } from '../../../src/emperor/privileges';
import { checkTenantEntries, tenantOf } from '../../../src/emperor/tyrant';
import { expandVassal } from '../../../src/emperor/vassal-config';
import { thrown } from '../../helpers/thrown';
import { makePlan } from '../../helpers/plan';

const users = parseUserDb(
  'root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\n',
  'root:x:0:\nalice:x:1001:\nbob:x:1002:\nwww:x:33:alice,bob\ndev:x:3000:alice\n',
);
const options = { ...DEFAULT_EMPEROR_OPTIONS, tyrant: true };
const alice = { uid: 1001, gid: 1001, groups: [] };
const file = '/srv/jails/web.ini';
const entry = (key: string, value: string, line = 2): { key: string; value: string; line: number } => ({ key, value, line });
const refusal = (fn: () => unknown): PlanError => thrown(fn, PlanError);

const test = suite('tyrant checks');

test('a tenant may not shield its jail from the OOM killer nor raise its open files past the emperor\'s', () => {
  assert.match(refusal(() => checkTenantEntries(file, [entry('oom-score-adj', '-1000')], alice, options, users)).message, 'oom-score-adj: -1000: a tenant\'s jail may only be made a likelier OOM victim');
  checkTenantEntries(file, [entry('oom-score-adj', '500')], alice, options, users);
  assert.match(refusal(() => checkTenantEntries(file, [entry('max-fd', String(2 ** 31))], alice, options, users)).message, 'the emperor\'s own hard RLIMIT_NOFILE');
  checkTenantEntries(file, [entry('max-fd', '256')], alice, options, users);
});

test('a sysadmin\'s line built from a tenant\'s value is checked as the tenant\'s, but for root commands (quoted)', () => {
  const inc = { file: '/etc/jailctl/tenants.ini', tainted: true };
  assert.match(refusal(() => checkTenantEntries(file, [{ ...entry('cap', 'sys_admin'), ...inc }], alice, options, users)).message, 'not among the capabilities');
  checkTenantEntries(file, [{ ...entry('exec-as-root', "mkdir '/srv/web'"), ...inc }], alice, options, users);
});

test('a tenant may name itself, by name or number, but no one else', () => {
  checkTenantEntries(file, [entry('uid', 'alice'), entry('uid', '1001'), entry('gid', 'alice')], alice, options, users);
  assert.is(refusal(() => checkTenantEntries(file, [entry('uid', 'bob', 4)], alice, options, users)).message,
    '/srv/jails/web.ini:4: uid: uid 1002: in tyrant mode this vassal runs as its file\'s owner, uid 1001 (alice); remove the line (or set uid = 1001)');
  assert.match(refusal(() => checkTenantEntries(file, [entry('uid', 'nobody-here')], alice, options, users)).message, 'unknown user `nobody-here`');
  assert.match(refusal(() => checkTenantEntries(file, [entry('gid', 'www')], alice, options, users)).message, 'gid 33: in tyrant mode');
});

test('root hooks, privileged patches, caps outside vassals-cap and no-new-privs = false are refused; the sysadmin\'s layers pass', () => {
  for (const key of ['exec-as-root', 'privileged-binary-patch', 'privileged-binary-patch-arg'])
    assert.match(refusal(() => checkTenantEntries(file, [entry(key, 'x')], alice, options, users)).message, `${key}: runs as root`);
  checkTenantEntries(file, [entry('exec-as-root', 'x')], alice, { ...options, tyrantAllowRootHooks: true }, users);
  assert.match(refusal(() => checkTenantEntries(file, [entry('cap', 'CAP_NET_RAW')], alice, { ...options, vassalsCap: ['net_bind_service'] }, users)).message,
    '`net_raw` is not among the capabilities the emperor lets tenants have (vassals-cap: net_bind_service)');
  checkTenantEntries(file, [entry('cap', 'CAP_NET_BIND_SERVICE')], alice, { ...options, vassalsCap: ['net_bind_service'] }, users);
  assert.match(refusal(() => checkTenantEntries(file, [entry('no-new-privs', 'off')], alice, options, users)).message, 'no-new-privs: a tenant\'s jail always has no_new_privs');
  checkTenantEntries(file, [{ ...entry('exec-as-root', 'x'), file: 'vassal-set' }, { ...entry('uid', '0'), file: '/etc/jailctl/all.ini' }], alice, options, users);
});

test('vassals-max-procs: every vassal\'s default, and the most a tenant may set', () => {
  const capped = { ...options, vassalsMaxProcs: 64 };
  checkTenantEntries(file, [entry('max-procs', '10')], alice, capped, users);
  assert.is(refusal(() => checkTenantEntries(file, [entry('max-procs', '500', 5)], alice, capped, users)).message,
    '/srv/jails/web.ini:5: max-procs: 500: the emperor lets a tenant have at most 64 processes (vassals-max-procs); set it lower, or remove the line');
  const raw = { file, format: 'ini' as const, section: 'jail' as const, entries: [entry('unshare', 'pid')] };
  assert.equal(expandVassal(raw, { options: capped, env: {} }).entries.filter((e) => e.key === 'max-procs').map((e) => e.value), ['64']);
});

test('a tenant\'s private /tmp holds at most vassals-tmp-size (64m unless the sysadmin says)', () => {
  checkTenantEntries(file, [entry('tmp-size', '64m')], alice, options, users);
  assert.is(refusal(() => checkTenantEntries(file, [entry('tmp-size', '100g', 3)], alice, options, users)).message,
    '/srv/jails/web.ini:3: tmp-size: 100g: the emperor lets a tenant\'s /tmp hold at most 64 MiB (vassals-tmp-size); set it lower, or remove the line');
  checkTenantEntries(file, [entry('tmp-size', '1g')], alice, { ...options, vassalsTmpSize: 2 ** 30 }, users);
});

test('initgroups: the groups /etc/group lists the owner in, only when asked', () => {
  assert.equal(tenantOf({ uid: 1001, gid: 1001 }, options, users).groups, []);
  assert.equal(tenantOf({ uid: 1001, gid: 1001 }, { ...options, tyrantInitgroups: true }, users).groups, [33, 3000]);
  assert.equal(tenantOf({ uid: 4242, gid: 4242 }, { ...options, tyrantInitgroups: true }, users).groups, [], 'no passwd entry: no name to look up');
});

test('a tenant\'s file gets no $(VAR) from the emperor\'s environment; the sysadmin\'s vassal-set does', () => {
  const raw = { file, format: 'ini' as const, section: 'jail' as const, entries: [entry('env', 'TOKEN=$(SECRET)')] };
  const ctx = { options: { ...options, vassalSet: ['env=FROM_ADMIN=$(SECRET)'] }, env: { SECRET: 's3cret' } };
  const values = expandVassal(raw, ctx).entries.map((e) => e.value);
  assert.equal(values, ['FROM_ADMIN=s3cret', 'TOKEN=$(SECRET)']);
  assert.equal(expandVassal(raw, { ...ctx, options: { ...ctx.options, tyrant: false } }).entries.map((e) => e.value), ['FROM_ADMIN=s3cret', 'TOKEN=s3cret']);
});

const privileges = suite('emperor privileges');

privileges('capability masks read as names', () => {
  assert.equal([...capabilitiesOfMask('00000000000000c0')], ['setgid', 'setuid']);
  assert.equal(capabilitiesOfMask('0').size, 0);
});

privileges('an emperor with only setuid,setgid refuses what it cannot launch, saying why', () => {
  const p = { uid: 10000, gid: 10000, caps: new Set(['setuid', 'setgid']) };
  const file = { file: '/srv/jails/web.ini' };
  checkLaunchable(makePlan(['true'], { ...file, uid: 1001, gid: 1001 }), p);
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { ...file, namespaces: ['net'] }), p)).message,
    '/srv/jails/web.ini: unshare: namespaces (net) need CAP_SYS_ADMIN: run the emperor as root, or give the vassal none (no unshare, no emperor-use-clone); this emperor runs as uid 10000 with setuid,setgid');
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { hooks: [{ option: 'exec-as-root', command: 'x' }] }), p)).message, 'root hooks need a root emperor');
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { caps: ['net_raw'] }), p)).message, '`net_raw`: the emperor cannot give a capability it does not hold');
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { noNewPrivs: false }), p)).message, 'CAP_SETPCAP');
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { uid: 1001 }), { ...p, caps: new Set(['setgid']) })).message, 'needs CAP_SETUID');
  assert.match(refusal(() => checkLaunchable(makePlan(['true'], { uid: 0, gid: 0 }), p)).message, 'does not start root vassals');
});

privileges('without CAP_KILL and with fs.suid_dumpable = 1 the emperor refuses to start', () => {
  const p = { uid: 10000, gid: 10000, caps: new Set(['setuid', 'setgid']) };
  assert.throws(() => checkSignalling(p, '1'), /fs.suid_dumpable is 1/);
  checkSignalling(p, '0');
  checkSignalling({ ...p, caps: new Set(['setuid', 'setgid', 'kill']) }, '1');
});

test.run();
privileges.run();
