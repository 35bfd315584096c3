// Who a vassal is, and finding one by what a user types. Outside tyrant mode a vassal is its
// file name (`web.ini`), unique across every source. In tyrant mode tenants name their own
// files, so a name alone would let one tenant's `node.ini` hold back another's: there the
// identity is OWNER/NAME (`alice/node.ini`), and only one owner's files shadow each other.
import { distance } from 'fastest-levenshtein';
import type { UserDb } from '../config/users';
import type { VassalSource } from '../monitors/types';
import type { EmperorOptions } from './options';

// The owner tyrant mode runs a file as: its own (a symlink's target's), or with
// emperor-tyrant-nofollow the link's (tyrant.ts refuses the two differing).
export function sourceOwner(source: VassalSource, options: Pick<EmperorOptions, 'tyrantNofollow'>): { uid: number; gid: number } {
  return source.link && options.tyrantNofollow ? source.link : { uid: source.uid, gid: source.gid };
}

// Tyrant mode: why a changed file means a new jail when its owner changed (else undefined).
export function ownerChange(before: VassalSource, now: VassalSource, options: Pick<EmperorOptions, 'tyrant' | 'tyrantNofollow'>): string | undefined {
  const owner = (x: VassalSource): string => (x.link && options.tyrantNofollow ? `${x.link.uid}:${x.link.gid}` : `${x.uid}:${x.gid}`);
  return options.tyrant && owner(before) !== owner(now) ? `the file's owner changed (${owner(before)} → ${owner(now)})` : undefined;
}

// OWNER as it appears in an identity: the user name, or the uid when /etc/passwd has none.
export function ownerLabel(uid: number, users: UserDb): string {
  return users.userById(uid)?.name ?? String(uid);
}

// The key the emperor keeps a vassal under, and the name ps, stats and logs show.
export function vassalIdentity(source: VassalSource, options: Pick<EmperorOptions, 'tyrant' | 'tyrantNofollow'>, users: UserDb): string {
  if (!options.tyrant) return source.name;
  return `${ownerLabel(sourceOwner(source, options).uid, users)}/${source.name}`;
}

// The file name part of an identity (`alice/node.ini` → `node.ini`).
export function shortName(identity: string): string {
  return identity.slice(identity.lastIndexOf('/') + 1);
}

const stem = (name: string): string => name.replace(/\.[^./]+$/, '');

export type VassalMatch =
  | { readonly kind: 'found'; readonly name: string }
  | { readonly kind: 'ambiguous'; readonly candidates: readonly string[] }
  | { readonly kind: 'none'; readonly nearest?: string };

// Which of `names` (the identities the asker may see) `asked` means: the exact identity;
// else the file name (`node.ini`) or the identity without extension (`alice/node`); else the
// file name without extension (`node`). A level that gives more than one is ambiguous, never
// a guess: `jailctl stop node` must not stop the wrong tenant's vassal.
export function matchVassal(names: readonly string[], asked: string): VassalMatch {
  const levels: Array<(n: string) => boolean> = [
    (n) => n === asked,
    (n) => shortName(n) === asked || stem(n) === asked,
    (n) => stem(shortName(n)) === asked,
  ];
  for (const level of levels) {
    const hits = names.filter(level);
    if (hits.length === 1) return { kind: 'found', name: hits[0]! };
    if (hits.length > 1) return { kind: 'ambiguous', candidates: hits };
  }
  // A typo's nearest, by the whole identity, its file name (`nod.ini` → `alice/node.ini`) or
  // that without extension (`shpo` → `shop.ini`).
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(asked.length / 3)) + 1;
  for (const n of names) {
    const d = Math.min(distance(asked, n), distance(asked, shortName(n)), distance(asked, stem(shortName(n))));
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best !== undefined ? { kind: 'none', nearest: best } : { kind: 'none' };
}
