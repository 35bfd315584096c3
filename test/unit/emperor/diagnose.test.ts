import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { linesSince, maxProcsHint } from '../../../src/emperor/diagnose';

const hint = suite('maxProcsHint');
hint('names max-procs when the output says a fork or a thread was refused', () => {
  assert.is(maxProcsHint(64, 1001, ['x stderr node[7]: ../src/node_platform.cc:68: Assertion `(0) == (uv_thread_create(t.get(), start_thread, this))\' failed.']),
    'likely cause: max-procs = 64: it counts every process and thread of uid 1001 on the whole host, not only this jail\'s (a Node process alone has about 10 threads); raise it, or run fewer processes (it said: x stderr node[7]: ../src/node_platform.cc:68: Assertion `(0) == (uv_thread_create(t.get(), start_thread, this))\' failed.)');
  assert.match(maxProcsHint(8, 1001, ['bash: fork: Resource temporarily unavailable'])!, /^likely cause: max-procs = 8:/);
  assert.match(maxProcsHint(8, 1001, [], 'launch failed: spawn EAGAIN')!, /it said: launch failed: spawn EAGAIN\)$/);
});
hint('nothing without max-procs, or without a sign of it', () => {
  assert.is(maxProcsHint(undefined, 1001, ['fork: Resource temporarily unavailable']), undefined);
  assert.is(maxProcsHint(64, 1001, ['Error: listen EADDRINUSE'], 'exited with status 1'), undefined);
});
hint.run();

const since = suite('linesSince');
since('only the lines stamped at or after the time', () => {
  const t = Date.parse('2026-12-01T20:00:00.000Z');
  assert.equal(linesSince(['2026-12-01T19:59:59.999Z stdout old', '2026-12-01T20:00:00.000Z stdout new', '2026-12-01T20:00:01.500Z stderr newer'], t),
    ['2026-12-01T20:00:00.000Z stdout new', '2026-12-01T20:00:01.500Z stderr newer']);
});
since.run();
