// buildVassal() as the emperor calls it, on the hostile files of issue 11: every one is that
// file's ConfigError (or PlanError), never another exception; and the on-demand address file.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb, type UserDb } from '../../../src/config/users';
import { onDemandAddress, OnDemandError } from '../../../src/emperor/on-demand';
import { DEFAULT_EMPEROR_OPTIONS } from '../../../src/emperor/options';
import { buildVassal, INTERNAL_ERROR, type VassalBuildContext } from '../../../src/emperor/vassal-config';
import { ConfigError } from '../../../src/errors';
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
