// Where a vassal's held sockets and the emperor's pipes go in its jail, for each
// socket-activation mode, and the held-socket lines' checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfigEntry } from '../../../src/config/types';
import { ConfigError, PlanError } from '../../../src/errors';
import { socketLayout, type LayoutInput } from '../../../src/emperor/socket-activation';
import { serializePlan, serializeAdoptionPlan } from '../../../src/plan/serialize';
import { makePlan } from '../../helpers/plan';
import { thrown } from '../../helpers/thrown';

const e = (key: string, value: string, line: number): ConfigEntry => ({ key, value, line });
const input = (entries: ConfigEntry[], extra: Partial<LayoutInput> = {}): LayoutInput => ({
  file: '/v/web.ini', entries, adopted: false, tenant: false, options: { vassalsCap: [] }, ...extra,
});

test('uwsgi (the default): the on-demand socket at fd 0, the pipes at 3 and 4, bound sockets from 5', () => {
  const l = socketLayout(input([], { primary: { address: ':8080', fd: 40 } }));
  assert.equal([l.fds, l.emperorFd, l.configFd, l.firstBoundFd, l.names], [[{ src: 40, dst: 0 }], 3, 4, 5, undefined]);
});

test('systemd: the on-demand socket, then held-socket lines in order, at 3…; the pipes behind them', () => {
  const held = (a: string): number | undefined => ({ '127.0.0.1:81': 41, '/run/a.sock': 42 })[a];
  const l = socketLayout(input([e('socket-activation', 'systemd', 2), e('held-socket', 'web=127.0.0.1:81', 3), e('held-socket', 'admin = /run/a.sock', 4)],
    { primary: { address: ':8080', fd: 40 }, heldFd: held }));
  assert.equal(l.fds, [{ src: 40, dst: 3 }, { src: 41, dst: 4 }, { src: 42, dst: 5 }]);
  assert.equal(l.names, ['on-demand', 'web', 'admin']);
  assert.equal([l.emperorFd, l.configFd, l.firstBoundFd], [6, 7, 8]);
  assert.equal(l.held.map((h) => h.address), [':8080', '127.0.0.1:81', '/run/a.sock']);
});

test('errors name the line: held-socket without systemd, a bad name or address, a repeat, an adopted vassal, nothing to pass', () => {
  const err = (entries: ConfigEntry[], extra: Partial<LayoutInput> = {}): string => thrown(() => socketLayout(input(entries, extra)), ConfigError).message;
  assert.match(err([e('held-socket', 'web=:81', 3)]), /web\.ini:3: .*held-socket needs socket-activation = systemd/);
  assert.match(err([e('socket-activation', 'inetd', 2)]), /web\.ini:2: .*`inetd`: expected uwsgi/);
  const sd = e('socket-activation', 'systemd', 2);
  assert.match(err([sd, e('held-socket', 'a:b=:81', 3)]), /web\.ini:3: .*without a colon/);
  assert.match(err([sd, e('held-socket', 'web', 3)]), /web\.ini:3: .*expected NAME=ADDRESS/);
  assert.match(err([sd, e('held-socket', 'web=relative.sock', 3)]), /web\.ini:3: .*host:port, :port or an absolute path/);
  assert.match(err([sd, e('held-socket', 'web=:81', 3), e('held-socket', 'web=:82', 4)]), /web\.ini:4: .*name is taken/);
  assert.match(err([sd, e('held-socket', 'on-demand=:81', 3)]), /web\.ini:3: .*by the on-demand socket/);
  assert.match(err([sd, e('held-socket', 'web=:81', 3)], { adopted: true }), /web\.ini:2: .*an adopted vassal cannot use socket-activation = systemd/);
  assert.match(err([sd]), /web\.ini:2: .*no socket to pass/);
  assert.match(err([sd, e('held-socket', 'web=127.0.0.1:80', 3)], { tenant: true }), /port 80 is below 1024/);
});

test('the plan carries the names as listen-fdname entries; an adoption refuses them', () => {
  const plan = makePlan(['/bin/true'], { fds: [{ src: 9, dst: 3 }], socketActivation: { names: ['web'] } });
  assert.ok(serializePlan(plan).includes(Buffer.from('listen-fdname\x03\x00web')));
  assert.match(thrown(() => serializeAdoptionPlan(plan, { emperor: 5, config: 6 }), PlanError).message, /systemd socket activation/);
});

test.run();
