// The fork-server bases of one emperor (no global state: the Emperor owns one ForkBases):
// which base vassal serves which socket, whether it is up, and who waits for it.
//
// A base is `loading` from its start until it sends byte 5 (accepting), then `accepting`;
// when its jail exits it is gone from here until its next start. An adoption waits for
// `accepting`: no failed first attempt, no spacing. Only the time a base is down (dead,
// throttled, failed, or never declared) counts against emperor-fork-server-timeout; one
// that is loading its app is waited for.

export interface BaseInstance {
  /** The base vassal's name. */
  readonly name: string;
  /** Its jail's top process: the peer an adoption's connection must have. */
  readonly pid: number;
  /** Counts its starts: a new instance (after a touch, or a crash) has a higher one. */
  readonly instance: number;
  readonly accepting: boolean;
}

interface Waiter {
  readonly vassal: string;
  readonly resolve: (base: BaseInstance) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  readonly timeoutMs: number;
}

/** Vassals re-adopted from a new instance of one base at once (a rolling deploy, a few at
 *  a time: each forks from the base and starts its workers while the old instance serves). */
const ROLL_AT_ONCE = 4;

/** The rolling re-adoptions from one base: the next one per vassal (a newer task of the same
 *  vassal replaces its waiting one), and how many run now. */
interface RollQueue {
  readonly waiting: Map<string, () => Promise<void>>;
  running: number;
}

/** Why an adoption gave up on its base (the vassal's message says it). */
export class BaseDownError extends Error {}

export class ForkBases {
  private readonly up = new Map<string, BaseInstance>();
  /** The base vassal last seen serving each socket (named in the messages once it is down). */
  private readonly names = new Map<string, string>();
  private readonly lastExit = new Map<string, string>();
  private readonly waiting = new Map<string, Set<Waiter>>();
  private readonly renewed = new Map<string, Set<(base: BaseInstance) => void>>();
  private starts = 0;
  /** Rolling re-adoptions, per fork-server socket: one base's deploy does not wait for another's. */
  private readonly rolls = new Map<string, RollQueue>();

  constructor(private readonly log: (line: string) => void) {}

  // The base vassal `name` started a jail (pid) that will serve `socket`.
  loading(socket: string, name: string, pid: number): void {
    const other = this.names.get(socket);
    if (other !== undefined && other !== name) this.log(`${name}: serves the fork server ${socket}, which ${other} served; adoptions go to ${name} now`);
    this.names.set(socket, name);
    this.up.set(socket, { name, pid, instance: ++this.starts, accepting: false });
    for (const w of this.waiting.get(socket) ?? []) this.disarm(w);
  }

  // It sent byte 5: adoptions go ahead. A later instance than the last accepting one is a
  // new base (touched, or respawned): its vassals are re-adopted from it (rolling deploy).
  accepting(socket: string, pid: number): void {
    const base = this.up.get(socket);
    if (!base || base.pid !== pid || base.accepting) return;
    const now = { ...base, accepting: true };
    this.up.set(socket, now);
    const waiters = this.waiting.get(socket);
    this.waiting.delete(socket);
    for (const w of waiters ?? []) {
      this.disarm(w);
      w.resolve(now);
    }
    for (const f of this.renewed.get(socket) ?? []) f(now);
  }

  // Its jail exited: pending adoptions wait for the next one, their timers running again.
  down(socket: string, pid: number, why: string): void {
    if (this.up.get(socket)?.pid !== pid) return;
    this.up.delete(socket);
    this.lastExit.set(socket, why);
    for (const w of this.waiting.get(socket) ?? []) this.arm(socket, w);
  }

  current(socket: string): BaseInstance | undefined {
    return this.up.get(socket);
  }

  // Resolves with the accepting base of `socket`; rejects once it has been down for
  // `timeoutMs` in a row, or at `abort`.
  waitFor(socket: string, vassal: string, timeoutMs: number, abort: AbortSignal): Promise<BaseInstance> {
    const base = this.up.get(socket);
    if (base?.accepting) return Promise.resolve(base);
    return new Promise<BaseInstance>((resolve, reject) => {
      const set = this.waiting.get(socket) ?? new Set<Waiter>();
      this.waiting.set(socket, set);
      const w: Waiter = { vassal, resolve, reject, timer: undefined, timeoutMs };
      set.add(w);
      if (!base) this.arm(socket, w);
      abort.addEventListener('abort', () => {
        this.disarm(w);
        set.delete(w);
        reject(new BaseDownError('the adoption was cancelled'));
      }, { once: true });
    });
  }

  // Calls `f` whenever a new instance of the base of `socket` starts accepting; returns the
  // function that stops it.
  onRenewed(socket: string, f: (base: BaseInstance) => void): () => void {
    const set = this.renewed.get(socket) ?? new Set();
    this.renewed.set(socket, set);
    set.add(f);
    return () => set.delete(f);
  }

  // Runs `task` (vassal's re-adoption from a new instance of the base of `socket`) once
  // fewer than ROLL_AT_ONCE of that base's run. A vassal has at most one waiting: a newer
  // task replaces it (the base was renewed again meanwhile: the older one is stale).
  roll(socket: string, vassal: string, task: () => Promise<void>): void {
    const q = this.rolls.get(socket) ?? { waiting: new Map<string, () => Promise<void>>(), running: 0 };
    this.rolls.set(socket, q);
    q.waiting.delete(vassal); // the newest goes to the back of the queue
    q.waiting.set(vassal, task);
    this.nextRoll(socket, q);
  }

  /** Re-adoptions waiting for their turn (all bases). */
  get rollsWaiting(): number {
    let n = 0;
    for (const q of this.rolls.values()) n += q.waiting.size;
    return n;
  }

  private nextRoll(socket: string, q: RollQueue): void {
    while (q.running < ROLL_AT_ONCE && q.waiting.size > 0) {
      const [vassal, task] = q.waiting.entries().next().value as [string, () => Promise<void>];
      q.waiting.delete(vassal);
      q.running++;
      void task()
        .catch((err: unknown) => this.log(`${vassal}: internal error in a rolling re-adoption: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
        .finally(() => {
          q.running--;
          if (q.running === 0 && q.waiting.size === 0) this.rolls.delete(socket);
          else this.nextRoll(socket, q);
        });
    }
  }

  // What waiting for it means now, for a message: who serves it and how it is.
  describe(socket: string): string {
    const name = this.names.get(socket);
    if (name === undefined) return `no base vassal serves the fork server ${socket} (a vassal-fork-base file whose fork-server is ${socket})`;
    const base = this.up.get(socket);
    if (!base) return `its base ${name} (fork server ${socket}) is down${this.lastExit.has(socket) ? ` (${this.lastExit.get(socket)})` : ''}`;
    return `its base ${name} (fork server ${socket}, pid ${base.pid}) is ${base.accepting ? 'accepting' : 'still loading its app'}`;
  }

  private arm(socket: string, w: Waiter): void {
    this.disarm(w);
    w.timer = setTimeout(() => {
      this.waiting.get(socket)?.delete(w);
      w.reject(new BaseDownError(`not adopted: ${this.describe(socket)} and stayed down for ${w.timeoutMs / 1000} s (emperor-fork-server-timeout)`));
    }, w.timeoutMs);
  }

  private disarm(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
  }
}
