// Runs the real jailctl CLI (from src/, through tsm) as a subprocess, as a user would.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const ENTRY = join(ROOT, 'test', 'helpers', 'jailctl-entry.ts');

export interface CliResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// argv for node to run jailctl; `wrap` prefixes a command such as setpriv.
export function cliCommand(args: readonly string[], wrap: readonly string[] = []): [string, string[]] {
  const node = [process.execPath, '-r', 'tsm', ENTRY, ...args];
  return wrap.length ? [wrap[0]!, [...wrap.slice(1), ...node]] : [node[0]!, node.slice(1)];
}

// `jailctl ARGS…` to completion.
export function jailctl(args: readonly string[], options: { wrap?: readonly string[]; timeout?: number } = {}): CliResult {
  const [cmd, argv] = cliCommand(args, options.wrap);
  const r: SpawnSyncReturns<string> = spawnSync(cmd, argv, {
    cwd: ROOT, encoding: 'utf8', timeout: options.timeout ?? 30000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// `jailctl ARGS…` in the background, for tests that signal it.
export function jailctlAsync(args: readonly string[], wrap: readonly string[] = []): ChildProcess {
  const [cmd, argv] = cliCommand(args, wrap);
  return spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}
