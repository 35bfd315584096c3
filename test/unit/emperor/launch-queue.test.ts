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

test('at most maxInFlight launches are in flight; each one that lands lets the next begin, in order', async () => {
  const lines: string[] = [];
  const q = new LaunchQueue((err) => { throw err; }, { maxInFlight: 3, spawnThrottle: 0, maxThrottle: 0 }, (l) => lines.push(l));
  const landings: Array<() => void> = [];
  const begun: number[] = [];
  let peak = 0;
  for (let i = 0; i < 10; i++)
    q.run(() => {
      begun.push(i);
      peak = Math.max(peak, q.launching);
      return new Promise<void>((r) => landings.push(r));
    });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(begun, [0, 1, 2], 'three begin, seven wait');
  assert.is(q.length, 7);
  landings.shift()!();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(begun, [0, 1, 2, 3], 'one landed: the next begins');
  while (begun.length < 10 || landings.length > 0) {
    landings.shift()?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.is(peak, 3);
  assert.equal(begun, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(q.launching, 0);
  assert.match(lines.join('\n'), /3 launches in flight \(emperor-max-launches\): 7 wait/);
  assert.match(lines.join('\n'), /launch storm over: 10 launches, at most 3 in flight at once/);
});

test('emperor-spawn-throttle: launches within a second raise the level by the delta, up to the max', async () => {
  const q = new LaunchQueue((err) => { throw err; }, { maxInFlight: 100, spawnThrottle: 30, maxThrottle: 50 });
  const levels: number[] = [];
  for (let i = 0; i < 4; i++) q.run(() => levels.push(q.throttleMs));
  await new Promise((r) => setImmediate(r));
  assert.equal(levels, [0, 30], 'the first two go at once (the second raised the level); the third waits');
  await new Promise((r) => setTimeout(r, 400));
  // The first is no throttle; the second raises the level to 30, the third to 50 (the max).
  assert.equal(levels, [0, 30, 50, 50]);
});

test.run();
