// jailctl enter against a real five-namespace jail under a real emperor: the command sees
// the jail's view (hostname, ids, processes, /tmp, cwd), exit codes come back, and an
// interactive session runs through a real pty (tmux types and reads the screen).
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cliCommand, jailctl, ROOT, type CliResult } from '../helpers/cli';
import { emperorFixture, sleep, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('jailctl enter');
const fx = emperorFixture(test, 0o755);

async function startWeb(): Promise<RunningEmperor> {
  fx.dir.write('web.ini', ini(
    'unshare = fs,pid,net,ipc,uts', 'hostname = inside', 'tmp = private', 'uid = 1001', 'gid = 1001',
    'chdir = /usr/share', 'env = GREETING=from-the-vassal', 'unprivileged-binary-patch-arg = sleep 79101',
  ));
  const e = fx.start(['--emperor', fx.dir.dir]);
  await e.waitForVassal('web.ini', (v) => v?.state === 'running', 'running');
  return e;
}

function enter(e: RunningEmperor, args: string[]): CliResult {
  return jailctl(['enter', '--socket', e.controlPath, ...args]);
}

test('a command inside sees the jail: its hostname, ids, processes, private /tmp, cwd and environment', async () => {
  const e = await startWeb();
  const r = enter(e, ['web', '--', 'sh', '-c', 'hostname; id -u; id -g; ls /proc | grep -c "^[0-9]"; ls -A /tmp | wc -l; pwd; echo $GREETING; grep CapEff /proc/self/status']);
  assert.is(r.stderr, '');
  assert.is(r.status, 0);
  const [host, uid, gid, pids, tmp, cwd, greeting, caps] = r.stdout.trimEnd().split('\n');
  assert.equal([host, uid, gid], ['inside', '1001', '1001']);
  assert.ok(Number(pids) <= 6, `only the jail's processes (init, sleep and ours): ${pids}`);
  assert.equal([tmp, cwd, greeting], ['0', '/usr/share', 'from-the-vassal']);
  assert.match(caps!, /^CapEff:\s+0+$/, 'no capability, as the vassal');
  assert.match(enter(e, ['web.ini', '--root', '--', 'id', '-u']).stdout, /^0\n$/, '--root is root');
});

test('exit codes: the command\'s own, 126/127 when it cannot run, 1 for no such vassal, 3 without an emperor', async () => {
  const e = await startWeb();
  assert.is(enter(e, ['web', '--', 'sh', '-c', 'exit 7']).status, 7);
  assert.is(enter(e, ['web', '--', 'sh', '-c', 'kill -TERM $$']).status, 128 + 15);
  const missing = enter(e, ['web', '--', '/no/such/program']);
  assert.equal([missing.status, missing.stderr.trim()], [127, 'jailctl: web.ini: enter "/no/such/program": No such file or directory']);
  const unknown = enter(e, ['shop', '--', 'true']);
  assert.equal([unknown.status, unknown.stderr.trim()], [1, 'jailctl: no vassal shop (there are: web.ini)']);
  assert.is(enter(e, ['wbe.ini', '--', 'true']).stderr.trim(), 'jailctl: no vassal wbe.ini (did you mean web.ini?)');
  assert.is(jailctl(['stop', 'web', '--socket', e.controlPath]).status, 0);
  const stopped = enter(e, ['web', '--', 'true']);
  assert.equal([stopped.status, stopped.stderr.trim()], [1, 'jailctl: web.ini is stopped: nothing runs to enter (jailctl start web.ini)']);
  await e.stop();
  assert.is(enter(e, ['web', '--', 'true']).status, 3);
});

// tmux as the user's terminal: keys typed, the screen read back.
function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', 'jailctl-test', ...args], { encoding: 'utf8' });
  assert.is(r.status, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

for (const [who, wrap] of [['root', []], ['a tenant (uid 1001), through the emperor', ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups']]] as const) {
  test(`interactive, as ${who}: a shell in a real pty, the window size followed, the exit status returned`, async () => {
    const e = await startWeb();
    const [cmd, argv] = cliCommand(['enter', 'web', '--socket', e.controlPath], wrap);
    const line = [cmd, ...argv].map((a) => `'${a}'`).join(' ');
    tmux('new-session', '-d', '-s', 'enter', '-x', '100', '-y', '30', `cd ${ROOT} && ${line}; echo EXITED=$?; sleep 60`);
    try {
      const screen = (): string => tmux('capture-pane', '-p', '-t', 'enter');
      await waitUntil(() => /^\$\s*$/m.test(screen()), `the jail's shell prompt:\n${screen()}`);
      tmux('send-keys', '-t', 'enter', 'echo "in $(hostname) as $(id -u), $(stty size)"', 'Enter');
      await waitUntil(() => /^in inside as 1001, 30 100$/m.test(screen()), `the answer on the screen:\n${screen()}`);
      tmux('resize-window', '-t', 'enter', '-x', '120', '-y', '40');
      await sleep(300);
      tmux('send-keys', '-t', 'enter', 'stty size', 'Enter');
      await waitUntil(() => /^40 120$/m.test(screen()), `the new size inside:\n${screen()}`);
      tmux('send-keys', '-t', 'enter', 'exit 5', 'Enter');
      await waitUntil(() => /^EXITED=5$/m.test(screen()), `the exit status:\n${screen()}`);
    } finally {
      spawnSync('tmux', ['-L', 'jailctl-test', 'kill-server']);
    }
  });
}

test('a tenant enters only its own jails, through the emperor, with pipes when not on a terminal', async () => {
  const e = await startWeb();
  fx.dir.write('other.ini', ini('unshare = fs,pid', 'uid = 1002', 'gid = 1002', 'unprivileged-binary-patch-arg = sleep 79111'));
  await e.waitForVassal('other.ini', (v) => v?.state === 'running', 'running');
  const [cmd, argv] = cliCommand(['enter', '--socket', e.controlPath, 'web', '--', 'sh', '-c', 'read line; echo "got $line in $(hostname) as $(id -u)"; echo oops >&2; exit 4'],
    ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups']);
  const r = spawnSync(cmd, argv, { cwd: ROOT, input: 'hello\n', encoding: 'utf8' });
  assert.equal([r.status, r.stdout, r.stderr], [4, 'got hello in inside as 1001\n', 'oops\n']);
  const other = jailctl(['enter', '--socket', e.controlPath, 'other', '--', 'true'], { wrap: ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'] });
  assert.equal([other.status, other.stderr.trim()], [1, 'jailctl: no vassal other among the vassals running as uid 1001']);
  const root = jailctl(['enter', '--socket', e.controlPath, '--root', 'web', '--', 'true'], { wrap: ['setpriv', '--reuid=1001', '--regid=1001', '--clear-groups'] });
  assert.equal([root.status, root.stderr.trim()], [1, 'jailctl: --root is for root only']);
});

test.run();
