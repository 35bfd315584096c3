// An upgrade's pre-flight: before the emperor execs itself (handover.ts), the new version
// runs once as a child with the same argv, environment and working directory and
// `--upgrade-check` added. That child loads what the real start loads (every module, the
// addon, the lazily loaded ones the options need), reads the emperor's config and options
// as the real start reads them, checks what can be checked without opening anything, and
// prints one JSON line (CheckAnswer); only then does the exec happen. A version that cannot
// start is refused with the stage that failed and its stderr, and the old emperor goes on:
// once the exec has happened there is no way back, and a new emperor that fails to start
// takes every jail with it.
//
// The child goes through the executor (DESIGN.md, 4: never child_process, whose reaping
// would race the emperor's), as root with the emperor's capabilities, without a seccomp
// filter or namespaces: as the new emperor itself will run.
import { closeSync } from 'node:fs';
import type { UserDb } from '../config/users';
import { launchJail, type Jail } from '../jail/launch';
import { createMonitor } from '../monitors';
import { binding } from '../native/binding';
import { NO_LIMITS } from '../plan/types';
import { HANDOVER_VERSIONS } from './handover';
import { metricsAddress } from './metrics-server';
import type { EmperorOptions } from './options';
import { resolveEmperorCredentials } from './privileges';
import { checkStatsExposure, parseStatsAddress } from './stats';

/** The flag the new version is run with (the emperor command's hidden option). */
export const CHECK_FLAG = '--upgrade-check';

/** How long the new version may take to load and answer. */
export const CHECK_TIMEOUT_MS = 30_000;

/** At most this much of the child's output is kept (its stderr's end is what tells). */
const OUTPUT_MAX = 64 * 1024;

/** What the new version answers on stdout when it could start. */
export interface CheckAnswer {
  readonly ok: true;
  readonly check: 'upgrade';
  readonly version: string;
  /** The handover record versions it reads. */
  readonly handover: readonly number[];
}

/** Where a pre-flight failed: it could not be run, exited non-zero (or was killed), did not
 *  answer in time, answered nothing usable, or cannot read this emperor's record. */
export type CheckStage = 'launch' | 'exit' | 'timeout' | 'answer' | 'handover';

export type CheckResult = { readonly ok: true; readonly answer: CheckAnswer } | { readonly ok: false; readonly stage: CheckStage; readonly message: string };

// The new version's side: what the real start would refuse, checked without side effects
// (no pidfile, no socket, no cgroup, no vassal). Throws what the start would throw.
export function checkEmperorStart(options: EmperorOptions, users: UserDb): void {
  const warn = (): void => undefined;
  for (const spec of options.emperor) createMonitor(spec, { freq: options.freq, nofollow: options.nofollow, warn, hostname: options.hostname ?? '', pgAllowEmpty: options.pgAllowEmpty }).close();
  // What the running emperor loads later, on first use: a broken install shows now.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('js-yaml'), require('jsonc-parser');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (options.emperor.some((s) => s.startsWith('pg://'))) require('pg');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (options.metrics) require('prom-client');
  resolveEmperorCredentials(options, users);
  if (options.stats) checkStatsExposure(parseStatsAddress(options.stats), options.stats, options);
  if (options.metrics) {
    const group = options.metricsGroup;
    const gid = group === undefined ? undefined : /^\d+$/.test(group) ? Number(group) : users.groupByName(group);
    metricsAddress(options.metrics, { tyrant: options.tyrant, metricsPublic: options.metricsPublic, ...(gid !== undefined ? { gid } : {}) });
  }
}

// Everything `fd` (a socket) gives until EOF, at most OUTPUT_MAX bytes kept (the last
// ones); `stop()` gives up reading (a child that left its output open to a grandchild).
function readAll(fd: number): { text: Promise<string>; stop(): void } {
  const chunks: Buffer[] = [];
  let size = 0;
  let done: (() => void) | undefined;
  const text = new Promise<string>((resolve) => {
    const watcher = new binding.FdWatcher(fd, () => {
      let data: Buffer;
      try {
        data = binding.recvFds(fd, 65536, 0).data;
      } catch (err: unknown) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        data = Buffer.alloc(0); // the other end is broken: as good as EOF
      }
      if (data.length > 0) {
        chunks.push(data);
        size += data.length;
        while (size > OUTPUT_MAX && chunks.length > 1) size -= chunks.shift()!.length;
        return;
      }
      done!();
    });
    done = () => {
      done = () => undefined;
      watcher.close();
      closeSync(fd);
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
  });
  return { text, stop: () => done?.() };
}

// The last lines of a child's stderr, for a message.
const tail = (text: string): string => {
  const t = text.trim();
  return t === '' ? '(it wrote nothing to stderr)' : t.length > 2000 ? `…${t.slice(-2000)}` : t;
};

// The old emperor's side: runs `argv` + CHECK_FLAG and says whether the exec may follow.
export async function checkNewVersion(argv: readonly string[], env: readonly string[], cwd: string, caps: readonly string[], recordVersion: number, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult> {
  const [outOurs, outTheirs] = binding.socketPair();
  const [errOurs, errTheirs] = binding.socketPair();
  let jail: Jail;
  try {
    jail = launchJail({
      vassal: 'emperor-upgrade-check',
      namespaces: [],
      mounts: [],
      loopback: false,
      hooks: [],
      groups: [],
      limits: NO_LIMITS,
      seccomp: { mode: 'none', deny: [], allow: [] },
      caps,
      noNewPrivs: false,
      newSession: true,
      program: { option: 'emperor --upgrade', privileged: true, path: argv[0]!, argv: [...argv, CHECK_FLAG] },
      env,
      chdir: cwd,
      fds: [{ src: outTheirs, dst: 1 }, { src: errTheirs, dst: 2 }],
    });
  } catch (err: unknown) {
    for (const fd of [outOurs, errOurs]) closeSync(fd);
    return { ok: false, stage: 'launch', message: (err as Error).message };
  } finally {
    for (const fd of [outTheirs, errTheirs]) closeSync(fd);
  }
  const out = readAll(outOurs);
  const err = readAll(errOurs);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const started = await Promise.race([jail.started.then(() => undefined, (e: unknown) => e as Error), timedOut]);
    if (started instanceof Error) return { ok: false, stage: 'launch', message: started.message };
    const exit = await Promise.race([jail.exited, timedOut]);
    if (exit === 'timeout') {
      jail.signal('SIGKILL');
      await jail.exited;
      out.stop();
      err.stop();
      return { ok: false, stage: 'timeout', message: `it did not answer within ${timeoutMs / 1000} s and was killed (it hangs at start: a module that waits, a config on a mount that does not answer); its stderr: ${tail(await err.text)}` };
    }
    // Its output is read to EOF unless a process it left behind holds it open.
    const grace = setTimeout(() => (out.stop(), err.stop()), 1000);
    const [stdout, stderr] = await Promise.all([out.text, err.text]);
    clearTimeout(grace);
    if (exit.code !== 0)
      return { ok: false, stage: 'exit', message: `it exited with ${exit.code !== null ? `status ${exit.code}` : `signal ${exit.signal}`}; its stderr: ${tail(stderr)}` };
    let answer: CheckAnswer | undefined;
    try {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      const parsed = JSON.parse(last) as Partial<CheckAnswer>;
      if (parsed.ok === true && parsed.check === 'upgrade' && Array.isArray(parsed.handover)) answer = parsed as CheckAnswer;
    } catch (e: unknown) {
      if (!(e instanceof SyntaxError)) throw e;
    }
    if (!answer) return { ok: false, stage: 'answer', message: `it exited 0 but gave no check answer (is it a jailctl that knows ${CHECK_FLAG}?); its stdout: ${tail(stdout)}` };
    if (!answer.handover.includes(recordVersion))
      return { ok: false, stage: 'handover', message: `version ${answer.version} reads handover records of version ${answer.handover.join(', ') || 'none'}, and this emperor writes version ${recordVersion}: stop and start the emperor instead (its jails restart)` };
    return { ok: true, answer };
  } finally {
    clearTimeout(timer);
  }
}

/** The check answer of this version (printed by `jailctl emperor --upgrade-check`). */
export const checkAnswer = (version: string): CheckAnswer => ({ ok: true, check: 'upgrade', version, handover: HANDOVER_VERSIONS });
