import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { afterExit, type ExitFacts } from '../../../src/emperor/exit-policy';

const base: ExitFacts = {
  state: 'running', exit: { code: 1, signal: null }, restartWhenDown: false, onDemand: false,
  goingDown: false, loyal: false, hung: false, execFailed: false, quick: false,
};

const afterExitSuite = suite('afterExit');

afterExitSuite('a stop asked for stays stopped; one that a new config overtook restarts', () => {
  assert.is(afterExit({ ...base, state: 'stopping' }), 'stopped');
  assert.is(afterExit({ ...base, state: 'stopping', restartWhenDown: true }), 'restart');
});

afterExitSuite('a reload that needs a new jail starts it', () => {
  assert.is(afterExit({ ...base, state: 'reloading', restartWhenDown: true }), 'restart');
});

afterExitSuite('on demand: a clean or announced exit goes back to holding the socket; status 26 does not', () => {
  assert.is(afterExit({ ...base, onDemand: true, exit: { code: 0, signal: null } }), 'on-demand');
  assert.is(afterExit({ ...base, onDemand: true, goingDown: true }), 'on-demand');
  assert.is(afterExit({ ...base, onDemand: true, exit: { code: 26, signal: null } }), 'no-respawn');
});

afterExitSuite('a failed exec is not retried; a loyal death respawns; a quick or disloyal one is blacklisted', () => {
  assert.is(afterExit({ ...base, execFailed: true }), 'failed');
  assert.is(afterExit({ ...base, loyal: true }), 'respawn');
  assert.is(afterExit({ ...base, hung: true, quick: true }), 'respawn');
  assert.is(afterExit({ ...base, loyal: true, quick: true }), 'blacklist');
  assert.is(afterExit(base), 'blacklist');
});

afterExitSuite.run();
