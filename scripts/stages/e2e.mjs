// The dashboard's type-check, then real-browser tests (Debian Chromium via playwright-core):
// the dashboard with a Web Worker peer, then next to a Chromium extension whose isolated
// world runs the Electron preload's bridge (app/test/e2e.mjs).
import path from 'node:path';
import { root, run } from './util.mjs';

export default function e2e() {
  // The dashboard's own TypeScript (Vite only strips types): strict, against the library's
  // published .d.ts through its exports map.
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'app/tsconfig.json']) !== 0) return false;
  // The isolated-world extension's own TypeScript (the content script, shim, worker host).
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'app/test/isolated-world/tsconfig.json']) !== 0) return false;
  if (run(process.execPath, [path.join(root, 'app/test/e2e.mjs')]) !== 0) return false;
  // `npm start` with a bad or busy PORT (needs the dashboard that e2e.mjs built).
  return run(process.execPath, ['--test', path.join(root, 'app/test/start.test.mjs')]) === 0;
}
