// Unit tests of the Electron main process's logic that needs no Electron binary (the
// preload's bridge: electron-bridge.test.mjs). Compiled first by the electron stage
// (tsc -p app/electron/tsconfig.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = path.join(here, '..', 'electron', 'dist', 'app', 'electron');
const config = require(path.join(out, 'config.js'));

test('app:// URLs map inside dist and never outside it', () => {
  const dist = '/opt/app/dist';
  assert.equal(config.resolveAppUrl(dist, 'app://dashboard/index.html'), '/opt/app/dist/index.html');
  assert.equal(config.resolveAppUrl(dist, 'app://dashboard/'), '/opt/app/dist/index.html');
  assert.equal(config.resolveAppUrl(dist, 'app://dashboard/assets/a.js'), '/opt/app/dist/assets/a.js');
  // The URL parser itself resolves encoded dot segments at the root: still inside dist.
  assert.equal(config.resolveAppUrl(dist, 'app://dashboard/%2e%2e/%2e%2e/etc/passwd'), '/opt/app/dist/etc/passwd');
  // Encoded slashes survive URL parsing and are decoded by us: must not escape.
  assert.equal(config.resolveAppUrl(dist, 'app://dashboard/..%2f..%2fsecret'), null);
  assert.equal(config.resolveAppUrl(dist, 'not a url'), null);
});

test('responses are cross-origin isolated', () => {
  assert.equal(config.isolationHeaders['Cross-Origin-Opener-Policy'], 'same-origin');
  assert.equal(config.isolationHeaders['Cross-Origin-Embedder-Policy'], 'require-corp');
});

test('window defaults are secure; node-integration mode is explicit', () => {
  const secure = config.windowOptions('isolated', '/p/preload.js').webPreferences;
  assert.deepEqual(secure, { preload: '/p/preload.js', contextIsolation: true, nodeIntegration: false, sandbox: false });
  const legacy = config.windowOptions('node-integration', '/p/preload.js').webPreferences;
  assert.equal(legacy.contextIsolation, false);
  assert.equal(legacy.nodeIntegration, true);
});
