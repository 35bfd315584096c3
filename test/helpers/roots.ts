// Root filesystems the tests run jails on, built by rootfs/build. The Debian one takes a
// minute or two and the network (debootstrap), so it is built once per machine and kept in
// /var/cache/jailctl/roots (JAILCTL_DEBIAN_ROOT names another); a half-built one is never
// left there (rootfs/build renames it into place when it is whole).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli';

export const DEBIAN_ROOT = process.env.JAILCTL_DEBIAN_ROOT ?? '/var/cache/jailctl/roots/debian-bookworm';

// The Debian 12 root (minbase, Perl, Plack), built first if it is missing.
export function debianRoot(): string {
  if (existsSync(join(DEBIAN_ROOT, 'etc', 'debian_version'))) return DEBIAN_ROOT;
  const r = spawnSync('bash', [join(ROOT, 'rootfs', 'build'), '--debian', DEBIAN_ROOT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`npm run rootfs -- --debian ${DEBIAN_ROOT} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return DEBIAN_ROOT;
}
