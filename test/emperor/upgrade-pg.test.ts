// An upgrade while a pg:// source's database is down: the new emperor's first scan finds no
// rows (it cannot ask), and its vassals must run on as they are (not be taken for removed),
// while a dir:// source beside it is read as usual. Once the database is back, only what
// changed in the table meanwhile acts: a deleted row stops its vassal, the rest keep their
// pids. A real PostgreSQL server (test/helpers/postgres.ts), real emperors and jails.
import { mkdtempSync, rmSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { pidsWith, sleep, startEmperor, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { requireRoot } from '../helpers/root';
import { ini, vassalDir, type VassalDir } from '../helpers/vassal';

requireRoot();

const test = suite('emperor upgrade with a pg:// source down');
let db: TestPostgres;
let files: VassalDir;
let e: RunningEmperor | undefined;
const statsDir = mkdtempSync('/tmp/jailctl-upgrade-pg-');

test.before(async () => {
  db = startPostgres();
  const schema = jailctl(['pg-schema']);
  assert.is(schema.status, 0, schema.stderr);
  await db.sql(schema.stdout);
  files = vassalDir();
});
test.after(async () => {
  await e?.stop();
  db.remove();
  files.remove();
  rmSync(statsDir, { recursive: true, force: true });
});

const QUERY = "SELECT name, config, ts, uid, gid, socket FROM vassals WHERE host = 'up' ORDER BY name";
const sleeper = (marker: string): string => ini('unshare = ipc,uts', `unprivileged-binary-patch-arg = /bin/sh -c "echo up; exec sleep ${marker}"`);
const pidOf = (marker: string): number[] => pidsWith(`sleep ${marker}`);
const insert = (name: string, config: string): Promise<unknown[]> => db.sql("INSERT INTO vassals (name, config, host) VALUES ($1, $2, 'up')", [name, config]);

test('vassals of a source that is down at the upgrade run on; a row deleted later stops only its own', async () => {
  await insert('one.ini', sleeper('78501'));
  await insert('two.ini', sleeper('78502'));
  files.write('file.ini', sleeper('78503'));
  e = startEmperor(['--emperor', `pg://${db.conninfo};${QUERY}`, '--emperor', files.dir, '--emperor-freq', '1'], statsDir);
  await waitUntil(() => ['78501', '78502', '78503'].every((m) => pidOf(m).length === 1), `all three run\n${e?.log()}`, 20_000);
  const before = ['78501', '78502', '78503'].map((m) => pidOf(m)[0]);

  db.stop();
  await e.waitForLog(/the database is unreachable \(.*\); its 2 vassal\(s\) keep running/);
  const r = jailctl(['emperor', '--upgrade', '--emperor-control-socket', e.controlPath], { timeout: 60_000 });
  assert.is(r.status, 0, `${r.stdout}${r.stderr}\n${e.log().slice(-3000)}`);
  assert.match(r.stdout, /took back 3 vassal\(s\), 3 jail\(s\) running on, none restarted/);
  // The new emperor's first look at the database fails too; its first scan is then over.
  await waitUntil(() => (e!.log().split('upgraded in place')[1] ?? '').includes('the database is unreachable'), `the new emperor found the database down\n${e.log().slice(-3000)}`, 20_000);
  await sleep(2500); // two safety-net rescans (emperor-freq 1) of the dir source
  assert.equal(['78501', '78502', '78503'].map((m) => pidOf(m)[0]), before, 'every vassal runs on with its pid');
  assert.not.match(e.log().split('upgraded in place')[1]!, /config removed/);
  const ps = jailctl(['ps', '--socket', e.controlPath]);
  assert.match(ps.stdout, /^one\.ini\s+running/m, ps.stdout);
  assert.match(ps.stdout, /^two\.ini\s+running/m, ps.stdout);

  db.start();
  await e.waitForLog(/connected again; reading the rows/, 40_000);
  await sleep(500);
  assert.equal(['78501', '78502', '78503'].map((m) => pidOf(m)[0]), before, 'an unchanged table restarts nothing');
  await db.sql("DELETE FROM vassals WHERE name = 'one.ini'");
  await waitUntil(() => pidOf('78501').length === 0, `one.ini stopped once its row was deleted\n${e.log().slice(-3000)}`);
  assert.equal([pidOf('78502')[0], pidOf('78503')[0]], [before[1], before[2]], 'the others run on');
});

test.run();
