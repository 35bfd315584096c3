// jailctl(1) is rendered from the option tables: every vassal and emperor option and every
// command is in it, and man(1) formats it without a warning.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildProgram } from '../../src/cli/jailctl';
import { renderManPage } from '../../src/cli/man';
import { VASSAL_OPTIONS } from '../../src/config/options';
import { EMPEROR_OPTIONS } from '../../src/emperor/options';
import { VERSION } from '../../src/version';

const test = suite('man page');
const page = renderManPage(buildProgram(), VERSION, new Date('2026-12-02T00:00:00Z'));

// What man(1) shows, as plain text (no hyphenation, wide lines).
function formatted(): { text: string; warnings: string } {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-man-'));
  try {
    writeFileSync(join(dir, 'jailctl.1'), page);
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-rLL=200n', '-rHY=0', join(dir, 'jailctl.1')], { encoding: 'utf8' });
    return { text: r.stdout.replace(/.\x08/g, '').replace(/\u2010|\u2212/g, '-'), warnings: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every option and command, as the tables say them', () => {
  const { text, warnings } = formatted();
  assert.is(warnings, '', 'groff has nothing to say about it');
  for (const o of VASSAL_OPTIONS) assert.ok(text.includes(o.name), `vassal option ${o.name}`);
  for (const o of EMPEROR_OPTIONS) assert.ok(text.includes(`--${o.name}`), `emperor option --${o.name}`);
  for (const c of buildProgram().commands) assert.ok(text.includes(c.name()), `command ${c.name()}`);
  assert.match(text, /JAILCTL\(1\)/);
  assert.match(text, new RegExp(`jailctl ${VERSION.replace(/\./g, '\\.')}`));
  assert.match(text, /rootfs\s+DIR becomes the jail's \/ \(pivot_root/);
});

test.run();
