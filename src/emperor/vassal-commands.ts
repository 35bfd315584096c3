// The control socket's commands on one vassal (jailctl reload/stop/start/unblacklist): each
// answers with one line for the operator, or throws ControlError when the state does not
// allow it. Only the Vassal's public side is used.
import { ControlError } from './control';
import type { Vassal } from './vassal';

export function requestReload(v: Vassal, why: string): string {
  if (v.currentState === 'stopped') throw new ControlError('ESTATE', `${v.name} is stopped; \`jailctl start ${v.name}\` starts it`);
  const was = v.currentState;
  v.change(v.currentSource, why);
  return was === 'running' || was === 'reloading' ? `${v.name}: reloading` : `${v.name}: was ${was}; config read again`;
}

export async function requestStop(v: Vassal, log: (line: string) => void): Promise<string> {
  if (v.currentState === 'stopped') throw new ControlError('ESTATE', `${v.name} is already stopped`);
  log(`${v.name}: stop asked on the control socket`);
  await v.stop();
  const lastExit = v.snapshot().lastExit;
  return `${v.name}: stopped${lastExit ? ` (${lastExit})` : ''}; it stays so until \`jailctl start ${v.name}\` or its file changes`;
}

export function requestStart(v: Vassal, log: (line: string) => void): string {
  if (v.shuttingDown) throw new ControlError('ESTATE', `the emperor is shutting down; ${v.name} stays stopped`);
  if (!['stopped', 'failed', 'blacklisted', 'respawn-wait'].includes(v.currentState))
    throw new ControlError('ESTATE', `${v.name} is already ${v.currentState}${v.pid > 0 ? ` (pid ${v.pid})` : ''}`);
  log(`${v.name}: start asked on the control socket`);
  v.startAgain();
  return `${v.name}: starting`;
}

export function requestUnblacklist(v: Vassal): string {
  if (!v.snapshot().blacklist) return '';
  v.clearBlacklist();
  return `${v.name}: off the blacklist`;
}
