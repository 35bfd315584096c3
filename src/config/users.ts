// Users and groups by name, from /etc/passwd and /etc/group, so `uid = www-data` works and an
// unknown name is reported with the file and line of the vassal.
import { readFileSync } from 'node:fs';

export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Lookups the plan compiler needs; compile.ts does no I/O itself. */
export interface UserDb {
  userByName(name: string): UserEntry | undefined;
  userById(uid: number): UserEntry | undefined;
  groupByName(name: string): number | undefined;
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
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
  const groups = new Map(parseColonFile(group).filter((f) => f.length >= 3).map((f) => [f[0]!, Number(f[2])]));
  return {
    userByName: (name) => users.find((u) => u.name === name),
    userById: (uid) => users.find((u) => u.uid === uid),
    groupByName: (name) => groups.get(name),
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
