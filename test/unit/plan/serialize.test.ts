import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serializePlan } from '../../../src/plan/serialize';
import { makePlan, PROC, tmpfsOn } from '../../helpers/plan';

// Decodes a keyval body back into [key, value] pairs.
function decode(buf: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let off = 0; off < buf.length; ) {
    const k = buf.readUInt16LE(off);
    const key = buf.subarray(off + 2, off + 2 + k).toString();
    off += 2 + k;
    const v = buf.readUInt16LE(off);
    out.push([key, buf.subarray(off + 2, off + 2 + v).toString()]);
    off += 2 + v;
  }
  return out;
}

const serialize = suite('serializePlan');

serialize('writes every field as uwsgi keyvals, lists as repeated keys in order', () => {
  const plan = makePlan(['nginx', '-g', 'daemon off;'], {
    namespaces: ['mount', 'pid'], mounts: [PROC, tmpfsOn('/tmp', 65536), { kind: 'bind', src: '/srv/app', dst: '/app', owner: 1001, flags: ['ro', 'owner'] }], maxProcs: 30, hostname: 'web',
    hooks: [{ option: 'exec-as-root', command: 'a' }, { option: 'exec-as-root', command: 'b' }],
    uid: 1001, gid: 1002, caps: ['setuid', 'net_bind_service'], chdir: '/srv', fds: [{ src: 9, dst: 0 }],
  });
  assert.equal(decode(serializePlan(plan)), [
    ['ns', 'mount'], ['ns', 'pid'], ['mount', 'proc'], ['mount-dst', '/proc'],
    ['mount', 'tmpfs'], ['mount-dst', '/tmp'], ['mount-size', '65536'], ['mount-mode', '1777'],
    ['mount', 'bind'], ['mount-src', '/srv/app'], ['mount-dst', '/app'], ['mount-owner', '1001'], ['mount-flag', 'ro'], ['mount-flag', 'owner'],
    ['hostname', 'web'], ['hook', 'a'], ['hook', 'b'],
    ['nproc', '30'], ['uid', '1001'], ['gid', '1002'], ['cap', '7'], ['cap', '10'], ['no-new-privs', '1'],
    ['path', 'nginx'], ['argv', 'nginx'], ['argv', '-g'], ['argv', 'daemon off;'],
    ['env', 'PATH=/usr/local/bin:/usr/bin:/bin'], ['chdir', '/srv'], ['fd', '9:0'], ['seccomp', 'default'],
  ]);
});

serialize('the cgroup fds and the seccomp policy, lists as repeated keys in order', () => {
  const plan = makePlan(['x'], {
    cgroup: { dirFd: 21, procsFds: [22, 23] },
    seccomp: { mode: 'default', deny: ['mkdir', 'ptrace'], allow: ['keyctl'] },
  });
  assert.equal(decode(serializePlan(plan)).filter(([k]) => k.startsWith('cgroup') || k.startsWith('seccomp')), [
    ['cgroup', '21'], ['cgroup-procs', '22'], ['cgroup-procs', '23'],
    ['seccomp', 'default'], ['seccomp-deny', 'mkdir'], ['seccomp-deny', 'ptrace'], ['seccomp-allow', 'keyctl'],
  ]);
  const v1only = decode(serializePlan(makePlan(['x'], { cgroup: { procsFds: [5] } })));
  assert.equal(v1only.filter(([k]) => k.startsWith('cgroup')), [['cgroup-procs', '5']], 'no unified fd: no `cgroup` key');
  const none = decode(serializePlan(makePlan(['x'], { seccomp: { mode: 'none', deny: [], allow: [] } })));
  assert.equal(none.filter(([k]) => k.startsWith('seccomp') || k.startsWith('cgroup')), [['seccomp', 'none']]);
});

serialize('marks privileged programs and carries a test fault', () => {
  const plan = makePlan(['x'], { noNewPrivs: false });
  const priv = { ...plan, program: { ...plan.program, privileged: true } };
  const kv = decode(serializePlan(priv, { stage: 'uid', errno: 1 }));
  assert.ok(kv.some(([k, v]) => k === 'privileged' && v === '1'));
  assert.ok(kv.some(([k, v]) => k === 'no-new-privs' && v === '0'));
  assert.equal(kv.at(-1), ['fault', 'uid:1']);
});

serialize('root-env (repeated, only when set), exec-path, nofile and oom-score-adj', () => {
  const plan = makePlan(['x'], { env: ['PATH=/tmp/evil'], rootEnv: ['PATH=/usr/bin:/bin', 'LANG=C'], execPath: '/usr/bin:/bin', nofile: 4096, oomScoreAdj: -500 });
  const kv = decode(serializePlan(plan));
  assert.equal(kv.filter(([k]) => k === 'root-env'), [['root-env', 'PATH=/usr/bin:/bin'], ['root-env', 'LANG=C']]);
  assert.equal(kv.filter(([k]) => ['exec-path', 'nofile', 'oom-score-adj'].includes(k)), [
    ['nofile', '4096'], ['oom-score-adj', '-500'], ['exec-path', '/usr/bin:/bin'],
  ]);
  const none = decode(serializePlan(makePlan(['x'])));
  assert.equal(none.filter(([k]) => ['root-env', 'exec-path', 'nofile', 'oom-score-adj'].includes(k)), []);
});

serialize('refuses a value over 65535 bytes, naming the field', () => {
  const plan = makePlan(['x'], { hostname: 'h'.repeat(70000) });
  assert.throws(() => serializePlan(plan), /hostname: value is 70000 bytes; the limit is 65535/);
});

serialize.run();
