import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findOption, suggestOption } from '../../../src/config/options';

const options = suite('options');

options('finds options and suggests the nearest for typos', () => {
  assert.is(findOption('exec-as-root')?.kind, 'list');
  assert.is(findOption('uid')?.kind, 'single');
  assert.is(findOption('socket'), undefined);
  assert.is(suggestOption('exec-as-rot'), 'exec-as-root');
  assert.is(suggestOption('unshar'), 'unshare');
  assert.is(suggestOption('unprivileged-binary-patch-args'), 'unprivileged-binary-patch-arg');
  assert.is(suggestOption('master'), undefined);
  assert.is(suggestOption('http-sockett'), 'http-socket');
});

options.run();
