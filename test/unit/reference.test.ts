// The README's option reference is the option tables' (npm run readme renders it again).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REFERENCE_BEGIN, REFERENCE_END, renderOptionReference, withReference } from '../../src/cli/reference';
import { VASSAL_OPTIONS } from '../../src/config/options';
import { EMPEROR_OPTIONS } from '../../src/emperor/options';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

test('the README holds the reference the tables render: run `npm run readme` after changing an option', () => {
  const begin = readme.indexOf(REFERENCE_BEGIN);
  const end = readme.indexOf(REFERENCE_END);
  assert.ok(begin >= 0 && end > begin, 'the README has the reference markers');
  assert.fixture(readme.slice(begin, end + REFERENCE_END.length), renderOptionReference());
});

test('every option has its row, and a changed help text is seen', () => {
  const ref = renderOptionReference();
  for (const o of VASSAL_OPTIONS) assert.ok(ref.includes(`| \`${o.name}\` |`), o.name);
  for (const o of EMPEROR_OPTIONS) assert.ok(ref.includes(`| \`--${o.name}\` |`), o.name);
  const stale = readme.replace('| `rootfs` |', '| `rootfs` | stale');
  assert.is.not(withReference(stale), stale, 'a stale row is rendered again');
  assert.is(withReference(readme), readme, 'the README is up to date');
});

test.run();
