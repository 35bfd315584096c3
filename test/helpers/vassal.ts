// Writes vassal files into a fresh temporary directory for one test.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface VassalDir {
  readonly dir: string;
  // Writes NAME (e.g. `web.ini`) and returns its path.
  write(name: string, text: string): string;
  remove(): void;
}

// A temporary directory of vassal files, readable by the jail's unprivileged users.
export function vassalDir(): VassalDir {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-test-'));
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// An ini vassal from lines (the `[jail]` header is added).
export function ini(...lines: string[]): string {
  return ['[jail]', ...lines, ''].join('\n');
}
