#!/usr/bin/env node
// `npm start`: the Electron app when the Electron binary is installed; otherwise the same
// dashboard in a plain browser (served with COOP/COEP, a Web Worker as the native side).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    // The electron package exports the binary's path; it throws or points nowhere when
    // the binary download was skipped (as on machines without internet).
    const p = require('electron');
    return typeof p === 'string' && existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

function newestMtime(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(p)) t = Math.max(t, newestMtime(path.join(p, e)));
  return t;
}

/** Rebuilds app/dist when it is older than what goes into it (the app and the library). */
function buildApp() {
  const dist = path.join(here, 'dist', 'index.html');
  const inputs = [path.join(here, 'src'), path.join(here, 'index.html'), path.join(here, 'vite.config.ts'), path.join(root, 'js/src')];
  const stale = !existsSync(dist) || Math.max(...inputs.map(newestMtime)) > statSync(dist).mtimeMs;
  if (!stale) return;
  console.log('building the dashboard (vite build) ...');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', path.join(here, 'vite.config.ts')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

buildApp();
const electron = electronBinary();
if (electron) {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(here, 'electron/tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const child = spawn(electron, [path.join(here, 'electron/dist/app/electron/main.js')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log('Electron is not available: its binary is not installed (the electron package is optional and');
  console.log('its download is skipped where there is no internet). Serving the same dashboard for a browser instead.');
  const { startServer } = await import('./server.mjs');
  const port = process.env.PORT === undefined ? 8420 : Number(process.env.PORT);
  const { url } = await startServer({ port });
  console.log(url);
}
