// Tyrant mode: the containment a tenant's file may ask for. A limit may only be tighter than
// the emperor's vassals-* ceiling (pids-max also under jailctl's default when there is none),
// cgroup-opt is the sysadmin's, and the seccomp filter cannot be turned off or widened.
import type { ConfigEntry } from '../config/types';
import { excerpt } from '../config/limits';
import { compileLimits, DEFAULT_PIDS_MAX, formatBytes } from '../plan/limits';
import type { CgroupLimits } from '../plan/types';
import type { EmperorOptions } from './options';

type Ceilings = Pick<EmperorOptions, 'vassalsMemoryMax' | 'vassalsMemoryHigh' | 'vassalsPidsMax' | 'vassalsCpuMax' | 'vassalsIoWeight'>;

const LIMIT_KEYS = ['memory-max', 'memory-high', 'pids-max', 'cpu-max', 'io-weight'] as const;
type LimitKey = (typeof LIMIT_KEYS)[number];

const FIELD: Readonly<Record<LimitKey, keyof Omit<CgroupLimits, 'opts'>>> = {
  'memory-max': 'memoryMax', 'memory-high': 'memoryHigh', 'pids-max': 'pidsMax', 'cpu-max': 'cpuMax', 'io-weight': 'ioWeight',
};
const OPTION: Readonly<Record<LimitKey, keyof Ceilings>> = {
  'memory-max': 'vassalsMemoryMax', 'memory-high': 'vassalsMemoryHigh', 'pids-max': 'vassalsPidsMax', 'cpu-max': 'vassalsCpuMax', 'io-weight': 'vassalsIoWeight',
};

// The value a limit line means (Infinity for `max`); a malformed one is left to the compiler.
function valueOf(key: LimitKey, text: string): number | undefined {
  try {
    const limits = compileLimits({ last: (n) => (n === key ? { key, value: text, line: 0 } : undefined), all: () => [] }, () => {
      throw new Error('malformed');
    });
    return limits[FIELD[key]]?.value ?? Infinity;
  } catch {
    return undefined;
  }
}

const show = (key: LimitKey, n: number): string =>
  !Number.isFinite(n) ? 'max' : key.startsWith('memory') ? formatBytes(n) : key === 'cpu-max' ? `${n}%` : String(n);

/** The refusal for one of a tenant's entries, or undefined when it may stand (or is not a
 *  containment option). */
export function tenantLimitRefusal(e: ConfigEntry, options: Ceilings): string | undefined {
  if (e.key === 'cgroup-opt')
    return 'cgroup-opt writes the jail\'s cgroup files as the emperor, which a tenant\'s file may not ask for; use memory-max, pids-max, cpu-max, or ask the sysadmin';
  if (e.key === 'seccomp') {
    if (e.value.trim() === 'default' || e.value.trim() === '') return undefined;
    return `\`${excerpt(e.value.trim())}\`: a tenant's jail always has the default seccomp filter in tyrant mode; remove the line`;
  }
  if (!(LIMIT_KEYS as readonly string[]).includes(e.key)) return undefined;
  const key = e.key as LimitKey;
  const ceilingText = options[OPTION[key]] ?? (key === 'pids-max' ? String(DEFAULT_PIDS_MAX) : undefined);
  if (ceilingText === undefined) return undefined;
  const ceiling = valueOf(key, ceilingText);
  const wanted = valueOf(key, e.value);
  if (ceiling === undefined || wanted === undefined || wanted <= ceiling) return undefined;
  const from = options[OPTION[key]] !== undefined ? `vassals-${key}` : `jailctl's default; the sysadmin may raise it with vassals-${key}`;
  return `${show(key, wanted)}: the emperor lets a tenant have at most ${show(key, ceiling)} (${from}); set it lower, or remove the line`;
}
