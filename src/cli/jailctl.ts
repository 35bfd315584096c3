// The jailctl command line: parses arguments and hands each command to its module.
import { Command, Option } from 'commander';
import { VASSAL_OPTIONS } from '../config/options';
import { runVassal, EXIT_SETUP } from './commands/run';

const VERSION = '0.1.0';

function optionTable(): string {
  const width = Math.max(...VASSAL_OPTIONS.map((o) => o.name.length));
  return VASSAL_OPTIONS.map((o) => `  ${o.name.padEnd(width)}  ${o.help}`).join('\n');
}

// Builds the program; exported so tests can drive it without a subprocess.
export function buildProgram(): Command {
  const program = new Command('jailctl')
    .version(VERSION)
    .description('Run applications as Linux jails: namespaces, hooks, uid/gid and capability drop.')
    .showHelpAfterError('(add --help for usage)');

  program
    .command('run')
    .description('run one vassal file as a jail in the foreground')
    .argument('<file>', 'vassal config: .ini ([jail] or [uwsgi] section), .yml/.yaml or .json')
    .addOption(new Option('--print-plan', 'print the compiled launch plan as JSON and exit'))
    .addHelpText('after', `
Example:
  # jails/hello.ini
  [jail]
  unshare = fs,pid,net,ipc,uts
  hostname = hello
  exec-as-root = echo "setting up as $(id -un)"
  uid = nobody
  unprivileged-binary-patch-arg = sh -c 'echo "hello from $(hostname) as $(id -un)"'

  $ sudo jailctl run jails/hello.ini

Vassal options:
${optionTable()}

Signals (TERM, INT, HUP, QUIT, USR1, USR2, WINCH) are forwarded to the vassal.
Exit status: the vassal's own (128+N when killed by signal N); 125 when the jail
could not be set up (bad config, or a stage failed: the message names it); 126 when
the program cannot be executed; 127 when it does not exist.`)
    .action(async (file: string, opts: { printPlan?: boolean }) => {
      const code = await runVassal(file, { printPlan: opts.printPlan === true }, {
        error: (line) => process.stderr.write(`${line}\n`),
        out: (line) => process.stdout.write(`${line}\n`),
      });
      process.exitCode = code;
    });

  return program;
}

// Entry point of bin/jailctl.
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err: unknown) {
    process.stderr.write(`jailctl: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT_SETUP;
  }
}
