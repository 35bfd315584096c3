// pg://CONNINFO;QUERY: vassals from PostgreSQL rows (name, config, ts[, uid, gid[, socket]]).
// One connection per source, never blocking the event loop (node-postgres). Changes arrive
// by LISTEN jailctl / NOTIFY (the trigger `jailctl pg-schema` prints); the query also runs
// every emperor-freq as the safety net. While the database is unreachable every vassal keeps
// running and the source says `down`; a query that returns nothing when it would stop two or
// more vassals is held (a truncated table must not stop every site) unless
// emperor-pg-allow-empty.
import type * as Pg from 'pg';
import { isVassalFileName } from './scan';
import { parsePgSpec, type PgSpec } from './pg-spec';
import type { Monitor, MonitorEvent, MonitorOptions, SourceStatus, VassalSource } from './types';

/** The NOTIFY channel the schema's trigger signals. */
export const PG_CHANNEL = 'jailctl';
/** Reconnect backoff: from 1 s, doubling, at most 30 s. */
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** An empty answer that would stop this many vassals or more is held. */
const HOLD_AT = 2;

// A row's ts: seconds (a number or numeric text) or a timestamp → nanoseconds.
function tsNs(value: unknown): bigint | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : BigInt(value.getTime()) * 1_000_000n;
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.round(value * 1000)) * 1_000_000n;
  if (typeof value === 'bigint') return value * 1_000_000_000n;
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return tsNs(Number(value));
  return undefined;
}

// An id column: a whole number ≥ 0, or null for NULL.
function idOf(value: unknown): number | null | undefined {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= 0xfffffffe ? n : undefined;
}

export class PgMonitor implements Monitor {
  readonly spec: string;
  private readonly pg: PgSpec;
  private readonly known = new Map<string, VassalSource>();
  private emit: (e: MonitorEvent) => void = () => undefined;
  private client: Pg.Client | undefined;
  private state: SourceStatus['state'] = 'down';
  private detail: string | undefined = 'connecting';
  private polling = false;
  private again = false;
  private closed = false;
  private backoff = BACKOFF_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private answered: () => void = () => undefined;
  private readonly first = new Promise<void>((resolve) => (this.answered = resolve));
  /** The row errors already logged, by name: a bad row is logged once, not every pass. */
  private readonly badRows = new Map<string, string>();

  constructor(rest: string, private readonly options: MonitorOptions) {
    this.pg = parsePgSpec(rest, options.hostname ?? '');
    this.spec = this.pg.label;
  }

  start(emit: (e: MonitorEvent) => void): void {
    this.emit = emit;
    void this.connect();
    this.timer = setInterval(() => this.rescan(), Math.max(0.1, this.options.freq) * 1000);
    this.timer.unref();
  }

  rescan(): void {
    if (this.client && this.state !== 'down') void this.poll();
  }

  adopt(sources: readonly VassalSource[]): void {
    for (const s of sources) this.known.set(s.name, s);
  }

  firstAnswer(): Promise<void> {
    return this.first;
  }

  status(): SourceStatus {
    return { spec: this.spec, state: this.state, ...(this.detail !== undefined ? { detail: this.detail } : {}) };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    void c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    // Loaded here, not at import: every jailctl command imports the monitors, few use pg://.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client } = require('pg') as typeof Pg;
    const client = new Client({ ...this.pg.config, application_name: this.pg.config.application_name ?? 'jailctl emperor' });
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the server closed the connection')));
    client.on('notification', (n) => {
      if (n.channel === PG_CHANNEL) void this.poll();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${PG_CHANNEL}`);
    } catch (err: unknown) {
      this.lost(client, err as Error);
      return;
    }
    if (this.client !== client) {
      void client.end().catch(() => undefined); // closed (or lost) meanwhile
      return;
    }
    const was = this.state;
    this.state = 'up';
    this.detail = undefined;
    this.backoff = BACKOFF_MIN_MS;
    if (was === 'down' && this.known.size > 0) this.options.warn(`${this.spec}: connected again; reading the rows`);
    await this.poll();
  }

  // The connection is gone (or never came): the vassals keep running; try again later.
  private lost(client: Pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.answered();
    if (this.closed) return;
    const first = this.state !== 'down' || this.detail === 'connecting';
    this.state = 'down';
    this.detail = err.message;
    if (first)
      this.options.warn(`${this.spec}: the database is unreachable (${err.message}); its ${this.known.size} vassal(s) keep running; retrying from ${this.backoff / 1000} s up to every ${BACKOFF_MAX_MS / 1000} s`);
    this.retry = setTimeout(() => void this.connect(), this.backoff);
    this.retry.unref();
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
  }

  // Runs the query; a NOTIFY while one runs makes one more pass after it, never two at once.
  private async poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return;
    }
    const client = this.client;
    if (!client) return;
    this.polling = true;
    try {
      do {
        this.again = false;
        let rows: unknown[][];
        try {
          rows = (await client.query({ text: this.pg.query, rowMode: 'array' })).rows as unknown[][];
        } catch (err: unknown) {
          // A bad query is the sysadmin's to fix; a lost connection reconnects ('error'/'end').
          if (this.client === client) this.options.warn(`${this.spec}: the query failed (${(err as Error).message}); the vassals keep running as they are`);
          return;
        }
        this.apply(rows);
      } while (this.again && this.client === client);
    } finally {
      this.polling = false;
    }
  }

  // One answer → add/change/remove events; an empty answer after rows is held.
  private apply(rows: readonly unknown[][]): void {
    this.answered();
    const now = new Map<string, VassalSource>();
    const bad = new Set<string>();
    for (const row of rows) {
      const source = this.sourceOf(row, bad);
      if (source) now.set(source.name, source);
    }
    // A bad row fixed or deleted is logged again when it goes bad again.
    for (const name of [...this.badRows.keys()]) if (!bad.has(name)) this.badRows.delete(name);
    // One vassal leaving (its row moved to another host) is no outage; all of several at once
    // more likely a mistake (a truncated table, a restore under way) than an intent.
    if (rows.length === 0 && this.known.size >= HOLD_AT && !this.options.pgAllowEmpty) {
      if (this.state !== 'held')
        this.options.warn(`${this.spec}: the query returned no rows (it returned ${this.known.size} before); holding: the vassals keep running until rows come back (emperor-pg-allow-empty makes an empty answer stop them)`);
      this.state = 'held';
      this.detail = `no rows; ${this.known.size} vassal(s) held`;
      return;
    }
    if (this.state === 'held') {
      this.options.warn(`${this.spec}: rows are back (${rows.length})`);
      this.state = 'up';
      this.detail = undefined;
    }
    for (const [name, source] of now) {
      const before = this.known.get(name);
      if (!before) this.emit({ kind: 'add', source });
      else if (changed(before, source)) this.emit({ kind: 'change', source });
      this.known.set(name, source);
    }
    for (const [name, before] of [...this.known]) {
      if (now.has(name) || bad.has(name)) continue; // a bad row's vassal runs on as it was
      this.known.delete(name);
      this.emit({ kind: 'remove', source: before });
    }
  }

  // A row → its vassal; a malformed row is logged once (with its name) and its vassal, if it
  // has one, left as it was.
  private sourceOf(row: readonly unknown[], bad: Set<string>): VassalSource | undefined {
    const raw = typeof row[0] === 'string' ? row[0] : undefined;
    const okName = raw !== undefined && raw !== '' && raw.length <= 255 && !/[/\0]/.test(raw) && !raw.startsWith('.');
    // The name picks the syntax (web.yaml, web.xml); a name without a known extension is ini.
    const name = okName ? (isVassalFileName(raw) ? raw : `${raw}.ini`) : undefined;
    const fail = (why: string): undefined => {
      const key = name ?? `(row ${JSON.stringify(row[0] ?? null).slice(0, 40)})`;
      if (this.badRows.get(key) !== why) this.options.warn(`${this.spec}: row ${key}: ${why}; the row is skipped`);
      this.badRows.set(key, why);
      bad.add(key);
      return undefined;
    };
    if (row.length < 3) return fail(`the query returns ${row.length} column(s); it must return name, config, ts[, uid, gid[, socket]]`);
    if (name === undefined) return fail('the name must be text of 1 to 255 characters, with no `/` and not starting with `.`');
    if (typeof row[1] !== 'string') return fail('config is NULL or not text');
    const mtimeNs = tsNs(row[2]);
    if (mtimeNs === undefined) return fail(`ts \`${String(row[2])}\` is neither a number of seconds nor a timestamp`);
    const uid = idOf(row[3]);
    const gid = idOf(row[4]);
    if (uid === undefined || gid === undefined) return fail('uid and gid must be whole numbers (or NULL)');
    if (row[5] !== undefined && row[5] !== null && typeof row[5] !== 'string') return fail('socket must be text (or NULL)');
    return {
      name,
      path: `${this.spec}/${name}`,
      monitor: this.spec,
      mtimeNs,
      uid: uid ?? 0,
      gid: gid ?? 0,
      ...(typeof row[5] === 'string' && row[5].trim() !== '' ? { onDemandSocket: row[5].trim() } : {}),
      inline: { text: row[1], uid, gid },
    };
  }
}

function changed(a: VassalSource, b: VassalSource): boolean {
  return a.mtimeNs !== b.mtimeNs || a.inline?.text !== b.inline?.text || a.inline?.uid !== b.inline?.uid
    || a.inline?.gid !== b.inline?.gid || a.onDemandSocket !== b.onDemandSocket;
}
