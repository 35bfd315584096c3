// createMonitor(): an `emperor` value → the monitor that watches it.
//   dir:///etc/jails   glob:///srv/*/jail.ini   /etc/jails (a directory)   /etc/jails/*.ini
//   pg://CONNINFO;QUERY (rows of a PostgreSQL query)
import { statSync } from 'node:fs';
import picomatch from 'picomatch';
import { DirMonitor } from './dir';
import { MonitorSpecError } from './errors';
import { GlobMonitor } from './glob';
import { PgMonitor } from './pg';
import type { Monitor, MonitorOptions } from './types';

export { MonitorSpecError };

export function createMonitor(spec: string, options: MonitorOptions): Monitor {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(spec);
  if (m) {
    const [, scheme, rest] = m;
    if (rest === '') throw new MonitorSpecError(`\`${spec}\`: nothing after ${scheme}://`);
    if (scheme === 'dir') return new DirMonitor(rest!, options);
    if (scheme === 'glob') return new GlobMonitor(rest!, options);
    if (scheme === 'pg') return new PgMonitor(rest!, options);
    throw new MonitorSpecError(`\`${spec}\`: unknown monitor \`${scheme}://\`; jailctl knows dir://, glob:// and pg://`);
  }
  if (picomatch.scan(spec).isGlob) return new GlobMonitor(spec, options);
  let isDir = false;
  try {
    isDir = statSync(spec).isDirectory();
  } catch {
    // a directory that does not exist yet is watched for when it appears
    isDir = true;
  }
  if (!isDir) throw new MonitorSpecError(`\`${spec}\` is a file, not a directory of vassals; give its directory, or glob://${spec}`);
  return new DirMonitor(spec, options);
}
