// jailctl's own runtime (the Node app server, the PSGI host) inside a jail with a root of its
// own: that root does not hold jailctl, so the package directory (and, for the app server,
// the Node binary) is bound in read-only under /run/jailctl, on a private tmpfs /run (no
// mount point is made in the sysadmin's image). The commands and paths the program is given
// are the ones it sees in the jail.
import { realpathSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { ConfigError } from '../errors';
import type { HostBind } from '../plan/mounts';

/** Where the runtime lives in a jail with its own root. */
export const RUNTIME_DIR = '/run/jailctl';
/** The package directory, in such a jail. */
export const RUNTIME_PACKAGE = `${RUNTIME_DIR}/package`;
/** The Node binary, in such a jail. */
export const RUNTIME_NODE = `${RUNTIME_DIR}/node`;

/** The package root: src/runtime/ or dist/runtime/ is two levels below it. */
const PACKAGE_ROOT = join(__dirname, '..', '..');

export interface JailRuntime {
  /** The program's argv, with paths as the jail sees them. */
  readonly argv: string[];
  /** Maps a host path of the package (JAIL_EXEC_LIB, say) to the jail's. */
  readonly inJail: (hostPath: string) => string;
  /** What to bind: empty when the jail shares the host's root. */
  readonly binds: readonly HostBind[];
}

/** The runtime `argv` (its paths the host's) as a jail runs it: on the host's root
 *  unchanged, on a root of its own (`ownRoot`) from /run/jailctl. */
export function jailRuntime(argv: readonly string[], ownRoot: boolean, file: string): JailRuntime {
  return ownRoot ? ownRootRuntime(argv, file) : { argv: [...argv], inJail: (p) => p, binds: [] };
}

// `argv` of jailctl's runtime (its paths the host's) → the same in a jail of its own root.
// argv[0] is Node (bound in) or the root's own interpreter (/usr/bin/perl: the root must
// have Perl and Plack); every later absolute word is a file of the package. `file` names the
// vassal in an error: a file outside the package directory (node_modules a symlink
// elsewhere, as in a git worktree) cannot be reached from the jail.
function ownRootRuntime(argv: readonly string[], file: string): JailRuntime {
  const pkg = realpathSync(PACKAGE_ROOT);
  const inJail = (hostPath: string): string => {
    let real: string;
    try {
      real = realpathSync(hostPath);
    } catch (err: unknown) {
      throw new ConfigError(file, undefined, 'rootfs', `jailctl's runtime file ${hostPath} is missing (${(err as NodeJS.ErrnoException).code}): build jailctl (npm ci, or npx node-gyp rebuild && npm run compile)`);
    }
    const rel = relative(pkg, real);
    if (rel === '') return RUNTIME_PACKAGE;
    if (!rel.startsWith('..') && !isAbsolute(rel)) return `${RUNTIME_PACKAGE}/${rel}`;
    throw new ConfigError(file, undefined, 'rootfs', `jailctl's runtime file ${hostPath} lies outside its package directory ${pkg}, so a jail with its own root cannot reach it; install jailctl with its dependencies in one directory (npm ci there), not linked from elsewhere`);
  };
  const [program = '', ...rest] = argv;
  const node = program === process.execPath;
  return {
    argv: [node ? RUNTIME_NODE : program, ...rest.map((a) => (isAbsolute(a) ? inJail(a) : a))],
    inJail,
    binds: [{ src: pkg, dst: RUNTIME_PACKAGE }, ...(node ? [{ src: realpathSync(process.execPath), dst: RUNTIME_NODE }] : [])],
  };
}
