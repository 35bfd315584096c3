// An adopted vassal (one JailSource): forked from its fork-server base with the app already
// loaded, then jailed in C by the same executor (jail_apply). Waits for the base to be up;
// a base that dies under the request is waited for again, a base that misbehaves fails this
// adoption only. The jail is then supervised like a spawned one (src/jail/launch.ts).
import { closeSync } from 'node:fs';
import { isJailError, JailError } from '../errors';
import { binding } from '../native/binding';
import { readStatusRecords, superviseJail } from '../jail/launch';
import { closeLaunchFds } from '../jail/cgroup';
import type { VassalSource } from '../monitors/types';
import { serializeAdoptionPlan } from '../plan/serialize';
import type { CgroupFds, LaunchPlan } from '../plan/types';
import { AdoptError, requestAdoption } from './adopt';
import type { ForkRole } from './fork-rules';
import { BaseDownError, type ForkBases } from './fork-bases';
import type { HeldSocket } from './held-socket';
import type { JailSource } from './jail-source';
import type { VassalBuild } from './vassal-config';
import { dryBuildVassal, launched, openCgroup, prepareJail, type BuildEnv, type VassalLaunch } from './vassal-launch';

/** What an adoption needs of the emperor besides a build's. */
export interface AdoptEnv extends BuildEnv {
  readonly bases: ForkBases;
}

/** Options of one start: `slot` 1 puts the jail in the cgroup beside the usual one (a
 *  rolling re-adoption next to a running instance). */
export interface AdoptStart {
  readonly slot?: 0 | 1;
}

export class AdoptSource implements JailSource {
  readonly mode = 'adopted';
  /** The base instance (ForkBases) its running jail was forked from, and the cgroup slot it
   *  is in: a rolling re-adoption goes from a newer instance into the other slot. */
  adoptedFrom = 0;
  slot: 0 | 1 = 0;
  constructor(
    private readonly env: AdoptEnv,
    private readonly name: string,
    readonly fork: Extract<ForkRole, { kind: 'adopted' }>,
    readonly held: HeldSocket | undefined,
    readonly onDemand: boolean,
  ) {}

  check(source: VassalSource): VassalBuild {
    return dryBuildVassal(source, this.env, this.held);
  }

  // Waits for the base, then asks it; a base that went away meanwhile is waited for again.
  async start(source: VassalSource, abort: AbortSignal, opts: AdoptStart = {}): Promise<VassalLaunch> {
    const timeoutMs = this.env.options.forkServerTimeout * 1000;
    // A request under which the base dies again and again may be what kills it: given up
    // after the third, so that one vassal cannot keep every base instance (and every
    // re-adoption from it) going round.
    for (let gone = 0; ; gone++) {
      try {
        await this.env.bases.waitFor(this.fork.server, this.name, timeoutMs, abort);
      } catch (err: unknown) {
        if (!(err instanceof BaseDownError)) throw err;
        return this.failed(source, new AdoptError('connect', err.message, true));
      }
      if (abort.aborted) return this.failed(source, new AdoptError('connect', 'the adoption was cancelled', false));
      // A respawn stays in the slot of the instance that ended (during a roll, the old
      // instance still serves from the other one, whose cgroup it must not share).
      const result = await this.once(source, opts.slot ?? this.slot);
      if (result.kind === 'retry') {
        if (gone >= 2) return this.failed(source, new AdoptError('reply', `${result.error.message}; the base went down under this vassal's request 3 times in a row: given up (touch the file to try again)`, false));
        this.env.log(`${this.name}: ${result.error.message}; waiting for the next base`);
        continue;
      }
      return result;
    }
  }

  private failed(source: VassalSource, error: JailError): VassalLaunch {
    let build: VassalBuild;
    try {
      build = this.check(source);
    } catch (err: unknown) {
      if (!isJailError(err)) throw err;
      return { kind: 'config-error', error: err };
    }
    return { kind: 'launch-error', build, error };
  }

  // After `pid 0`: the failure record that says why, or an error when there is none in time.
  private async failureRecord(plan: LaunchPlan, conn: number, baseName: string): Promise<JailError> {
    const timeoutS = this.env.options.forkServerTimeout;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new AdoptError('reply', `not adopted (stage reply): base ${baseName} forked nothing and sent no failure record within ${timeoutS} s of its pid packet; its connection is closed`, false)), timeoutS * 1000);
    try {
      return await readStatusRecords(plan, conn, Promise.resolve({ code: null, signal: null }), deadline.signal).then(
        () => new AdoptError('reply', `not adopted: base ${baseName} forked nothing, yet reported success`, false),
        (err: JailError) => err,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  // One request to the base that is up now.
  private async once(source: VassalSource, slot: 0 | 1): Promise<VassalLaunch | { kind: 'retry'; error: AdoptError }> {
    const base = this.env.bases.current(this.fork.server);
    if (!base?.accepting) return { kind: 'retry', error: new AdoptError('connect', 'the base went down', true) };
    const prepared = prepareJail(source, this.env, this.held);
    if ('kind' in prepared) return prepared;
    const { build } = prepared;
    let cgroupFds: CgroupFds | undefined;
    // The held socket as an fd of this request's own: the vassal may close its socket while
    // the request waits (a stop, a new address), and that number could then be another
    // vassal's fd by the time it is sent.
    let socket: number | undefined;
    let cgroup: ReturnType<typeof openCgroup>['cgroup'];
    try {
      if (this.held) socket = binding.dupFd(this.held.fd);
      const opened = openCgroup(this.env, this.name, build.plan, slot);
      cgroup = opened.cgroup;
      cgroupFds = opened.fds;
      const plan = cgroupFds ? { ...build.plan, cgroup: cgroupFds } : build.plan;
      const wire = serializeAdoptionPlan(plan, { emperor: prepared.theirs.emperor, config: prepared.theirs.config, ...(socket !== undefined ? { socket } : {}) });
      const adopted = await requestAdoption({
        vassal: this.name,
        base: { name: base.name, pid: base.pid, socket: this.fork.server },
        argv: plan.program.argv,
        plan: wire.bytes,
        fds: wire.fds,
        mask: wire.mask,
        configFd: prepared.fds.config,
        timeoutMs: this.env.options.forkServerTimeout * 1000,
      });
      if (adopted.pid === 0) {
        // Nothing was forked: the records say at which stage it failed, within the same
        // deadline as the pid packet (a base that goes silent now must not keep this start
        // pending and its connection open).
        const error = await this.failureRecord(plan, adopted.conn, base.name);
        prepared.closeAll();
        return { kind: 'launch-error', build, error };
      }
      const jail = superviseJail(plan, { pid: adopted.pid, pidfd: adopted.pidfd, statusFd: adopted.conn }, { adopted: true, ...(cgroup ? { cgroup } : {}), log: this.env.log });
      this.adoptedFrom = base.instance;
      this.slot = slot;
      return launched(prepared, jail);
    } catch (err: unknown) {
      prepared.closeAll();
      if (err instanceof AdoptError && err.baseGone) return { kind: 'retry', error: err };
      if (!isJailError(err)) throw err;
      return { kind: 'launch-error', build, error: err };
    } finally {
      if (cgroupFds) closeLaunchFds(cgroupFds);
      if (socket !== undefined) closeSync(socket);
    }
  }
}

