// The syntax-only view of a vassal file: ordered key/value entries with their line numbers.

// Which parser read the file (chosen by extension).
export type ConfigFormat = 'ini' | 'yaml' | 'json' | 'xml';

// One `key = value` as written. Values are always strings: YAML/JSON scalars are stringified,
// arrays become one entry per element, in order, with the same key.
export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key in the file. */
  readonly line: number;
  /** The file the entry came from when it is not the vassal's own (vassals-include), or
   *  the origin of an entry that has no file (`vassal-set`, `JAIL_VASSAL_*`). */
  readonly file?: string;
  /** Built from a tenant's value (tyrant mode): a tenant's own line, or a sysadmin's line
   *  that substituted one. Nothing root runs takes it unquoted (config/expand.ts). */
  readonly tainted?: boolean;
}

// Everything the config layer knows about one file; plan/compile.ts gives it meaning.
export interface RawVassalConfig {
  /** Absolute path of the file. */
  readonly file: string;
  readonly format: ConfigFormat;
  /** The section (ini) or top-level key (yaml/json) the entries came from. */
  readonly section: 'jail' | 'uwsgi';
  readonly entries: readonly ConfigEntry[];
}
