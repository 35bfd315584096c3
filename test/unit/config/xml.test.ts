// parseXml(): uWSGI's XML vassal files, as uWSGI reads them, and every refusal with its line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_ENTRIES_PER_FILE, MAX_VALUE_LENGTH } from '../../../src/config/limits';
import { parseXml } from '../../../src/config/xml';
import { ConfigError } from '../../../src/errors';
import { thrown } from '../../helpers/thrown';

const refusal = (text: string): string => thrown(() => parseXml(text, 'v.xml'), ConfigError).message;
const test = suite('parseXml');

test('one element per option on its line; repeats accumulate; an empty element is 1', () => {
  const r = parseXml([
    '<?xml version="1.0"?>',
    '<uwsgi>',
    '  <!-- a comment -->',
    '  <socket>127.0.0.1:3031</socket>',
    '  <env>A=1</env>',
    '  <env>',
    '    B=2 &amp; 3',
    '  </env>',
    '  <master/>',
    '  <enable-threads></enable-threads>',
    '  <chdir> </chdir>',
    '  <exec-as-root><![CDATA[echo "<ok>" > /tmp/x]]></exec-as-root>',
    '</uwsgi>',
    '',
  ].join('\n'), '/etc/jails/v.xml');
  assert.is(r.section, 'uwsgi');
  assert.is(r.format, 'xml');
  assert.equal(r.entries, [
    { key: 'socket', value: '127.0.0.1:3031', line: 4 },
    { key: 'env', value: 'A=1', line: 5 },
    { key: 'env', value: 'B=2 & 3', line: 6 },
    { key: 'master', value: '1', line: 9 },
    { key: 'enable-threads', value: '1', line: 10 },
    { key: 'chdir', value: '', line: 11 },
    { key: 'exec-as-root', value: 'echo "<ok>" > /tmp/x', line: 12 },
  ]);
});

test('<jail> is read too; the first <uwsgi> inside another root, as uWSGI reads it', () => {
  assert.is(parseXml('<jail><uid>1001</uid></jail>', 'v.xml').section, 'jail');
  const r = parseXml('<sites>\n<other><x>1</x></other>\n<uwsgi id="a"><socket>:1</socket></uwsgi>\n<uwsgi id="b"><socket>:2</socket></uwsgi>\n</sites>\n', 'v.xml');
  assert.equal(r.entries, [{ key: 'socket', value: ':1', line: 3 }]);
});

test('errors name the file and the line, and say what to write', () => {
  assert.match(refusal('<uwsgi>\n<socket>:1</sock>\n</uwsgi>'), /^v\.xml:2: XML syntax error: Unexpected close tag/);
  assert.match(refusal('<uwsgi>\n<socket>:1\n'), /^v\.xml:\d: XML syntax error: Unclosed root tag/);
  assert.is(refusal('<uwsgi>\n<env><a>1</a></env>\n</uwsgi>'), 'v.xml:2: <env> holds a value, not an element (<a>)');
  assert.match(refusal('<uwsgi>\n<app mountpoint="/">x</app>\n</uwsgi>'), /^v\.xml:2: <app mountpoint=…>: an option's element takes no attributes/);
  assert.match(refusal('<uwsgi>\nstray\n<uid>1</uid></uwsgi>'), /^v\.xml:3: text outside an option's element: `stray`/);
  assert.match(refusal('<other><socket>:1</socket></other>'), /^v\.xml: no <jail> \(or <uwsgi>\) element/);
  assert.match(refusal('not xml at all'), /^v\.xml:1: XML syntax error/);
});

test('no DTD, no entity of its own: nothing expands', () => {
  const laughs = '<?xml version="1.0"?>\n<!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<uwsgi><env>&b;</env></uwsgi>';
  assert.match(refusal(laughs), /^v\.xml:2: a vassal file has no DOCTYPE/);
  assert.match(refusal('<uwsgi><env>&b;</env></uwsgi>'), /^v\.xml:1: XML syntax error: Invalid character entity/);
});

test('the limits of every vassal file: entries, value length', () => {
  const many = `<uwsgi>\n${'<env>A=1</env>\n'.repeat(MAX_ENTRIES_PER_FILE + 1)}</uwsgi>`;
  assert.match(refusal(many), new RegExp(`^v\\.xml:${MAX_ENTRIES_PER_FILE + 2}: more than ${MAX_ENTRIES_PER_FILE} entries`));
  assert.match(refusal(`<uwsgi>\n<env>${'x'.repeat(MAX_VALUE_LENGTH + 1)}</env>\n</uwsgi>`), /^v\.xml:2: /);
});

test.run();
