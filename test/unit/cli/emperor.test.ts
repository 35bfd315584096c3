// `jailctl emperor` before it starts anything: --help teaches every option, and a bad
// command line or emperor file is one clear line and exit 125.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EMPEROR_OPTIONS } from '../../../src/emperor/options';
import { jailctl } from '../../helpers/cli';
import { vassalDir } from '../../helpers/vassal';

const test = suite('jailctl emperor: command line');

test('--help lists every emperor option with its one-line help, and the signals', () => {
  const r = jailctl(['emperor', '--help']);
  assert.is(r.status, 0, r.stderr);
  for (const o of EMPEROR_OPTIONS) assert.match(r.stdout, `--${o.name}`, o.name);
  assert.match(r.stdout, '--ini <file>');
  assert.match(r.stdout, /SIGURG clears the/);
});

test('no source: says how to give one', () => {
  const r = jailctl(['emperor']);
  assert.is(r.status, 125);
  assert.match(r.stderr, 'jailctl: no vassal source: give --emperor DIR (or dir://DIR, glob://PATTERN)');
});

test('an unknown monitor scheme, a bad number, a bad namespace: one line each', () => {
  let r = jailctl(['emperor', '--emperor', 'mysql://db/vassals']);
  assert.is(r.status, 125);
  assert.match(r.stderr, 'unknown monitor `mysql://`; jailctl knows dir://, glob:// and pg://');
  r = jailctl(['emperor', '--emperor', 'pg://dbname=x']);
  assert.is(r.status, 125);
  assert.match(r.stderr, 'pg://: expected pg://CONNINFO;QUERY');
  r = jailctl(['emperor', '--emperor', '/tmp', '--emperor-throttle', 'soon']);
  assert.is(r.status, 125);
  assert.match(r.stderr, 'jailctl: command line: emperor-throttle: expected a number of milliseconds, got `soon`');
  r = jailctl(['emperor', '--emperor', '/tmp', '--emperor-use-clone', 'fs,time']);
  assert.match(r.stderr, 'unknown namespace `time`');
});

test('an emperor file with a mistake names its file and line', () => {
  const dir = vassalDir();
  try {
    const file = dir.write('emperor.ini', '[jail]\nemperor = /tmp\nemperor-freq = often\n');
    const r = jailctl(['emperor', '--ini', file]);
    assert.is(r.status, 125);
    assert.is(r.stderr, `jailctl: ${file}:3: emperor-freq: expected a number of seconds, got \`often\`\n`);
  } finally {
    dir.remove();
  }
});

test.run();
