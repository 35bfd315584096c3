// Runs the real jailctl CLI (from src/, through tsm) as a subprocess, as a user would.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const ENTRY = join(ROOT, 'test', 'helpers', 'jailctl-entry.ts');

export interface CliResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// argv for node to run jailctl; `wrap` prefixes a command such as setpriv; `entry`: another
// program file in place of jailctl's (what an upgrade then execs again: a test's "new version").
export function cliCommand(args: readonly string[], wrap: readonly string[] = [], entry = ENTRY): [string, string[]] {
  const node = [process.execPath, '-r', 'tsm', entry, ...args];
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
export function jailctlAsync(args: readonly string[], wrap: readonly string[] = [], entry = ENTRY): ChildProcess {
  const [cmd, argv] = cliCommand(args, wrap, entry);
  return spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

// `jailctl ARGS…` to completion without blocking the event loop: while an emperor the test
// started runs, its output must go on being read (a spawnSync would leave its pipe full, and
// an emperor writing to it would block).
export function jailctlRun(args: readonly string[], options: { wrap?: readonly string[]; timeout?: number } = {}): Promise<CliResult> {
  const child = jailctlAsync(args, options.wrap);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 30000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
