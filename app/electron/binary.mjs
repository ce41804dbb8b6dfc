// Where the Electron binary is: ELECTRON_PATH if set (a binary installed elsewhere), else
// the optional `electron` package's binary, whose path it exports; null when neither
// exists (the package is optional and downloads its binary at install, which fails
// offline). Used by `npm start`, the electron test stage and the Electron app test.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** { path } of the binary, or { path: null, reason } saying what was looked for
 *  (explicit: ELECTRON_PATH named one that is not there). */
export function findElectron() {
  const env = process.env.ELECTRON_PATH;
  if (env) {
    return existsSync(env) ? { path: env } : { path: null, explicit: true, reason: `ELECTRON_PATH=${env} does not exist` };
  }
  try {
    const p = require('electron');
    if (typeof p === 'string' && existsSync(p)) return { path: p };
    return { path: null, reason: 'the electron package is installed without its binary (its download failed or was skipped)' };
  } catch {
    return { path: null, reason: 'neither ELECTRON_PATH nor the optional electron package is installed' };
  }
}
