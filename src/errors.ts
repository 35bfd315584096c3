// Typed errors shared by every layer: a stable code, the context a sysadmin needs, and the cause.

const kJailError = Symbol.for('jailctl.error');

export type JailErrorCode = 'JAIL_ERR_CONFIG' | 'JAIL_ERR_PLAN' | 'JAIL_ERR_LAUNCH' | 'JAIL_ERR_NATIVE' | 'JAIL_ERR_CGROUP';

// Base class: checked with isJailError(), which works across realms and copies of the module.
export class JailError extends Error {
  readonly code: JailErrorCode;
  constructor(code: JailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'JailError';
    Object.defineProperty(this, kJailError, { value: true });
  }
}

// True for every error this project throws on purpose.
export function isJailError(value: unknown): value is JailError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kJailError] === true;
}

// A vassal file cannot be read or parsed; names the file and, where known, the line and key.
export class ConfigError extends JailError {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  constructor(file: string, line: number | undefined, key: string | undefined, reason: string, options?: { cause?: unknown }) {
    super('JAIL_ERR_CONFIG', `${file}${line === undefined ? '' : `:${line}`}: ${reason}`, options);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
  }
}

// A config parsed but an option's value is unusable (unknown namespace, unknown user, …).
export class PlanError extends JailError {
  readonly vassal: string;
  readonly field: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  constructor(where: { vassal: string; field: string; file?: string; line?: number }, reason: string, options?: { cause?: unknown }) {
    const at = where.file === undefined ? '' : `${where.file}${where.line === undefined ? '' : `:${where.line}`}: `;
    super('JAIL_ERR_PLAN', `${at}${where.field}: ${reason}`, options);
    this.name = 'PlanError';
    this.vassal = where.vassal;
    this.field = where.field;
    this.file = where.file;
    this.line = where.line;
  }
}

// A jail could not be set up: which vassal, which stage, which errno, which item.
export class LaunchError extends JailError {
  readonly vassal: string;
  readonly stage: string;
  /** Positive errno, or 0 when the stage failed without one (a hook's exit status). */
  readonly errno: number;
  /** `EPERM`, or undefined when errno is 0. */
  readonly errnoCode: string | undefined;
  readonly item: number;
  /** The signal that killed the launch before its exec, if that is how it failed. */
  readonly signal: number | undefined;
  constructor(
    where: { vassal: string; stage: string; errno: number; errnoCode: string | undefined; item: number; signal?: number | undefined },
    message: string,
    options?: { cause?: unknown },
  ) {
    super('JAIL_ERR_LAUNCH', message, options);
    this.name = 'LaunchError';
    this.vassal = where.vassal;
    this.stage = where.stage;
    this.errno = where.errno;
    this.errnoCode = where.errnoCode;
    this.item = where.item;
    this.signal = where.signal;
  }
}

// A jail's cgroup could not be set up, limited, killed or removed: which file, which errno,
// and the vassal option (with its line) that asked for it, if one did.
export class CgroupError extends JailError {
  /** The cgroup file or directory the failing call was made on. */
  readonly path: string;
  /** `EACCES`, `EINVAL`, …; undefined when no system call failed (an unsupported limit). */
  readonly errnoCode: string | undefined;
  /** The vassal-facing option, e.g. `memory-max`, when a limit failed. */
  readonly option: string | undefined;
  readonly line: number | undefined;
  constructor(
    where: { path: string; errnoCode?: string | undefined; option?: string | undefined; line?: number | undefined },
    message: string,
    options?: { cause?: unknown },
  ) {
    super('JAIL_ERR_CGROUP', message, options);
    this.name = 'CgroupError';
    this.path = where.path;
    this.errnoCode = where.errnoCode;
    this.option = where.option;
    this.line = where.line;
  }
}
