// What the emperor knows for its metrics, as data: counted as it happens (launches,
// failures, config seen → running) and taken from the vassals' snapshots at each scrape.
// The metrics exporter (metrics-exporter.ts, a process of its own) asks for these facts and
// does the costly part itself: reading every jail's cgroup files and formatting the text.
// The emperor's share of a scrape is one pass over its vassals and one JSON message.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { SourceStatus } from '../monitors/types';
import type { StatsSources } from '../jail/cgroup';
import type { Failure } from './failure';
import type { VassalSnapshot } from './vassal-snapshot';

/** What a vassal tells the metrics as it happens. */
export interface VassalEvents {
  /** A jail of it was launched (the executor gave a pid). */
  launched(vassal: string): void;
  /** A launch (or the look at its file before one) failed at failure.stage. */
  failed(vassal: string, failure: Failure): void;
  /** It runs, `seconds` after its config was seen new (a file added or changed). */
  running(vassal: string, seconds: number): void;
}

/** Config seen → running, in seconds: a cold start is ~10 ms to seconds, an adoption less. */
export const RUNNING_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The event-loop delay histogram's resolution: coarse, so an idle emperor wakes rarely. */
const EVENT_LOOP_RESOLUTION_MS = 500;

/** One vassal, as the exporter needs it. */
export interface VassalFacts {
  readonly name: string;
  readonly uid: number | null;
  readonly source: string;
  readonly state: string;
  readonly restarts: number;
  readonly respawns: number;
  readonly loyal: boolean;
  readonly onDemand: boolean;
  readonly adopted: boolean;
  readonly exitCode: number | null;
  readonly exitSignal: number | null;
  readonly memoryMax: number | null;
  /** Its jail's top process; 0 when none runs. */
  readonly pid: number;
  /** Its jail's cgroup files, while one runs (null: none, the exporter walks /proc for pid);
   *  'same': the files this exporter was told before for this vassal (most scrapes). */
  readonly cgroup: StatsSources | null | 'same';
}

export interface EmperorFacts {
  readonly name: string;
  readonly version: string;
  readonly pid: number;
  readonly launches: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Config seen → running: observations per bucket of RUNNING_BUCKETS (not cumulative), then +Inf. */
  readonly toRunning: { readonly counts: readonly number[]; readonly sum: number; readonly count: number };
  readonly sources: readonly SourceStatus[];
  /** The event loop's delay since the last scrape, in seconds (0 when no sample came). */
  readonly eventLoop: { readonly min: number; readonly max: number; readonly mean: number; readonly stddev: number; readonly p50: number; readonly p90: number; readonly p99: number };
  readonly heap: { readonly total: number; readonly used: number; readonly external: number };
}

export interface MetricsFacts {
  readonly emperor: EmperorFacts;
  readonly vassals: readonly VassalFacts[];
}

/** A vassal's facts as the IPC message carries them: a tuple (no keys: 1,000 of them go at
 *  each scrape, and JSON of objects is twice the size), flags loyal 1, on-demand 2, adopted 4. */
export type WireVassal = [name: string, uid: number | null, source: string, state: string, restarts: number, respawns: number, flags: number,
  exitCode: number | null, exitSignal: number | null, memoryMax: number | null, pid: number, cgroup: StatsSources | null | 'same'];

export interface WireFacts {
  readonly emperor: EmperorFacts;
  readonly vassals: readonly WireVassal[];
}

// `told`: the cgroup files this exporter has been given already (kept per exporter process).
export function wireVassal(s: VassalSnapshot, told: WeakSet<StatsSources>): WireVassal {
  const files = s.pid > 0 ? s.cgroupFiles : undefined;
  let cgroup: VassalFacts['cgroup'] = null;
  if (files && told.has(files)) cgroup = 'same';
  else if (files) {
    told.add(files);
    cgroup = files;
  }
  const flags = (s.loyal ? 1 : 0) | (s.onDemand !== undefined ? 2 : 0) | (s.mode === 'adopted' ? 4 : 0);
  return [s.name, s.uid ?? null, s.source.monitor, s.state, s.restarts, s.respawns, flags, s.exit?.code ?? null, s.exit?.signal ?? null, s.limits?.memoryMax?.value ?? null, s.pid, cgroup];
}

/** The exporter's side: the facts of the message. */
export function fromWire(w: WireFacts): MetricsFacts {
  return {
    emperor: w.emperor,
    vassals: w.vassals.map(([name, uid, source, state, restarts, respawns, flags, exitCode, exitSignal, memoryMax, pid, cgroup]) => ({
      name, uid, source, state, restarts, respawns, loyal: (flags & 1) !== 0, onDemand: (flags & 2) !== 0, adopted: (flags & 4) !== 0, exitCode, exitSignal, memoryMax, pid, cgroup,
    })),
  };
}

/** The counts of one emperor (one per emperor: no module state). */
export class MetricsCounters implements VassalEvents {
  private launches = 0;
  private readonly failures: Record<string, number> = {};
  private readonly toRunning = { counts: new Array<number>(RUNNING_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
  private readonly delay: IntervalHistogram;

  constructor(private readonly who: { readonly name: string; readonly version: string }) {
    this.delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.delay.enable();
  }

  launched(): void {
    this.launches += 1;
  }

  failed(_vassal: string, failure: Failure): void {
    this.failures[failure.stage] = (this.failures[failure.stage] ?? 0) + 1;
  }

  running(_vassal: string, seconds: number): void {
    const i = RUNNING_BUCKETS.findIndex((le) => seconds <= le);
    this.toRunning.counts[i < 0 ? RUNNING_BUCKETS.length : i]! += 1;
    this.toRunning.sum += seconds;
    this.toRunning.count += 1;
  }

  /** The facts of a scrape now; the event-loop delay starts again from here. */
  facts(snapshots: readonly VassalSnapshot[], sources: readonly SourceStatus[], told: WeakSet<StatsSources>): WireFacts {
    const d = this.delay;
    const s = (ns: number): number => ns / 1e9;
    // No sample since the last scrape (they come every EVENT_LOOP_RESOLUTION_MS): no delay seen.
    const eventLoop = d.count > 0 ? { min: s(d.min), max: s(d.max), mean: s(d.mean), stddev: s(d.stddev), p50: s(d.percentile(50)), p90: s(d.percentile(90)), p99: s(d.percentile(99)) } : { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    d.reset();
    const heap = process.memoryUsage();
    return {
      emperor: {
        name: this.who.name,
        version: this.who.version,
        pid: process.pid,
        launches: this.launches,
        failures: { ...this.failures },
        toRunning: { counts: [...this.toRunning.counts], sum: this.toRunning.sum, count: this.toRunning.count },
        sources,
        eventLoop,
        heap: { total: heap.heapTotal, used: heap.heapUsed, external: heap.external },
      },
      vassals: snapshots.map((v) => wireVassal(v, told)),
    };
  }

  close(): void {
    this.delay.disable();
  }
}
