// Users and groups by name, from /etc/passwd and /etc/group, so `uid = www-data` works and an
// unknown name is reported with the file and line of the vassal.
import { readFileSync, statSync } from 'node:fs';

export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** The login shell (jailctl enter's default command). */
  readonly shell: string;
}

/** Lookups the plan compiler needs; compile.ts does no I/O itself. */
export interface UserDb {
  userByName(name: string): UserEntry | undefined;
  userById(uid: number): UserEntry | undefined;
  groupByName(name: string): number | undefined;
  /** The supplementary groups /etc/group lists `user` in (initgroups without NSS). */
  groupsOf(user: string): number[];
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

// A UserDb over passwd(5) and group(5) text.
export function parseUserDb(passwd: string, group: string): UserDb {
  const users = parseColonFile(passwd)
    .filter((f) => f.length >= 7)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! }));
  const groupLines = parseColonFile(group).filter((f) => f.length >= 3);
  const groups = new Map(groupLines.map((f) => [f[0]!, Number(f[2])]));
  return {
    userByName: (name) => users.find((u) => u.name === name),
    userById: (uid) => users.find((u) => u.uid === uid),
    groupByName: (name) => groups.get(name),
    groupsOf: (user) => [...new Set(groupLines.filter((f) => (f[3] ?? '').split(',').includes(user)).map((f) => Number(f[2])))],
  };
}

// The host's users and groups (files only: jailctl does not consult NSS services).
export function readUserDb(root = '/etc'): UserDb {
  const read = (file: string): string => {
    try {
      return readFileSync(`${root}/${file}`, 'utf8');
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  };
  return parseUserDb(read('passwd'), read('group'));
}

// A reader for long-lived processes (the emperor): the files are parsed again only when
// their modification time or size changes, so a thousand spawns do not parse them a
// thousand times, and a user added with useradd is seen by the next spawn.
export function cachedUserDb(root = '/etc'): () => UserDb {
  let key = '';
  let db: UserDb | undefined;
  const stamp = (file: string): string => {
    try {
      const st = statSync(`${root}/${file}`, { bigint: true });
      return `${st.mtimeNs}:${st.size}:${st.ino}`;
    } catch {
      return 'none';
    }
  };
  return () => {
    const now = `${stamp('passwd')}|${stamp('group')}`;
    if (!db || now !== key) {
      db = readUserDb(root);
      key = now;
    }
    return db;
  };
}
