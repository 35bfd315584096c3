// The app server's options: what it reads from a vassal's config, and the config packet.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configPacket } from '../../../src/emperor/protocol';
import { AppOptionError, appOptions, readConfigPacket } from '../../../src/runtime/node/options';
import { binding } from '../../../src/native/binding';
import { closeSync, writeSync } from 'node:fs';
import { thrown } from '../../helpers/thrown';

const test = suite('app server options');
const e = (key: string, value: string, line = 1) => ({ key, value, line });

test('defaults, repeatable sockets, workers as a synonym, relative app against the base', () => {
  assert.equal(appOptions([e('app', 'server.mjs'), e('http-socket', '127.0.0.1:8080'), e('http-socket', '/run/app.sock')], '/srv/shop'), {
    app: '/srv/shop/server.mjs', sockets: ['127.0.0.1:8080', '/run/app.sock'], processes: 1, heartbeat: 0, idle: 0, dieOnIdle: false,
  });
  const o = appOptions([e('app', '/abs/app.cjs'), e('workers', '3'), e('idle', '10'), e('die-on-idle', 'true'), e('heartbeat', '5'), e('protocol', 'http')], '/x');
  assert.equal([o.app, o.processes, o.idle, o.dieOnIdle, o.heartbeat], ['/abs/app.cjs', 3, 10, true, 5]);
});

test('mistakes name the line', () => {
  assert.match(thrown(() => appOptions([e('http-socket', ':80')], '/'), AppOptionError).message, 'no `app = MODULE`');
  assert.match(thrown(() => appOptions([e('app', 'a.js'), e('processes', 'many', 4)], '/'), AppOptionError).message, 'line 4: processes: expected a whole number ≥ 1, got `many`');
  assert.match(thrown(() => appOptions([e('app', 'a.js'), e('protocol', 'fastcgi', 2)], '/'), AppOptionError).message, 'line 2: protocol: only `http` is supported');
});

test('the config packet the emperor writes is the one the app server reads', () => {
  const [a, b] = binding.socketPair();
  writeSync(a, configPacket('[jail]\napp = /srv/app.mjs\n'));
  assert.is(readConfigPacket(b), '[jail]\napp = /srv/app.mjs\n');
  closeSync(a);
  assert.throws(() => readConfigPacket(b), /closed the config pipe/);
  closeSync(b);
});

test.run();
