// Golden files: fixtures/vassals/web.ini compiles to fixtures/plans/web.plan.json, and the
// same vassal written in YAML and JSON compiles to the same plan (line numbers aside).
// UPDATE_GOLDEN=1 rewrites the golden file after a deliberate change.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readVassalConfig } from '../../../src/config/load';
import { parseUserDb } from '../../../src/config/users';
import { compilePlan } from '../../../src/plan/compile';
import type { LaunchPlan } from '../../../src/plan/types';

const FIXTURES = join(__dirname, '..', '..', 'fixtures');
const users = parseUserDb('web:x:1001:1001::/srv:/bin/sh\n', 'web:x:1001:\n');
const baseEnv = { PATH: '/usr/bin:/bin' };

function compile(name: string): LaunchPlan {
  return compilePlan(readVassalConfig(join(FIXTURES, 'vassals', name)), { users, baseEnv }).plan;
}

// The plan without what legitimately differs between formats: the file and line numbers.
function portable(plan: LaunchPlan): unknown {
  return JSON.parse(JSON.stringify({ ...plan, file: undefined }, (key, value) => (key === 'line' ? undefined : value)));
}

const golden = suite('golden plans');

golden('web.ini compiles to web.plan.json', () => {
  const plan = portable(compile('web.ini'));
  const path = join(FIXTURES, 'plans', 'web.plan.json');
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, `${JSON.stringify(plan, null, 2)}\n`);
  assert.equal(plan, JSON.parse(readFileSync(path, 'utf8')));
});

golden('the same vassal in ini, yaml and json compiles to the same plan', () => {
  const ini = portable(compile('web.ini'));
  assert.equal(portable(compile('web.yaml')), ini);
  assert.equal(portable(compile('web.json')), ini);
});

golden('line numbers point at the right lines in every format', () => {
  assert.equal(compile('web.ini').hooks.map((h) => h.line), [10, 11]);
  assert.equal(compile('web.yaml').hooks.map((h) => h.line), [8, 9]);
  assert.equal(compile('web.json').hooks.map((h) => h.line), [9, 10]);
  assert.is(compile('web.json').program.line, 21);
});

golden.run();
