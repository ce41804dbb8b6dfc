#!/usr/bin/env node
// Real-browser end-to-end tests of the dashboard: Debian Chromium driven by playwright-core
// against the built app (app/dist) served with COOP/COEP, in two runs of one scenario
// (e2e-scenario.mjs):
//   1. worker: a Web Worker plays the native side (the browser dashboard);
//   2. isolated world: a Chromium extension's content script runs the Electron preload's
//      bridge next to the page, with the TypeScript peer in place of the addon, and the
//      dashboard takes the Electron route (e2e-isolated-world.mjs, isolated-world/).
//
//   node app/test/e2e.mjs [--only=worker|isolated-world]   (run by `npm test`'s e2e stage)
//
// Needs Debian's chromium (package 'chromium', installed by .ci/run; or CHROMIUM_PATH):
// without it the run fails with a message naming the package. Builds the app when app/dist is
// missing or older than its sources. Every check prints PASS/FAIL; any FAIL exits 1 (an
// extension that does not load is a FAIL). Screenshots go to artifacts/screenshots/
// (gitignored), the isolated-world run's prefixed 'iso-'.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildDashboard } from '../build.mjs';
import { extensionLaunchOptions, isolatedWorldHooks } from './e2e-isolated-world.mjs';
import { runDashboard, screenshot } from './e2e-scenario.mjs';
import { buildExtension, loadElectronConfig, WORKER_PATH, workerFile } from './isolated-world/build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const appDir = path.join(root, 'app');
const dist = path.join(appDir, 'dist');
const shots = path.join(root, 'artifacts/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Debian's /usr/bin/chromium is a shell wrapper; the extension run starts the binary itself
// so that only our flags decide whether extensions load. (Asked after ensureChromium().)
const chromiumBinary = () => process.env.CHROMIUM_PATH || (existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : CHROMIUM);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? null;
const t0 = Date.now();
const results = [];

function log(msg) {
  console.log(`e2e [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}
function check(name, ok, detail) {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  return ok;
}

// ---- 1. the browser ---------------------------------------------------------------------
/** The browser is the machine's (.ci/run installs Debian's `chromium`); tests install nothing. */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  console.log(
    `e2e: FAIL — no browser at ${CHROMIUM}: install Debian's package 'chromium' (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH to a Chromium binary.`,
  );
  return false;
}

// ---- 2. the build -----------------------------------------------------------------------
function ensureBuild() {
  return check('build the app (app/build.mjs)', buildDashboard(log));
}

// ---- 3. the server ----------------------------------------------------------------------
/** app/server.mjs (COOP/COEP, what `npm start` serves), in this process on a free port. */
async function startServer() {
  const { startServer: serve } = await import(pathToFileURL(path.join(appDir, 'server.mjs')).href);
  const { server, url } = await serve({ root: dist, port: 0 });
  return { url, stop: () => server.close(), kind: 'app/server.mjs' };
}

// ---- the runs ------------------------------------------------------------------------------
/** One browser, one page, the scenario; `label` prefixes checks and screenshots. */
async function runOnce(chromium, server, { label, prefix, launch, bench, hooks, headers }) {
  log(`---- ${label} run`);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'smc-e2e-chromium-'));
  const pageErrors = [];
  let context = null;
  const tag = (name) => (prefix ? `[${label}] ${name}` : name);
  const expected = [];
  const t = {
    log,
    /** The page is about to log one console error matching `re` on purpose. */
    expectPageError: (re) => expected.push(re),
    check: (name, ok, detail) => check(tag(name), ok, detail),
    shot: (name) => screenshot(context.pages()[0], shots, `${prefix}${name}`, log),
  };
  try {
    // A fresh, empty user-data-dir (playwright passes it as --user-data-dir).
    context = await chromium.launchPersistentContext(userDataDir, launch);
    if (headers) {
      // Every response gets these headers on top of the server's (as Electron's app://
      // handler sets them), so the page runs under the app's CSP; the isolated world's peer
      // worker is served from the page's origin, where that CSP allows workers.
      const worker = readFileSync(workerFile);
      await context.route(`${server.url}**`, async (route) => {
        if (new URL(route.request().url()).pathname === WORKER_PATH) {
          await route.fulfill({ status: 200, body: worker, headers: { ...headers, 'Content-Type': 'text/javascript' } });
          return;
        }
        const response = await route.fetch();
        await route.fulfill({ response, headers: { ...response.headers(), ...headers } });
      });
    }
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await runDashboard(page, server.url, t, { bench, ...(hooks ? hooks(t) : {}) });
    const unexpected = pageErrors.filter((e) => {
      const i = expected.findIndex((re) => re.test(e));
      if (i < 0) return true;
      expected.splice(i, 1);
      return false;
    });
    t.check('no uncaught page errors', unexpected.length === 0, unexpected.slice(0, 3).join(' | '));
  } finally {
    await context?.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

async function main() {
  if (!ensureChromium()) return 1;
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    check('playwright-core is installed', false, 'run npm install');
    return 1;
  }
  if (!ensureBuild()) return 1;
  mkdirSync(shots, { recursive: true });

  const server = await startServer();
  process.once('exit', () => server.stop());
  log(`serving ${server.url} (${server.kind})`);
  try {
    if (only === null || only === 'worker') {
      await runOnce(chromium, server, {
        label: 'worker',
        prefix: '',
        bench: true,
        launch: {
          executablePath: CHROMIUM,
          headless: true,
          viewport: { width: 1280, height: 900 },
          args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync',
          ],
        },
      });
    }
    if (only === null || only === 'isolated-world') {
      let extDir = null;
      let headers = null;
      try {
        extDir = await buildExtension();
        headers = (await loadElectronConfig()).appResponseHeaders();
        check('build the isolated-world extension (app/test/isolated-world/build.mjs)', true, path.relative(root, extDir));
      } catch (e) {
        check('build the isolated-world extension (app/test/isolated-world/build.mjs)', false, e.stack ?? String(e));
      }
      if (extDir) {
        await runOnce(chromium, server, {
          label: 'isolated world',
          prefix: 'iso-',
          bench: false,
          launch: extensionLaunchOptions(extDir, chromiumBinary()),
          hooks: isolatedWorldHooks,
          headers,
        });
      }
    }
  } finally {
    server.stop();
  }
  log(`screenshots in ${path.relative(root, shots)}/`);
  const failed = results.filter((r) => !r.ok);
  log(`${results.length - failed.length}/${results.length} checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`FAIL e2e crashed: ${e.stack ?? e}`);
    process.exit(1);
  },
);
