// The lab's Vagrantfile: Debian's vagrant validates it offline (no provider, no box), its
// provisioning script is valid bash, and it does what the README promises of `vagrant up`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/cli';

const test = suite('Vagrantfile');
const VAGRANTFILE = join(ROOT, 'Vagrantfile');

// `vagrant validate` of a Vagrantfile in a directory of its own, with a throw-away VAGRANT_HOME.
function validate(text: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-vagrant-'));
  try {
    writeFileSync(join(dir, 'Vagrantfile'), text);
    const r = spawnSync('vagrant', ['validate', '--ignore-provider'], {
      cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, VAGRANT_HOME: join(dir, '.vagrant.d'), VAGRANT_CHECKPOINT_DISABLE: '1' },
    });
    if (r.error) throw new Error(`vagrant: ${r.error.message} (install Debian's vagrant: apt-get install --no-install-recommends vagrant)`);
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The inline provisioning script (between <<-SHELL and SHELL).
function provisionScript(text: string): string {
  const m = /<<-SHELL\n([\s\S]*?)\n\s*SHELL\n/.exec(text);
  assert.ok(m, 'an inline shell provisioner');
  return m![1]!;
}

test('vagrant validate passes offline; a broken copy does not', () => {
  const text = readFileSync(VAGRANTFILE, 'utf8');
  const ok = validate(text);
  assert.is(ok.status, 0, ok.out);
  assert.match(ok.out, /Vagrantfile validated successfully/);
  const broken = validate(text.replace('config.vm.box = ', 'config.vm.boxx = '));
  assert.is.not(broken.status, 0, 'an unknown setting fails the validation');
});

test('the provisioning script is bash that builds, tests and leaves an emperor running', () => {
  const script = provisionScript(readFileSync(VAGRANTFILE, 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-vagrant-'));
  try {
    writeFileSync(join(dir, 'provision.sh'), script);
    const r = spawnSync('bash', ['-n', join(dir, 'provision.sh')], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(script, /useradd --uid 1001 .*alice/);
  assert.match(script, /useradd --uid 1002 .*bob/);
  assert.match(script, /bash \.ci\/install/);
  assert.match(script, /npm test/);
  assert.match(script, /systemctl enable --now jailctl-emperor/);
  assert.match(script, /sha256sum -c/, 'Node.js is checked against its published sums');
  assert.match(readFileSync(VAGRANTFILE, 'utf8'), /config\.vm\.box = "debian\/bookworm64"/);
});

test('the unit it installs is the contrib one, on the examples', () => {
  const script = provisionScript(readFileSync(VAGRANTFILE, 'utf8'));
  const sed = /sed -e '(s\|[^']+)' contrib\/jailctl-emperor\.service/.exec(script);
  assert.ok(sed, 'the contrib unit, edited by sed');
  const dir = mkdtempSync(join(tmpdir(), 'jailctl-vagrant-'));
  try {
    copyFileSync(join(ROOT, 'contrib', 'jailctl-emperor.service'), join(dir, 'unit'));
    const r = spawnSync('sed', ['-e', sed![1]!, join(dir, 'unit')], { encoding: 'utf8' });
    assert.match(r.stdout, /^ExecStart=\/usr\/local\/bin\/jailctl emperor --emperor \/opt\/jailctl\/jails /m, 'the edit applies');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
