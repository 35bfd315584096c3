// Every launch of the emperor goes through one queue: boot-storm control.
//
// In flight: a spawned jail from its clone until its vassal's exec (namespaces, mounts, root
// hooks, credentials: the work that loads the box), an adoption until its request is made
// (waiting for a base holds no place: the base itself may wait for one). At most
// `maxInFlight` launches are in flight; the rest wait in order, and each exec lets the next
// one go. A thousand files at boot, or every vassal restarting at once, so never fork a
// thousand jail set-ups at the same moment, and the event loop (ps, signals, reaping) gets
// a turn between them. Launching also blocks the event loop for a few milliseconds (the
// clone waits for the helper's exec): a turn starts new launches for about TURN_BUDGET_MS.
//
// uWSGI's spawn throttle (emperor-spawn-throttle = MS, off by default): whenever a launch
// begins within a second of the one before, the throttle level grows by MS (up to
// emperor-max-throttle) and the next launch waits that long; a launch that did not come
// within that second halves the level. With MS = 1000 that is uWSGI's emperor-throttle,
// about one vassal a second in a storm: a choice, never the default.

import { availableParallelism } from 'node:os';

/** Launch time per turn of the event loop (at least one launch begins per turn). */
const TURN_BUDGET_MS = 10;
/** uWSGI's "spawned in the same second". */
const SAME_SECOND_MS = 1000;

/** emperor-max-launches' default: 16 per CPU, at least 64. On the 2-core development VM 8
 *  slowed the boot of 1,000 vassals by a fifth or more and 32 by about a tenth (a launch stays
 *  in flight until the event loop reads its exec); 64 was as fast as no bound, in noise. */
export function defaultMaxLaunches(): number {
  return Math.max(64, 16 * availableParallelism());
}

export interface LaunchLimits {
  /** Launches in flight at once (emperor-max-launches). */
  readonly maxInFlight: number;
  /** uWSGI's spawn throttle delta in ms (emperor-spawn-throttle); 0: off. */
  readonly spawnThrottle: number;
  /** The longest spawn-throttle wait (emperor-max-throttle). */
  readonly maxThrottle: number;
}

/** Begins one launch; a promise it returns keeps it in flight until it settles. */
export type Launch = () => unknown;

export class LaunchQueue {
  private readonly queue: Launch[] = [];
  private scheduled = false;
  private inFlight = 0;
  /** The most in flight in the current storm (said once it is over). */
  private storm = { launches: 0, peak: 0, full: false };
  /** The spawn throttle: its level (ms), when the last launch began, the next may begin. */
  private level = 0;
  private lastBegun = -Infinity;
  private notBefore = 0;
  private wait: NodeJS.Timeout | undefined;

  // `onError`: what a launch threw (an internal error: one vassal's trouble, not the emperor's).
  constructor(
    private readonly onError: (err: unknown) => void,
    private readonly limits: LaunchLimits = { maxInFlight: Infinity, spawnThrottle: 0, maxThrottle: 0 },
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  // Runs `launch` in a later turn, in order, once a place in flight is free.
  run(launch: Launch): void {
    this.queue.push(launch);
    this.kick();
  }

  /** Launches waiting for their turn. */
  get length(): number {
    return this.queue.length;
  }

  /** Launches begun whose jail has not exec'd yet. */
  get launching(): number {
    return this.inFlight;
  }

  /** The spawn throttle's level (ms): uWSGI's emperor throttle_level. */
  get throttleMs(): number {
    return this.level;
  }

  close(): void {
    clearTimeout(this.wait);
    this.wait = undefined;
    this.queue.length = 0;
  }

  private kick(): void {
    if (this.scheduled || this.wait || this.queue.length === 0 || this.inFlight >= this.limits.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const start = Date.now();
    while (this.queue.length > 0) {
      if (this.inFlight >= this.limits.maxInFlight) {
        if (!this.storm.full) this.log(`${this.inFlight} launches in flight (emperor-max-launches): ${this.queue.length} wait for an exec`);
        this.storm.full = true;
        return;
      }
      const now = Date.now();
      if (now < this.notBefore) {
        this.wait = setTimeout(() => {
          this.wait = undefined;
          this.kick();
        }, this.notBefore - now);
        return;
      }
      if (now - start >= TURN_BUDGET_MS) break;
      this.begin(this.queue.shift()!, now);
    }
    this.kick();
  }

  private begin(launch: Launch, now: number): void {
    this.throttle(now);
    this.inFlight++;
    this.storm.launches++;
    this.storm.peak = Math.max(this.storm.peak, this.inFlight);
    let running: unknown;
    try {
      running = launch();
    } catch (err: unknown) {
      this.onError(err);
    }
    if (running instanceof Promise) void running.then(() => this.landed(), () => this.landed());
    else this.landed();
  }

  private landed(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.queue.length === 0 && this.storm.full) {
      this.log(`launch storm over: ${this.storm.launches} launches, at most ${this.storm.peak} in flight at once`);
    }
    if (this.inFlight === 0 && this.queue.length === 0) this.storm = { launches: 0, peak: 0, full: false };
    this.kick();
  }

  // uWSGI's rule, when emperor-spawn-throttle is set.
  private throttle(now: number): void {
    const delta = this.limits.spawnThrottle;
    if (delta <= 0) return;
    const before = this.level;
    this.level = now - this.lastBegun < SAME_SECOND_MS ? Math.min(this.level + delta, this.limits.maxThrottle) : Math.floor(this.level / 2);
    this.lastBegun = now;
    this.notBefore = now + this.level;
    if (before === 0 && this.level > 0) this.log(`launches within a second of each other: throttling them (emperor-spawn-throttle ${delta} ms, at most emperor-max-throttle ${this.limits.maxThrottle} ms)`);
    else if (before > 0 && this.level === 0) this.log('spawn throttle off: launches go at once again');
  }
}
