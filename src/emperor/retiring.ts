// The old instance of a vassal during a rolling re-adoption (a code deploy): it keeps
// serving on the held socket until the new instance accepts, then gets byte 2 (graceful
// stop: it finishes what it is serving and leaves), and the whole jail is SIGKILLed if it
// is still there after emperor-curse-tolerance. Its own cgroup goes with it; the new
// instance is in the other one (vassal-launch.ts openCgroup, slot).
import type { Jail } from '../jail/launch';
import type { JailLink } from './jail-link';
import { TO_VASSAL } from './protocol';

export class Retiring {
  private timer: NodeJS.Timeout | undefined;
  private asked = false;

  constructor(readonly jail: Jail, readonly link: JailLink, private readonly log: (line: string) => void, private readonly curseMs: number) {
    void jail.exited.then((exit) => {
      if (this.timer) clearTimeout(this.timer);
      link.close();
      this.log(`old instance (pid ${jail.pid}) ${exit.signal !== null ? `killed by signal ${exit.signal}` : `exited with status ${exit.code}`}`);
    });
  }

  get retired(): boolean {
    return this.asked;
  }

  // The new instance accepts: this one may go.
  retire(): void {
    if (this.asked) return;
    this.asked = true;
    if (!this.link.send(TO_VASSAL.GRACEFUL_STOP)) this.jail.signal('SIGTERM');
    this.timer = setTimeout(() => {
      this.log(`old instance (pid ${this.jail.pid}) still there after ${this.curseMs / 1000} s; SIGKILL to its whole jail`);
      this.jail.signal('SIGKILL');
    }, this.curseMs);
  }
}
