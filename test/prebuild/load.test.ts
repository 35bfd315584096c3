// The package works from prebuilds/ alone: a directory with only package.json and
// prebuilds/ (no build/, no compiler involved) loads the addon through node-gyp-build with
// PREBUILDS_ONLY=1, and the helper embedded in it launches a real jail.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import { LAUNCH_STAGES } from '../../src/plan/stages';
import * as assert from 'uvu/assert';
import { serializePlan } from '../../src/plan/serialize';
import { ROOT } from '../helpers/cli';
import { makePlan, PROC } from '../helpers/plan';

const test = suite('prebuilds');

test('the addon loads from prebuilds alone and launches a jail', () => {
  const prebuilds = join(ROOT, 'prebuilds');
  assert.ok(existsSync(prebuilds), 'prebuilds/ exists (run `npm run prebuild` first)');
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-prebuild-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'jailctl', version: '0.0.0' }));
    cpSync(prebuilds, join(dir, 'prebuilds'), { recursive: true });
    const plan = join(dir, 'plan.bin');
    writeFileSync(plan, serializePlan(makePlan(['sh', '-c', 'exit 5'], { namespaces: ['pid', 'mount'], mounts: [PROC] })));
    const script = `
      const fs = require('fs');
      const b = require(${JSON.stringify(require.resolve('node-gyp-build'))})(${JSON.stringify(dir)});
      const out = { stages: b.stageNames().length, file: require(${JSON.stringify(require.resolve('node-gyp-build'))}).resolve(${JSON.stringify(dir)}) };
      if (process.getuid() === 0) {
        const c = b.launch(fs.readFileSync(${JSON.stringify(plan)}));
        const w = new b.FdWatcher(c.pidfd, () => { const r = b.waitPidfd(c.pidfd); if (r) { w.close(); out.code = r.code; console.log(JSON.stringify(out)); } });
      } else console.log(JSON.stringify(out));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' }));
    assert.ok(out.file.startsWith(join(dir, 'prebuilds')), `loaded from ${out.file}`);
    assert.is(out.stages, LAUNCH_STAGES.length, 'the prebuilt addon knows every launch stage');
    if (process.getuid?.() === 0) assert.is(out.code, 5, 'the jail ran and its exit status came back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
