// The Prometheus text of one emperor's metrics, through prom-client: one Registry per
// exporter, nothing in prom-client's global one. It runs in the metrics exporter
// (metrics-exporter.ts), from the emperor's facts (metrics-facts.ts) and what each jail uses
// now (read there from its cgroup files).
//
// The per-vassal metrics are prom-client metric objects of our own rather than Gauges: a
// Gauge hashes each series' labels on set() and the Registry escapes them again per series
// (~3.5 µs a series; 16,000 series for 1,000 vassals). Here each vassal's labels are one
// object kept across scrapes and given as the series' `sharedLabels`, which the Registry
// formats once per object (it caches them by identity). The text is still prom-client's.
import type * as Prom from 'prom-client';
import type { CgroupStats } from '../jail/cgroup';
import { RUNNING_BUCKETS, type EmperorFacts, type MetricsFacts, type VassalFacts } from './metrics-facts';

/** What a vassal's jail uses now, as the exporter read it (undefined: no jail, or unreadable). */
export type Usage = Pick<CgroupStats, 'memoryBytes' | 'cpuSeconds' | 'processes' | 'oomKills' | 'pressure'>;

/** One vassal of a scrape: its facts and its jail's usage. */
export interface VassalRow {
  readonly facts: VassalFacts;
  readonly usage: Usage | undefined;
}

/** The emperor's process as /proc shows it (the exporter reads it: a different process). */
export interface ProcessFigures {
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly startTime: number;
  readonly residentBytes: number;
  readonly virtualBytes: number;
  readonly openFds: number;
  readonly maxFds: number;
}

/** The exporter's own CPU and memory, so what a scrape costs the box stays visible. */
export interface ExporterFigures {
  readonly cpuSeconds: number;
  readonly residentBytes: number;
}

const STATES = ['on-demand', 'spawning', 'running', 'reloading', 'stopping', 'respawn-wait', 'blacklisted', 'failed', 'stopped'];

type Labels = { readonly vassal: string; readonly uid: string; readonly source: string; readonly state?: string };
/** A series as the Registry formats it (sharedLabels: see the head of this file). */
type Series = { labels: Readonly<Record<string, string>>; sharedLabels?: Labels; value: number; metricName?: string };
const NO_LABELS: Record<string, never> = Object.freeze({});

interface Scrape {
  readonly emperor: EmperorFacts;
  readonly rows: readonly VassalRow[];
  readonly process: ProcessFigures | undefined;
  readonly exporter: ExporterFigures;
}

export class MetricsRegistry {
  readonly registry: Prom.Registry;
  private scrape: Scrape | undefined;
  /** Each vassal's labels (and with its state) as the last scrape gave them: kept while unchanged. */
  private labels = new Map<string, { plain: Labels; withState: Labels }>();

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require('prom-client') as typeof Prom;
    this.registry = new prom.Registry();
    this.emperorMetrics();
    this.processMetrics();
    this.perVassal();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text of one scrape (one at a time: the caller serializes them). */
  async text(facts: MetricsFacts, usage: (v: VassalFacts) => Usage | undefined, process: ProcessFigures | undefined, exporter: ExporterFigures): Promise<string> {
    this.scrape = { emperor: facts.emperor, rows: facts.vassals.map((f) => ({ facts: f, usage: usage(f) })), process, exporter };
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = undefined;
      const names = new Set(facts.vassals.map((v) => v.name));
      for (const name of this.labels.keys()) if (!names.has(name)) this.labels.delete(name);
    }
  }

  private register(name: string, help: string, type: 'gauge' | 'counter' | 'histogram', values: (s: Scrape) => Series[]): void {
    const get = async (): Promise<unknown> => ({ name, help, type, aggregator: 'sum', values: this.scrape ? values(this.scrape) : [] });
    this.registry.registerMetric({ name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Prom.Metric);
  }

  private one(name: string, help: string, type: 'gauge' | 'counter', value: (s: Scrape) => number | undefined, labels: Record<string, string> = NO_LABELS): void {
    this.register(name, help, type, (s) => {
      const v = value(s);
      return v === undefined || !Number.isFinite(v) ? [] : [{ labels, value: v }];
    });
  }

  private emperorMetrics(): void {
    this.register('jailctl_emperor_info', 'This emperor: its name and version (always 1).', 'gauge', (s) => [{ labels: { emperor: s.emperor.name, version: s.emperor.version }, value: 1 }]);
    this.one('jailctl_emperor_launches_total', 'Jails launched (the executor gave a pid).', 'counter', (s) => s.emperor.launches);
    this.register('jailctl_emperor_launch_failures_total', 'Launches that failed, by stage (config, plan, cgroup, source, an executor stage such as mount or exec).', 'counter', (s) =>
      Object.entries(s.emperor.failures).map(([stage, value]) => ({ labels: { stage }, value })));
    this.register('jailctl_emperor_config_to_running_seconds', 'From a vassal config seen new (added or changed) to its jail running.', 'histogram', (s) => {
      const name = 'jailctl_emperor_config_to_running_seconds';
      const h = s.emperor.toRunning;
      let cumulative = 0;
      const buckets = RUNNING_BUCKETS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le: String(le) }, value: (cumulative += h.counts[i] ?? 0) }));
      return [...buckets, { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count }, { metricName: `${name}_sum`, labels: NO_LABELS, value: h.sum }, { metricName: `${name}_count`, labels: NO_LABELS, value: h.count }];
    });
    this.register('jailctl_emperor_vassals', 'Vassals by state.', 'gauge', (s) => {
      const by = new Map(STATES.map((state) => [state, 0]));
      for (const r of s.rows) by.set(r.facts.state, (by.get(r.facts.state) ?? 0) + 1);
      return [...by].map(([state, value]) => ({ labels: { state }, value }));
    });
    this.one('jailctl_emperor_blacklisted', 'Vassals on the blacklist (died before they were loyal; waiting longer before each attempt).', 'gauge', (s) => s.rows.filter((r) => r.facts.state === 'blacklisted').length);
    this.register('jailctl_emperor_source_up', 'Whether each vassal source is up (0: a database down, or an empty answer held).', 'gauge', (s) =>
      s.emperor.sources.map((src) => ({ labels: { source: src.spec, state: src.state }, value: src.state === 'up' ? 1 : 0 })));
    this.one('jailctl_metrics_exporter_cpu_seconds_total', 'CPU time of the metrics exporter (the process beside the emperor that reads the cgroups and writes this text).', 'counter', (s) => s.exporter.cpuSeconds);
    this.one('jailctl_metrics_exporter_resident_memory_bytes', 'Resident memory of the metrics exporter.', 'gauge', (s) => s.exporter.residentBytes);
  }

  // The emperor's process, under the names prom-client's default metrics give them.
  private processMetrics(): void {
    const p = (f: (p: ProcessFigures) => number) => (s: Scrape): number | undefined => (s.process ? f(s.process) : undefined);
    this.one('process_cpu_user_seconds_total', 'User CPU time of the emperor, in seconds.', 'counter', p((x) => x.userSeconds));
    this.one('process_cpu_system_seconds_total', 'System CPU time of the emperor, in seconds.', 'counter', p((x) => x.systemSeconds));
    this.one('process_cpu_seconds_total', 'User and system CPU time of the emperor, in seconds.', 'counter', p((x) => x.userSeconds + x.systemSeconds));
    this.one('process_start_time_seconds', 'When the emperor started, in seconds since the epoch.', 'gauge', p((x) => x.startTime));
    this.one('process_resident_memory_bytes', 'Resident memory of the emperor, in bytes.', 'gauge', p((x) => x.residentBytes));
    this.one('process_virtual_memory_bytes', 'Virtual memory of the emperor, in bytes.', 'gauge', p((x) => x.virtualBytes));
    this.one('process_open_fds', 'Open file descriptors of the emperor.', 'gauge', p((x) => x.openFds));
    this.one('process_max_fds', 'The emperor\'s limit of open file descriptors.', 'gauge', p((x) => x.maxFds));
    const lag = (k: 'min' | 'max' | 'mean' | 'stddev' | 'p50' | 'p90' | 'p99') => (s: Scrape): number | undefined => s.emperor.eventLoop[k];
    this.one('nodejs_eventloop_lag_seconds', 'The emperor\'s event-loop delay since the last scrape, its mean, in seconds.', 'gauge', lag('mean'));
    for (const k of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const)
      this.one(`nodejs_eventloop_lag_${k}_seconds`, `The emperor's event-loop delay since the last scrape, its ${k}, in seconds.`, 'gauge', lag(k));
    this.one('nodejs_heap_size_total_bytes', 'The emperor\'s V8 heap, in bytes.', 'gauge', (s) => s.emperor.heap.total);
    this.one('nodejs_heap_size_used_bytes', 'The emperor\'s V8 heap in use, in bytes.', 'gauge', (s) => s.emperor.heap.used);
    this.one('nodejs_external_memory_bytes', 'The emperor\'s memory outside the V8 heap (buffers), in bytes.', 'gauge', (s) => s.emperor.heap.external);
  }

  // The vassal's labels object: the same one as at the last scrape while nothing in it changed.
  private labelsOf(f: VassalFacts, withState: boolean): Labels {
    const uid = f.uid === null ? '' : String(f.uid);
    let kept = this.labels.get(f.name);
    if (!kept || kept.plain.uid !== uid || kept.plain.source !== f.source) {
      const plain = { vassal: f.name, uid, source: f.source };
      kept = { plain, withState: { ...plain, state: f.state } };
      this.labels.set(f.name, kept);
    } else if (kept.withState.state !== f.state) {
      kept = { plain: kept.plain, withState: { ...kept.plain, state: f.state } };
      this.labels.set(f.name, kept);
    }
    return withState ? kept.withState : kept.plain;
  }

  // One metric per figure of a vassal; `value` undefined leaves that vassal's series out.
  private perVassal(): void {
    this.register('jailctl_vassal_state', 'The vassal\'s current state (1, with the state as a label).', 'gauge', (s) =>
      s.rows.map((r) => ({ labels: NO_LABELS, sharedLabels: this.labelsOf(r.facts, true), value: 1 })));
    const each = (type: 'gauge' | 'counter', name: string, help: string, value: (r: VassalRow) => number | null | undefined): void =>
      this.register(name, help, type, (s) => {
        const out: Series[] = [];
        for (const r of s.rows) {
          const v = value(r);
          if (v !== undefined && v !== null && Number.isFinite(v)) out.push({ labels: NO_LABELS, sharedLabels: this.labelsOf(r.facts, false), value: v });
        }
        return out;
      });
    each('counter', 'jailctl_vassal_restarts_total', 'New jails for this vassal after its first (respawns, reloads that needed a new jail, blacklist attempts).', (r) => r.facts.restarts);
    each('counter', 'jailctl_vassal_respawns_total', 'Respawns and reloads, as uWSGI\'s stats count them.', (r) => r.facts.respawns);
    each('gauge', 'jailctl_vassal_loyal', 'Whether the vassal is loyal (spoke the protocol, or lived vassal-loyal-after seconds).', (r) => Number(r.facts.loyal));
    each('gauge', 'jailctl_vassal_on_demand', 'Whether the emperor holds an on-demand socket for it.', (r) => Number(r.facts.onDemand));
    each('gauge', 'jailctl_vassal_adopted', 'Whether its jail is adopted from a fork-server base.', (r) => Number(r.facts.adopted));
    each('gauge', 'jailctl_vassal_last_exit_code', 'The exit status of its last jail (absent when it was killed by a signal, or never exited).', (r) => r.facts.exitCode);
    each('gauge', 'jailctl_vassal_last_exit_signal', 'The signal that killed its last jail (absent when it exited).', (r) => r.facts.exitSignal);
    each('gauge', 'jailctl_vassal_memory_bytes', 'Memory charged to its cgroup now (page cache included).', (r) => r.usage?.memoryBytes);
    each('gauge', 'jailctl_vassal_memory_max_bytes', 'Its cgroup\'s memory-max.', (r) => r.facts.memoryMax);
    each('counter', 'jailctl_vassal_cpu_seconds_total', 'CPU time of its current jail (every process that ran in it).', (r) => r.usage?.cpuSeconds);
    each('gauge', 'jailctl_vassal_processes', 'Processes in its jail now.', (r) => r.usage?.processes);
    each('counter', 'jailctl_vassal_oom_kills_total', 'Processes of its current jail the OOM killer took.', (r) => r.usage?.oomKills);
    for (const resource of ['cpu', 'memory', 'io'] as const)
      each('gauge', `jailctl_vassal_${resource}_pressure_ratio`, `PSI of its cgroup: the share of the last 10 s some task waited for ${resource} (some avg10).`, (r) => {
        const v = r.usage?.pressure?.[resource];
        return v === undefined ? undefined : v / 100;
      });
  }
}
