// parsePgSpec(): uWSGI's pg://CONNINFO;QUERY, a URL or libpq's words, %h, and each refusal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MonitorSpecError } from '../../../src/monitors/errors';
import { parsePgSpec } from '../../../src/monitors/pg-spec';
import { pgSchema, badTableName } from '../../../src/monitors/pg-schema';
import { thrown } from '../../helpers/thrown';

const test = suite('pg:// spec');
const refusal = (rest: string, host = 'web1'): string => thrown(() => parsePgSpec(rest, host), MonitorSpecError).message;

test('libpq words: a ; inside a quoted password is the password\'s; %h is this host', () => {
  const s = parsePgSpec("host=db.lan port=5433 user=emperor password='a;b c\\'d' dbname=hosting sslmode=require;SELECT name, config, ts FROM vassals WHERE host = '%h'", 'web1');
  assert.equal(s.config, { host: 'db.lan', port: 5433, user: 'emperor', password: "a;b c'd", database: 'hosting', ssl: { rejectUnauthorized: false } });
  assert.is(s.query, "SELECT name, config, ts FROM vassals WHERE host = 'web1'");
  assert.is(s.label, 'pg://emperor@db.lan:5433/hosting', 'no password in what is shown');
  assert.is(parsePgSpec('dbname=x;SELECT 1', 'h').config.host, '/var/run/postgresql', 'no host: Debian\'s socket, as psql');
});

test('a URL: everything before the first ;', () => {
  const s = parsePgSpec('postgres://emperor:secret@db:5432/hosting?sslmode=disable;SELECT name, config, ts FROM v', 'h');
  assert.equal(s.config, { connectionString: 'postgres://emperor:secret@db:5432/hosting?sslmode=disable' });
  assert.is(s.label, 'pg://emperor@db:5432/hosting');
});

test('refusals say what to write', () => {
  assert.match(refusal('dbname=x'), /expected pg:\/\/CONNINFO;QUERY/);
  assert.match(refusal('dbname=x;  '), /no query after the `;`/);
  assert.match(refusal('dbname=x bogus=1;SELECT 1'), /unknown connection keyword `bogus`/);
  assert.match(refusal('dbname=x port=abc;SELECT 1'), /port = `abc` is not a number/);
  assert.match(refusal("dbname='x;SELECT 1"), /expected pg:\/\/CONNINFO;QUERY/, 'an unclosed quote swallows the ;');
  assert.match(refusal("dbname=x;SELECT 1 WHERE host = '%h'", "web'; DROP TABLE v; --"), /the host's name .* is not a plain hostname; set emperor-hostname/);
});

test('pg-schema: the table, its trigger, and a checked table name', () => {
  const sql = pgSchema('sites');
  assert.match(sql, /CREATE TABLE IF NOT EXISTS sites \(/);
  assert.match(sql, /pg_notify\('jailctl', TG_TABLE_NAME\)/);
  assert.match(sql, /AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sites/);
  assert.is(badTableName('sites_2'), undefined);
  assert.ok(badTableName('x; DROP'));
});

test('the trigger the README shows is the one pg-schema prints', () => {
  const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const block = /The trigger that tells the emperors[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has the block');
  const schema = pgSchema();
  for (const line of block.split('\n').filter((l) => l.trim() !== '')) assert.ok(schema.includes(line), `pg-schema prints: ${line}`);
});

test.run();
