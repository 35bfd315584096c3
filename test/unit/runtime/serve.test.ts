// Loading a tenant's app: require() for CommonJS and for ES modules (no ESM loader on a cold
// start), import() for an ES module with top-level await, and a clear error for a module
// that exports no request listener.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadApp } from '../../../src/runtime/node/serve';

const test = suite('app server: loading the app');
let dir = '';

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'jailctl-serve-'));
  // `.js` files here are ES modules, as in a package with "type": "module".
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

// What the listener answers, called with a stand-in response that records res.end().
function answer(handler: (req: IncomingMessage, res: ServerResponse) => void): string {
  let body = '';
  handler({} as IncomingMessage, { end: (b: string) => (body = b) } as unknown as ServerResponse);
  return body;
}

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test('an ES module is loaded by require(): it lands in require.cache, not only in the ESM loader', async () => {
  const path = write('esm.js', "export default (req, res) => res.end('esm');\n");
  assert.is(answer(await loadApp(path)), 'esm');
  assert.ok(require.cache[path], 'loaded through require()');
});

test('CommonJS: module.exports, or exports.default as a transpiler writes it', async () => {
  assert.is(answer(await loadApp(write('plain.cjs', "module.exports = (req, res) => res.end('cjs');\n"))), 'cjs');
  const transpiled = write('transpiled.cjs', "Object.defineProperty(exports, '__esModule', { value: true });\nexports.default = (req, res) => res.end('default');\n");
  assert.is(answer(await loadApp(transpiled)), 'default');
});

test('an ES module with top-level await falls back to import()', async () => {
  const path = write('tla.js', "await new Promise((r) => setTimeout(r, 1));\nexport default (req, res) => res.end('tla');\n");
  assert.is(answer(await loadApp(path)), 'tla');
  assert.not.ok(require.cache[path], 'not through require()');
});

test('no request listener: the error names the file and what it exports', async () => {
  const path = write('none.js', 'export const x = 1;\n');
  try {
    await loadApp(path);
    assert.unreachable('loaded');
  } catch (err: unknown) {
    assert.instance(err, TypeError);
    assert.match((err as Error).message, `${path}: the default export must be a request listener (req, res) => …, got undefined`);
  }
});

test('an app that throws while loading: its own error, not a fallback', async () => {
  const path = write('broken.js', "throw new Error('no database configured');\n");
  try {
    await loadApp(path);
    assert.unreachable('loaded');
  } catch (err: unknown) {
    assert.match((err as Error).message, 'no database configured');
  }
});

test.run();
