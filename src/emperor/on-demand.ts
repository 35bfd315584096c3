// On-demand vassals (socket activation): where a vassal's socket is, from the emperor's
// emperor-on-demand-* options, and the check that the vassal does not bind it itself.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, extname, join } from 'node:path';
import { JailError } from '../errors';
import { launchJail } from '../jail/launch';
import { binding } from '../native/binding';
import type { VassalSource } from '../monitors/types';
import type { ConfigEntry } from '../config/types';
import { DEFAULT_SECCOMP, NO_LIMITS } from '../plan/types';
import type { EmperorOptions } from './options';

// A bad on-demand setting: reported like a config error, with the vassal marked failed.
export class OnDemandError extends JailError {
  constructor(message: string) {
    super('JAIL_ERR_CONFIG', message);
    this.name = 'OnDemandError';
  }
}

/** The options with which a vassal would bind a socket of its own. */
const SOCKET_OPTIONS = ['http-socket', 'socket', 'uwsgi-socket', 'http', 'http11-socket', 'fastcgi-socket', 'shared-socket'];

// The address the emperor holds for a vassal, or undefined when the vassal is not on demand.
// The exec form runs CMD through the executor (never child_process: libuv would race our
// reaper), hence the promise.
export async function onDemandAddress(source: VassalSource, options: EmperorOptions): Promise<string | undefined> {
  // A pg:// row's socket column, the row's as its uid column is.
  if (source.onDemandSocket !== undefined) {
    if (options.tyrant) checkTenantAddress(`${source.path} (its socket column)`, source.onDemandSocket, source.uid, source, options);
    return source.onDemandSocket;
  }
  if (options.onDemandExtension) {
    const file = `${source.path}${options.onDemandExtension}`;
    let text: string;
    let owner: number;
    try {
      const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const st = fstatSync(fd);
        if (!st.isFile() || st.size > 4096) throw new OnDemandError(`${file}: not a small regular file; it should hold the socket address (host:port or a path)`);
        owner = st.uid;
        // At most its size: a link to /proc/self/pagemap has size 0 and no end.
        const buf = Buffer.alloc(st.size + 1);
        const n = readSync(fd, buf, 0, buf.length, 0);
        if (n > st.size) throw new OnDemandError(`${file}: more bytes than its size (${st.size}); it should be a small file holding the socket address`);
        text = buf.toString('utf8', 0, n);
      } finally {
        closeSync(fd);
      }
    } catch (err: unknown) {
      if (err instanceof OnDemandError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // this vassal is not on demand
      throw new OnDemandError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
    const address = text.split('\n')[0]!.trim();
    if (address === '') throw new OnDemandError(`${file}: empty; it should hold the socket address (host:port or a path)`);
    if (options.tyrant) checkTenantAddress(file, address, owner, source, options);
    return address;
  }
  if (options.onDemandDirectory) return join(options.onDemandDirectory, `${basename(source.name, extname(source.name))}.socket`);
  if (options.onDemandExec) return runForAddress(options.onDemandExec, source.path);
  return undefined;
}

// In tyrant mode the address file is the tenant's, and the root emperor binds what it says:
// it must not bind where the tenant could not (a port below 1024, or a UNIX path, where it
// would replace someone else's socket: /run/mysqld/mysqld.sock). UNIX sockets for tenants
// come from emperor-on-demand-directory, which the sysadmin chooses.
function checkTenantAddress(file: string, address: string, owner: number, source: VassalSource, options: EmperorOptions): void {
  const tenant = source.link && options.tyrantNofollow ? source.link.uid : source.uid;
  if (owner !== tenant) throw new OnDemandError(`${file}: owned by uid ${owner}, not by the vassal's owner (uid ${tenant}); in tyrant mode it is not read`);
  checkTenantSocket(file, address, options);
}

// A socket the root emperor binds for a tenant (on demand, or an adopted vassal's
// http-socket): host:port, and no port below 1024 unless vassals-cap has net_bind_service.
// The host is an address, never a name: resolving a tenant's name would stall the emperor
// for as long as the resolver takes.
export function checkTenantSocket(file: string, address: string, options: Pick<EmperorOptions, 'vassalsCap'>): void {
  const port = /^(?:\[[^\]]*\]|[^/:]*):(\d+)$/.exec(address);
  if (!port)
    throw new OnDemandError(`${file}: \`${address}\`: in tyrant mode a tenant's on-demand socket is host:port; UNIX sockets come from the emperor's emperor-on-demand-directory`);
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  if (host !== '' && isIP(host) === 0)
    throw new OnDemandError(`${file}: \`${address}\`: in tyrant mode a tenant's socket names an IP address (127.0.0.1:8080, [::1]:8080) or none (:8080), not a host name`);
  if (Number(port[1]) < 1024 && !options.vassalsCap.includes('net_bind_service'))
    throw new OnDemandError(`${file}: port ${port[1]} is below 1024, which a tenant may not bind (vassals-cap has no net_bind_service); use a port of 1024 or more`);
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

// `CMD FILE` with stdout on a pipe; its first line is the address.
async function runForAddress(command: string, file: string): Promise<string> {
  const [ours, theirs] = binding.socketPair();
  let jail;
  try {
    jail = launchJail({
      vassal: 'emperor-on-demand-exec',
      namespaces: [],
      mounts: [],
      loopback: false,
      hooks: [],
      groups: [],
      limits: NO_LIMITS,
      seccomp: DEFAULT_SECCOMP,
      caps: [],
      noNewPrivs: false,
      program: { option: 'emperor-on-demand-exec', privileged: true, path: '/bin/sh', argv: ['/bin/sh', '-c', `${command} "$1"`, 'sh', file] },
      env: [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`],
      // The sysadmin's command: its errors go to the emperor's stderr (any other stdio of a
      // jail is /dev/null unless mapped).
      fds: [{ src: theirs, dst: 1 }, ...(isOpen(2) ? [{ src: 2, dst: 2 }] : [])],
    });
  } finally {
    closeSync(theirs);
  }
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const watcher = new binding.FdWatcher(ours, () => {
      const got = binding.recvFds(ours, 4096, 0);
      if (got.data.length > 0) chunks.push(got.data);
      else {
        watcher.close();
        resolve();
      }
    });
  });
  closeSync(ours);
  const exit = await jail.exited;
  const out = Buffer.concat(chunks).toString('utf8').split('\n')[0]!.trim();
  if (exit.code !== 0) throw new OnDemandError(`emperor-on-demand-exec \`${command} ${file}\` exited with ${exit.code ?? `signal ${exit.signal}`}`);
  if (out === '') throw new OnDemandError(`emperor-on-demand-exec \`${command} ${file}\` printed no socket address`);
  return out;
}

// uWSGI's docs warn that a vassal binding the on-demand socket itself breaks silently; we
// refuse it with the line to remove.
export function checkNotRebound(entries: readonly ConfigEntry[], address: string, file: string): void {
  const clash = entries.find((e) => SOCKET_OPTIONS.includes(e.key) && e.value.trim() === address);
  if (clash)
    throw new OnDemandError(
      `${clash.file ?? file}:${clash.line}: ${clash.key} = ${address} is the on-demand socket the emperor already holds for this vassal; remove the line (the vassal receives that socket as fd 0)`,
    );
}
