// Invariant 7 under fire: seeded hostile vassal files (test/helpers/hostile.ts) in all four
// formats. The bulk goes through buildVassal in-process, as the emperor reads them (plain
// and tyrant mode, with a sysadmin include that puts a tenant value in a root hook); a few
// thousand go through a real emperor's directory beside a canary vassal, whose jail must
// never be restarted, and the emperor must still answer its control socket at the end.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_WARNINGS } from '../../src/config/limits';
import { parseUserDb } from '../../src/config/users';
import { DEFAULT_EMPEROR_OPTIONS, type EmperorOptions } from '../../src/emperor/options';
import { buildVassal, INTERNAL_ERROR, type VassalBuildContext } from '../../src/emperor/vassal-config';
import { ConfigError, PlanError } from '../../src/errors';
import { splitWords } from '../../src/plan/words';
import { jailctl } from '../helpers/cli';
import { alive, emperorFixture, pidsWith, sleep, waitUntil } from '../helpers/emperor';
import { EXTS, hostileFile, Rng, type HostileFile } from '../helpers/hostile';
import { requireRoot } from '../helpers/root';
import { ini } from '../helpers/vassal';

requireRoot();

const SEED = Number(process.env.JAILCTL_FUZZ_SEED ?? 20261101);
const IN_PROCESS = 10_000;
const THROUGH_EMPEROR = 2_000;
const BATCH = 250;
/** The CPU one file may cost buildVassal (not wall-clock: the machine is shared). Every
 *  bound of config/limits.ts keeps a file far below; before them a list took 40 s. */
const MAX_CPU_MS_PER_FILE = 2_000;
const TENANT = 1001;

const users = parseUserDb(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'));

// A build context as the emperor makes one (fds are placeholders: nothing is launched).
function context(options: EmperorOptions): VassalBuildContext {
  return {
    options,
    users,
    baseEnv: { PATH: '/usr/bin:/bin' },
    env: { HOME: '/root', PATH: '/usr/bin:/bin' },
    emperorFd: -1,
    configFd: -1,
    privileges: { uid: 0, gid: 0, caps: new Set(['sys_admin', 'setuid', 'setgid', 'kill']) },
  };
}

const describe = (i: number, f: HostileFile): string =>
  `file #${i} (seed ${SEED}, ${f.kind}, .${f.ext}, ${f.data.length} bytes: ${JSON.stringify(f.data.subarray(0, 80).toString('latin1'))}…)`;

const inProcess = suite('buildVassal: hostile files in-process');

inProcess(`${IN_PROCESS} files: only ConfigError or PlanError, bounded messages, warnings and CPU; tenant values stay one word`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-fuzz-'));
  try {
    const include = join(dir, 'sysadmin.ini');
    writeFileSync(include, ini('exec-as-root = printf %%s %(vassal_name)', 'env = FROM_INCLUDE=%(vassal_name)'));
    const plain = context({ ...DEFAULT_EMPEROR_OPTIONS, vassalSet: ['max-procs=500'] });
    const tyrant = context({ ...DEFAULT_EMPEROR_OPTIONS, tyrant: true, vassalsInclude: [include] });
    const r = new Rng(SEED);
    const counts = { ok: 0, config: 0, plan: 0 };
    let worstMs = 0;
    let worst = '';
    for (let i = 0; i < IN_PROCESS; i++) {
      const f = hostileFile(r);
      const asTenant = i % 2 === 1;
      const path = join(dir, `v${i % 7}.${f.ext}`);
      writeFileSync(path, f.data);
      if (asTenant) chownSync(path, TENANT, TENANT);
      const ctx = asTenant ? tyrant : plain;
      const source = { name: `v${i % 7}.${f.ext}`, path, monitor: `dir://${dir}`, mtimeNs: 0n, uid: asTenant ? TENANT : 0, gid: asTenant ? TENANT : 0 };
      const before = process.cpuUsage();
      try {
        const build = buildVassal(source, ctx);
        counts.ok++;
        assert.ok(build.warnings.length <= MAX_WARNINGS + 1, `${build.warnings.length} warnings for ${describe(i, f)}`);
        if (asTenant) {
          // The include's hook is the only one (a tenant's own are refused): one word for the value.
          assert.is(build.plan.hooks.length, 1, describe(i, f));
          const words = splitWords(build.plan.hooks[0]!.command);
          assert.is(words.length, 3, `the tenant's value is one word in ${JSON.stringify(build.plan.hooks[0]!.command)}: ${describe(i, f)}`);
        }
      } catch (err: unknown) {
        if (!(err instanceof ConfigError || err instanceof PlanError))
          return assert.unreachable(`${describe(i, f)} threw ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        if (err instanceof ConfigError) counts.config++;
        else counts.plan++;
        assert.not.match(err.message, INTERNAL_ERROR, `${describe(i, f)}: ${err.message} ${err.cause instanceof Error ? err.cause.stack : ''}`);
        assert.ok(err.message.length < 2_000, `a ${err.message.length}-character message for ${describe(i, f)}`);
      }
      const used = process.cpuUsage(before);
      const ms = (used.user + used.system) / 1000;
      if (ms > worstMs) [worstMs, worst] = [ms, describe(i, f)];
      unlinkSync(path);
    }
    console.log(`  ${IN_PROCESS} files: ${counts.ok} built, ${counts.config} ConfigError, ${counts.plan} PlanError; most CPU ${worstMs.toFixed(0)} ms: ${worst}`);
    assert.ok(worstMs < MAX_CPU_MS_PER_FILE, `${worstMs.toFixed(0)} ms of CPU for ${worst}`);
    assert.ok(counts.ok > 100 && counts.config > 1000 && counts.plan > 100, 'the generator reaches every outcome');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

inProcess.run();

const emperor = suite('a real emperor and hostile files');
const fx = emperorFixture(emperor, 0o755);

emperor(`${THROUGH_EMPEROR} files through the watched directory: the canary's jail never restarts, the emperor answers`, async () => {
  const dir = fx.dir.dir;
  const canary = fx.dir.write('canary.ini', ini('unshare = fs,pid', 'unprivileged-binary-patch-arg = sleep 77499'));
  chownSync(canary, TENANT, TENANT);
  // Tyrant mode: a mutation that still compiles runs as uid 1001, never a root hook.
  const e = fx.start(['--emperor', dir, '--emperor-tyrant', '--emperor-freq', '1']);
  // In tyrant mode a vassal is OWNER/NAME (the uid: the test tenant has no passwd entry).
  const { pid } = (await e.waitForVassal(`${TENANT}/canary.ini`, (v) => v?.state === 'running', 'the canary running'))!;
  const jail = pidsWith('sleep 77499'); // the jail's init and the sleep under it
  // Files that are not what their size says, or no files at all: read as little as possible.
  for (const [name, target] of [['pagemap.ini', '/proc/self/pagemap'], ['status.yaml', '/proc/self/status'], ['zero.json', '/dev/zero']] as const)
    symlinkSync(target, join(dir, name));
  spawnSync('mkfifo', [join(dir, 'fifo.yml')]);
  // (The monitor skips the device and the FIFO; the emperor must not block on them either.)
  await e.waitForLog(/pagemap\.ini: \S+pagemap\.ini: cannot read: EINVAL/, 20_000);
  await e.waitForLog(/status\.yaml: \S+status\.yaml: has more bytes than its size \(0\)/);
  const r = new Rng(SEED + 1);
  for (let done = 0; done < THROUGH_EMPEROR; done += BATCH) {
    const names: string[] = [];
    for (let i = done; i < done + BATCH; i++) {
      const f = hostileFile(r);
      const name = `f${i}.${f.ext}`;
      const path = join(dir, name);
      writeFileSync(path, f.data);
      chownSync(path, TENANT, TENANT);
      names.push(name);
    }
    // Every file of the batch seen and settled (failed, blacklisted, or running).
    const end = Date.now() + 45_000;
    for (;;) {
      const stats = await e.stats().catch((err: unknown) => {
        throw new Error(`batch ${done / BATCH}: the emperor does not answer (${String(err)}); it exited ${JSON.stringify([e.child.exitCode, e.child.signalCode])}; log:\n${e.log().slice(-3000)}`);
      });
      const states = new Map(stats.vassals.map((v) => [v.id, v.state]));
      const id = (n: string): string => `${TENANT}/${n}`;
      if (names.every((n) => states.has(id(n)) && states.get(id(n)) !== 'spawning')) break;
      assert.ok(Date.now() < end, `batch ${done / BATCH}: not every file settled\n${e.log().slice(-3000)}`);
      await sleep(100);
    }
    for (const n of names) unlinkSync(join(dir, n));
    assert.ok(alive(e.child.pid!), `the emperor is alive after batch ${done / BATCH}`);
    assert.equal(pidsWith('sleep 77499'), jail, `the canary's jail is the same processes after batch ${done / BATCH}`);
  }
  const ps = jailctl(['ps', '--json', '--socket', e.controlPath]);
  assert.is(ps.status, 0, ps.stderr);
  assert.match(ps.stdout, 'canary.ini');
  assert.not.match(e.log(), /internal error/, 'no file made the emperor log an internal error');
  assert.not.match(e.log(), INTERNAL_ERROR);
  const after = (await e.vassal(`${TENANT}/canary.ini`))!;
  assert.equal([after.pid, after.state, after.respawns], [pid, 'running', 0], 'the canary never restarted');
  assert.ok(EXTS.every((x) => e.log().includes(`.${x}: `)), 'every format reached the emperor');
});

emperor.run();
