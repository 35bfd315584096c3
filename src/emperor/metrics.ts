// Prometheus metrics of one emperor (emperor-metrics), through prom-client: one Registry per
// emperor, nothing in prom-client's global one. prom-client is loaded only when metrics are
// asked for (it costs ~90 ms at start-up).
//
// Per vassal (labels vassal, uid, source) the numbers are read at scrape time from the
// vassals' snapshots and their cgroups (psRecords, as `jailctl ps` reads them); what happens
// between scrapes (launches, failures, config seen → running) is counted as it happens
// (VassalEvents).
import type * as Prom from 'prom-client';
import type { SourceStatus } from '../monitors/types';
import { psRecords, type PsRecord } from './ps-records';
import type { Failure } from './failure';
import type { VassalSnapshot, VassalState } from './vassal-snapshot';

/** What a vassal tells the metrics as it happens. */
export interface VassalEvents {
  /** A jail of it was launched (the executor gave a pid). */
  launched(vassal: string): void;
  /** A launch (or the look at its file before one) failed at failure.stage. */
  failed(vassal: string, failure: Failure): void;
  /** It runs, `seconds` after its config was seen new (a file added or changed). */
  running(vassal: string, seconds: number): void;
}

const STATES: readonly VassalState[] = ['on-demand', 'spawning', 'running', 'reloading', 'stopping', 'respawn-wait', 'blacklisted', 'failed', 'stopped'];

/** Config seen → running, in seconds: a cold start is ~10 ms to seconds, an adoption less. */
const RUNNING_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The event-loop delay histogram's resolution: coarse, so an idle emperor wakes rarely. */
const EVENT_LOOP_PRECISION_MS = 500;

export interface MetricsFacts {
  readonly name: string;
  readonly version: string;
  snapshots(): VassalSnapshot[];
  sources(): SourceStatus[];
}

type Labels = { vassal: string; uid: string; source: string };

export class EmperorMetrics implements VassalEvents {
  readonly registry: Prom.Registry;
  private readonly launches: Prom.Counter;
  private readonly failures: Prom.Counter<'stage'>;
  private readonly toRunning: Prom.Histogram;
  /** The records of the scrape under way: read once, shared by every per-vassal metric. */
  private scrape: { records: PsRecord[]; snapshots: Map<string, VassalSnapshot> } | undefined;
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly facts: MetricsFacts) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require('prom-client') as typeof Prom;
    const registry = (this.registry = new prom.Registry());
    const registers = [registry];
    prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
    // prom-client names these gauges like counters (promtool's lint says so): left out.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
    new prom.Gauge({ name: 'jailctl_emperor_info', help: 'This emperor: its name and version (always 1).', labelNames: ['emperor', 'version'], registers })
      .set({ emperor: facts.name, version: facts.version }, 1);
    this.launches = new prom.Counter({ name: 'jailctl_emperor_launches_total', help: 'Jails launched (the executor gave a pid).', registers });
    this.failures = new prom.Counter({ name: 'jailctl_emperor_launch_failures_total', help: 'Launches that failed, by stage (config, plan, cgroup, source, an executor stage such as mount or exec).', labelNames: ['stage'], registers });
    this.toRunning = new prom.Histogram({ name: 'jailctl_emperor_config_to_running_seconds', help: 'From a vassal config seen new (added or changed) to its jail running.', buckets: RUNNING_BUCKETS, registers });
    const records = (): PsRecord[] => this.scrape?.records ?? [];
    new prom.Gauge({
      name: 'jailctl_emperor_vassals', help: 'Vassals by state.', labelNames: ['state'], registers,
      collect() {
        this.reset();
        for (const state of STATES) this.set({ state }, 0);
        for (const r of records()) this.inc({ state: r.state });
      },
    });
    new prom.Gauge({
      name: 'jailctl_emperor_blacklisted', help: 'Vassals on the blacklist (died before they were loyal; waiting longer before each attempt).', registers,
      collect() { this.set(records().filter((r) => r.state === 'blacklisted').length); },
    });
    new prom.Gauge({
      name: 'jailctl_emperor_source_up', help: 'Whether each vassal source is up (0: a database down, or an empty answer held).', labelNames: ['source', 'state'], registers,
      collect() {
        this.reset();
        for (const s of facts.sources()) this.set({ source: s.spec, state: s.state }, s.state === 'up' ? 1 : 0);
      },
    });
    this.perVassal(prom, registers);
  }

  // One metric per figure of a vassal; `value` undefined leaves that vassal's series out.
  private perVassal(prom: typeof Prom, registers: Prom.Registry[]): void {
    const labelNames = ['vassal', 'uid', 'source'] as const;
    const labels = (r: PsRecord): Labels => ({ vassal: r.name, uid: r.uid === null ? '' : String(r.uid), source: this.scrape?.snapshots.get(r.name)?.source.monitor ?? '' });
    const rows = (): PsRecord[] => this.scrape?.records ?? [];
    new prom.Gauge({
      name: 'jailctl_vassal_state', help: 'The vassal\'s current state (1, with the state as a label).', labelNames: [...labelNames, 'state'], registers,
      collect() {
        this.reset();
        for (const r of rows()) this.set({ ...labels(r), state: r.state }, 1);
      },
    });
    const each = (kind: 'gauge' | 'counter', name: string, help: string, value: (r: PsRecord, s: VassalSnapshot | undefined) => number | undefined): void => {
      const scrape = (): Array<[Labels, number]> => {
        const out: Array<[Labels, number]> = [];
        for (const r of rows()) {
          const v = value(r, this.scrape?.snapshots.get(r.name));
          if (v !== undefined && Number.isFinite(v)) out.push([labels(r), v]);
        }
        return out;
      };
      if (kind === 'gauge')
        new prom.Gauge({ name, help, labelNames, registers, collect() { this.reset(); for (const [l, v] of scrape()) this.set(l, v); } });
      else new prom.Counter({ name, help, labelNames, registers, collect() { this.reset(); for (const [l, v] of scrape()) this.inc(l, v); } });
    };
    each('counter', 'jailctl_vassal_restarts_total', 'New jails for this vassal after its first (respawns, reloads that needed a new jail, blacklist attempts).', (r) => r.restarts);
    each('counter', 'jailctl_vassal_respawns_total', 'Respawns and reloads, as uWSGI\'s stats count them.', (_r, s) => s?.respawns);
    each('gauge', 'jailctl_vassal_loyal', 'Whether the vassal is loyal (spoke the protocol, or lived vassal-loyal-after seconds).', (r) => Number(r.loyal));
    each('gauge', 'jailctl_vassal_on_demand', 'Whether the emperor holds an on-demand socket for it.', (r) => Number(r.onDemand !== null));
    each('gauge', 'jailctl_vassal_adopted', 'Whether its jail is adopted from a fork-server base.', (r) => Number(r.adopted));
    each('gauge', 'jailctl_vassal_last_exit_code', 'The exit status of its last jail (absent when it was killed by a signal, or never exited).', (_r, s) => s?.exit?.code ?? undefined);
    each('gauge', 'jailctl_vassal_last_exit_signal', 'The signal that killed its last jail (absent when it exited).', (_r, s) => s?.exit?.signal ?? undefined);
    each('gauge', 'jailctl_vassal_memory_bytes', 'Memory charged to its cgroup now (page cache included).', (r) => (r.pid > 0 ? r.memoryBytes : undefined));
    each('gauge', 'jailctl_vassal_memory_max_bytes', 'Its cgroup\'s memory-max.', (r) => r.limits.memoryMax);
    each('counter', 'jailctl_vassal_cpu_seconds_total', 'CPU time of its current jail (every process that ran in it).', (r) => (r.pid > 0 ? r.cpuSeconds : undefined));
    each('gauge', 'jailctl_vassal_processes', 'Processes in its jail now.', (r) => (r.pid > 0 ? r.processes : undefined));
    each('counter', 'jailctl_vassal_oom_kills_total', 'Processes of its current jail the OOM killer took.', (r) => (r.pid > 0 ? r.oomKills : undefined));
    for (const resource of ['cpu', 'memory', 'io'] as const)
      each('gauge', `jailctl_vassal_${resource}_pressure_ratio`, `PSI of its cgroup: the share of the last 10 s some task waited for ${resource} (some avg10).`, (r) => (r.pressure?.[resource] === undefined ? undefined : r.pressure[resource]! / 100));
  }

  launched(): void { this.launches.inc(); }
  failed(_vassal: string, failure: Failure): void { this.failures.inc({ stage: failure.stage }); }
  running(_vassal: string, seconds: number): void { this.toRunning.observe(seconds); }

  get contentType(): string { return this.registry.contentType; }

  // The text format, one scrape at a time (the records of the one under way are shared by
  // every per-vassal metric's collect).
  text(): Promise<string> {
    const next = this.last.then(() => this.scrapeNow());
    this.last = next.then(() => undefined, () => undefined);
    return next;
  }

  // Every vassal's records read once for this scrape.
  private async scrapeNow(): Promise<string> {
    const snapshots = this.facts.snapshots();
    this.scrape = { records: psRecords(snapshots), snapshots: new Map(snapshots.map((s) => [s.name, s])) };
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = undefined;
    }
  }
}
