// readHandover: the fd in JAILCTL_HANDOVER_FD is checked before anything reads or closes
// it (a number above 2, open, the upgrade's memfd), with real fds of each wrong kind.
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readHandover } from '../../../src/emperor/handover';
import { binding } from '../../../src/native/binding';
import { thrown } from '../../helpers/thrown';

const test = suite('readHandover');

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

function memfd(name: string, text: string): number {
  const fd = binding.memfdCreate(name);
  writeSync(fd, text, 0);
  return fd;
}

test('reads the record of the upgrade\'s memfd and closes it', () => {
  const fd = memfd('jailctl-handover', JSON.stringify({ version: 1, vassals: [] }));
  assert.equal(readHandover(String(fd)), { version: 1, vassals: [] });
  assert.not.ok(isOpen(fd));
});

test('refuses what is no fd number, and stdio, without closing anything', () => {
  for (const value of ['', 'abc', '-3', '3.5', ' 4', '1e3', '99999999999'])
    assert.match(thrown(() => readHandover(value), Error).message, /JAILCTL_HANDOVER_FD=.*: not an fd number; .*unset it/);
  for (const value of ['0', '1', '2'])
    assert.match(thrown(() => readHandover(value), Error).message, /stdin, stdout or stderr, never the handover record/);
  assert.ok(isOpen(1) && isOpen(2));
});

test('refuses a closed fd, a pipe, a plain file and another memfd, leaving them open', () => {
  const [r, w] = binding.pipe();
  closeSync(w);
  assert.match(thrown(() => readHandover(String(w)), Error).message, /JAILCTL_HANDOVER_FD="\d+": cannot be read \(EBADF\)/);
  assert.match(thrown(() => readHandover(String(r)), Error).message, /not a regular file \(the record is a memfd\)/);
  assert.ok(isOpen(r));
  closeSync(r);
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-handover-'));
  try {
    writeFileSync(join(dir, 'record'), JSON.stringify({ version: 1, vassals: [] }));
    const file = openSync(join(dir, 'record'), 'r');
    assert.match(thrown(() => readHandover(String(file)), Error).message, /record is not the memfd of an upgrade/);
    assert.ok(isOpen(file));
    closeSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const other = memfd('jailctl-handoverx', '{}');
  assert.match(thrown(() => readHandover(String(other)), Error).message, /\/memfd:jailctl-handoverx .*is not the memfd of an upgrade/);
  closeSync(other);
});

test('a memfd that holds no record is refused by what it holds', () => {
  const fd = memfd('jailctl-handover', JSON.stringify({ version: 2, vassals: [] }));
  assert.match(thrown(() => readHandover(String(fd)), Error).message, new RegExp(`JAILCTL_HANDOVER_FD=${fd}: not a handover record of an emperor upgrade \\(version 2, expected 1\\)`));
});

test.run();
