// The Node app server: `app-server --ini FILE`, or under the emperor with the config on its
// config pipe. One entry for both roles: a worker is this program with JAIL_APP_WORKER set.
// Each role loads only its own modules (a worker needs neither the config parser nor the
// addon): this runs on every cold start.
/* eslint-disable @typescript-eslint/no-require-imports */
import { writeStderr } from './log';

function main(): void {
  const worker = process.env.JAIL_APP_WORKER;
  if (worker !== undefined) {
    const w = JSON.parse(worker) as { app: string; fds: number[]; emperorFd: number | null; heartbeat: number };
    const { runWorker } = require('./worker') as typeof import('./worker');
    runWorker(w.app, w.fds, w.emperorFd ?? undefined, w.heartbeat).catch((err: unknown) => {
      writeStderr(`[app-server worker ${process.pid}] cannot load the app: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
    return;
  }
  try {
    const { Master } = require('./master') as typeof import('./master');
    new Master([process.argv[1]!], process.env).start();
  } catch (err: unknown) {
    writeStderr(`[app-server] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

main();
