// How to start the PSGI host: Debian's perl on our host script, which stays a source file
// (tsc does not copy it), found from the package root whether jailctl runs from src/ or dist/.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

/** The host script, src/runtime/psgi/jailctl-psgi.pl. */
export const PSGI_HOST = join(ROOT, 'src', 'runtime', 'psgi', 'jailctl-psgi.pl');

// argv of a PSGI vassal: perl (by absolute path, never PATH) on the host script.
export function psgiHostCommand(): string[] {
  return ['/usr/bin/perl', PSGI_HOST];
}

// libjailexec.so, the executor's plain C entry points the host calls through FFI::Platypus:
// the addon's build (build/Release), else the C tests' one (native/executor/build).
export function jailexecLibrary(): string {
  const built = join(ROOT, 'build', 'Release', 'jailexec.so');
  return existsSync(built) ? built : join(ROOT, 'native', 'executor', 'build', 'libjailexec.so');
}
