// A five-namespace jail with a root hook and a uid drop, seen from inside and outside.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir } from '../helpers/vassal';

requireRoot();

// The probe prints KEY=VALUE lines about the world as the vassal sees it.
const PROBE = [
  'echo hostname=$(hostname)',
  'echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" ,)',
  'echo lo=$(cat /proc/net/dev >/dev/null; ip -o link show lo | grep -c "UP")',
  'echo pids=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" ,)',
  'for ns in ipc uts net mnt pid; do echo ns_$ns=$(readlink /proc/self/ns/$ns); done',
  'echo uid=$(id -u) gid=$(id -g) groups=$(id -G)',
  'grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status | tr -d "\\t" | tr : =',
  'echo mounted=$(grep -c " $MARKER " /proc/self/mountinfo)',
].join('; ');

function parse(out: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of out.split('\n'))
    for (const part of line.split(' ')) {
      const eq = part.indexOf('=');
      if (eq > 0) kv[part.slice(0, eq)] = part.slice(eq + 1);
    }
  return kv;
}

const jail = suite('five namespaces, exec-as-root, uid/gid 1001');

jail('isolates hostname, network, processes, namespaces, mounts, ids and capabilities', () => {
  const dir = vassalDir();
  const marker = join(dir.dir, 'mnt');
  mkdirSync(marker);
  const hostBefore = hostname();
  const file = dir.write('probe.ini', ini(
    'unshare = fs,net,ipc,pid,uts',
    'exec-as-root = hostname probe',
    `exec-as-root = mount -t tmpfs none ${marker} && touch ${marker}/inside`,
    'uid = 1001',
    'gid = 1001',
    `env = MARKER=${marker}`,
    `unprivileged-binary-patch-arg = sh -c '${PROBE}'`,
  ));
  try {
    const r = jailctl(['run', file]);
    assert.is(r.stderr, '');
    assert.is(r.status, 0);
    const kv = parse(r.stdout);
    assert.is(kv.hostname, 'probe', 'the hook set the jail hostname');
    assert.is(hostname(), hostBefore, "the host's hostname is unchanged");
    assert.is(kv.ifaces, 'lo,', 'only lo exists');
    assert.is(kv.lo, '1', 'lo is up');
    const pids = kv.pids!.split(',').filter(Boolean).map(Number);
    assert.ok(pids.includes(1), 'the jail has its own pid 1');
    // The host runs far more; inside: init, the probe's sh, its command substitution and ls.
    assert.ok(pids.length <= 8 && pids.every((p) => p < 100), `the jail sees only its own processes: ${kv.pids}`);
    for (const ns of ['ipc', 'uts', 'net', 'mnt', 'pid'])
      assert.is.not(kv[`ns_${ns}`], readlinkSync(`/proc/self/ns/${ns}`), `${ns} namespace differs from the host's`);
    assert.is(kv.uid, '1001');
    assert.is(kv.gid, '1001');
    assert.is(kv.groups, '1001', 'no supplementary groups');
    assert.is(kv.CapEff, '0000000000000000', 'no effective capabilities');
    assert.is(kv.CapPrm, '0000000000000000');
    assert.is(kv.CapBnd, '0000000000000000', 'bounding set emptied');
    assert.is(kv.NoNewPrivs, '1');
    assert.is(kv.mounted, '1', 'the hook mount is visible inside');
    assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${marker} `), 'the mount does not appear outside');
    assert.not.ok(existsSync(join(marker, 'inside')), 'files written to it stay inside');
  } finally {
    dir.remove();
  }
});

jail('CapEff is exactly the cap list, kept across exec as ambient', () => {
  const dir = vassalDir();
  const file = dir.write('caps.ini', ini(
    'unshare = fs,pid',
    'uid = 1001',
    'gid = 1001',
    'cap = net_bind_service,setuid',
    'unprivileged-binary-patch-arg = grep -E "^Cap(Eff|Amb|Bnd)" /proc/self/status',
  ));
  try {
    const r = jailctl(['run', file]);
    assert.is(r.status, 0, r.stderr);
    const want = ((1n << 10n) | (1n << 7n)).toString(16).padStart(16, '0');
    assert.match(r.stdout, new RegExp(`CapEff:\\s+${want}`));
    assert.match(r.stdout, new RegExp(`CapAmb:\\s+${want}`));
    assert.match(r.stdout, new RegExp(`CapBnd:\\s+${want}`));
  } finally {
    dir.remove();
  }
});

jail('a privileged patch runs as root, an unprivileged one as the vassal user', () => {
  const dir = vassalDir();
  const priv = dir.write('priv.ini', ini('unshare = pid,fs', 'uid = 1001', 'gid = 1001',
    'privileged-binary-patch-arg = sh -c "echo $(id -u):$(id -g)"'));
  const unpriv = dir.write('unpriv.ini', ini('unshare = pid,fs', 'uid = 1001', 'gid = 1001',
    'unprivileged-binary-patch-arg = sh -c "echo $(id -u):$(id -g)"'));
  try {
    assert.is(jailctl(['run', priv]).stdout.trim(), '0:0');
    assert.is(jailctl(['run', unpriv]).stdout.trim(), '1001:1001');
  } finally {
    dir.remove();
  }
});

jail('the plain patch form gets the vassal argv, as uWSGI passes it', () => {
  const dir = vassalDir();
  const script = dir.write('show-argv', '#!/bin/sh\necho "$0|$*"\n');
  readdirSync(dir.dir); // the directory exists for the chmod below
  require('node:fs').chmodSync(script, 0o755);
  const file = dir.write('argv.ini', ini('unshare = pid,fs', `unprivileged-binary-patch = ${script}`));
  try {
    const r = jailctl(['run', file]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), `${script}|--ini ${file}`);
  } finally {
    dir.remove();
  }
});

jail.run();
