// Vassals from a real PostgreSQL 15 server (started by the test on a private data directory):
// a row inserted runs, an update reloads, a delete stops, over LISTEN/NOTIFY (the safety-net
// rescan is set to a minute, so only a NOTIFY can explain a change seen sooner); an empty
// answer is held, a database that goes away leaves every vassal running, a bad row fails
// that vassal only; three emperors on one table, one per host, and rows moved among them.
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctl } from '../helpers/cli';
import { freePort, pidsWith, startEmperor, waitUntil, type RunningEmperor } from '../helpers/emperor';
import { receiver } from '../helpers/notify';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const test = suite('pg:// source');
let db: TestPostgres;
const dirs: string[] = [];
const emperors: RunningEmperor[] = [];

test.before(async () => {
  db = startPostgres();
  const schema = jailctl(['pg-schema']);
  assert.is(schema.status, 0, schema.stderr);
  await db.sql(schema.stdout);
});
test.after.each(async () => {
  await Promise.all(emperors.splice(0).map((e) => e.stop()));
  await db.sql('DELETE FROM vassals');
});
test.after(() => {
  db.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const QUERY = "SELECT name, config, ts, uid, gid, socket FROM vassals WHERE host = '%h' ORDER BY name";

// An emperor for `host` on the table, with a safety-net rescan of a minute.
function emperor(host: string, ...args: string[]): RunningEmperor {
  return emperorIn(mkdtempSync('/tmp/jailctl-pg-emperor-'), [], host, ...args);
}

function emperorIn(dir: string, wrap: readonly string[], host: string, ...args: string[]): RunningEmperor {
  dirs.push(dir);
  const e = startEmperor(['--emperor', `pg://${db.conninfo};${QUERY}`, '--emperor-hostname', host, '--emperor-name', `pg-${host}`, '--emperor-freq', '60', ...args], dir, wrap);
  emperors.push(e);
  return e;
}

// A vassal that says `up` and sleeps with `marker` in its command line.
const sleeper = (marker: string, ...lines: string[]): string => ini('unshare = ipc,uts', ...lines, `unprivileged-binary-patch-arg = /bin/sh -c "echo up; exec sleep ${marker}"`);
const running = (marker: string): boolean => pidsWith(`sleep ${marker}`).length === 1;
const gone = (marker: string): boolean => pidsWith(`sleep ${marker}`).length === 0;
const insert = (name: string, config: string, host: string, extra: { uid?: number; gid?: number } = {}): Promise<unknown[]> =>
  db.sql('INSERT INTO vassals (name, config, host, uid, gid) VALUES ($1, $2, $3, $4, $5)', [name, config, host, extra.uid ?? null, extra.gid ?? null]);

test('a row inserted runs, an update reloads it, a delete stops it: by NOTIFY, not by the rescan', async () => {
  const e = emperor('a');
  await e.waitForLog(/watching pg:\/\/postgres@\S+\/postgres/);
  await insert('shop.ini', sleeper('78101'), 'a');
  await waitUntil(() => running('78101'), `shop.ini runs\n${e.log()}`);
  const row = await e.vassal('shop.ini');
  assert.match(String((row as unknown as { config: string }).config ?? ''), /^pg:\/\/\S+\/shop\.ini$/);
  await db.sql('UPDATE vassals SET config = $1 WHERE name = $2', [sleeper('78102'), 'shop.ini']);
  await waitUntil(() => running('78102') && gone('78101'), `shop.ini reloaded\n${e.log()}`);
  await insert('blog', sleeper('78103'), 'a');
  await waitUntil(() => running('78103'), 'a name without an extension is an ini file');
  await db.sql('DELETE FROM vassals WHERE name = $1', ['shop.ini']);
  await waitUntil(() => gone('78102'), `shop.ini stopped\n${e.log()}`);
  assert.ok(running('78103'), 'the other row\'s vassal runs on');
  const ps = jailctl(['ps', '--socket', e.controlPath]);
  assert.match(ps.stdout, /^blog\.ini\s+running/m, ps.stdout);
});

test('an empty answer is held, the vassals keep running; a lost database leaves them running and comes back', async () => {
  const e = emperor('a');
  await insert('one.ini', sleeper('78111'), 'a');
  await insert('two.ini', sleeper('78112'), 'a');
  await waitUntil(() => running('78111') && running('78112'), `both run\n${e.log()}`);
  await db.sql("UPDATE vassals SET host = 'elsewhere'");
  await e.waitForLog(/the query returned no rows \(it returned 2 before\); holding: the vassals keep running/);
  const held = (await e.stats()) as unknown as { emperor_sources: Array<{ state: string; detail?: string }> };
  assert.equal(held.emperor_sources.map((s) => s.state), ['held']);
  assert.ok(running('78111') && running('78112'), 'nothing stopped');
  await db.sql("UPDATE vassals SET host = 'a'");
  await e.waitForLog(/rows are back \(2\)/);

  db.stop();
  await e.waitForLog(/the database is unreachable \(.*\); its 2 vassal\(s\) keep running/);
  const down = (await e.stats()) as unknown as { emperor_sources: Array<{ state: string }> };
  assert.equal(down.emperor_sources.map((s) => s.state), ['down']);
  assert.ok(running('78111') && running('78112'), 'nothing stopped while the database is away');
  const ps = jailctl(['ps', '--socket', e.controlPath]);
  assert.match(ps.stderr, /^jailctl: pg:\/\/\S+ is down \(.*\): its vassals run on as they were$/m, 'ps says so');
  assert.match(ps.stdout, /^one\.ini\s+running/m);
  db.start();
  await e.waitForLog(/connected again; reading the rows/, 40_000);
  await insert('three.ini', sleeper('78113'), 'a');
  await waitUntil(() => running('78113'), `a row after the reconnect runs\n${e.log()}`);
  assert.ok(running('78111') && running('78112'), 'and the others were never restarted');
});

test('emperor-pg-allow-empty: an empty answer stops them all, as the sysadmin said it should', async () => {
  const e = emperor('a', '--emperor-pg-allow-empty');
  await insert('one.ini', sleeper('78171'), 'a');
  await insert('two.ini', sleeper('78172'), 'a');
  await waitUntil(() => running('78171') && running('78172'), `both run\n${e.log()}`);
  await db.sql('DELETE FROM vassals');
  await waitUntil(() => gone('78171') && gone('78172'), `both stopped\n${e.log()}`);
  assert.not.match(e.log(), /holding/);
});

test('a bad row fails that vassal only, named; tyrant mode refuses a NULL or root uid; %p is refused', async () => {
  const e = emperor('a', '--emperor-tyrant');
  await insert('good.ini', sleeper('78121'), 'a', { uid: 1001, gid: 1001 });
  await insert('typo.ini', '[jail]\nunshare = pid,bogus\nunprivileged-binary-patch-arg = /bin/true\n', 'a', { uid: 1001, gid: 1001 });
  await insert('rootless.ini', sleeper('78122'), 'a');
  await insert('file.ini', '[jail]\nchdir = %d\nunprivileged-binary-patch-arg = /bin/true\n', 'a', { uid: 1001, gid: 1001 });
  await insert('broken.xml', '<uwsgi><uid>1</uwsgi>', 'a', { uid: 1001, gid: 1001 });
  await insert('rel.ini', '[jail]\nchdir = app\nunprivileged-binary-patch-arg = /bin/true\n', 'a', { uid: 1001, gid: 1001 });
  await insert('node.ini', '[jail]\napp = server.js\nhttp-socket = 127.0.0.1:1\n', 'a', { uid: 1001, gid: 1001 });
  await waitUntil(() => running('78121'), `good.ini runs\n${e.log()}`);
  await e.waitForLog(/typo\.ini: pg:\/\/\S+\/typo\.ini:2: unshare: unknown namespace `bogus`/);
  await e.waitForLog(/rootless\.ini: pg:\/\/\S+\/rootless\.ini: its uid column is NULL: in tyrant mode a database vassal runs as its row's uid and gid, never as root/);
  await e.waitForLog(/file\.ini: pg:\/\/\S+\/file\.ini:2: `chdir` uses %d, which names the vassal's file or directory, and this config is a database row/);
  await e.waitForLog(/broken\.xml: pg:\/\/\S+\/broken\.xml:1: XML syntax error/);
  await e.waitForLog(/rel\.ini: pg:\/\/\S+\/rel\.ini:2: chdir: `app` is a relative path, and this config is no file \(a database row\) to be relative to: give an absolute path/);
  await e.waitForLog(/node\.ini: pg:\/\/\S+\/node\.ini:2: `server\.js` is a relative path, and this config is no file \(a database row\) to be relative to: give an absolute path, or set chdir/);
  assert.ok(gone('78122'));
  const uid = /^Uid:\t(\d+)/m.exec(spawnSync('cat', [`/proc/${pidsWith('sleep 78121')[0]}/status`], { encoding: 'utf8' }).stdout)?.[1];
  assert.is(uid, '1001', 'it runs as its uid column');
  assert.ok((await e.vassal('1001/good.ini'))!.pid > 0, 'named as a tenant\'s vassal is, OWNER/NAME');
});

test('a row with a socket column is on demand: the emperor holds the socket, the first connection starts it', async () => {
  const port = await freePort();
  const e = emperor('a');
  await db.sql('INSERT INTO vassals (name, config, host, socket) VALUES ($1, $2, $3, $4)', ['lazy.ini', sleeper('78141'), 'a', `127.0.0.1:${port}`]);
  await e.waitForLog(new RegExp(`lazy\\.ini: on demand, holding 127\\.0\\.0\\.1:${port}`));
  assert.ok(gone('78141'), 'nothing runs before a connection');
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  await waitUntil(() => running('78141'), `the first connection starts it\n${e.log()}`);
  sock.destroy();
});

test('READY=1 (Type=notify) comes with the database\'s first answer, and counts what it found', async () => {
  await insert('first.ini', sleeper('78151'), 'a');
  const dir = mkdtempSync('/tmp/jailctl-pg-emperor-');
  const r = receiver(join(dir, 'notify.sock'));
  try {
    await waitUntil(() => r.got().includes('LISTENING'), 'the notify socket');
    emperorIn(dir, ['env', `NOTIFY_SOCKET=${join(dir, 'notify.sock')}`], 'a');
    await waitUntil(() => r.got().some((l) => l.includes('READY=1')), 'READY=1');
    assert.match(r.got().find((l) => l.includes('READY=1'))!, /STATUS=watching pg:\/\/\S+: 1 vassal config\(s\) found/);
  } finally {
    r.proc.kill();
  }
});

test('three emperors on one table, one per host: rows moved by UPDATE host stop on one and start on the other', async () => {
  const hosts = ['a', 'b', 'c'] as const;
  const all = hosts.map((h) => emperor(h));
  // Four rows on each host; markers 7816HR (host index H, row R).
  for (const [h, host] of hosts.entries()) for (let r = 0; r < 4; r++) await insert(`s${h}${r}.ini`, sleeper(`7816${h}${r}`), host);
  const where = async (): Promise<string[][]> => Promise.all(all.map(async (e) => (await e.stats()).vassals.map((v) => v.id).sort()));
  await waitUntil(async () => (await where()).every((ids, h) => ids.length === 4 && ids.every((id) => id.startsWith(`s${h}`))), 'each host runs its four rows');
  // Two rows of a move round the three hosts in one statement each time, while the others stay.
  for (let round = 1; round <= 6; round++) {
    const to = hosts[round % 3]!;
    await db.sql("UPDATE vassals SET host = $1 WHERE name IN ('s00.ini', 's01.ini')", [to]);
    await waitUntil(async () => {
      const ids = await where();
      return ids.every((list, h) => list.includes('s00.ini') === (h === round % 3) && list.includes('s01.ini') === (h === round % 3))
        && running('781600') && running('781601');
    }, `s00 and s01 on ${to} only, each running once`).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await where())}\n${all.map((x, i) => `--- ${hosts[i]}:\n${x.log().slice(-2500)}`).join('\n')}`);
    });
  }
  for (const [h] of hosts.entries()) for (let r = 0; r < 4; r++) if (!(h === 0 && r < 2)) assert.ok(running(`7816${h}${r}`), `s${h}${r} never moved, never stopped`);
  assert.is((await where())[0]!.length, 4, 'a runs its two and the two moved back to it');
});

test.run();
