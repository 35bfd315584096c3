// The table a pg:// source reads, as `jailctl pg-schema` prints it: one row per vassal, the
// host that runs it, and the trigger that NOTIFYs the emperors (LISTEN jailctl) on any change
// and stamps ts on every update, so a change is seen within a NOTIFY, not a rescan.
import { PG_CHANNEL } from './pg';

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Why NAME cannot name the table, or undefined. */
export function badTableName(name: string): string | undefined {
  return IDENT_RE.test(name) ? undefined : 'a table name here is 1 to 63 lower-case letters, digits or _, not starting with a digit';
}

export function pgSchema(table = 'vassals'): string {
  return `-- jailctl's vassal table: one row per vassal; each emperor runs the rows of its host.
--   jailctl emperor --emperor "pg://dbname=hosting;SELECT name, config, ts, uid, gid, socket FROM ${table} WHERE host = '%h'"
CREATE TABLE IF NOT EXISTS ${table} (
  name   text PRIMARY KEY CHECK (name <> '' AND name !~ '/' AND name !~ '^\\.'),
  config text NOT NULL,                       -- the vassal file's text (ini unless name ends in .yaml, .json, .xml)
  ts     timestamptz NOT NULL DEFAULT now(),  -- stamped on every update by the trigger below
  uid    integer CHECK (uid > 0),             -- tyrant mode: the tenant it runs as (NULL is refused there)
  gid    integer CHECK (gid > 0),
  socket text,                                -- on demand: the address the emperor holds (NULL: not on demand)
  host   text NOT NULL                        -- which emperor runs it (%h, emperor-hostname)
);
CREATE INDEX IF NOT EXISTS ${table}_host ON ${table} (host);

CREATE OR REPLACE FUNCTION ${table}_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.ts := clock_timestamp();
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER ${table}_stamp BEFORE UPDATE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${table}_stamp();

-- One NOTIFY per statement: every emperor listening reads its rows again (a row moved to
-- another host stops on the first and starts on the second).
CREATE OR REPLACE FUNCTION ${table}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${PG_CHANNEL}', TG_TABLE_NAME);
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER ${table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION ${table}_notify();
`;
}
