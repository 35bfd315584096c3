// What every monitor reports, whatever it watches (a directory, a glob, later a database).

/** A vassal config as a monitor sees it. */
export interface VassalSource {
  /** The file name (`web.ini`): the vassal's name, unique across every source (in tyrant mode per owner: see emperor/names.ts). */
  readonly name: string;
  /** Absolute path of the config file. */
  readonly path: string;
  /** The monitor's own spec (`dir:///etc/jails`), for stats and messages. */
  readonly monitor: string;
  /** Modification time in nanoseconds, full precision. */
  readonly mtimeNs: bigint;
  /** Owner of the file, a symlink's target's (tyrant mode runs the vassal as this user). */
  readonly uid: number;
  readonly gid: number;
  /** Owner of the symlink itself, when the path is one (emperor-tyrant-nofollow). */
  readonly link?: { readonly uid: number; readonly gid: number };
  /** An on-demand socket the emperor holds for this vassal (a pg:// row's 6th column). */
  readonly onDemandSocket?: string;
  /** A config that is no file (a pg:// row): its text, and its uid and gid columns (null
   *  when NULL). `path` then only names it. */
  readonly inline?: { readonly text: string; readonly uid: number | null; readonly gid: number | null };
}

/** How a source is doing, for stats and ps: `down` while its database is unreachable, `held`
 *  while an empty answer is not believed (the vassals keep running either way). */
export interface SourceStatus {
  readonly spec: string;
  readonly state: 'up' | 'down' | 'held';
  readonly detail?: string;
}

export type MonitorEvent =
  | { readonly kind: 'add'; readonly source: VassalSource }
  | { readonly kind: 'change'; readonly source: VassalSource }
  | { readonly kind: 'remove'; readonly source: VassalSource };

export interface Monitor {
  readonly spec: string;
  /** Scans once (reporting every config as added), then watches. */
  start(emit: (event: MonitorEvent) => void): void;
  /** Scans again now (the periodic safety net, or a SIGHUP). */
  rescan(): void;
  close(): void;
  /** A source that can be down (a database); files are always up. */
  status?(): SourceStatus;
  /** A source that answers later (a database): settles at its first answer, or its first
   *  failure to connect; files have answered once start() returns. */
  firstAnswer?(): Promise<void>;
  /** Before start(): the vassals an emperor upgrade took back from this source, taken as
   *  reported already (a source that diffs its answers: a database). What changed from
   *  them is reported at its first answer; while it is down, nothing (they run on). */
  adopt?(sources: readonly VassalSource[]): void;
}

export interface MonitorOptions {
  /** Seconds between safety-net rescans (emperor-freq). */
  readonly freq: number;
  /** Compare a symlink's own mtime instead of its target's (emperor-nofollow). */
  readonly nofollow: boolean;
  /** Problems worth a log line (a directory that vanished…); the monitor carries on. */
  readonly warn: (message: string) => void;
  /** This host's name, for %h in a pg:// query (emperor-hostname; default the kernel's). */
  readonly hostname?: string;
  /** A pg:// query that returns no rows after returning some means "stop them all". */
  readonly pgAllowEmpty?: boolean;
}
