// One version everywhere: package.json's, which --version, the stats and the man page say.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VERSION } from '../../src/version';

test('src/version.ts is package.json\'s version', () => {
  assert.is(VERSION, JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
});

test.run();
