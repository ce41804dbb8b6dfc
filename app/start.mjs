#!/usr/bin/env node
// `npm start`: the Electron app when the Electron binary is installed; otherwise the same
// dashboard in a plain browser (served with COOP/COEP, a Web Worker as the native side).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { buildDashboard } from './build.mjs';
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

/** PORT from the environment: 8420 when unset; a bad value ends the process with one line. */
function portFromEnv() {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 8420;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    console.error(`npm start: PORT must be an integer from 0 to 65535 (0: any free port), not '${raw}'`);
    process.exit(2);
  }
  return port;
}

const wantElectron = process.argv.includes('--electron');
const port = wantElectron ? 0 : portFromEnv();
const electron = electronBinary();
if (wantElectron && !electron) {
  console.error('electron:dev: the Electron binary is not installed (the electron package is optional; its download needs the internet). `npm start` serves the dashboard for a browser instead.');
  process.exit(1);
}
if (!buildDashboard()) process.exit(1);
if (electron) {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(here, 'electron/tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const child = spawn(electron, [path.join(here, 'electron/dist/app/electron/main.js')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log('Electron is not available: its binary is not installed (the electron package is optional and');
  console.log('its download is skipped where there is no internet). Serving the same dashboard for a browser instead.');
  const { startServer } = await import('./server.mjs');
  try {
    const { url } = await startServer({ port });
    console.log(url);
  } catch (e) {
    if (e?.code === 'EADDRINUSE') console.error(`npm start: port ${port} is in use; choose another with PORT (e.g. PORT=${port + 1} npm start)`);
    else console.error(`npm start: cannot serve on port ${port}: ${e?.message ?? e}`);
    process.exit(1);
  }
}
