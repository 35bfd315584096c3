// sd_listen_fds(3) for the app server: the listening sockets a systemd-style activator
// (the emperor with socket-activation = systemd) passed at fd 3, 4, …, meant for us when
// LISTEN_PID is our own pid. The variables are unset either way, as sd_listen_fds(1)
// does, so the workers and anything the app starts do not take them for their own.

/** The first fd of socket activation (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/** The most sockets we take (the executor's JAIL_MAX_FDS). */
const MAX_LISTEN_FDS = 64;

export interface ListenFds {
  readonly fds: readonly number[];
  /** LISTEN_FDNAMES, one per fd (`fd N` where it names none). */
  readonly names: readonly string[];
}

// The activated sockets, or undefined when there are none for this process; throws when
// the variables are ours but wrong (a bad count, an fd that is not a listening socket).
// `isListening` is the addon's check, asked for only when there are sockets (the cold path
// of an app server that gets none does not load the addon).
export function takeListenFds(env: NodeJS.ProcessEnv, isListening: (fd: number) => boolean, pid = process.pid): ListenFds | undefined {
  const { LISTEN_PID: forPid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (forPid === undefined || count === undefined || !/^\d+$/.test(forPid) || Number(forPid) !== pid) return undefined;
  const n = /^\d+$/.test(count) ? Number(count) : 0;
  if (n < 1 || n > MAX_LISTEN_FDS) throw new Error(`LISTEN_FDS=${count}: expected a number of sockets from 1 to ${MAX_LISTEN_FDS}`);
  const given = names?.split(':') ?? [];
  const fds = Array.from({ length: n }, (_, i) => LISTEN_FDS_START + i);
  for (const fd of fds) if (!isListening(fd)) throw new Error(`LISTEN_FDS=${n}: fd ${fd} is not a listening socket`);
  return { fds, names: fds.map((fd, i) => given[i] || `fd ${fd}`) };
}
