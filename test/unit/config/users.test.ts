import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb } from '../../../src/config/users';

const users = suite('parseUserDb');

users('looks users up by name and id and groups by name', () => {
  const db = parseUserDb('root:x:0:0:root:/root:/bin/bash\n# comment\nweb:x:1001:1002:Web:/srv/web:/bin/sh\n',
    'root:x:0:\nwebgrp:x:1002:\n');
  assert.equal(db.userByName('web'), { name: 'web', uid: 1001, gid: 1002, home: '/srv/web', shell: '/bin/sh' });
  assert.is(db.userById(0)?.name, 'root');
  assert.is(db.userById(5), undefined);
  assert.is(db.groupByName('webgrp'), 1002);
  assert.is(db.groupByName('nope'), undefined);
});

users.run();
