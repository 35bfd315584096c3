// The bounds on what one vassal file may cost: each refusal names the file, line and limit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkEntry, checkEntryCount, excerpt, MAX_ENTRIES_PER_FILE, MAX_KEY_LENGTH, MAX_VALUE_LENGTH } from '../../../src/config/limits';
import { ConfigError } from '../../../src/errors';
import { thrown } from '../../helpers/thrown';

const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

const entry = suite('checkEntry');

entry('a key or value over its limit, or a NUL byte, is refused with the file, line and limit', () => {
  checkEntry('/v/web.ini', 3, 'k'.repeat(MAX_KEY_LENGTH), 'v'.repeat(MAX_VALUE_LENGTH));
  const key = configError(() => checkEntry('/v/web.ini', 3, 'k'.repeat(MAX_KEY_LENGTH + 1), ''));
  assert.is(key.line, 3);
  assert.match(key.message, /^\/v\/web\.ini:3: a key of 257 characters \(`k{40}… \(257 characters\)`\); the limit is 256 \(MAX_KEY_LENGTH\)/);
  assert.match(configError(() => checkEntry('/v/web.ini', 4, 'env', 'v'.repeat(MAX_VALUE_LENGTH + 1))).message,
    `/v/web.ini:4: \`env\` has a value of ${MAX_VALUE_LENGTH + 1} characters; the limit is ${MAX_VALUE_LENGTH} (MAX_VALUE_LENGTH)`);
  assert.match(configError(() => checkEntry('/v/web.ini', 5, 'env', 'A=\0')).message, '/v/web.ini:5: `env` contains a NUL byte');
});

entry.run();

const count = suite('checkEntryCount');

count('the entry after the last one allowed is refused on its line', () => {
  checkEntryCount('/v/web.ini', 9, MAX_ENTRIES_PER_FILE);
  assert.match(configError(() => checkEntryCount('/v/web.ini', 12001, MAX_ENTRIES_PER_FILE + 1)).message,
    /^\/v\/web\.ini:12001: more than 10000 entries \(MAX_ENTRIES_PER_FILE\)/);
});

count.run();

const ex = suite('excerpt');

ex('long text is cut, control characters are shown', () => {
  assert.is(excerpt('a\nb\0c'), 'a\\nb\\0c');
  assert.is(excerpt('x'.repeat(100), 5), 'xxxxx… (100 characters)');
});

ex.run();
