// Launching a jail blocks the event loop for a few milliseconds (the clone waits for the
// helper's exec; 3-8 ms on a busy host). Three hundred of them in one turn, when every vassal
// restarts at once, kept `ps`, signals and reaping waiting for seconds. Every launch of the
// emperor goes through one queue instead, and a turn of the event loop runs launches only
// for about TURN_BUDGET_MS: the rest wait for the next turn, after whatever else is ready.

/** Launch time per turn of the event loop (at least one launch runs per turn). */
const TURN_BUDGET_MS = 10;

export class LaunchQueue {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  // `onError`: what a launch threw (an internal error: one vassal's trouble, not the emperor's).
  constructor(private readonly onError: (err: unknown) => void) {}

  // Runs `launch` in a later turn, in order.
  run(launch: () => void): void {
    this.queue.push(launch);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  get length(): number {
    return this.queue.length;
  }

  private drain(): void {
    const start = Date.now();
    do {
      const launch = this.queue.shift()!;
      try {
        launch();
      } catch (err: unknown) {
        this.onError(err);
      }
    } while (this.queue.length > 0 && Date.now() - start < TURN_BUDGET_MS);
    if (this.queue.length > 0) setImmediate(() => this.drain());
    else this.scheduled = false;
  }
}
