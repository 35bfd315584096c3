// Several emperors on one host: names from sources, what follows from a name, and which
// emperors listen now (read from a copy of the kernel's UNIX socket table).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { badEmperorName, defaultControlSocket, defaultLogsDir, emperorNameOf, runningEmperors } from '../../../src/emperor/emperor-name';

const test = suite('emperor names');

test('a name from the first source: a directory\'s, a glob\'s fixed part, a database\'s', () => {
  assert.is(emperorNameOf('/etc/jails'), 'jails');
  assert.is(emperorNameOf('dir:///srv/tenants/'), 'tenants');
  assert.is(emperorNameOf('glob:///srv/*/jail/*.ini'), 'srv');
  assert.is(emperorNameOf('/etc/vassals/*.ini'), 'vassals');
  assert.is(emperorNameOf("pg://host=db dbname=hosting password='a;b';SELECT name, config, ts FROM vassals"), 'hosting');
  assert.is(emperorNameOf('pg://postgres://u@db:5432/sites?sslmode=require;SELECT 1'), 'sites');
  assert.is(emperorNameOf('pg://host=db;SELECT 1'), 'pg');
  assert.is(emperorNameOf('/'), 'emperor');
  assert.is(emperorNameOf('/srv/my sites'), 'my-sites');
});

test('what a name gives, and which names are refused', () => {
  assert.is(defaultControlSocket('jails'), '/run/jailctl/emperors/jails.sock');
  assert.is(defaultLogsDir('jails'), '/var/log/jailctl/jails');
  assert.is(badEmperorName('web-1.a_b'), undefined);
  for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(65), 'a b']) assert.ok(badEmperorName(bad), bad);
});

test('running emperors: listening sockets in /run/jailctl/emperors only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-unit-'));
  try {
    const table = join(dir, 'unix');
    writeFileSync(table, [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 1001 /run/jailctl/emperors/b.sock',
      '0000000000000000: 00000002 00000000 00010000 0001 01 1002 /run/jailctl/emperors/a.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 1003 /run/jailctl/emperors/a.sock',
      '0000000000000000: 00000002 00000000 00000000 0001 01 1004 /run/jailctl/emperors/dead.sock',
      '0000000000000000: 00000002 00000000 00010000 0001 01 1005 /run/jailctl/stats.sock',
      '0000000000000000: 00000002 00000000 00010000 0001 01 1006',
      '',
    ].join('\n'));
    assert.equal(runningEmperors(table), ['a', 'b']);
    assert.equal(runningEmperors(join(dir, 'missing')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
