import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Timers } from '../../../src/emperor/timers';

const test = suite('Timers');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('one of each name: set replaces, clear cancels, refresh keeps a pending one or sets it', async () => {
  const t = new Timers<'a' | 'b' | 'c'>();
  const fired: string[] = [];
  t.set('a', 1, () => fired.push('a1'));
  t.set('a', 1, () => fired.push('a2'));
  t.set('b', 1, () => fired.push('b'));
  t.clear('b');
  t.refresh('c', 1, () => fired.push('c1'));
  t.refresh('c', 1, () => fired.push('c2')); // pending: restarted, still c1
  await sleep(50);
  assert.equal(fired.sort(), ['a2', 'c1']);
  t.refresh('c', 1, () => fired.push('c3')); // fired and forgotten: set anew
  await sleep(50);
  assert.equal(fired, ['a2', 'c1', 'c3']);
});

test.run();
