// The Node app server: `app-server --ini FILE`, or under the emperor with the config on its
// config pipe. One entry for both roles: a worker is this program with JAIL_APP_WORKER set.
import { Master } from './master';
import { runWorker } from './worker';

function main(): void {
  const worker = process.env.JAIL_APP_WORKER;
  if (worker !== undefined) {
    const w = JSON.parse(worker) as { app: string; fds: number[]; emperorFd: number | null; heartbeat: number };
    runWorker(w.app, w.fds, w.emperorFd ?? undefined, w.heartbeat).catch((err: unknown) => {
      process.stderr.write(`[app-server worker ${process.pid}] cannot load the app: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
    return;
  }
  try {
    new Master([process.argv[1]!], process.env).start();
  } catch (err: unknown) {
    process.stderr.write(`[app-server] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

main();
