// How to start the Node app server: the same Node that runs jailctl, on our own main module
// (compiled, or through tsm when jailctl itself runs from its TypeScript sources).
import { extname, join } from 'node:path';

export function appServerCommand(): string[] {
  const ext = extname(__filename);
  const main = join(__dirname, `main${ext}`);
  return ext === '.ts' ? [process.execPath, '-r', require.resolve('tsm'), main] : [process.execPath, main];
}
