// LaunchPlans built directly, for tests of the executor below the config layer.
import { DEFAULT_SECCOMP, NO_LIMITS, type LaunchPlan } from '../../src/plan/types';

// A plan that runs `argv` (through PATH) with the given fields overridden.
export function makePlan(argv: readonly string[], overrides: Partial<LaunchPlan> = {}): LaunchPlan {
  return {
    vassal: 'test',
    namespaces: [],
    mountProc: false,
    tmpfs: [],
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
