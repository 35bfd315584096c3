import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LaunchQueue } from '../../../src/emperor/launch-queue';

const test = suite('LaunchQueue');

const busy = (ms: number): void => {
  for (const end = Date.now() + ms; Date.now() < end;) { /* a launch's few milliseconds */ }
};

test('launches run in order, a few per turn: other work gets the loop in between', async () => {
  const errors: unknown[] = [];
  const q = new LaunchQueue((err) => errors.push(err));
  const order: string[] = [];
  for (let i = 0; i < 20; i++) q.run(() => { busy(3); order.push(`launch ${i}`); });
  q.run(() => { throw new Error('one vassal\'s trouble'); });
  q.run(() => order.push('after the error'));
  // Other work queued now runs before the last launch, not after all of them.
  setImmediate(() => order.push('other work'));
  await new Promise((r) => setTimeout(r, 200));
  assert.is(order.filter((x) => x.startsWith('launch')).join(), Array.from({ length: 20 }, (_, i) => `launch ${i}`).join());
  assert.ok(order.indexOf('other work') < order.indexOf('launch 19'), order.join(', '));
  assert.is(order.at(-1), 'after the error');
  assert.is(errors.length, 1);
  assert.is(q.length, 0);
});

test.run();
