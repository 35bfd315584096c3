import { closeSync, mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { binding } from '../../../src/native/binding';
import { ECHO_LINES_PER_SECOND, VassalLog } from '../../../src/emperor/vassal-log';

const test = suite('VassalLog');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('every line reaches the file; the echo is capped per second, with a note of what it dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-log-'));
  const echoed: string[] = [];
  const log = new VassalLog(dir, 'chatty.ini', 1 << 20, (_stream, line) => echoed.push(line));
  const [ours, theirs] = binding.socketPair();
  log.attach(ours, 'stdout');
  const lines = 5 * ECHO_LINES_PER_SECOND;
  writeSync(theirs, Array.from({ length: lines }, (_, i) => `line ${i}\n`).join(''));
  const keep = setInterval(() => undefined, 50); // the reader is unref'd
  for (let i = 0; i < 100 && readFileSync(log.path!, { encoding: 'utf8', flag: 'a+' }).split('\n').length <= lines; i++) await sleep(20);
  await sleep(1100); // the note comes at the latest a second later
  clearInterval(keep);
  const file = readFileSync(log.path!, 'utf8').trimEnd().split('\n');
  assert.is(file.length, lines, 'the file has every line');
  assert.match(file[lines - 1]!, /^\S+Z stdout line 499$/);
  const shown = echoed.filter((l) => l.startsWith('line '));
  assert.ok(shown.length <= 2 * ECHO_LINES_PER_SECOND, `${shown.length} lines echoed`);
  const notes = echoed.filter((l) => /line\(s\) dropped/.test(l));
  const dropped = notes.reduce((n, l) => n + Number(/^(\d+)/.exec(l)![1]), 0);
  assert.is(shown.length + dropped, lines, `echoed + dropped = written: ${notes.join(' | ')}`);
  closeSync(theirs);
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
