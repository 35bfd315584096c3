// A vassal's last failure as data, for `jailctl why` and the metrics: the message the log
// has, and the stage, errno, file and line it came from (where the error knew them).
import { CgroupError, ConfigError, LaunchError, PlanError } from '../errors';

export interface Failure {
  readonly message: string;
  /** `config` (the file), `plan` (an option's value), `cgroup`, a launch stage of the
   *  executor (`namespaces`, `mount`, `exec`, …), `source` (its socket or base), or `internal`. */
  readonly stage: string;
  readonly errno?: string;
  readonly file?: string;
  readonly line?: number;
  /** The system file the failing call was made on (a cgroup file). */
  readonly path?: string;
  /** The option it is about, where one is known. */
  readonly option?: string;
  /** When it happened (ms since the epoch). */
  readonly at: number;
}

// What an error says of where it came from; `stage` for a message without an error object.
export function failureOf(err: unknown, stage = 'internal', now = Date.now()): Failure {
  const message = err instanceof Error ? err.message : String(err);
  const base = { message, at: now };
  if (err instanceof LaunchError)
    return { ...base, stage: err.stage, ...(err.errnoCode !== undefined ? { errno: err.errnoCode } : {}) };
  if (err instanceof ConfigError)
    return { ...base, stage: 'config', file: err.file, ...(err.line !== undefined ? { line: err.line } : {}), ...(err.key !== undefined ? { option: err.key } : {}) };
  if (err instanceof PlanError)
    return { ...base, stage: 'plan', option: err.field, ...(err.file !== undefined ? { file: err.file } : {}), ...(err.line !== undefined ? { line: err.line } : {}) };
  if (err instanceof CgroupError)
    return { ...base, stage: 'cgroup', path: err.path, ...(err.errnoCode !== undefined ? { errno: err.errnoCode } : {}), ...(err.option !== undefined ? { option: err.option } : {}), ...(err.line !== undefined ? { line: err.line } : {}) };
  return { ...base, stage };
}
