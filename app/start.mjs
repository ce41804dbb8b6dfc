#!/usr/bin/env node
// `npm start`: the Electron app when an Electron binary is there (ELECTRON_PATH or the
// optional electron package); otherwise the same dashboard in a plain browser (served with
// COOP/COEP, a Web Worker as the native side). `npm run electron:dev` (--electron): the
// Electron app or an error saying why not.
import { spawn, spawnSync } from 'node:child_process';
import { buildDashboard } from './build.mjs';
import { findElectron } from './electron/binary.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');

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
const { path: electron, reason: noElectron } = findElectron();
if (wantElectron && !electron) {
  console.error(`electron:dev: no Electron binary: ${noElectron} (set ELECTRON_PATH, or install electron where it can download). \`npm start\` serves the dashboard for a browser instead.`);
  process.exit(1);
}
if (!buildDashboard()) process.exit(1);
if (electron) {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(here, 'electron/tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const child = spawn(electron, [path.join(here, 'electron/dist/app/electron/main.js')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log(`Electron is not available: ${noElectron} (the electron package is optional and its download`);
  console.log('needs the internet; ELECTRON_PATH names a binary elsewhere). Serving the same dashboard for a browser instead.');
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
