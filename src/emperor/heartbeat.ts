// The heartbeat watch of one jail. After its first heartbeat, a vassal silent for
// emperor-required-heartbeat seconds is hung: it is asked to reload gracefully first (byte 1,
// as the reference docs promise: in-flight requests finish); only if it is still silent
// reload-mercy seconds later is the whole jail killed (and respawned by the exit policy).

export interface HeartbeatTarget {
  readonly name: string;
  readonly requiredS: number;
  readonly mercyS: number;
  log(line: string): void;
  /** Sends the reload byte; false when the pipe is gone. */
  reload(): boolean;
  /** SIGKILL to the whole jail. */
  kill(): void;
}

export class HeartbeatWatch {
  private timer: NodeJS.Timeout | undefined;
  /** The reload byte went out for this silence. */
  private asked = false;

  constructor(private readonly t: HeartbeatTarget) {}

  /** It is hung now (a reload asked, or a kill sent): for the exit policy. */
  get hung(): boolean {
    return this.asked;
  }

  // A heartbeat: the silence ends (after a reload byte too), the wait starts again.
  beat(): void {
    if (this.timer && !this.asked) {
      this.timer.refresh();
      return;
    }
    this.asked = false;
    this.arm(this.t.requiredS);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(seconds: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.silent(), seconds * 1000);
  }

  private silent(): void {
    const { name, requiredS, mercyS } = this.t;
    if (!this.asked && this.t.reload()) {
      this.asked = true;
      this.t.log(`${name}: no heartbeat for ${requiredS} s: hung; reload byte sent, the whole jail is killed if it is still silent in ${mercyS} s (reload-mercy)`);
      this.arm(mercyS);
      return;
    }
    const after = this.asked ? ` and ${mercyS} s more after the reload byte` : '';
    this.asked = true;
    this.timer = undefined;
    this.t.log(`${name}: no heartbeat for ${requiredS} s${after}: hung; killing the whole jail`);
    this.t.kill();
  }
}
