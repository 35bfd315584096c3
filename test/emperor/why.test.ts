// jailctl why VASSAL against a real emperor through its control socket: a failed, a
// blacklisted, an on-demand and a tenant's vassal, as root and as the tenant (setpriv).
import { chownSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { jailctlRun, type CliResult } from '../helpers/cli';
import { emperorFixture, freePort, type RunningEmperor } from '../helpers/emperor';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';
import type { WhyDocument } from '../../src/emperor/why';

requireRoot();

const test = suite('jailctl why');
const fx = emperorFixture(test, 0o755);

const as = (uid: number): string[] => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];

function why(e: RunningEmperor, name: string, uid?: number, json = true): Promise<CliResult> {
  return jailctlRun(['why', name, ...(json ? ['--json'] : []), '--socket', e.controlPath], uid === undefined ? {} : { wrap: as(uid) });
}

async function doc(e: RunningEmperor, name: string, uid?: number): Promise<WhyDocument> {
  const r = await why(e, name, uid);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as WhyDocument;
}

test('a failed vassal: the stage, the option, file:line; the effective options with their origins', async () => {
  const file = fx.dir.write('bad.ini', ini('unshare = fs,pid', 'unsahre = ipc', 'uid = nosuchuser', 'unprivileged-binary-patch-arg = sleep 79501'));
  const e = fx.start(['--emperor', fx.dir.dir, '--vassal-set', 'max-procs=300']);
  await e.waitForVassal('bad.ini', (v) => v?.state === 'failed', 'failed');
  const w = await doc(e, 'bad');
  assert.is(w.vassal, 'bad.ini');
  assert.is(w.state, 'failed');
  assert.ok(w.since > 0 && w.since <= Date.now() / 1000 + 1, `since ${w.since}`);
  assert.equal(w.source.path, file);
  assert.is(w.failure?.stage, 'plan');
  assert.is(w.failure?.option, 'uid');
  assert.is(w.failure?.file, file);
  assert.is(w.failure?.line, 4, 'the uid line (line 1 is [jail])');
  assert.match(w.failure!.message, /nosuchuser/);
  // Every layer, each with where it came from.
  const from = (key: string): string | undefined => w.config.find((c) => c.key === key)?.from;
  assert.is(from('max-procs'), 'vassal-set:1', 'the first vassal-set');
  assert.is(from('unshare'), `${file}:2`);
  assert.is(from('uid'), `${file}:4`);
  assert.is(w.runsAs.why, `uid = nosuchuser (${file}:4)`);
  // The text form says the same for a person.
  const text = await why(e, 'bad.ini', undefined, false);
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /^bad\.ini: failed since /);
  assert.match(text.stdout, /last error stage plan, option uid at \S+bad\.ini:4/);
  assert.match(text.stdout, /vassal-set:1\s+max-procs = 300/);
  // An unknown name: the nearest, not the whole list.
  const miss = await why(e, 'bda');
  assert.is(miss.status, 1);
  assert.match(miss.stderr, /no vassal bda \(did you mean bad\.ini\?\)/);
});

test('a blacklisted vassal: its last exit, the attempt, and when the next one comes; a failed exec: stage exec, ENOENT', async () => {
  fx.dir.write('crash.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sh -c "echo crash 79511 >&2; exit 3"'));
  fx.dir.write('noexec.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = /nonexistent/79512'));
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-throttle', '5000']);
  await e.waitForVassal('crash.ini', (v) => v?.state === 'blacklisted', 'blacklisted');
  const w = await doc(e, 'crash.ini');
  assert.is(w.state, 'blacklisted');
  assert.ok(w.blacklist && w.blacklist.attempt >= 1, JSON.stringify(w.blacklist));
  assert.is(w.throttle.stepMs, 5000);
  assert.ok(w.nextAttempt !== null && w.nextAttempt > Date.now(), `next attempt ${w.nextAttempt}`);
  assert.match(w.lastExit ?? '', /status 3/);
  assert.ok(w.log.some((l) => l.includes('crash 79511')), `log: ${JSON.stringify(w.log)}`);
  assert.ok(w.log.length <= 10);
  assert.match((await why(e, 'crash', undefined, false)).stdout, /next try\s+in \d+\.\d s/);

  await e.waitForVassal('noexec.ini', (v) => v?.state === 'failed', 'failed for good');
  const n = await doc(e, 'noexec');
  assert.is(n.failure?.stage, 'exec');
  assert.is(n.failure?.errno, 'ENOENT');
});

test('tyrant mode: a tenant asks about its own vassal (runs as the file\'s owner, its warnings), never another\'s', async () => {
  const alice = fx.dir.write('alice.ini', ini('unsahre = ipc', 'unprivileged-binary-patch-arg = sleep 79521'));
  chownSync(alice, 1001, 1001);
  chownSync(fx.dir.write('bob.ini', ini('unprivileged-binary-patch-arg = sleep 79522')), 1002, 1002);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-tyrant', '--vassal-set', 'max-procs=300']);
  await e.waitForVassal('1001/alice.ini', (v) => v?.state === 'running', 'running');
  await e.waitForVassal('1002/bob.ini', (v) => v?.state === 'running', 'running');
  const w = await doc(e, 'alice', 1001);
  assert.is(w.vassal, '1001/alice.ini');
  assert.is(w.runsAs.uid, 1001);
  assert.match(w.runsAs.why, /^tyrant mode: the owner of \S+alice\.ini/);
  assert.ok(w.pid > 0);
  assert.ok(w.warnings.some((l) => /unknown option `unsahre` \(did you mean `unshare`\?\)/.test(l)), JSON.stringify(w.warnings));
  // Its own lines only: the sysadmin's layers may hold root's commands and secrets.
  assert.ok(w.config.every((c) => c.from.startsWith(`${alice}:`)), JSON.stringify(w.config));
  assert.ok(w.config.some((c) => c.key === 'unsahre'));
  assert.ok(w.hidden >= 1, 'the vassal-set line is counted, not shown');
  assert.ok((await doc(e, '1001/alice.ini')).config.some((c) => c.from === 'vassal-set:1'), 'root sees every layer');
  // The same warning in the tenant's own ps -a.
  const ps = await jailctlRun(['ps', '-a', '--socket', e.controlPath], { wrap: as(1001) });
  assert.match(ps.stdout, /1001\/alice\.ini: warning: \S+alice\.ini:2: unknown option `unsahre`/);
  assert.not.match(ps.stdout, /bob/);
  const theirs = await why(e, 'bob.ini', 1001);
  assert.is(theirs.status, 1);
  assert.match(theirs.stderr, /no vassal bob\.ini among the vassals running as uid 1001/);
  assert.not.match(theirs.stdout, /79522/);
});

test('an on-demand vassal: the address the emperor holds', async () => {
  const port = await freePort();
  fx.dir.write('lazy.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 79531'));
  fx.dir.write('lazy.ini.socket', `127.0.0.1:${port}\n`);
  const e = fx.start(['--emperor', fx.dir.dir, '--emperor-on-demand-extension', '.socket']);
  await e.waitForVassal('lazy.ini', (v) => v?.state === 'on-demand', 'on demand');
  const w = await doc(e, 'lazy');
  assert.is(w.state, 'on-demand');
  assert.is(w.onDemand, `127.0.0.1:${port}`);
  assert.is(w.pid, 0);
  assert.is(w.logPath, join(e.logsDir, 'lazy.ini.log'));
  assert.match((await why(e, 'lazy', undefined, false)).stdout, new RegExp(`on demand\\s+the emperor holds 127\\.0\\.0\\.1:${port}`));
});

test.run();
