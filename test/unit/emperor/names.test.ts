import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUserDb } from '../../../src/config/users';
import { DEFAULT_EMPEROR_OPTIONS } from '../../../src/emperor/options';
import { matchVassal, ownerLabel, shortName, sourceOwner, vassalIdentity } from '../../../src/emperor/names';
import type { VassalSource } from '../../../src/monitors/types';

const users = parseUserDb('root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n', 'root:x:0:\nalice:x:1001:\n');
const source = (uid: number, link?: { uid: number; gid: number }): VassalSource => ({
  name: 'node.ini', path: `/srv/${uid}/node.ini`, monitor: 'glob:///srv/*/*.ini', mtimeNs: 1n, uid, gid: uid, ...(link ? { link } : {}),
});
const tyrant = { ...DEFAULT_EMPEROR_OPTIONS, tyrant: true };

const identity = suite('vassalIdentity');
identity('the file name outside tyrant mode; OWNER/NAME in it, by user name or uid', () => {
  assert.is(vassalIdentity(source(1001), DEFAULT_EMPEROR_OPTIONS, users), 'node.ini');
  assert.is(vassalIdentity(source(1001), tyrant, users), 'alice/node.ini');
  assert.is(vassalIdentity(source(1002), tyrant, users), '1002/node.ini');
});
identity('a symlink: the target\'s owner, or with emperor-tyrant-nofollow the link\'s', () => {
  assert.is(vassalIdentity(source(1002, { uid: 1001, gid: 1001 }), tyrant, users), '1002/node.ini');
  assert.is(vassalIdentity(source(1002, { uid: 1001, gid: 1001 }), { ...tyrant, tyrantNofollow: true }, users), 'alice/node.ini');
});
identity.run();

const owner = suite('sourceOwner');
owner('the link only with nofollow', () => {
  assert.equal(sourceOwner(source(1002, { uid: 1001, gid: 7 }), { tyrantNofollow: true }), { uid: 1001, gid: 7 });
  assert.equal(sourceOwner(source(1002, { uid: 1001, gid: 7 }), { tyrantNofollow: false }), { uid: 1002, gid: 1002 });
});
owner.run();

const label = suite('ownerLabel');
label('a name from /etc/passwd, else the number', () => {
  assert.is(ownerLabel(0, users), 'root');
  assert.is(ownerLabel(4242, users), '4242');
});
label.run();

const short = suite('shortName');
short('the part after the owner', () => {
  assert.is(shortName('alice/node.ini'), 'node.ini');
  assert.is(shortName('node.ini'), 'node.ini');
});
short.run();

const match = suite('matchVassal');
const names = ['alice/node.ini', 'bob/node.ini', 'alice/web.ini', 'alice/web.yml', 'bob/api.ini'];
match('the exact identity first', () => {
  assert.equal(matchVassal(names, 'bob/node.ini'), { kind: 'found', name: 'bob/node.ini' });
});
match('a short name that only one vassal has; with or without its extension', () => {
  assert.equal(matchVassal(names, 'api.ini'), { kind: 'found', name: 'bob/api.ini' });
  assert.equal(matchVassal(names, 'api'), { kind: 'found', name: 'bob/api.ini' });
  assert.equal(matchVassal(names, 'alice/web.ini'), { kind: 'found', name: 'alice/web.ini' });
  assert.equal(matchVassal(['alice/node.ini'], 'node'), { kind: 'found', name: 'alice/node.ini' });
});
match('a short name two vassals have is ambiguous, listing both, never a guess', () => {
  assert.equal(matchVassal(names, 'node.ini'), { kind: 'ambiguous', candidates: ['alice/node.ini', 'bob/node.ini'] });
  assert.equal(matchVassal(names, 'alice/web'), { kind: 'ambiguous', candidates: ['alice/web.ini', 'alice/web.yml'] });
});
match('a miss names the nearest, by identity or by file name', () => {
  assert.equal(matchVassal(names, 'api.inii'), { kind: 'none', nearest: 'bob/api.ini' });
  assert.equal(matchVassal(names, 'something-else'), { kind: 'none' });
  assert.equal(matchVassal([], 'x'), { kind: 'none' });
});
match('outside tyrant mode the names are file names, as before', () => {
  assert.equal(matchVassal(['web.ini', 'api.ini'], 'web'), { kind: 'found', name: 'web.ini' });
});
match.run();
