// The blacklist: a vassal that dies before it is loyal waits longer before each new attempt.
// Pure arithmetic, so the policy can be read (and tested) apart from the timers.

export interface BlacklistEntry {
  /** Deaths before loyalty since the vassal was last loyal (or the blacklist was cleared). */
  readonly attempt: number;
  /** Milliseconds to wait before the next attempt. */
  readonly throttleMs: number;
  /** When the first and the latest of those deaths happened (ms since the epoch). */
  readonly firstAttempt: number;
  readonly lastAttempt: number;
}

// One more death before loyalty: every death adds `throttle` ms, up to `maxThrottle`.
export function blacklistAfterDeath(
  entry: BlacklistEntry | undefined,
  now: number,
  throttle: number,
  maxThrottle: number,
): BlacklistEntry {
  const attempt = (entry?.attempt ?? 0) + 1;
  return {
    attempt,
    throttleMs: Math.min(attempt * throttle, maxThrottle),
    firstAttempt: entry?.firstAttempt ?? now,
    lastAttempt: now,
  };
}
