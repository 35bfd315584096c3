// jailctl(1), rendered from the option tables (src/config/options.ts for vassal files,
// src/emperor/options.ts for the emperor) and the commands' own descriptions, so that the
// man page cannot drift from what the code accepts. `npm run man` writes man/jailctl.1;
// .ci/install puts it where `man jailctl` finds it.
import type { Command } from 'commander';
import { VASSAL_OPTIONS } from '../config/options';
import { EMPEROR_OPTIONS } from '../emperor/options';

// roff-safe text: backslashes doubled, a leading dot or quote escaped, dashes as in options,
// and any character beyond ASCII as groff's \[uXXXX] (the input must be ASCII).
function esc(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

export function renderManPage(program: Command, version: string, date = new Date()): string {
  const out: string[] = [
    `.TH JAILCTL 1 "${date.toISOString().slice(0, 10)}" "jailctl ${esc(version)}" "User Commands"`,
    '.SH NAME',
    'jailctl \\- run applications as Linux jails, one per vassal file, under an emperor',
    '.SH SYNOPSIS',
    '.B jailctl run',
    '.I FILE',
    '.br',
    '.B jailctl emperor',
    '.B \\-\\-emperor',
    '.I DIR',
    '[\\fIOPTION\\fR...]',
    '.br',
    '.B jailctl',
    '.I COMMAND',
    '[\\fIARGS\\fR...]',
    '.SH DESCRIPTION',
    esc('Each application (a vassal) is described by a small config file (ini, YAML or JSON; a [jail] or a [uwsgi] section) and runs as a jail: '
      + 'its own namespaces, root-only hooks, a uid/gid drop, an exact capability set, a cgroup with limits, a seccomp filter and optionally a root '
      + 'filesystem of its own. The emperor watches a directory of such files and keeps one jail per file: it starts, reloads, stops, respawns and '
      + 'throttles them. Option names are uWSGI\'s.'),
    '.SH COMMANDS',
  ];
  for (const c of program.commands) {
    const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ');
    out.push('.TP', `.B ${esc(c.name())}${args ? ` ${esc(args)}` : ''}`, esc(c.description()));
  }
  out.push('.SH VASSAL OPTIONS', esc('Written in a vassal file as KEY = VALUE (ini), KEY: VALUE (YAML), "KEY": VALUE (JSON) or <KEY>VALUE</KEY> (XML); list options may repeat.'));
  for (const o of VASSAL_OPTIONS) out.push('.TP', `.B ${esc(o.name)}`, esc(`${o.help}${o.kind === 'list' ? ' (repeatable)' : ''}`));
  out.push('.SH EMPEROR OPTIONS', esc('Given to jailctl emperor as --NAME VALUE, or in an emperor ini file read with --ini FILE.'));
  for (const o of EMPEROR_OPTIONS) out.push('.TP', `.B \\-\\-${esc(o.name)}${o.arg ? ` \\fI${esc(o.arg)}\\fR` : ''}`, esc(o.help));
  out.push(
    '.SH EXIT STATUS',
    esc('jailctl run exits with the vassal\'s own status (128+N when killed by signal N); 125 when the jail could not be set up (the message names the stage, the errno and the line); 126 when the program cannot be executed; 127 when it does not exist.'),
    '.SH FILES',
    '.TP', '.I /run/jailctl/emperors/NAME.sock', esc('the control socket of the emperor named NAME (emperor-name) (jailctl ps, logs, enter, reload, stop, start)'),
    '.TP', '.I /var/log/jailctl/EMPEROR/NAME.log', esc('each vassal\'s stdout and stderr'),
    '.SH SEE ALSO',
    'uwsgi(1), namespaces(7), capabilities(7), cgroups(7), seccomp(2), pivot_root(2)',
    '',
  );
  return out.join('\n');
}
