// LaunchPlans built directly, for tests of the executor below the config layer.
import type { RawVassalConfig } from '../../src/config/types';
import type { MountOp } from '../../src/plan/mounts';
import { DEFAULT_SECCOMP, NO_LIMITS, type LaunchPlan } from '../../src/plan/types';

/** A fresh /proc (the plan needs pid and mount namespaces). */
export const PROC: MountOp = { kind: 'proc', dst: '/proc', flags: [] };

/** A private tmpfs of `size` bytes on dst. */
export const tmpfsOn = (dst: string, size: number): MountOp => ({ kind: 'tmpfs', dst, size, mode: 0o1777, flags: [] });

// A plan that runs `argv` (through PATH) with the given fields overridden.
export function makePlan(argv: readonly string[], overrides: Partial<LaunchPlan> = {}): LaunchPlan {
  return {
    vassal: 'test',
    namespaces: [],
    mounts: [],
    loopback: false,
    hooks: [],
    groups: [],
    caps: [],
    noNewPrivs: true,
    program: { option: 'unprivileged-binary-patch-arg', privileged: false, path: argv[0]!, argv },
    env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
    fds: [],
    limits: NO_LIMITS,
    seccomp: DEFAULT_SECCOMP,
    ...overrides,
  };
}

// An ini vassal file of `lines` (`key = value`) as the parser gives it: line i is on line
// i + 2 (after the section header), with no `file` (the vassal file's own lines).
export function rawIni(file: string, lines: readonly string[]): RawVassalConfig {
  return {
    file, format: 'ini', section: 'jail',
    entries: lines.map((l, i) => {
      const eq = l.indexOf('=');
      return { key: l.slice(0, eq).trim(), value: l.slice(eq + 1).trim(), line: i + 2 };
    }),
  };
}
