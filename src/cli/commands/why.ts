// jailctl why VASSAL: the emperor's whole account of one vassal, for a person (or --json).
import chalk from 'chalk';
import type { WhyDocument } from '../../emperor/why';
import { EXIT_OK } from '../control-client';
import { request, type ControlFlags, type ControlIo } from './control';

// "12:03:04 (2m 5s ago)", or "in 3.0 s" for what is still to come.
function when(ms: number, now: number): string {
  const at = new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  const d = Math.round((ms - now) / 100) / 10;
  if (d > 0) return `in ${d.toFixed(1)} s (${at} UTC)`;
  const ago = Math.round(-d);
  const span = ago < 60 ? `${ago}s` : ago < 3600 ? `${Math.floor(ago / 60)}m ${ago % 60}s` : `${Math.floor(ago / 3600)}h ${Math.floor((ago % 3600) / 60)}m`;
  return `${at} UTC (${span} ago)`;
}

// The answer as text: a heading line, then one labelled line per fact, then the lists.
export function whyText(w: WhyDocument, color: boolean, now = Date.now()): string {
  const c = new chalk.Instance({ level: color ? 1 : 0 });
  const bad = ['failed', 'blacklisted'].includes(w.state);
  const out: string[] = [];
  const fact = (label: string, text: string): void => {
    out.push(`  ${c.bold(label.padEnd(11))}${text}`);
  };
  out.push(`${c.bold(w.vassal)}: ${(bad ? c.red : w.state === 'running' ? c.green : c.yellow)(w.state)} since ${when(w.since * 1000, now)}${w.pid > 0 ? `, pid ${w.pid}` : ''}`);
  fact('file', `${w.source.path} (source ${w.source.monitor})`);
  fact('runs as', `${w.runsAs.uid === null ? 'the emperor\'s user' : `uid ${w.runsAs.uid}${w.runsAs.user ? ` (${w.runsAs.user})` : ''}, gid ${w.runsAs.gid ?? '-'}`}: ${w.runsAs.why}`);
  if (w.failure) {
    const f = w.failure;
    const where = f.file !== undefined ? ` at ${f.file}${f.line !== undefined ? `:${f.line}` : ''}` : '';
    fact('last error', `stage ${f.stage}${f.errno ? `, ${f.errno}` : ''}${f.option ? `, option ${f.option}` : ''}${where}, ${when(f.at, now)}`);
    out.push(`             ${f.message}`);
  }
  if (w.lastExit) fact('last exit', w.lastExit);
  if (w.blacklist)
    fact('blacklist', `attempt ${w.blacklist.attempt} (died before it was loyal), waiting ${w.blacklist.throttleMs} ms; each death adds ${w.throttle.stepMs} ms, at most ${w.throttle.maxMs} ms (jailctl unblacklist ${w.vassal} retries now)`);
  if (w.nextAttempt !== null) fact('next try', when(w.nextAttempt, now));
  if (w.onDemand) fact('on demand', `the emperor holds ${w.onDemand}; the next connection starts it`);
  if (w.warnings.length > 0) {
    out.push(`  ${c.bold('warnings')}`);
    for (const line of w.warnings) out.push(`    ${c.yellow(line)}`);
  }
  out.push(`  ${c.bold('config')}     ${w.configError ? c.red(`cannot be read now: ${w.configError}`) : 'the options it gets, every layer applied (vassal-set, the file, vassals-include, JAIL_VASSAL_*), and where each comes from'}`);
  const width = Math.min(40, Math.max(0, ...w.config.map((e) => e.from.length)));
  for (const e of w.config) out.push(`    ${c.gray(e.from.padEnd(width))}  ${e.key} = ${e.value}`);
  if (w.hidden > 0) out.push(`    ${c.gray(`and ${w.hidden} option(s) from the sysadmin's layers (vassal-set, vassals-include, …), shown to root only`)}`);
  out.push(`  ${c.bold('log')}        ${w.log.length === 0 ? 'nothing yet' : `the last ${w.log.length} line(s)${w.logPath ? ` of ${w.logPath}` : ''}`}`);
  for (const line of w.log) out.push(`    ${line}`);
  return `${out.join('\n')}\n`;
}

export async function runWhy(vassal: string, flags: ControlFlags & { json?: boolean }, io: ControlIo): Promise<number> {
  const answer = await request(flags, io, { command: 'why', vassal });
  if (typeof answer === 'number') return answer;
  const w = answer.why as WhyDocument;
  io.out(flags.json ? `${JSON.stringify(w, null, 2)}\n` : whyText(w, io.color));
  return EXIT_OK;
}
