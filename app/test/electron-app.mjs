#!/usr/bin/env node
// The Electron app itself, driven by playwright-core's Electron launcher, when an Electron
// binary is there (ELECTRON_PATH, or the optional electron package with its binary).
// Without one it prints one SKIP line and exits 0: the binary cannot be downloaded on
// machines without internet, and the isolated-world e2e covers what Chromium can.
// With one it runs the dashboard scenario of the e2e (e2e-scenario.mjs) in the app's
// window, plus what only Electron has: the page attached to the NATIVE addon through the
// real preload (contextBridge), image-source and image-filter as the native plugins.
// Run by the electron stage after `tsc -p app/electron/tsconfig.json`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from '../build.mjs';
import { findElectron } from '../electron/binary.mjs';
import { runDashboard, screenshot } from './e2e-scenario.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'artifacts/screenshots');
const t0 = Date.now();
const results = [];
const log = (msg) => console.log(`electron-app [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
function check(name, ok, detail) {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} [electron] ${name}${detail ? ` — ${detail}` : ''}`);
  return ok;
}

async function main() {
  const { path: binary, reason, explicit } = findElectron();
  if (!binary && explicit) {
    check('the Electron binary named by ELECTRON_PATH exists', false, reason);
    return 1;
  }
  if (!binary) {
    console.log(`electron: SKIP running the app: no Electron binary (${reason}; set ELECTRON_PATH to one)`);
    return 0;
  }
  if (!check('build the dashboard (app/build.mjs)', buildDashboard(log))) return 1;
  const { _electron } = await import('playwright-core');
  mkdirSync(shots, { recursive: true });
  const mainJs = path.join(root, 'app/electron/dist/app/electron/main.js');
  log(`launching ${binary} ${path.relative(root, mainJs)}`);
  const app = await _electron.launch({ executablePath: binary, args: [mainJs], env: { ...process.env, SMC_RENDERER_MODE: '' } });
  const pageErrors = [];
  try {
    const page = await app.firstWindow();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    const t = { log, check, shot: (name) => screenshot(page, shots, `electron-${name}`, log), expectPageError: () => {} };
    await runDashboard(page, 'app://dashboard/index.html', t, {
      bench: false,
      async afterConnect(p) {
        const s = await p.evaluate(() => ({
          bridge: window.smcNative ? Object.keys(window.smcNative).sort().join(',') : null,
          nodeInPage: typeof window.require,
          peerKind: window.__smc.stats().peerKind,
          peer: window.__smc.channel.getStats().peer,
        }));
        check('the preload exposed only smcNative; the page has no Node', s.bridge === 'attach,close,loadPlugin,stats,unloadPlugin,wake' && s.nodeInPage === 'undefined', `smcNative: ${s.bridge}; typeof require in the page: ${s.nodeInPage}`);
        // exitStatus and wakesFromJs exist only in the addon's stats.
        return check('the page attached to the native addon through the preload (echo)', s.peerKind === 'electron' && 'exitStatus' in s.peer && s.peer.running === true, `peer kind ${s.peerKind}, native stats ${JSON.stringify(s.peer).slice(0, 160)}`);
      },
      async afterImage(p) {
        const peer = await p.evaluate(() => window.__smc.channel.getStats().peer);
        check('the image stream comes from the native image-source plugin', peer.pluginName === 'image-source' && peer.pluginSent > 0, `plugin ${peer.pluginName} ${peer.pluginVersion}, ${peer.pluginSent} frames sent, from ${peer.pluginPath}`);
      },
    });
    check('no uncaught page errors', pageErrors.length === 0, pageErrors.slice(0, 3).join(' | '));
  } finally {
    await app.close().catch(() => {});
  }
  const failed = results.filter((r) => !r.ok);
  log(`${results.length - failed.length}/${results.length} checks passed`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`FAIL electron app test crashed: ${e.stack ?? e}`);
    process.exit(1);
  },
);
