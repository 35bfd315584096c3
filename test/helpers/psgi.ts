// The PSGI host's processes below one emperor, told apart by their command lines: the
// master runs jailctl-psgi.pl, its workers say `(worker)` (other emperors' are not counted).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants } from './proc';

/** test/fixtures/psgi: the apps the PSGI tests serve. */
export const PSGI_FIXTURES = join(__dirname, '..', 'fixtures', 'psgi');

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined; // gone
    throw err;
  }
}

// pids of the PSGI host's masters and workers below `root` (the emperor).
export function psgiProcesses(root: number): { all: number[]; masters: number[]; workers: number[] } {
  const all: number[] = [];
  const masters: number[] = [];
  const workers: number[] = [];
  for (const p of descendants(root)) {
    const cmd = cmdline(p.pid);
    if (cmd === undefined || !cmd.includes('jailctl-psgi')) continue;
    all.push(p.pid);
    (cmd.endsWith('(worker)') ? workers : masters).push(p.pid);
  }
  return { all, masters, workers };
}
