import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIni } from '../../../src/config/ini';
import { ConfigError } from '../../../src/errors';
import { MAX_ENTRIES_PER_FILE } from '../../../src/config/limits';
import { thrown } from '../../helpers/thrown';

const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

const ini = suite('parseIni');

ini('repeated keys accumulate in order, with their lines', () => {
  const r = parseIni('[jail]\nexec-as-root = a\n\n# comment\n; comment\nexec-as-root=b\nuid = 1\n', '/v/web.ini');
  assert.is(r.section, 'jail');
  assert.is(r.format, 'ini');
  assert.equal(r.entries, [
    { key: 'exec-as-root', value: 'a', line: 2 },
    { key: 'exec-as-root', value: 'b', line: 6 },
    { key: 'uid', value: '1', line: 7 },
  ]);
});

ini('values are literal: ; # = and quotes reach the shell untouched', () => {
  const r = parseIni(`[jail]\nexec-as-root = echo "a;b" # c = d 'e'\n`, 'f.ini');
  assert.is(r.entries[0]!.value, `echo "a;b" # c = d 'e'`);
});

ini('reads [jail], else [uwsgi]; other sections are ignored', () => {
  assert.equal(parseIni('[uwsgi]\na = 1\n[jail]\nb = 2\n', 'f.ini').entries.map((e) => e.key), ['b']);
  const u = parseIni('[other]\nx = 1\n[uwsgi]\nsocket = :80\n', 'f.ini');
  assert.is(u.section, 'uwsgi');
  assert.equal(u.entries, [{ key: 'socket', value: ':80', line: 4 }]);
});

ini('handles CRLF and a BOM', () => {
  const r = parseIni('\uFEFF[jail]\r\nuid = 5\r\n', 'f.ini');
  assert.equal(r.entries, [{ key: 'uid', value: '5', line: 2 }]);
});

ini('syntax errors name the file and line, with what was expected', () => {
  const e = configError(() => parseIni('[jail]\nuid = 1\nexec-as-root hostname x\n', '/v/web.ini'));
  assert.is(e.message, '/v/web.ini:3: expected "key = value", got "exec-as-root hostname x"');
  assert.is(e.line, 3);
  assert.is(configError(() => parseIni('[jail]\n= x\n', 'f.ini')).line, 2);
  assert.match(configError(() => parseIni('uid = 1\n[jail]\n', 'f.ini')).message, 'f.ini:1: `uid = 1` comes before any section');
  assert.is(configError(() => parseIni('[other]\na = 1\n', 'f.ini')).message, 'f.ini: no [jail] or [uwsgi] section; a vassal file starts with [jail]');
});

ini.run();

const hostile = suite('parseIni: hostile files');

hostile('too many entries, a huge key or value, and NUL bytes are config errors with the line', () => {
  const many = `[jail]\n${'env = A=1\n'.repeat(MAX_ENTRIES_PER_FILE + 1)}`;
  assert.is(configError(() => parseIni(many, '/v/web.ini')).line, MAX_ENTRIES_PER_FILE + 2);
  assert.match(configError(() => parseIni(`[jail]\n${'k'.repeat(500_000)} = 1\n`, '/v/web.ini')).message, /^\/v\/web\.ini:2: a key of 500000 characters/);
  assert.match(configError(() => parseIni(`[jail]\nenv = ${'v'.repeat(900_000)}\n`, '/v/web.ini')).message, /^\/v\/web\.ini:2: `env` has a value of 900000 characters/);
  assert.match(configError(() => parseIni('[jail]\nuid = 1\nexec-as-root = echo hi\0; rm -rf /\n', '/v/web.ini')).message, /^\/v\/web\.ini:3: `exec-as-root` contains a NUL byte/);
});

hostile('a message quotes at most an excerpt of a long line', () => {
  const e = configError(() => parseIni(`[jail]\n${'x'.repeat(800_000)}\n`, '/v/web.ini'));
  assert.ok(e.message.length < 300, `${e.message.length} characters`);
  assert.ok(configError(() => parseIni(`${'y'.repeat(800_000)}\n`, '/v/web.ini')).message.length < 300);
});

hostile.run();
