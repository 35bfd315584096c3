// A worker of the Node app server: loads the tenant's app and serves it on the listening
// sockets its master handed down (inherited fds; the master never closes them, so a
// reload never refuses a connection). Talks to the master over the IPC channel and writes
// its own heartbeat (byte 26) to the emperor pipe, so a stuck event loop stops it.
import { writeSync } from 'node:fs';
import { loadApp, serve } from './serve';

/** Master → worker. */
export type ToWorker = { readonly t: 'stop'; readonly graceful: boolean };
/** Worker → master. */
export type FromWorker = { readonly t: 'listening' } | { readonly t: 'served' } | { readonly t: 'request' };

function send(msg: FromWorker): void {
  process.send?.(msg);
}

export async function runWorker(app: string, fds: readonly number[], emperorFd: number | undefined, heartbeat: number): Promise<void> {
  const serving = await serve(await loadApp(app), fds, { served: () => send({ t: 'served' }), request: () => send({ t: 'request' }) });
  send({ t: 'listening' });

  if (emperorFd !== undefined && heartbeat > 0) {
    const beat = (): void => {
      try {
        writeSync(emperorFd, Buffer.of(26));
      } catch {
        // the emperor is gone; the master hears it too and stops us
      }
    };
    beat();
    setInterval(beat, heartbeat * 1000).unref();
  }

  process.on('message', (msg: ToWorker) => {
    if (msg.t !== 'stop') return;
    if (!msg.graceful) process.exit(0);
    serving.retire(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // the master is gone
}
