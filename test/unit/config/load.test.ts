import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readVassalConfig, vassalName } from '../../../src/config/load';

const load = suite('readVassalConfig');

load('picks the parser by extension', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-load-'));
  try {
    writeFileSync(join(dir, 'a.ini'), '[jail]\nuid = 1\n');
    writeFileSync(join(dir, 'b.yml'), 'jail:\n  uid: 1\n');
    writeFileSync(join(dir, 'c.json'), '{"jail": {"uid": 1}}');
    for (const [name, format] of [['a.ini', 'ini'], ['b.yml', 'yaml'], ['c.json', 'json']] as const) {
      const r = readVassalConfig(join(dir, name));
      assert.is(r.format, format);
      assert.is(r.file, join(dir, name));
      assert.equal(r.entries.map((e) => [e.key, e.value]), [['uid', '1']]);
    }
    writeFileSync(join(dir, 'web.skel'), '');
    assert.throws(() => readVassalConfig(join(dir, 'web.skel')), /unsupported vassal file extension `\.skel`; use \.ini, \.yml, \.yaml, \.json or \.xml/);
    assert.throws(() => readVassalConfig(join(dir, 'missing.ini')), /missing\.ini: cannot read: no such file \(ENOENT\)/);
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'a.ini'), 0);
      assert.throws(() => readVassalConfig(join(dir, 'a.ini')), /permission denied \(EACCES\)/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

load('reads no more than the file\'s size: a link to /proc/self/pagemap (size 0, endless) does not stall the emperor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-load-'));
  try {
    symlinkSync('/proc/self/status', join(dir, 'status.ini'));
    assert.throws(() => readVassalConfig(join(dir, 'status.ini')), /status\.ini: has more bytes than its size \(0\): it grew while read, or is no plain file/);
    // Before: read until EOF, hundreds of gigabytes of page map.
    symlinkSync('/proc/self/pagemap', join(dir, 'pagemap.ini'));
    assert.throws(() => readVassalConfig(join(dir, 'pagemap.ini')), /pagemap\.ini: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

load('vassalName drops the directory and extension', () => {
  assert.is(vassalName('/etc/jails/web.ini'), 'web');
  assert.is(vassalName('app.v2.yaml'), 'app.v2');
});

load.run();
