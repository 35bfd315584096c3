// The jailctl command line: parses arguments and hands each command to its module.
import { badTableName, pgSchema } from '../monitors/pg-schema';
import { Command, Option } from 'commander';
import { VASSAL_OPTIONS } from '../config/options';
import { EMPEROR_OPTIONS, type EmperorOptionSpec } from '../emperor/options';
import { runAction, runLogs, runPs, runStats, runTop, type ControlIo, type TopFlags } from './commands/control';
import { runEmperor, runUpgradeCheck } from './commands/emperor';
import { runEnter } from './commands/enter';
import { runWhy } from './commands/why';
import { runVassal, EXIT_SETUP } from './commands/run';

import { VERSION } from '../version';

function optionTable(): string {
  const width = Math.max(...VASSAL_OPTIONS.map((o) => o.name.length));
  return VASSAL_OPTIONS.map((o) => `  ${o.name.padEnd(width)}  ${o.help}`).join('\n');
}

// Builds the program; exported so tests can drive it without a subprocess.
export function buildProgram(): Command {
  const program = new Command('jailctl')
    .version(VERSION)
    .description('Run applications as Linux jails: namespaces, hooks, uid/gid and capability drop.')
    .showHelpAfterError('(add --help for usage)')
    // Options before the command are jailctl's own (`jailctl --socket S ps`); after it, the
    // command's (`jailctl emperor --emperor DIR` is the emperor's source).
    .enablePositionalOptions()
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP);

  program
    .command('run')
    .description('run one vassal file as a jail in the foreground')
    .argument('<file>', 'vassal config: .ini ([jail] or [uwsgi] section), .yml/.yaml, .json or .xml (<jail> or <uwsgi>)')
    .addOption(new Option('--print-plan', 'print the compiled launch plan as JSON and exit'))
    .addOption(new Option('--binary-path <path>', 'the program of a file with no binary patch and no app, run as PATH --ini FILE (e.g. /usr/bin/uwsgi for a [uwsgi] file), as the emperor\'s --binary-path'))
    .addHelpText('after', `
Example:
  # jails/hello.ini
  [jail]
  unshare = fs,pid,net,ipc,uts
  hostname = hello
  exec-as-root = echo "setting up as \`id -un\`"
  uid = nobody
  unprivileged-binary-patch-arg = sh -c 'echo "hello from \`hostname\` as \`id -un\`"; exec sleep infinity'

  $ sudo jailctl run jails/hello.ini

Vassal options:
${optionTable()}

In values, %n %p %d %e %x %c %h are the file's magic variables (name, path, directory,
extension, file name, directory name, hostname), %(key) the value of an earlier key,
$(NAME) the environment variable NAME (left as written when NAME is unset, so a
shell's $(command) still works) and %% a percent sign, as in uWSGI.

Signals (TERM, INT, HUP, QUIT, USR1, USR2, WINCH) are forwarded to the vassal.
Exit status: the vassal's own (128+N when killed by signal N); 125 when the jail
could not be set up (bad config, or a stage failed: the message names it); 126 when
the program cannot be executed; 127 when it does not exist.`)
    .action(async (file: string, opts: { printPlan?: boolean; binaryPath?: string }) => {
      const code = await runVassal(file, { printPlan: opts.printPlan === true, ...(opts.binaryPath ? { binaryPath: opts.binaryPath } : {}) }, {
        error: (line) => process.stderr.write(`${line}\n`),
        out: (line) => process.stdout.write(`${line}\n`),
      });
      process.exitCode = code;
    });

  const files: string[] = [];
  const flags: Array<readonly [EmperorOptionSpec, string]> = [];
  const emperor = program
    .command('emperor')
    .description('keep one jail running per vassal config in a directory or glob')
    .addOption(new Option('--ini <file>', 'read emperor options from the [jail] (or [uwsgi]) section of FILE').argParser((f: string) => void files.push(f)))
    .addOption(new Option('--yaml <file>', 'read emperor options from the `jail:` key of FILE').argParser((f: string) => void files.push(f)))
    .addOption(new Option('--json <file>', 'read emperor options from the `jail` key of FILE').argParser((f: string) => void files.push(f)))
    .addOption(new Option('--upgrade-check', 'what --upgrade runs first: load this version and check its options and config as a start would, open nothing, print one JSON line').hideHelp())
    .addOption(new Option('--upgrade', 're-execute the running emperor (root only), same pid, with the jailctl now installed: it takes its running jails back, none restarts and no request is refused; --emperor-control-socket or --emperor-name (or jailctl --socket/--emperor) say which emperor'));
  for (const spec of EMPEROR_OPTIONS) {
    const flag = spec.arg ? `--${spec.name} <${spec.arg.toLowerCase()}>` : `--${spec.name}`;
    emperor.addOption(
      new Option(flag, spec.help).argParser((value: string) => {
        flags.push([spec, value ?? '']);
      }),
    );
  }
  emperor
    .addHelpText('after', `
Every option above can also be given in the file read by --ini/--yaml/--json, with the
same name and no dashes (\`emperor = /etc/jails\`), as with uWSGI.

Examples:
  $ sudo jailctl emperor --emperor jails/
  $ sudo jailctl emperor --emperor 'glob:///srv/*/jail.ini' --emperor-stats 127.0.0.1:9191
  $ curl -s http://127.0.0.1:9191/ | jq '.vassals[] | {id, state, pid}'
  $ sudo jailctl emperor --emperor 'glob:///srv/*/jail/*.ini' --emperor-tyrant --emperor-stats /run/jailctl/stats.sock
      (tenants drop their own files; each runs as the file's owner, never as root, and is
      OWNER/NAME: alice/web.ini; the stats socket is root's, tenants use jailctl stats)

What happens to a vassal config:
  appears       its jail is launched (every vassal gets at least a pid namespace, so
                stopping it stops all of it, and a mount namespace with its own /proc)
  changes       reloaded: byte 1 on the emperor pipe when the vassal speaks the emperor
                protocol and its jail options are unchanged, else stop + start
  disappears    stopped: byte 0 (or SIGTERM), SIGKILL of the whole jail after
                emperor-curse-tolerance
  dies          respawned; one that dies before it is loyal is blacklisted and waits
                emperor-throttle ms more at each death (exit status 26: not respawned)

Signals: SIGUSR1 logs the vassal table, SIGUSR2 upgrades in place (as --upgrade), SIGHUP reloads every vassal, SIGURG clears the
blacklist, SIGINT/SIGTERM/SIGQUIT stop every vassal and exit (SIGKILL after reload-mercy).
If the emperor dies in any way, every jail dies with it (an emperor that runs as a user
needs cap = setgid,setuid,kill for that; docs/SECURITY.md says why).`)
    .action(async (opts: { upgrade?: boolean; upgradeCheck?: boolean }) => {
      if (opts.upgradeCheck) {
        process.exitCode = runUpgradeCheck({ files, flags }, { error: (line) => process.stderr.write(`${line}\n`), out: (line) => process.stdout.write(`${line}\n`) });
        return;
      }
      if (opts.upgrade) {
        process.exitCode = await runAction('upgrade', undefined, withGlobals(program, upgradeTarget(flags)), controlIo());
        return;
      }
      process.exitCode = await runEmperor({ files, flags }, { error: (line) => process.stderr.write(`${line}\n`) });
    });

  program
    .command('pg-schema')
    .description('print the SQL of a vassal table for a pg:// source: the table, its index, and the trigger that tells emperors of a change (NOTIFY jailctl)')
    .option('--table <name>', 'the table\'s name (default vassals)')
    .addHelpText('after', `
Example:
  $ jailctl pg-schema | sudo -u postgres psql hosting
  $ sudo jailctl emperor --emperor "pg://dbname=hosting;SELECT name, config, ts, uid, gid, socket FROM vassals WHERE host = '%h'"
  $ psql hosting -c "INSERT INTO vassals (name, config, host) VALUES ('shop.ini', '[uwsgi]...', 'web1')"`)
    .action((opts: { table?: string }) => {
      const bad = badTableName(opts.table ?? 'vassals');
      if (bad) {
        process.stderr.write(`jailctl: --table ${opts.table}: ${bad}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(pgSchema(opts.table));
    });

  addControlCommands(program);
  return program;
}

const SOCKET_HELP = 'the emperor\'s control socket (default: $JAILCTL_SOCKET, else the --emperor one\'s)';
const EMPEROR_HELP = 'which emperor, when several run: its emperor-name (its socket is /run/jailctl/emperors/NAME.sock); default: the only one running';
const EXIT_HELP = `
Exit status: 0 done; 1 the emperor refused (no such vassal among those you may see, or
not in a state for it); 3 no emperor answers on the socket.
Root sees and controls every vassal; any other user only the vassals running as itself.`;

function controlIo(): ControlIo {
  return {
    out: (text) => process.stdout.write(text),
    error: (line) => process.stderr.write(`${line}\n`),
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  };
}

// Which emperor `jailctl emperor --upgrade` means: its own options, if given.
function upgradeTarget(flags: ReadonlyArray<readonly [EmperorOptionSpec, string]>): { socket?: string; emperor?: string } {
  const last = (name: string): string | undefined => flags.filter(([spec]) => spec.name === name).at(-1)?.[1];
  const socket = last('emperor-control-socket');
  const name = last('emperor-name');
  return { ...(socket !== undefined ? { socket } : {}), ...(name !== undefined ? { emperor: name } : {}) };
}

// A control command's options over jailctl's own (given before the command): its own win.
function withGlobals<T extends object>(program: Command, opts: T): T & { socket?: string; emperor?: string } {
  const { socket, emperor } = program.opts<{ socket?: string; emperor?: string }>();
  return { ...(socket !== undefined ? { socket } : {}), ...(emperor !== undefined ? { emperor } : {}), ...opts };
}

// ps, stats, reload, stop, start, unblacklist: requests to a running emperor.
function addControlCommands(program: Command): void {
  program
    .command('ps')
    .description('list the vassals of the running emperor: state, pid, uid:gid, namespaces, uptime, memory and CPU of each whole jail')
    .option('-a, --all', 'include stopped and failed vassals, with their last error')
    .option('--json', 'one JSON array, for scripts')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Example:
  $ sudo jailctl ps
  NAME      STATE    PID    UID:GID  NS                   UP  RESTARTS  LOYAL  MODE  PROCS    MEM          CPU%
  shop.ini  running  20620  33:33    mnt,pid,net,ipc,uts  3h  0         yes    -     5/1024   61.2M/256M   0.4/50
  $ jailctl ps --json | jq '.[] | select(.state != "running") | .name'

CPU% is the jail's CPU time over its uptime (as ps(1)); MEM, PROCS and CPU% are read from
the jail's cgroup (every process of the jail; MEM includes its page cache), each with its
limit after a slash (pids-max, memory-max, cpu-max). -a adds OOM kills and the last error;
--json also has PSI pressure and the cgroup's directories. Colour by state on a terminal (NO_COLOR=1 turns it off).${EXIT_HELP}`)
    .action(async (opts: { all?: boolean; json?: boolean; socket?: string; emperor?: string }) => {
      process.exitCode = await runPs(withGlobals(program, opts), controlIo());
    });

  program
    .command('stats')
    .description('the emperor\'s stats document (uWSGI\'s keys and ours), pretty-printed')
    .option('--json', 'compact JSON on one line')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Example:
  $ sudo jailctl stats | jq '.vassals[] | {id, state, respawns}'
${EXIT_HELP}`)
    .action(async (opts: { json?: boolean; socket?: string; emperor?: string }) => {
      process.exitCode = await runStats(withGlobals(program, opts), controlIo());
    });

  const actions: ReadonlyArray<[string, string, string]> = [
    ['reload', 'reload a vassal as if its file changed (byte 1 when it speaks the emperor protocol, else a restart of its jail)', 'jailctl reload shop.ini'],
    ['stop', 'stop a vassal and keep it stopped until `jailctl start` or a change of its file', 'jailctl stop shop'],
    ['start', 'start a stopped, failed or blacklisted vassal now', 'jailctl start shop.ini'],
  ];
  for (const [name, description, example] of actions)
    program
      .command(name)
      .description(description)
      .argument('<vassal>', 'the vassal\'s name: its file name (shop.ini), or without the extension')
      .option('--socket <path>', SOCKET_HELP)
      .option('--emperor <name>', EMPEROR_HELP)
      .addHelpText('after', `\nExample:\n  $ sudo ${example}\n${EXIT_HELP}`)
      .action(async (vassal: string, opts: { socket?: string; emperor?: string }) => {
        process.exitCode = await runAction(name, vassal, withGlobals(program, opts), controlIo());
      });

  program
    .command('why')
    .description('why a vassal is (not) running: its state and since when, its file, whom it runs as and why, its last error with stage, errno and file:line, the blacklist and the next attempt, the options it gets and where each comes from, its last log lines')
    .argument('<vassal>', 'the vassal\'s name: its file name (shop.ini), or without the extension')
    .option('--json', 'the same as one JSON document, for scripts')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Example:
  $ jailctl why shop
  shop.ini: blacklisted since 2026-12-02 10:04:12 UTC (42s ago)
    file       /etc/jails/shop.ini (source dir:///etc/jails)
    runs as    uid 1001 (alice), gid 1001: tyrant mode: the owner of /etc/jails/shop.ini; …
    last error stage exec, ENOENT, 2026-12-02 10:04:12 UTC (42s ago)
               stage exec: execve /srv/shop/bin/server: ENOENT (No such file or directory)
    blacklist  attempt 3 (died before it was loyal), waiting 3000 ms; …
    next try   in 2.1 s (2026-12-02 10:04:57 UTC)
    config     the options it gets, every layer applied …
      /etc/jails/shop.ini:2  binary-patch-arg = /srv/shop/bin/server
      vassal-set             memory-max = 256m

A tenant may ask about its own vassals only (as with ps).${EXIT_HELP}`)
    .action(async (vassal: string, opts: { json?: boolean; socket?: string; emperor?: string }) => {
      process.exitCode = await runWhy(vassal, withGlobals(program, opts), controlIo());
    });

  program
    .command('enter')
    .description('run a command inside a running jail: its namespaces, and the uid/gid and capabilities of its launch plan')
    .argument('<vassal>', 'the vassal\'s name: its file name (shop.ini), or without the extension')
    .argument('[command...]', 'what to run (after --); default: the jail user\'s login shell, or /bin/sh')
    .option('--root', 'as root with every capability instead of the vassal\'s user (root only)')
    .option('-t, --tty', 'a pty even when stdin is not a terminal')
    .option('-T, --no-tty', 'plain pipes even when stdin is a terminal')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Examples:
  $ sudo jailctl enter shop                      (a shell inside, as the vassal's user)
  $ sudo jailctl enter shop -- ls -l /proc
  $ sudo jailctl enter shop --root -- ip addr

The command joins every namespace of the jail's init through a pidfd, in a fresh child
(never in jailctl's own process), as the uid, gid, groups and capabilities of the vassal's
launch plan (never what its /proc shows), in the vassal's working directory with its
environment (TERM is yours; when root asks, the command is found in the host's PATH).
--root: a fixed environment and /, nothing taken from the jail. With a terminal it gets a
pty whose size follows yours, else pipes; never your own terminal, always its own session.
Exit status: the command's (128+N when killed by signal N); 1 when there is no such
vassal or it does not run (or is not yours); 3 when no emperor answers; 125 when joining
failed; 126/127 when the command cannot be run or does not exist.
As root, jailctl joins the jail itself; any other user asks the emperor, which lets them
into the jails that run as themselves only and relays the terminal.`)
    .action(async (vassal: string, command: string[], opts: { root?: boolean; tty?: boolean; socket?: string; emperor?: string }) => {
      process.exitCode = await runEnter(vassal, command, withGlobals(program, opts), {
        error: (line) => process.stderr.write(`${line}\n`),
        stdin: process.stdin,
        stdout: process.stdout,
      });
    });

  program
    .command('logs')
    .description('what a vassal wrote to stdout and stderr, as the emperor keeps it (emperor-logs-dir)')
    .argument('<vassal>', 'the vassal\'s name: its file name (shop.ini), or without the extension')
    .option('-n, --lines <n>', 'how many of the last lines (default 20)')
    .option('-f, --follow', 'then print every new line until Ctrl-C')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Example:
  $ sudo jailctl logs shop -n 50 -f
  2026-11-22T23:59:18.123Z stdout listening on 127.0.0.1:8081
  2026-11-22T23:59:19.007Z stderr GET / 200

Each line is stamped with the time and the stream; the log is DIR/NAME.log, rotated to
NAME.log.1 past emperor-logs-max-size.${EXIT_HELP}`)
    .action(async (vassal: string, opts: { lines?: string; follow?: boolean; socket?: string; emperor?: string }) => {
      process.exitCode = await runLogs(vassal, withGlobals(program, opts), controlIo());
    });

  program
    .command('top')
    .description('a live ps: every vassal\'s state, memory and CPU, redrawn every second')
    .option('--sort <key>', 'cpu (default), mem or name')
    .option('--interval <seconds>', 'seconds between frames (default 1)')
    .option('--once', 'print one frame (CPU measured over one interval) and exit')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `
Example:
  $ sudo jailctl top --sort mem
  (q or Ctrl-C quits)
${EXIT_HELP}`)
    .action(async (opts: TopFlags) => {
      process.exitCode = await runTop(withGlobals(program, opts), { ...controlIo(), input: process.stdin });
    });

  program
    .command('unblacklist')
    .description('take one vassal (or every one you may see) off the blacklist: its next attempt is now')
    .argument('[vassal]', 'the vassal\'s name; all when left out')
    .option('--socket <path>', SOCKET_HELP)
    .option('--emperor <name>', EMPEROR_HELP)
    .addHelpText('after', `\nExample:\n  $ sudo jailctl unblacklist shop.ini\n${EXIT_HELP}`)
    .action(async (vassal: string | undefined, opts: { socket?: string; emperor?: string }) => {
      process.exitCode = await runAction('unblacklist', vassal, withGlobals(program, opts), controlIo());
    });
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
