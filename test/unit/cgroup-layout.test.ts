// The cgroup layout of a host, from /proc/self/cgroup and mountinfo texts, and what each
// layout can and cannot honour: fixture texts, no filesystem.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type CgroupLayout, describeLayout, parseLayout, usedV1 } from '../../src/jail/cgroup/layout';
import { type CgroupSupport, limitWrites, scaleIoWeight, unsupportedLimits } from '../../src/jail/cgroup/limits';
import type { CgroupLimits } from '../../src/plan/types';

const mi = (id: number, root: string, mountPoint: string, fstype: string, superOptions: string): string =>
  `${id} 22 0:${id} ${root} ${mountPoint} rw,nosuid,nodev,noexec,relatime shared:${id} - ${fstype} ${fstype === 'cgroup2' ? 'cgroup2' : 'cgroup'} ${superOptions}`;

const OTHER_MOUNTS = [
  '21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '22 21 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw',
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
];

// Debian 12 under systemd: pure cgroup v2, a unit with Delegate=yes.
const PURE_V2 = {
  cgroup: '0::/system.slice/jailctl.service\n',
  mountinfo: [...OTHER_MOUNTS.slice(0, 2), mi(25, '/', '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate,memory_recursiveprot')].join('\n') + '\n',
  controllers: 'cpuset cpu io memory hugetlb pids rdma misc\n',
};

// This lab machine: v1 hierarchies (cpu and cpuacct apart) beside a unified one with hugetlb only.
const HYBRID = {
  cgroup: '9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/process_api/09db1eaebcaed379dab3f7acbfb77e8f\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n',
  mountinfo: [
    ...OTHER_MOUNTS,
    '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
    '36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
    '37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
    '38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n') + '\n',
  controllers: 'hugetlb\n',
};

// Ubuntu 18.04 / Debian 10: systemd's hybrid mode, cpu and cpuacct co-mounted, a login session.
const COMOUNTED = {
  cgroup: [
    '12:pids:/user.slice/user-1000.slice/session-2.scope', '11:memory:/user.slice/user-1000.slice/session-2.scope',
    '10:freezer:/', '9:blkio:/user.slice', '4:cpu,cpuacct:/user.slice', '3:net_cls,net_prio:/',
    '1:name=systemd:/user.slice/user-1000.slice/session-2.scope', '0::/user.slice/user-1000.slice/session-2.scope',
  ].join('\n') + '\n',
  mountinfo: [
    ...OTHER_MOUNTS,
    mi(31, '/', '/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
    mi(32, '/', '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
    mi(35, '/', '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
    mi(36, '/', '/sys/fs/cgroup/net_cls,net_prio', 'cgroup', 'rw,net_cls,net_prio'),
    mi(37, '/', '/sys/fs/cgroup/blkio', 'cgroup', 'rw,blkio'),
    mi(38, '/', '/sys/fs/cgroup/freezer', 'cgroup', 'rw,freezer'),
    mi(39, '/', '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    mi(40, '/', '/sys/fs/cgroup/pids', 'cgroup', 'rw,pids'),
  ].join('\n') + '\n',
  controllers: '',
};

// CentOS 7 style: v1 only. The kernel still prints the `0::` line; no cgroup2 is mounted.
const PURE_V1 = {
  cgroup: '11:cpuacct,cpu:/\n10:memory:/\n9:pids:/\n8:freezer:/\n7:blkio:/\n1:name=systemd:/system.slice/jailctl.service\n0::/\n',
  mountinfo: [
    ...OTHER_MOUNTS,
    mi(32, '/', '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd'),
    mi(33, '/', '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpuacct,cpu'),
    mi(34, '/', '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    mi(35, '/', '/sys/fs/cgroup/pids', 'cgroup', 'rw,pids'),
    mi(36, '/', '/sys/fs/cgroup/freezer', 'cgroup', 'rw,freezer'),
    mi(37, '/', '/sys/fs/cgroup/blkio', 'cgroup', 'rw,blkio'),
  ].join('\n') + '\n',
};

const parse = (f: { cgroup: string; mountinfo: string; controllers?: string }): CgroupLayout => parseLayout(f.cgroup, f.mountinfo, f.controllers);

const layouts = suite('parseLayout');

layouts('pure v2: one unified hierarchy, the own cgroup and its controllers', () => {
  const l = parse(PURE_V2);
  assert.is(l.kind, 'v2');
  assert.equal(l.v1, []);
  assert.is(l.unified?.mountPoint, '/sys/fs/cgroup');
  assert.is(l.unified?.ownPath, '/system.slice/jailctl.service');
  assert.is(l.unified?.ownDir, '/sys/fs/cgroup/system.slice/jailctl.service');
  assert.equal(l.unified?.controllers, ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
  // Without the controllers text (the pure function alone), none are known.
  assert.equal(parseLayout(PURE_V2.cgroup, PURE_V2.mountinfo).unified?.controllers, []);
});

layouts('hybrid (this lab): memory nested under process_api, cpu and cpuacct apart', () => {
  const l = parse(HYBRID);
  assert.is(l.kind, 'hybrid');
  assert.is(l.unified?.ownDir, '/sys/fs/cgroup/unified');
  const memory = l.v1.find((h) => h.controllers.includes('memory'));
  assert.is(memory?.ownPath, '/process_api/09db1eaebcaed379dab3f7acbfb77e8f');
  assert.is(memory?.ownDir, '/sys/fs/cgroup/memory/process_api/09db1eaebcaed379dab3f7acbfb77e8f');
  assert.equal(usedV1(l).map((h) => h.controllers.join(',')), ['memory', 'pids', 'cpu', 'cpuacct', 'blkio', 'freezer']);
  assert.is(l.v1.find((h) => h.name === 'systemd')?.mountPoint, '/sys/fs/cgroup/systemd');
});

layouts('cpu,cpuacct co-mounted: one hierarchy, used once', () => {
  const l = parse(COMOUNTED);
  assert.is(l.kind, 'hybrid');
  const cpu = usedV1(l).filter((h) => h.controllers.includes('cpu') || h.controllers.includes('cpuacct'));
  assert.is(cpu.length, 1);
  assert.equal(cpu[0]!.controllers, ['cpu', 'cpuacct']);
  assert.is(cpu[0]!.ownDir, '/sys/fs/cgroup/cpu,cpuacct/user.slice');
  assert.is(l.unified?.ownDir, '/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-2.scope');
  assert.equal(l.unified?.controllers, []);
});

layouts('pure v1: the 0:: line without a cgroup2 mount is no unified hierarchy', () => {
  const l = parse(PURE_V1);
  assert.is(l.kind, 'v1');
  assert.is(l.unified, undefined);
  const cpu = usedV1(l).find((h) => h.controllers.includes('cpu'));
  assert.equal(cpu?.controllers, ['cpuacct', 'cpu']);
  assert.is(cpu?.mountPoint, '/sys/fs/cgroup/cpu,cpuacct');
  assert.is(l.v1.find((h) => h.name === 'systemd')?.ownPath, '/system.slice/jailctl.service');
  // An old kernel prints no 0:: line at all: the same layout.
  assert.equal(parseLayout(PURE_V1.cgroup.replace('0::/\n', ''), PURE_V1.mountinfo), l);
});

layouts('nested emperors: the own cgroup is another emperor\'s jail subtree', () => {
  const l = parseLayout('0::/system.slice/jailctl.service/jailctl-100/vassals/inner.ini\n', PURE_V2.mountinfo, 'memory pids\n');
  assert.is(l.unified?.ownDir, '/sys/fs/cgroup/system.slice/jailctl.service/jailctl-100/vassals/inner.ini');
  assert.equal(l.unified?.controllers, ['memory', 'pids']);
});

layouts('mount points with escaped spaces (\\040) and tabs (\\011)', () => {
  const l = parseLayout('0::/a b\n4:memory:/\n', [mi(40, '/', '/srv/my\\040cgroup\\011v2', 'cgroup2', 'rw'), mi(41, '/', '/srv/mem\\040v1', 'cgroup', 'rw,memory')].join('\n'));
  assert.is(l.unified?.mountPoint, '/srv/my cgroup\tv2');
  assert.is(l.unified?.ownDir, '/srv/my cgroup\tv2/a b');
  assert.is(l.v1[0]?.ownDir, '/srv/mem v1');
});

layouts('cgroup2 mounted twice: the one showing the whole hierarchy wins, the first of equals', () => {
  const l = parseLayout('0::/x\n', [
    mi(40, '/x', '/run/inner', 'cgroup2', 'rw'),
    mi(41, '/', '/sys/fs/cgroup', 'cgroup2', 'rw'),
    mi(42, '/', '/mnt/again', 'cgroup2', 'rw'),
  ].join('\n'));
  assert.is(l.unified?.mountPoint, '/sys/fs/cgroup');
  assert.is(l.unified?.ownDir, '/sys/fs/cgroup/x');
  // Only the subtree mount: it shows the own cgroup at its mount point.
  const inner = parseLayout('0::/x/y\n', mi(40, '/x', '/run/inner', 'cgroup2', 'rw'));
  assert.is(inner.unified?.ownDir, '/run/inner/y');
  assert.is(inner.unified?.mountRoot, '/x');
});

layouts('a namespaced root: mount root not /, the own cgroup at or below it, or out of reach', () => {
  // A container whose /sys/fs/cgroup is the host's /docker/abc (bind mount, no cgroupns).
  const docker = parseLayout('0::/docker/abc\n', mi(40, '/docker/abc', '/sys/fs/cgroup', 'cgroup2', 'rw'));
  assert.is(docker.unified?.ownDir, '/sys/fs/cgroup');
  // A mount of a sibling subtree does not reach our cgroup: nothing to use there.
  const sibling = parseLayout('0::/system.slice/other\n4:memory:/a\n', [mi(40, '/docker/abc', '/sys/fs/cgroup', 'cgroup2', 'rw'), mi(41, '/b', '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory')].join('\n'));
  assert.is(sibling.unified, undefined);
  assert.equal(sibling.unreachable, ['unified', 'memory']);
  assert.is(sibling.kind, 'none');
  // A cgroup namespace whose root is above the mount's (`/..`): out of reach too.
  assert.equal(parseLayout('0::/\n', mi(40, '/../..', '/sys/fs/cgroup', 'cgroup2', 'rw')).unreachable, ['unified']);
  // A cgroup namespace of its own: the kernel shows both paths relative to it.
  assert.is(parseLayout('0::/\n', mi(40, '/', '/sys/fs/cgroup', 'cgroup2', 'rw')).unified?.ownDir, '/sys/fs/cgroup');
});

layouts.run();

const describe = suite('describeLayout');

describe('one line per layout', () => {
  assert.is(describeLayout(parse(HYBRID)), 'hybrid: unified at /sys/fs/cgroup/unified (controllers: hugetlb); v1: memory, pids, cpu, cpuacct, blkio, freezer');
  assert.is(describeLayout(parse(PURE_V2)), 'v2: unified at /sys/fs/cgroup (controllers: cpuset cpu io memory hugetlb pids rdma misc)');
  assert.is(describeLayout(parse(COMOUNTED)), 'hybrid: unified at /sys/fs/cgroup/unified (controllers: none); v1: memory, pids, cpu,cpuacct, blkio, freezer');
  assert.is(describeLayout(parse(PURE_V1)), 'v1: memory, pids, cpuacct,cpu, blkio, freezer');
  assert.is(describeLayout(parseLayout('0::/\n', '')), 'none: no cgroup hierarchy mounted');
  assert.match(describeLayout(parseLayout('0::/a\n', mi(40, '/b', '/sys/fs/cgroup', 'cgroup2', 'rw'))), 'not reachable from this mount namespace: unified');
});

describe.run();

function support(layout: CgroupLayout, o: { enabled?: string[]; offered?: string[]; notEnabled?: string; files?: string[]; bfq?: boolean; skip?: string } = {}): CgroupSupport {
  const files = new Set(o.files ?? []);
  const skipped = o.skip ? layout.v1.filter((h) => h.controllers.includes(o.skip!)).map((hierarchy) => ({ hierarchy, reason: 'mkdir X: EACCES' })) : [];
  return {
    layout,
    unifiedEnabled: o.enabled ?? [],
    unifiedOffered: o.offered ?? o.enabled ?? [],
    ...(o.notEnabled ? { unifiedNotEnabled: o.notEnabled } : {}),
    skipped,
    bfqActive: o.bfq ?? false,
    hasFile: (_h, f) => files.has(f),
  };
}

const ALL: CgroupLimits = {
  memoryMax: { option: 'memory-max', line: 3, value: 64 << 20 },
  memoryHigh: { option: 'memory-high', line: 4, value: 48 << 20 },
  pidsMax: { option: 'pids-max', line: 5, value: 20 },
  cpuMax: { option: 'cpu-max', line: 6, value: 20 },
  ioWeight: { option: 'io-weight', line: 7, value: 300 },
  opts: [],
};
const reasons = (s: CgroupSupport, limits: CgroupLimits): string[] => unsupportedLimits(s, limits).map((u) => u.reason);
const V2_FILES = ['memory.max', 'memory.high', 'memory.swap.max', 'pids.max', 'cpu.max', 'io.weight', 'memory.swappiness', 'cgroup.max.descendants', 'hugetlb.2MB.max'];
const V1_FILES = ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.swappiness', 'pids.max', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'blkio.bfq.weight'];

const unsupported = suite('unsupportedLimits');

unsupported('pure v2, delegated: everything goes; cgroup-opt files checked by name and existence', () => {
  const s = support(parse(PURE_V2), { enabled: ['cpu', 'io', 'memory', 'pids'], offered: parse(PURE_V2).unified!.controllers.slice(), files: V2_FILES });
  assert.equal(reasons(s, ALL), []);
  const opts: CgroupLimits = { opts: [
    { option: 'cgroup-opt', line: 8, key: 'memory.swappiness', value: '10' },
    { option: 'cgroup-opt', line: 9, key: 'cgroup.max.descendants', value: '5' },
    { option: 'cgroup-opt', line: 10, key: 'cgroup.procs', value: '1' },
    { option: 'cgroup-opt', line: 11, key: 'release_agent', value: '/tmp/x' },
    { option: 'cgroup-opt', line: 12, key: '../memory.max', value: '1' },
    { option: 'cgroup-opt', line: 13, key: 'memory.nosuchfile', value: '1' },
    { option: 'cgroup-opt', line: 14, key: 'hugetlb.2MB.max', value: '0' },
  ] };
  const got = unsupportedLimits(s, opts);
  assert.equal(got.map((u) => u.origin.line), [10, 11, 12, 13, 14]);
  assert.is(got[0]!.reason, 'cgroup-opt: `cgroup.procs` is not a limit; jailctl manages it');
  assert.match(got[2]!.reason, 'is not a cgroup interface file name');
  assert.is(got[3]!.reason, 'cgroup-opt: a jail cgroup on /sys/fs/cgroup (cgroup v2) has no `memory.nosuchfile`');
  // hugetlb is not one of the controllers jails get.
  assert.is(got[4]!.reason, 'cgroup-opt: jail cgroups get memory, pids, cpu, io on cgroup v2, not hugetlb');
});

unsupported('pure v2, not delegated: names the controller, the cgroup and Delegate=yes', () => {
  const l = parseLayout('0::/system.slice/x.service\n', PURE_V2.mountinfo, 'memory\n');
  const got = unsupportedLimits(support(l, { enabled: ['memory'], files: V2_FILES }), ALL);
  assert.equal(got.map((u) => u.origin), [{ option: 'pids-max', line: 5 }, { option: 'cpu-max', line: 6 }, { option: 'io-weight', line: 7 }]);
  assert.is(got[0]!.reason, 'pids-max: the pids controller is not delegated to /system.slice/x.service (cgroup.controllers lacks it): set Delegate=yes');
});

unsupported('pure v2, offered but EBUSY: the fix is a delegated scope', () => {
  const s = support(parse(PURE_V2), { enabled: [], offered: ['cpu', 'io', 'memory', 'pids'], notEnabled: 'EBUSY: other processes are in /system.slice/jailctl.service', files: V2_FILES });
  const got = reasons(s, { pidsMax: ALL.pidsMax!, opts: [] });
  assert.equal(got, ['pids-max: the pids controller is given to /system.slice/jailctl.service but could not be enabled for the jails (EBUSY: other processes are in /system.slice/jailctl.service): run the emperor under systemd with Delegate=yes, or under `systemd-run --scope -p Delegate=yes`']);
});

unsupported('pure v2: io without io.weight and without bfq', () => {
  const s = support(parse(PURE_V2), { enabled: ['io'], files: ['io.bfq.weight'] });
  assert.equal(reasons(s, { ioWeight: ALL.ioWeight!, opts: [] }), ['io-weight: the io controller at /sys/fs/cgroup has no io.weight, and no disk uses the bfq scheduler (io.bfq.weight)']);
  assert.equal(reasons(support(parse(PURE_V2), { enabled: ['io'], files: ['io.bfq.weight'], bfq: true }), { ioWeight: ALL.ioWeight!, opts: [] }), []);
});

unsupported('hybrid (this lab): memory-high and io-weight refused, the rest on v1', () => {
  const s = support(parse(HYBRID), { enabled: [], offered: ['hugetlb'], files: V1_FILES });
  const got = unsupportedLimits(s, ALL);
  assert.equal(got.map((u) => u.reason), [
    'memory-high: needs the memory controller on cgroup v2; this host has memory on cgroup v1 (use memory-max)',
    'io-weight: no io controller in this subtree, and blkio v1 here has no blkio.weight/blkio.bfq.weight that works (blkio.bfq.weight does nothing: no disk uses the bfq scheduler): select the bfq scheduler for the disk, or use cgroup v2',
  ]);
  assert.equal(got[0]!.origin, { option: 'memory-high', line: 4 });
  // cgroup.* keys go to the unified hierarchy, which this host has.
  assert.equal(reasons(support(parse(HYBRID), { files: ['cgroup.max.descendants'] }), { opts: [{ option: 'cgroup-opt', key: 'cgroup.max.descendants', value: '5' }] }), []);
});

unsupported('co-mounted v1 cpu without CFS bandwidth; a v1 hierarchy left out', () => {
  const s = support(parse(COMOUNTED), { files: ['memory.limit_in_bytes', 'pids.max'], skip: 'pids' });
  assert.equal(reasons(s, { cpuMax: ALL.cpuMax!, pidsMax: ALL.pidsMax!, opts: [] }), [
    'pids-max: the pids v1 hierarchy at /sys/fs/cgroup/pids is not usable: mkdir X: EACCES',
    'cpu-max: the cpu v1 hierarchy at /sys/fs/cgroup/cpu,cpuacct has no cpu.cfs_quota_us (a kernel without CONFIG_CFS_BANDWIDTH)',
  ]);
});

unsupported('pure v1: memory-high and cgroup.* keys refused', () => {
  const s = support(parse(PURE_V1), { files: V1_FILES });
  assert.equal(reasons(s, { ...ALL, ioWeight: undefined, opts: [{ option: 'cgroup-opt', key: 'cgroup.max.descendants', value: '1' }, { option: 'cgroup-opt', key: 'memory.swappiness', value: '1' }] }), [
    'memory-high: needs the memory controller on cgroup v2; this host has memory on cgroup v1 (use memory-max)',
    'cgroup-opt: `cgroup.max.descendants` is a cgroup v2 core file and this host has no cgroup v2 hierarchy',
  ]);
});

unsupported('no cgroup at all: every limit refused', () => {
  const s = support(parseLayout('0::/\n', ''));
  assert.equal(reasons(s, { memoryMax: ALL.memoryMax!, opts: [] }), ['memory-max: no memory hierarchy is mounted (cgroup v1 only, and no memory among them)']);
});

unsupported.run();

const writes = suite('limitWrites');

const show = (s: CgroupSupport, limits: CgroupLimits): string[] => limitWrites(s, limits).map((w) => `${w.hierarchy.mountPoint} ${w.file}=${w.value}`);

writes('v2: every file, memory-max with no swap, oom.group; absent limits back to max', () => {
  const s = support(parse(PURE_V2), { enabled: ['cpu', 'io', 'memory', 'pids'], files: V2_FILES });
  assert.equal(show(s, ALL), [
    '/sys/fs/cgroup memory.max=67108864', '/sys/fs/cgroup memory.swap.max=0', '/sys/fs/cgroup memory.high=50331648',
    '/sys/fs/cgroup memory.oom.group=1', '/sys/fs/cgroup pids.max=20', '/sys/fs/cgroup cpu.max=20000 100000', '/sys/fs/cgroup io.weight=default 300',
  ]);
  assert.equal(show(s, { opts: [] }), [
    '/sys/fs/cgroup memory.max=max', '/sys/fs/cgroup memory.swap.max=max', '/sys/fs/cgroup memory.high=max',
    '/sys/fs/cgroup memory.oom.group=1', '/sys/fs/cgroup pids.max=max', '/sys/fs/cgroup cpu.max=max 100000', '/sys/fs/cgroup io.weight=default 100',
  ]);
  assert.is(limitWrites(s, ALL).find((w) => w.file === 'memory.swap.max')?.ifExists, true);
});

writes('v1 (this lab): limit_in_bytes and memsw, CFS quota, hybrid opts on the unified hierarchy', () => {
  const s = support(parse(HYBRID), { files: [...V1_FILES, 'cgroup.max.depth'], bfq: true });
  const limits: CgroupLimits = { ...ALL, memoryHigh: undefined, opts: [{ option: 'cgroup-opt', key: 'cgroup.max.depth', value: '3' }] };
  assert.equal(show(s, limits), [
    '/sys/fs/cgroup/memory memory.limit_in_bytes=67108864', '/sys/fs/cgroup/memory memory.memsw.limit_in_bytes=67108864',
    '/sys/fs/cgroup/pids pids.max=20', '/sys/fs/cgroup/cpu cpu.cfs_period_us=100000', '/sys/fs/cgroup/cpu cpu.cfs_quota_us=20000',
    '/sys/fs/cgroup/blkio blkio.bfq.weight=300', '/sys/fs/cgroup/unified cgroup.max.depth=3',
  ]);
  assert.equal(show(s, { opts: [] }).slice(0, 5), [
    '/sys/fs/cgroup/memory memory.limit_in_bytes=-1', '/sys/fs/cgroup/memory memory.memsw.limit_in_bytes=-1',
    '/sys/fs/cgroup/pids pids.max=max', '/sys/fs/cgroup/cpu cpu.cfs_period_us=100000', '/sys/fs/cgroup/cpu cpu.cfs_quota_us=-1',
  ]);
});

writes('io weights scale around each default', () => {
  assert.is(scaleIoWeight(100, 'io.weight'), 100);
  assert.is(scaleIoWeight(100, 'blkio.weight'), 500);
  assert.is(scaleIoWeight(1, 'blkio.weight'), 10);
  assert.is(scaleIoWeight(10000, 'blkio.weight'), 1000);
  assert.is(scaleIoWeight(100, 'blkio.bfq.weight'), 100);
  assert.is(scaleIoWeight(10000, 'io.bfq.weight'), 1000);
  assert.is(scaleIoWeight(1, 'io.bfq.weight'), 1);
});

writes.run();
