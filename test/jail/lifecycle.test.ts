// A jail's life as `jailctl run` sees it: exit statuses, forwarded signals, orphans reaped,
// and nothing left behind when jailctl itself is killed.
import { chmodSync, closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { launchJail } from '../../src/jail/launch';
import { binding } from '../../src/native/binding';
import { jailctl, jailctlAsync } from '../helpers/cli';
import { makePlan, PROC } from '../helpers/plan';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir } from '../helpers/vassal';

requireRoot();

const test = suite('jailctl run lifecycle');

// Waits until the child prints `needle` on stdout.
function waitFor(child: ChildProcess, needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${needle}"; got: ${out}`)), 15000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(needle)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

function stat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}

// Every process below `root` in the host's process tree.
function descendants(root: number): number[] {
  const all = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  const out: number[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next = all.filter((p) => frontier.includes(stat(p)?.ppid ?? -1));
    out.push(...next);
    frontier = next;
  }
  return out;
}

function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
    if (cond()) return true;
  return cond();
}

test('the vassal exit status is jailctl run exit status', () => {
  const dir = vassalDir();
  try {
    assert.is(jailctl(['run', dir.write('a.ini', ini('unshare = pid,fs', 'unprivileged-binary-patch-arg = sh -c "exit 7"'))]).status, 7);
    assert.is(jailctl(['run', dir.write('b.ini', ini('unshare = fs', 'unprivileged-binary-patch-arg = sh -c "exit 9"'))]).status, 9);
  } finally {
    dir.remove();
  }
});

test('a [uwsgi] file: without a program it says to give one; with --binary-path /usr/bin/uwsgi, uWSGI runs it', async () => {
  const dir = vassalDir();
  try {
    chmodSync(dir.dir, 0o755); // uWSGI reads the file itself, as nobody
    const file = dir.write('u.ini', ['[uwsgi]', 'plugins = psgi', 'master = true', 'unshare = fs,pid', 'uid = nobody', ''].join('\n'));
    const bare = jailctl(['run', file]);
    assert.is(bare.status, 125);
    assert.match(bare.stderr, /u\.ini: binary-path: this is a \[uwsgi\] file, for uWSGI to run: give the program.*jailctl run --binary-path \/usr\/bin\/uwsgi FILE/);
    // --version: uWSGI runs, with the file, inside the jail, and exits.
    const version = jailctl(['run', '--binary-path', '/usr/bin/uwsgi', dir.write('v.ini', ['[uwsgi]', 'version = true', 'unshare = fs,pid', 'uid = nobody', ''].join('\n'))]);
    assert.is(version.status, 0, version.stderr);
    assert.match(version.stdout, /^2\.0\.\d+/m, 'uWSGI printed its version');
  } finally {
    dir.remove();
  }
});

test('a vassal killed by a signal gives 128 + signal, with and without a pid namespace', () => {
  const dir = vassalDir();
  try {
    assert.is(jailctl(['run', dir.write('a.ini', ini('unshare = pid,fs', "unprivileged-binary-patch-arg = sh -c 'kill -9 $$'"))]).status, 137);
    assert.is(jailctl(['run', dir.write('b.ini', ini('unshare = fs', "unprivileged-binary-patch-arg = sh -c 'kill -9 $$'"))]).status, 137);
  } finally {
    dir.remove();
  }
});

test('SIGTERM to jailctl run reaches the vassal through the jail init', async () => {
  const dir = vassalDir();
  try {
    const file = dir.write('term.ini', ini('unshare = pid,fs,ipc,uts,net',
      `unprivileged-binary-patch-arg = sh -c 'trap "echo got TERM; exit 3" TERM; echo ready; sleep 300 & wait'`));
    const child = jailctlAsync(['run', file]);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor(child, 'ready');
    child.kill('SIGTERM');
    const exit = await exitOf(child);
    assert.is(exit.code, 3, `exit ${JSON.stringify(exit)}, stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
    assert.match(out, 'got TERM');
  } finally {
    dir.remove();
  }
});

for (const unshare of ['pid,fs,net,ipc,uts', 'fs']) {
  test(`SIGKILL of jailctl run leaves no process of the jail alive (unshare = ${unshare})`, async () => {
    const dir = vassalDir();
    try {
      const program = unshare.includes('pid') ? "sh -c 'sleep 300 & sleep 301 & echo ready; wait'" : 'sh -c "echo ready; exec sleep 302"';
      const file = dir.write('orphans.ini', ini(`unshare = ${unshare}`, 'uid = 1001', 'gid = 1001', `unprivileged-binary-patch-arg = ${program}`));
      const child = jailctlAsync(['run', file]);
      await waitFor(child, 'ready');
      const jail = descendants(child.pid!);
      assert.ok(jail.length >= (unshare.includes('pid') ? 4 : 1), `found the jail's processes: ${jail}`);
      child.kill('SIGKILL');
      await exitOf(child);
      assert.ok(await until(() => jail.every((p) => !alive(p))), `still alive: ${jail.filter(alive)}`);
    } finally {
      dir.remove();
    }
  });
}

test('a SIGTERM sent while a pid-namespaced jail is still setting up reaches the vassal', async () => {
  // The helper is pid 1 of the new namespace during the hooks: an unblocked, unhandled
  // signal would be dropped by the kernel, and the vassal would run on as if never asked.
  const jail = launchJail(makePlan(['sleep', '5'], {
    namespaces: ['pid', 'mount'],
    mounts: [PROC],
    hooks: [{ option: 'exec-as-root', command: 'sleep 0.5' }],
  }));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(jail.signal('SIGTERM'));
  const exit = await jail.exited;
  assert.equal(exit, { code: 128 + 15, signal: null }, 'the init forwarded the pending SIGTERM to the vassal');
});

test('orphans inside a pid-namespaced jail are reaped by its init', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('reap.ini', ini('unshare = pid,fs',
      `unprivileged-binary-patch-arg = sh -c '(sleep 0.2 &); sleep 1; echo zombies=$(grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l)'`));
    const r = jailctl(['run', file]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), 'zombies=0');
  } finally {
    dir.remove();
  }
});

test('only stdio and the fds the plan names reach the vassal, at the numbers it says', async () => {
  const devnull = openSync('/dev/null', 'r');
  const unrelated = openSync('/etc/passwd', 'r');
  const jail = launchJail(makePlan(['sleep', '30'], { namespaces: ['pid', 'mount'], mounts: [PROC], fds: [{ src: devnull, dst: 5 }] }));
  try {
    await jail.started;
    const vassal = Number(readFileSync(`/proc/${jail.pid}/task/${jail.pid}/children`, 'utf8').trim());
    // Right after its exec the program's dynamic loader may still hold ld.so.cache or a
    // library as fd 3: what counts is what stays open.
    const list = (): number[] => readdirSync(`/proc/${vassal}/fd`).map(Number).sort((a, b) => a - b);
    // Its start-up may open and close a file more than once (the loader, then locales):
    // wait for the same list twice in a row, and judge that one.
    let fds = list();
    for (let i = 0, prev = ''; i < 100 && !(fds.join() === '0,1,2,5' && prev === fds.join()); i++) {
      prev = fds.join();
      await new Promise((r) => setTimeout(r, 20));
      fds = list();
    }
    const what = fds.map((fd) => {
      try {
        return `${fd} → ${readlinkSync(`/proc/${vassal}/fd/${fd}`)}`;
      } catch (err: unknown) {
        return `${fd}: ${(err as NodeJS.ErrnoException).code}`;
      }
    });
    assert.equal(fds, [0, 1, 2, 5], `${what.join(', ')}; ${readFileSync(`/proc/${vassal}/cmdline`, 'utf8')}`);
    assert.is(readlinkSync(`/proc/${vassal}/fd/5`), '/dev/null');
    assert.equal(readdirSync(`/proc/${jail.pid}/fd`), [], "the jail's init holds no fd at all");
  } finally {
    jail.signal('SIGKILL');
    await jail.exited;
    closeSync(devnull);
    closeSync(unrelated);
  }
});

test('with the subreaper flag, orphans of a jail without a pid namespace come to us', async () => {
  assert.is(binding.setChildSubreaper(true), true);
  try {
    const jail = launchJail(makePlan(['sh', '-c', 'sleep 30 & echo $! > /dev/null; exit 0'], { namespaces: ['mount'] }));
    await jail.started;
    const pid = jail.pid;
    const exit = await jail.exited;
    assert.equal(exit, { code: 0, signal: null });
    // The backgrounded sleep lost its parent; the kernel hands it to the nearest subreaper.
    // (Its exec of sleep may come after sh's exit.)
    const find = (): number | undefined => descendants(process.pid).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u000030'));
    for (let i = 0; i < 100 && find() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    const orphan = find();
    assert.ok(orphan !== undefined && orphan !== pid, 'the orphan is now our child');
    assert.is(stat(orphan!)!.ppid, process.pid);
    process.kill(orphan!, 'SIGKILL');
  } finally {
    binding.setChildSubreaper(false);
  }
});

test.run();
