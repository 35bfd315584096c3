// buildVassal() as the emperor calls it, on the hostile files of issue 11: every one is that
// file's ConfigError (or PlanError), never another exception; and the on-demand address file.
import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb, type UserDb } from '../../../src/config/users';
import { onDemandAddress, OnDemandError } from '../../../src/emperor/on-demand';
import { DEFAULT_EMPEROR_OPTIONS } from '../../../src/emperor/options';
import { buildVassal, INTERNAL_ERROR, type VassalBuildContext } from '../../../src/emperor/vassal-config';
import { ConfigError } from '../../../src/errors';
import { RUNTIME_NODE, RUNTIME_PACKAGE } from '../../../src/runtime/binds';
import { ROOT } from '../../helpers/cli';
import { thrown } from '../../helpers/thrown';

const build = suite('buildVassal');
const users = parseUserDb('root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n');
const ctx = (over: Partial<VassalBuildContext> = {}): VassalBuildContext => ({
  options: DEFAULT_EMPEROR_OPTIONS, users, baseEnv: {}, env: {}, emperorFd: -1, configFd: -1,
  privileges: { uid: 0, gid: 0, caps: new Set(['sys_admin']) }, ...over,
});

let dir = '';
build.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-'));
});
build.after(() => rmSync(dir, { recursive: true, force: true }));

// Writes NAME and builds it; the ConfigError it must throw.
function refused(name: string, text: string, context = ctx()): ConfigError {
  const path = join(dir, name);
  writeFileSync(path, text);
  return thrown(() => buildVassal({ name, path, monitor: `dir://${dir}`, mtimeNs: 0n, uid: 0, gid: 0 }, context), ConfigError);
}

build('the files of issue 11 are config errors of their file, with the line where known', () => {
  const doubling = ['[jail]', 'a0 = xxxxxxxx', ...Array.from({ length: 39 }, (_, i) => `a${i + 1} = %(a${i})%(a${i})`), ''].join('\n');
  assert.match(refused('d.ini', doubling).message, /d\.ini:15: `a13` expands to more than 32768 characters \(MAX_VALUE_LENGTH\)/);
  const wide = ['[jail]', `w = ${'y'.repeat(1000)}`, ...Array(3000).fill(`env = A=${'%(w)'.repeat(30)}`), ''].join('\n');
  assert.match(refused('w.ini', wide).message, 'MAX_EXPANDED_TOTAL');
  assert.match(refused('n.yaml', `jail:\n  a: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`).message, /n\.yaml: nested too deeply for the YAML parser/);
  assert.match(refused('k.yaml', `jail:\n  ${'k'.repeat(1_000_000)}: 1\n`).message, /k\.yaml:2: a key of 1000000 characters/);
  assert.match(refused('l.yaml', `jail:\n  env:\n${'    - A=1\n'.repeat(50_000)}`).message, /l\.yaml:10003: more than 10000 entries/);
});

build('an unexpected exception is still this file\'s ConfigError, marked as a bug, with its cause', () => {
  const broken: UserDb = { ...users, userById: () => { throw new TypeError('boom'); } };
  const err = refused('b.ini', '[jail]\nuid = 0\nunprivileged-binary-patch-arg = true\n', ctx({ users: broken }));
  assert.match(err.message, `${INTERNAL_ERROR} (TypeError: boom); please report it`);
  assert.instance(err.cause, TypeError);
});

// Builds NAME (written with `text`) and returns its build.
function built(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const root = { uid: 0, gid: 0, caps: new Set(['sys_admin', 'setuid', 'setgid']) };
  return buildVassal({ name, path, monitor: `dir://${dir}`, mtimeNs: 0n, uid: 0, gid: 0 }, ctx({ privileges: root }));
}

build('on a root of its own, jailctl\'s runtime is bound in read-only under a private /run, and run from there', () => {
  const pkg = realpathSync(ROOT);
  const psgi = built('p.ini', '[jail]\noverlay = /srv/images/debian\npsgi = /srv/app/app.psgi\n').plan;
  assert.equal(psgi.program.argv.slice(0, 2), ['/usr/bin/perl', `${RUNTIME_PACKAGE}/src/runtime/psgi/jailctl-psgi.pl`], 'the root\'s own Perl');
  assert.ok(psgi.env.some((e) => e.startsWith(`JAIL_EXEC_LIB=${RUNTIME_PACKAGE}/`)), psgi.env.join(' '));
  assert.equal(psgi.mounts.slice(0, 3).map((m) => [m.kind, m.src, m.dst, m.flags]), [
    ['overlay', '/srv/images/debian', undefined, []],
    ['tmpfs', undefined, '/run', []],
    ['bind', pkg, RUNTIME_PACKAGE, ['ro']],
  ]);
  const node = built('n.ini', '[jail]\nrootfs = /srv/images/debian\napp = /srv/app/server.js\n').plan;
  assert.is(node.program.path, RUNTIME_NODE);
  assert.ok(node.program.argv.slice(1).every((a) => !a.startsWith('/') || a.startsWith(`${RUNTIME_PACKAGE}/`)), node.program.argv.join(' '));
  assert.ok(node.mounts.some((m) => m.kind === 'bind' && m.src === realpathSync(process.execPath) && m.dst === RUNTIME_NODE && m.flags.includes('ro')));
  const host = built('h.ini', '[jail]\npsgi = /srv/app/app.psgi\n').plan;
  assert.ok(host.program.argv[1]!.startsWith(`${ROOT}/`), 'on the host\'s root, the host\'s paths');
  assert.not.ok(host.mounts.some((m) => m.dst?.startsWith('/run')), 'and nothing bound');
});

build.run();

const onDemand = suite('onDemandAddress');

onDemand('a .socket link to /proc/self/pagemap (size 0, no end) is refused, not read to its end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-'));
  try {
    symlinkSync('/proc/self/pagemap', join(dir, 'web.ini.socket'));
    symlinkSync('/proc/self/status', join(dir, 'st.ini.socket'));
    const options = { ...DEFAULT_EMPEROR_OPTIONS, onDemandExtension: '.socket' };
    const source = (name: string) => ({ name, path: join(dir, name), monitor: `dir://${dir}`, mtimeNs: 0n, uid: 0, gid: 0 });
    for (const name of ['web.ini', 'st.ini']) {
      const err = await onDemandAddress(source(name), options).then(() => undefined, (e: unknown) => e);
      assert.instance(err, OnDemandError, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

onDemand.run();
