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

test('every app:// response carries a CSP that allows only the app\'s own files', () => {
  const h = config.appResponseHeaders();
  assert.equal(h['Cross-Origin-Opener-Policy'], 'same-origin');
  assert.equal(h['Cross-Origin-Embedder-Policy'], 'require-corp');
  const csp = Object.fromEntries(h['Content-Security-Policy'].split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(csp['default-src'], ["'none'"]);
  assert.deepEqual(csp['script-src'], ["'self'"]);
  assert.deepEqual(csp['object-src'], ["'none'"]);
  assert.deepEqual(csp['frame-ancestors'], ["'none'"]);
  assert.deepEqual(csp['base-uri'], ["'none'"]);
  assert.ok(!h['Content-Security-Policy'].includes('unsafe'), 'no unsafe-inline or unsafe-eval anywhere');
});

test('navigation is allowed only within the app', () => {
  assert.equal(config.mayNavigate('app://dashboard/index.html'), true);
  assert.equal(config.mayNavigate('app://dashboard/other#x'), true);
  for (const url of ['https://example.com/', 'http://127.0.0.1:8420/', 'file:///etc/passwd', 'app://evil/index.html', 'javascript:alert(1)', 'not a url']) {
    assert.equal(config.mayNavigate(url), false, url);
  }
  // The protocol handler serves only the app's origin, too.
  assert.equal(config.resolveAppUrl('/opt/app/dist', 'app://other/index.html'), null);
});
