import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CAPABILITY_NAMES, capabilityNumber } from '../../../src/plan/capabilities';

const caps = suite('capabilityNumber');

caps('knows the kernel numbers, with or without cap_, any case', () => {
  assert.is(capabilityNumber('chown'), 0);
  assert.is(capabilityNumber('setuid'), 7);
  assert.is(capabilityNumber('CAP_NET_BIND_SERVICE'), 10);
  assert.is(capabilityNumber('sys_admin'), 21);
  assert.is(capabilityNumber('checkpoint_restore'), 40);
  assert.is(capabilityNumber('net_bind'), undefined);
  assert.is(CAPABILITY_NAMES.length, 41);
});

caps.run();
