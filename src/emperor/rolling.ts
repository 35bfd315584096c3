// A rolling re-adoption (a code deploy): the base of an adopted vassal has a new instance,
// so a new jail is adopted from it onto the same held socket, in the vassal's other cgroup,
// while the old one serves on; the old one retires (retiring.ts) once the new one accepts.
// A few vassals at a time per base, one waiting roll per vassal (ForkBases.roll). The state
// machine lends what it needs.
import type { Jail } from '../jail/launch';
import type { VassalSource } from '../monitors/types';
import type { AdoptSource } from './adopt-source';
import type { BaseInstance, ForkBases } from './fork-bases';
import type { JailLink } from './jail-link';
import { Retiring } from './retiring';
import { discard, type VassalLaunch } from './vassal-launch';

export interface RollingHost {
  readonly name: string;
  readonly bases: ForkBases;
  readonly curseMs: number;
  /** How long the new instance may take to accept before it is given up (killed: the old
   *  instance serves on, as when it dies first). */
  readonly handOverMs: number;
  log(line: string): void;
  /** The running instance to hand over from, when a hand-over may start now. */
  current(): { readonly jail: Jail; readonly link: JailLink; readonly generation: number; readonly source: VassalSource } | undefined;
  /** Nothing changed since `generation` (no stop, no new file) and `old` is still its jail. */
  unchanged(generation: number, old: Jail): boolean;
  /** `next` becomes its jail; `old` serves until `next` accepts. */
  swap(next: Extract<VassalLaunch, { kind: 'launched' }>, old: Retiring): void;
}

export function rollOver(host: RollingHost, origin: AdoptSource, base: BaseInstance): void {
  if (origin.adoptedFrom >= base.instance) return;
  const socket = origin.fork.server;
  host.bases.roll(socket, host.name, async () => {
    // Stale: the base went down, or a newer instance came (and queued its own roll).
    if (host.bases.current(socket)?.instance !== base.instance) return;
    if (origin.adoptedFrom >= base.instance) return; // adopted from it meanwhile (a respawn)
    const now = host.current();
    if (!now) return; // not running now: its next start adopts from the new base anyway
    host.log(`${host.name}: its base ${base.name} is a new instance (pid ${base.pid}): re-adopting from it`);
    const next = await origin.start(now.source, new AbortController().signal, { slot: origin.slot === 0 ? 1 : 0 });
    if (!host.unchanged(now.generation, now.jail)) return discard(next);
    if (next.kind !== 'launched') return host.log(`${host.name}: re-adoption failed (${next.error.message}); the old instance serves on`);
    const old = new Retiring(now.jail, now.link, (line) => host.log(`${host.name}: ${line}`), host.curseMs);
    host.swap(next, old);
    // Two instances must not stay for good: a new one that never accepts is given up.
    const handOver = setTimeout(() => {
      if (old.retired || !next.jail.signal('SIGKILL')) return;
      host.log(`${host.name}: the new instance (pid ${next.jail.pid}) did not accept within ${host.handOverMs / 1000} s; killed, the old one serves on`);
    }, host.handOverMs);
    handOver.unref();
    void old.jail.exited.then(() => clearTimeout(handOver));
  });
}
