// The part every file-based monitor shares: which names are vassal configs, how a file's
// identity is read, and turning two snapshots into add/change/remove events.
import { lstatSync, statSync, type BigIntStats } from 'node:fs';
import { basename, extname } from 'node:path';
import { VASSAL_EXTENSIONS } from '../config/load';
import type { MonitorEvent, VassalSource } from './types';

/** While inotify is healthy, a file monitor's full rescan (every file stat'ed) comes every
 *  this many emperor-freq periods: 30 s at the default 3 s. Lost events rescan at once. */
export const SAFETY_NET_PERIODS = 10;

// web.ini → true; web.skel, .web.ini.swp, .#web.ini (editor files) → false.
export function isVassalFileName(name: string): boolean {
  return !name.startsWith('.') && VASSAL_EXTENSIONS.includes(extname(name).toLowerCase());
}

// The source of one file, or undefined when it is gone, dangling, or not a regular file.
export function readSource(path: string, monitor: string, nofollow: boolean): VassalSource | undefined {
  let st: BigIntStats;
  let lst: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
    if (!st.isFile()) return undefined;
    lst = lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
  const link = lst.isSymbolicLink() ? { uid: Number(lst.uid), gid: Number(lst.gid) } : undefined;
  return {
    name: basename(path), path, monitor, mtimeNs: nofollow ? lst.mtimeNs : st.mtimeNs, uid: Number(st.uid), gid: Number(st.gid),
    ...(link ? { link } : {}),
  };
}

// Who owns a file and, for a symlink, the link: a change of either is a change of the vassal
// (tyrant mode restarts it as the new owner).
function ownerKey(s: VassalSource): string {
  return `${s.uid}:${s.gid}:${s.link ? `${s.link.uid}:${s.link.gid}` : '-'}`;
}

// Compares one file's old and new state and emits what changed; returns the new state.
export function diffOne(
  known: Map<string, VassalSource>,
  path: string,
  now: VassalSource | undefined,
  emit: (e: MonitorEvent) => void,
): void {
  const before = known.get(path);
  if (now && !before) {
    known.set(path, now);
    emit({ kind: 'add', source: now });
  } else if (now && before && (now.mtimeNs !== before.mtimeNs || ownerKey(now) !== ownerKey(before))) {
    known.set(path, now);
    emit({ kind: 'change', source: now });
  } else if (!now && before) {
    known.delete(path);
    emit({ kind: 'remove', source: before });
  }
}
