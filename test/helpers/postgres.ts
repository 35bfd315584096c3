// A real PostgreSQL 15 server (Debian's) for one test file: initdb on a private data
// directory, listening only on a UNIX socket in it, on a port of its own, run as the postgres
// user; stopped and removed at the end. Nothing of the host's clusters is touched.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** libpq words for the emperor's pg:// source. */
  readonly conninfo: string;
  readonly socketDir: string;
  readonly port: number;
  /** Runs SQL as postgres on its own connection. */
  sql(text: string, values?: readonly unknown[]): Promise<unknown[]>;
  start(): void;
  stop(): void;
  remove(): void;
}

function asPostgres(args: readonly string[]): void {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: status ${r.status}: ${r.stderr}${r.stdout}`);
}

export function startPostgres(): TestPostgres {
  const dir = mkdtempSync('/tmp/jailctl-pg-');
  chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const data = join(dir, 'data');
  // A port from the pid: two test runs on one box do not meet (the socket is in `dir` anyway).
  const port = 20000 + (process.pid % 20000);
  asPostgres([`${BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const self: TestPostgres = {
    conninfo: `host=${dir} port=${port} user=postgres dbname=postgres`,
    socketDir: dir,
    port,
    async sql(text, values = []) {
      const c = new Client({ host: dir, port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        return (await c.query(text, [...values])).rows;
      } finally {
        await c.end();
      }
    },
    start() {
      asPostgres([`${BIN}/pg_ctl`, '-D', data, '-l', join(dir, 'log'), '-w', '-o',
        `-k ${dir} -p ${port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off`, 'start']);
    },
    stop() {
      asPostgres([`${BIN}/pg_ctl`, '-D', data, '-m', 'fast', '-w', 'stop']);
    },
    remove() {
      try {
        self.stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  self.start();
  return self;
}

function idField(cmd: string, name: string): number {
  const r = spawnSync('id', [cmd, name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`no ${name} user: install Debian's postgresql (.ci/install does)`);
  return Number(r.stdout.trim());
}
const uidOf = (name: string): number => idField('-u', name);
const gidOf = (name: string): number => idField('-g', name);
