// Which sockets the emperor binds for a vassal, at which fds, and a tenant's limits on them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfigEntry } from '../../../src/config/types';
import { ConfigError } from '../../../src/errors';
import { bindOne, checkTenantSockets, socketsToBind } from '../../../src/emperor/bound-sockets';
import { thrown } from '../../helpers/thrown';

const e = (key: string, value: string, line: number): ConfigEntry => ({ key, value, line });

test('a uWSGI file\'s socket lines and any bind-socket line, at fd 5 on, each address once', () => {
  const entries = [e('http-socket', '127.0.0.1:81', 2), e('socket', '/run/app/uwsgi.sock', 3), e('socket', 'relative.sock', 4),
    e('bind-socket', ':8080', 5), e('http-socket', '127.0.0.1:81', 6), e('socket', '127.0.0.1:9000,foo', 7)];
  assert.equal(socketsToBind(entries, true).map((s) => [s.address, s.fd, s.entry.line]), [
    ['127.0.0.1:81', 5, 2], ['/run/app/uwsgi.sock', 6, 3], [':8080', 7, 5], ['127.0.0.1:9000', 8, 7],
  ], 'a relative path is uWSGI\'s to resolve; a repeated address is bound once');
  assert.equal(socketsToBind(entries, false).map((s) => s.address), [':8080'], 'not uWSGI: its bind-socket lines only');
});

test('a tenant: an IP address and a port of 1024 or more, never a path or a host name', () => {
  const check = (address: string, caps: string[] = []): string | undefined => {
    try {
      checkTenantSockets('/srv/t/web.ini', socketsToBind([e('bind-socket', address, 3)], false), { vassalsCap: caps });
      return undefined;
    } catch (err: unknown) {
      return (err as Error).message;
    }
  };
  assert.is(check('127.0.0.1:8080'), undefined);
  assert.match(check('127.0.0.1:80')!, /web\.ini:3: port 80 is below 1024/);
  assert.is(check('127.0.0.1:80', ['net_bind_service']), undefined);
  assert.match(check('/run/x.sock')!, /web\.ini:3: .*host:port/);
  assert.match(check('localhost:8080')!, /names an IP address/);
});

test('a bind that fails names the line and why', () => {
  const [s] = socketsToBind([e('http-socket', '127.0.0.1:81', 4)], true);
  const err = thrown(() => bindOne(() => { throw Object.assign(new Error('bind'), { code: 'EADDRINUSE' }); }, s!, '/etc/jails/u.ini', undefined), ConfigError);
  assert.match(err.message, /u\.ini:4: the emperor cannot bind 127\.0\.0\.1:81 for this vassal \(EADDRINUSE\): something else listens there/);
});

test.run();
