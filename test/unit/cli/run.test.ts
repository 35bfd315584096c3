// `jailctl run` on bad input, as a user sees it: one line naming file and line, exit 125,
// nothing launched. No root needed: nothing here gets as far as a clone.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../../helpers/cli';
import { ini, vassalDir } from '../../helpers/vassal';

const run = suite('jailctl run: bad input');

function runFile(name: string, text: string): { status: number | null; stderr: string; stdout: string; file: string } {
  const dir = vassalDir();
  try {
    const file = dir.write(name, text);
    return { ...jailctl(['run', file]), file };
  } finally {
    dir.remove();
  }
}

run('an ini syntax error names file and line', () => {
  const r = runFile('web.ini', ini('uid = 1001', 'exec-as-root hostname x'));
  assert.is(r.stderr, `jailctl: ${r.file}:3: expected "key = value", got "exec-as-root hostname x"\n`);
  assert.is(r.status, 125);
});

run('an unknown namespace lists the valid ones', () => {
  const r = runFile('web.ini', ini('unshare = pid,cgroup', 'unprivileged-binary-patch-arg = true'));
  assert.is(r.stderr, `jailctl: ${r.file}:2: unshare: unknown namespace \`cgroup\`; valid: fs (or mount), pid, net, ipc, uts\n`);
  assert.is(r.status, 125);
});

run('an unknown user names file and line', () => {
  const r = runFile('web.yaml', 'jail:\n  unprivileged-binary-patch-arg: "true"\n  uid: no-such-user-here\n');
  assert.match(r.stderr, `${r.file}:3: uid: unknown user \`no-such-user-here\``);
  assert.is(r.status, 125);
});

run('a JSON syntax error names the line', () => {
  const r = runFile('web.json', '{\n  "jail": {\n    "uid": 1,\n  }\n}\n');
  assert.match(r.stderr, `jailctl: ${r.file}:4: JSON syntax error`);
  assert.is(r.status, 125);
});

run('a missing file and a wrong extension are explained', () => {
  assert.match(jailctl(['run', '/nonexistent/web.ini']).stderr, '/nonexistent/web.ini: cannot read: no such file (ENOENT)');
  const r = runFile('web.conf', '[jail]\n');
  assert.match(r.stderr, 'unsupported vassal file extension `.conf`; use .ini, .yml, .yaml, .json or .xml');
});

run('an unknown option is a warning with a suggestion, not an error', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('web.ini', ini('exec-as-rot = x', 'unprivileged-binary-patch-arg = /bin/echo hi'));
    const r = jailctl(['run', '--print-plan', file]);
    assert.is(r.stderr, `jailctl: warning: ${file}:2: unknown option \`exec-as-rot\` (did you mean \`exec-as-root\`?); ignored\n`);
    assert.is(r.status, 0);
  } finally {
    dir.remove();
  }
});

run('--print-plan prints the compiled plan as JSON without launching', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('web.ini', ini('unshare = fs,pid', 'uid = 0', 'gid = 0', 'unprivileged-binary-patch-arg = /bin/echo "a b"'));
    const r = jailctl(['run', '--print-plan', file]);
    assert.is(r.status, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.namespaces, ['mount', 'pid']);
    assert.equal(plan.program.argv, ['/bin/echo', 'a b']);
  } finally {
    dir.remove();
  }
});

run('--help teaches: an example, every option, the exit codes', () => {
  const r = jailctl(['run', '--help']);
  assert.is(r.status, 0);
  for (const needle of ['Example:', 'unprivileged-binary-patch-arg', 'exec-as-root', '125', '126', '127'])
    assert.match(r.stdout, needle);
});

run.run();
