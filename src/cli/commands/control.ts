// jailctl ps / stats / reload / stop / start / unblacklist: requests to a running emperor
// through its control socket, and their output for a terminal or a script.
import chalk from 'chalk';
import type { PsRecord } from '../../emperor/control';
import { ask, askStreaming, EXIT_NO_EMPEROR, EXIT_OK, EXIT_REFUSED, NoEmperorError, socketPath, type ControlAnswer } from '../control-client';
import type { SourceStatus } from '../../monitors/types';

export interface ControlIo {
  out(text: string): void;
  error(line: string): void;
  /** Colour only on a terminal, and never with NO_COLOR set. */
  readonly color: boolean;
}

export interface ControlFlags {
  readonly socket?: string;
  /** Which emperor (emperor-name), when several run. */
  readonly emperor?: string;
}

// One request; the answer, or the exit status when there is none to print.
export async function request(flags: ControlFlags, io: ControlIo, req: Record<string, unknown>): Promise<ControlAnswer | number> {
  let answer: ControlAnswer;
  try {
    answer = await ask(socketPath(flags), req);
  } catch (err: unknown) {
    io.error(`jailctl: ${(err as Error).message}`);
    return err instanceof NoEmperorError ? EXIT_NO_EMPEROR : EXIT_REFUSED;
  }
  if (!answer.ok) {
    io.error(`jailctl: ${answer.error ?? 'refused'}`);
    return EXIT_REFUSED;
  }
  return answer;
}

// 45s, 12m, 3h, 2d.
export function formatUptime(seconds: number): string {
  if (seconds <= 0) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

// 12.3M, 1.2G.
export function formatBytes(bytes: number): string {
  if (bytes <= 0) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

const NS_SHORT: Readonly<Record<string, string>> = { mount: 'mnt', pid: 'pid', net: 'net', ipc: 'ipc', uts: 'uts' };

/** CPU% of a jail: its CPU time over its uptime (as ps(1) computes it), or over `interval`. */
export function cpuPercent(r: PsRecord, before?: PsRecord, intervalSeconds?: number): number {
  if (before && intervalSeconds && before.pid === r.pid) return Math.max(0, ((r.cpuSeconds - before.cpuSeconds) / intervalSeconds) * 100);
  return r.uptime > 0 ? (r.cpuSeconds / r.uptime) * 100 : 0;
}

// The ps table, one row per vassal, padded; `all` adds the last error.
export function psTable(rows: readonly PsRecord[], opts: { color: boolean; all: boolean; cpu?: (r: PsRecord) => number }): string {
  const c = new chalk.Instance({ level: opts.color ? 1 : 0 });
  const paint: Readonly<Record<string, (s: string) => string>> = {
    running: c.green, spawning: c.yellow, reloading: c.yellow, stopping: c.yellow, 'respawn-wait': c.yellow,
    'on-demand': c.cyan, blacklisted: c.red, failed: c.red, stopped: c.gray,
  };
  const head = ['NAME', 'STATE', 'PID', 'UID:GID', 'NS', 'UP', 'RESTARTS', 'LOYAL', 'MODE', 'PROCS', 'MEM', 'CPU%', ...(opts.all ? ['OOM', 'ERROR'] : [])];
  const cells = rows.map((r) => [
    r.name,
    r.state,
    r.pid > 0 ? String(r.pid) : '-',
    r.uid === null ? '-' : `${r.uid}:${r.gid ?? '-'}`,
    r.namespaces.map((n) => NS_SHORT[n] ?? n).join(',') || '-',
    formatUptime(r.uptime),
    String(r.restarts),
    r.loyal ? 'yes' : 'no',
    r.adopted ? 'adopted' : r.onDemand ? 'on-demand' : '-',
    r.processes > 0 ? `${r.processes}${r.limits.pidsMax !== undefined ? `/${r.limits.pidsMax}` : ''}` : '-',
    `${formatBytes(r.memoryBytes)}${r.limits.memoryMax !== undefined ? `/${formatBytes(r.limits.memoryMax)}` : ''}`,
    r.pid > 0 ? `${(opts.cpu ?? ((x: PsRecord) => cpuPercent(x)))(r).toFixed(1)}${r.limits.cpuMax !== undefined ? `/${r.limits.cpuMax}` : ''}` : '-',
    ...(opts.all ? [String(r.oomKills), r.error ?? (r.lastExit ? `last: ${r.lastExit}` : '')] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[], state?: string): string =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i]!);
        return i === 1 && state ? (paint[state] ?? ((s: string) => s))(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  return [c.bold(line(head)), ...cells.map((row, i) => line(row, rows[i]!.state))].join('\n');
}

const ACTIVE = (r: PsRecord): boolean => !['stopped', 'failed'].includes(r.state);

export async function runPs(flags: ControlFlags & { all?: boolean; json?: boolean }, io: ControlIo): Promise<number> {
  const answer = await request(flags, io, { command: 'ps' });
  if (typeof answer === 'number') return answer;
  const rows = (answer.vassals as PsRecord[]).filter((r) => flags.all || ACTIVE(r));
  for (const s of (answer.sources as SourceStatus[] | undefined) ?? [])
    io.error(`jailctl: ${s.spec} is ${s.state}${s.detail ? ` (${s.detail})` : ''}: its vassals run on as they were`);
  if (flags.json) io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) io.out(`no vassal${flags.all ? '' : ' running (jailctl ps -a shows stopped and failed ones)'}\n`);
  else io.out(`${psTable(rows, { color: io.color, all: flags.all === true })}\n`);
  // -a: what the emperor warned about each file (a tenant sees its own: unknown options…).
  if (flags.all && !flags.json) for (const r of rows) for (const w of r.warnings ?? []) io.out(`${r.name}: warning: ${w}\n`);
  return EXIT_OK;
}

export async function runStats(flags: ControlFlags & { json?: boolean }, io: ControlIo): Promise<number> {
  const answer = await request(flags, io, { command: 'stats' });
  if (typeof answer === 'number') return answer;
  io.out(`${flags.json ? JSON.stringify(answer.stats) : JSON.stringify(answer.stats, null, 2)}\n`);
  return EXIT_OK;
}

// reload | stop | start | unblacklist [VASSAL]: the emperor's one-line answer.
export async function runAction(command: string, vassal: string | undefined, flags: ControlFlags, io: ControlIo): Promise<number> {
  const answer = await request(flags, io, { command, ...(vassal !== undefined ? { vassal } : {}) });
  if (typeof answer === 'number') return answer;
  io.out(`${String(answer.message)}\n`);
  return EXIT_OK;
}

export interface TopFlags extends ControlFlags {
  readonly sort?: string;
  readonly interval?: string;
  /** Print one frame (after one interval, so CPU% is measured) and exit. */
  readonly once?: boolean;
}

const SORTS: Readonly<Record<string, (a: PsRecord & { cpu: number }, b: PsRecord & { cpu: number }) => number>> = {
  cpu: (a, b) => b.cpu - a.cpu || a.name.localeCompare(b.name),
  mem: (a, b) => b.memoryBytes - a.memoryBytes || a.name.localeCompare(b.name),
  name: (a, b) => a.name.localeCompare(b.name),
};

// One frame of `jailctl top`: a summary line and the ps table, CPU% over the last interval.
export function topFrame(rows: readonly PsRecord[], before: readonly PsRecord[], intervalSeconds: number, sort: string, color: boolean, now = new Date()): string {
  const previous = new Map(before.map((r) => [r.name, r]));
  const withCpu = rows.map((r) => ({ ...r, cpu: cpuPercent(r, previous.get(r.name), intervalSeconds) }));
  withCpu.sort(SORTS[sort] ?? SORTS.cpu);
  const running = rows.filter((r) => r.pid > 0).length;
  const rss = rows.reduce((sum, r) => sum + r.memoryBytes, 0);
  const cpu = withCpu.reduce((sum, r) => sum + r.cpu, 0);
  const summary = `jailctl top - ${now.toTimeString().slice(0, 8)}  ${rows.length} vassals, ${running} running  CPU ${cpu.toFixed(1)}%  MEM ${formatBytes(rss)}  (sorted by ${sort}; q quits)`;
  const cpuOf = new Map(withCpu.map((r) => [r.name, r.cpu]));
  return `${summary}\n\n${psTable(withCpu, { color, all: false, cpu: (r) => cpuOf.get(r.name) ?? 0 })}\n`;
}

// A live ps: every interval, the screen redrawn; q or Ctrl-C quits.
export async function runTop(flags: TopFlags, io: ControlIo & { input?: NodeJS.ReadStream }): Promise<number> {
  const sort = flags.sort ?? 'cpu';
  if (!(sort in SORTS)) {
    io.error(`jailctl: --sort ${sort}: expected cpu, mem or name`);
    return EXIT_REFUSED;
  }
  const interval = Number(flags.interval ?? '1');
  if (!(interval >= 0.1)) {
    io.error(`jailctl: --interval ${flags.interval}: expected seconds, 0.1 or more`);
    return EXIT_REFUSED;
  }
  const sample = async (): Promise<PsRecord[] | number> => {
    const answer = await request(flags, io, { command: 'ps' });
    return typeof answer === 'number' ? answer : (answer.vassals as PsRecord[]);
  };
  let before = await sample();
  if (typeof before === 'number') return before;
  const input = io.input;
  let quit = false;
  let wake: (() => void) | undefined;
  const onKey = (key: Buffer): void => {
    if (key[0] === 0x71 || key[0] === 0x03) {
      quit = true;
      wake?.();
    }
  };
  if (!flags.once && input?.isTTY) {
    input.setRawMode(true);
    input.on('data', onKey);
  }
  try {
    for (;;) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, interval * 1000);
      });
      if (quit) return EXIT_OK;
      const rows = await sample();
      if (typeof rows === 'number') return rows;
      const frame = topFrame(rows, before, interval, sort, io.color);
      if (flags.once) {
        io.out(frame);
        return EXIT_OK;
      }
      io.out(`\x1b[H\x1b[2J${frame}`);
      before = rows;
    }
  } finally {
    if (!flags.once && input?.isTTY) {
      input.off('data', onKey);
      input.setRawMode(false);
      input.pause();
    }
  }
}

// jailctl logs VASSAL [-n N] [-f]: the last lines of its log, then (with -f) every new one.
export async function runLogs(vassal: string, flags: ControlFlags & { lines?: string; follow?: boolean }, io: ControlIo): Promise<number> {
  const lines = flags.lines === undefined ? 20 : Number(flags.lines);
  if (!Number.isSafeInteger(lines) || lines < 0) {
    io.error(`jailctl: -n ${flags.lines}: expected a number of lines`);
    return EXIT_REFUSED;
  }
  let status = EXIT_OK;
  try {
    await askStreaming(socketPath(flags), { command: 'logs', vassal, lines, follow: flags.follow === true }, (answer) => {
      if (!answer.ok && answer.line === undefined) {
        io.error(`jailctl: ${answer.error ?? 'refused'}`);
        status = EXIT_REFUSED;
        return false;
      }
      if (answer.line !== undefined) io.out(`${String(answer.line)}\n`);
      else for (const l of answer.lines as string[]) io.out(`${l}\n`);
      return flags.follow === true;
    });
  } catch (err: unknown) {
    io.error(`jailctl: ${(err as Error).message}`);
    return err instanceof NoEmperorError ? EXIT_NO_EMPEROR : EXIT_REFUSED;
  }
  return status;
}
