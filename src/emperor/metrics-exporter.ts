// The metrics exporter: the process beside the emperor that serves emperor-metrics.
//
// The emperor binds the address (metrics-server.ts: tyrant mode's rules, the socket's mode)
// and starts this with the listening socket as fd 4 and an IPC channel. At each GET /metrics
// it asks the emperor for its facts (one message: metrics-facts.ts), reads every running
// jail's cgroup files itself (held open between scrapes, one pread each) and writes the text
// with prom-client (metrics-registry.ts). So a scrape of 1,000 vassals costs the emperor's
// event loop one pass over its vassals, not 9,000 file reads and 16,000 series; the
// exporter's own cost is in the metrics (jailctl_metrics_exporter_cpu_seconds_total).
//
// It runs as root (cgroup files, /proc of the emperor) with an environment, cwd and stdin
// the emperor chose, never a tenant's; what it reads from tenants is kernel text (cgroupfs)
// and vassal names, which prom-client escapes. It exits when the emperor goes (the IPC
// channel closes), so it never outlives it.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { statsReader, type StatsReader } from '../jail/cgroup';
import { jailUsage } from '../jail/usage';
import { fromWire, type MetricsFacts, type VassalFacts, type WireFacts } from './metrics-facts';
import { MetricsRegistry, type ProcessFigures, type Usage } from './metrics-registry';

/** The listening socket the emperor gives (stdio index 4). */
const LISTEN_FD = 4;
/** A scraper that has not sent its request head in this time is cut off. */
const HEADERS_TIMEOUT_MS = 3000;
/** Connections served at once (a scrape is one; a flood must not hold fds). */
const MAX_CONNECTIONS = 64;
/** The emperor answers a facts request in this time, or the scrape is a 503. */
const FACTS_TIMEOUT_MS = 10_000;
/** USER_HZ: the unit of /proc/PID/stat's times, 100 on every Linux architecture. */
const CLK_TCK = 100;

/** The messages between the emperor and the exporter. */
export type ToEmperor = { readonly ask: number } | { readonly log: string };
export type ToExporter = { readonly answer: number; readonly facts: WireFacts };

/** Every running jail's cgroup files, held open from one scrape to the next. */
class CgroupReaders {
  private readonly held = new Map<string, { reader: StatsReader }>();

  // What each vassal's jail uses now; the readers of vassals gone are closed.
  usageOf(vassals: readonly VassalFacts[]): (v: VassalFacts) => Usage | undefined {
    const seen = new Set<string>();
    const walked = jailUsage(vassals.filter((v) => v.pid > 0 && v.cgroup === null).map((v) => v.pid));
    const usage = new Map<string, Usage | undefined>();
    for (const v of vassals) {
      // A vassal with no jail now keeps its reader: its next jail may be told as 'same'.
      seen.add(v.name);
      if (v.pid <= 0) continue;
      if (v.cgroup === null) {
        const u = walked.get(v.pid);
        usage.set(v.name, u && { processes: u.processes, memoryBytes: u.rssBytes, cpuSeconds: u.cpuSeconds, oomKills: 0 });
        continue;
      }
      let held = this.held.get(v.name);
      if (v.cgroup !== 'same') {
        held?.reader.close();
        held = { reader: statsReader(v.cgroup, {}) };
        this.held.set(v.name, held);
      }
      if (!held) continue; // 'same' for files never told: cannot happen (one exporter, one emperor)
      try {
        usage.set(v.name, held.reader.read());
      } catch {
        usage.set(v.name, undefined); // the jail went meanwhile: its cgroup with it
      }
    }
    for (const [name, held] of this.held)
      if (!seen.has(name)) {
        held.reader.close();
        this.held.delete(name);
      }
    return (v) => usage.get(v.name);
  }
}

// The emperor's process as /proc shows it (undefined once it is gone).
function processFigures(pid: number): ProcessFigures | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1] ?? 0);
    const limit = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'))?.[1];
    return {
      userSeconds: Number(f[11]) / CLK_TCK,
      systemSeconds: Number(f[12]) / CLK_TCK,
      startTime: btime + Number(f[19]) / CLK_TCK,
      virtualBytes: Number(f[20]),
      residentBytes: Number(f[21]) * 4096,
      openFds: readdirSync(`/proc/${pid}/fd`).length,
      maxFds: limit === undefined || limit === 'unlimited' ? Infinity : Number(limit),
    };
  } catch {
    return undefined;
  }
}

class Exporter {
  private readonly registry = new MetricsRegistry();
  private readonly readers = new CgroupReaders();
  private readonly waiting = new Map<number, (facts: MetricsFacts) => void>();
  private asked = 0;
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly emperorPid: number) {
    process.on('message', (m: ToExporter) => {
      this.waiting.get(m.answer)?.(fromWire(m.facts));
      this.waiting.delete(m.answer);
    });
  }

  // The text of one scrape, one at a time (each reads every jail's files).
  text(): Promise<string> {
    const next = this.last.then(() => this.scrape());
    this.last = next.catch(() => undefined);
    return next;
  }

  private async scrape(): Promise<string> {
    const facts = await this.facts();
    const cpu = process.cpuUsage();
    return this.registry.text(facts, this.readers.usageOf(facts.vassals), processFigures(this.emperorPid), {
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      residentBytes: process.memoryUsage.rss(),
    });
  }

  private facts(): Promise<MetricsFacts> {
    const id = ++this.asked;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the emperor did not answer in ${FACTS_TIMEOUT_MS / 1000} s`));
      }, FACTS_TIMEOUT_MS);
      this.waiting.set(id, (facts) => {
        clearTimeout(timer);
        resolve(facts);
      });
      send({ ask: id });
    });
  }

  answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
      return;
    }
    if (path !== '/metrics') {
      const body = 'jailctl emperor: the metrics are at /metrics\n';
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
      return;
    }
    this.text().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': this.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        send({ log: `metrics exporter: a scrape failed: ${err.message}` });
        const body = `cannot collect the metrics: ${err.message}\n`;
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
      },
    );
  }
}

function send(m: ToEmperor): void {
  if (process.connected) process.send!(m);
}

export function main(): void {
  const emperorPid = process.ppid;
  if (!process.send) {
    process.stderr.write('jailctl metrics exporter: the emperor starts this (emperor-metrics); it has no use on its own\n');
    process.exit(2);
  }
  // The emperor gone (or exec'ing itself: an upgrade starts a new exporter): so are we.
  process.on('disconnect', () => process.exit(0));
  const exporter = new Exporter(emperorPid);
  const server = createServer((req, res) => exporter.answer(req, res));
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS * 2;
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', (err) => {
    send({ log: `metrics exporter: ${err.message}` });
    process.exit(1);
  });
  server.listen({ fd: LISTEN_FD });
}

if (require.main === module) main();
