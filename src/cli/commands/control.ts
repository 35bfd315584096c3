// jailctl ps / stats / reload / stop / start / unblacklist: requests to a running emperor
// through its control socket, and their output for a terminal or a script.
import chalk from 'chalk';
import type { PsRecord } from '../../emperor/control';
import { ask, EXIT_NO_EMPEROR, EXIT_OK, EXIT_REFUSED, NoEmperorError, socketPath, type ControlAnswer } from '../control-client';

export interface ControlIo {
  out(text: string): void;
  error(line: string): void;
  /** Colour only on a terminal, and never with NO_COLOR set. */
  readonly color: boolean;
}

export interface ControlFlags {
  readonly socket?: string;
}

// One request; the answer, or the exit status when there is none to print.
async function request(flags: ControlFlags, io: ControlIo, req: Record<string, unknown>): Promise<ControlAnswer | number> {
  let answer: ControlAnswer;
  try {
    answer = await ask(socketPath(flags.socket), req);
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
  const head = ['NAME', 'STATE', 'PID', 'UID:GID', 'NS', 'UP', 'RESTARTS', 'LOYAL', 'PROCS', 'RSS', 'CPU%', ...(opts.all ? ['ERROR'] : [])];
  const cells = rows.map((r) => [
    r.name,
    r.state,
    r.pid > 0 ? String(r.pid) : '-',
    r.uid === null ? '-' : `${r.uid}:${r.gid ?? '-'}`,
    r.namespaces.map((n) => NS_SHORT[n] ?? n).join(',') || '-',
    formatUptime(r.uptime),
    String(r.restarts),
    r.loyal ? 'yes' : 'no',
    r.processes > 0 ? String(r.processes) : '-',
    formatBytes(r.rssBytes),
    r.pid > 0 ? (opts.cpu ?? ((x: PsRecord) => cpuPercent(x)))(r).toFixed(1) : '-',
    ...(opts.all ? [r.error ?? (r.lastExit ? `last: ${r.lastExit}` : '')] : []),
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
  if (flags.json) io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) io.out(`no vassal${flags.all ? '' : ' running (jailctl ps -a shows stopped and failed ones)'}\n`);
  else io.out(`${psTable(rows, { color: io.color, all: flags.all === true })}\n`);
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
