// The old emperor's side of `jailctl emperor --upgrade` (SIGUSR2), in order: the new
// version's pre-flight (upgrade-check.ts), every vassal settled into the record, then the
// exec (handover.ts). Each step that fails leaves everything as it was.
import { ControlError } from './control';
import { HANDOVER_VERSIONS, reexecWith, settledRecord, type HandingOver, type HandoverRecord } from './handover';
import { CHECK_FLAG, checkNewVersion } from './upgrade-check';

/** What an upgrade needs of the emperor. */
export interface UpgradingEmperor {
  vassals(): Iterable<HandingOver>;
  stopping(): boolean;
  /** Its effective capabilities: the pre-flight gets them, as the new emperor will. */
  readonly caps: ReadonlySet<string>;
  /** Where it was started (relative parts of its argv mean what they meant). */
  readonly cwd: string;
  log(line: string): void;
}

// Returns only by throwing a ControlError (the answer to the operator): the pre-flight
// refused the new version, a vassal did not settle, or the exec failed.
export async function upgradeInPlace(e: UpgradingEmperor, fds: { control?: number; reply?: number }): Promise<never> {
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env = Object.entries(process.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  e.log(`upgrade: pre-flight: ${argv.join(' ')} ${CHECK_FLAG}`);
  const check = await checkNewVersion(argv, env, e.cwd, [...e.caps], HANDOVER_VERSIONS[0]!);
  if (!check.ok) {
    const message = `not upgraded, nothing changed: the new version failed its pre-flight (stage ${check.stage}): ${check.message}; fix that and run jailctl emperor --upgrade again (this emperor and its jails go on as they are)`;
    e.log(`upgrade: ${message}`);
    throw new ControlError('EUPGRADE', message);
  }
  e.log(`upgrade: pre-flight passed (version ${check.answer.version} loads and takes these options)`);
  if (e.stopping()) throw new ControlError('ESTATE', 'the emperor is shutting down');
  let record: HandoverRecord;
  try {
    record = await settledRecord(() => e.vassals(), fds);
  } catch (err: unknown) {
    throw new ControlError('ESTATE', (err as Error).message);
  }
  e.log(`upgrade: handing ${record.vassals.length} vassal(s) over and executing ${argv.join(' ')}`);
  try {
    reexecWith(record, argv, process.env, e.cwd);
  } catch (err: unknown) {
    const x = err as NodeJS.ErrnoException;
    e.log(`upgrade: ${x.syscall ?? 'exec'} failed (${x.code ?? x.message}); going on as before, nothing changed`);
    throw new ControlError('EUPGRADE', `not upgraded: ${x.syscall ?? 'exec'} ${argv[0]}: ${x.code ?? x.message} (is node still at ${process.execPath}?); the emperor goes on as before`);
  }
}
