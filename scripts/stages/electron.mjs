// The Electron app: type-checked against Electron's published types (fetched from the npm
// registry into build/electron-types: the package needs Node >= 22 to install and its
// binary cannot be downloaded here), the unit tests of its logic (the preload's bridge with
// the real addon and plugins), electronegativity's findings held to the answers in
// docs/electron.md, and the app itself when an Electron binary is there (else one SKIP line).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root, run } from './util.mjs';

export default function electron() {
  const types = path.join(root, 'build/electron-types/node_modules/electron/electron.d.ts');
  if (!existsSync(types) && !existsSync(path.join(root, 'node_modules/electron/electron.d.ts'))) {
    mkdirSync(path.join(root, 'build/electron-types'), { recursive: true });
    const pj = path.join(root, 'build/electron-types/package.json');
    if (!existsSync(pj)) writeFileSync(pj, '{"name":"electron-types","private":true}\n');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    if (run(npm, ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', 'electron@45'], {
      cwd: path.join(root, 'build/electron-types'), env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
    }) !== 0) return false;
  }
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'app/electron/tsconfig.json']) !== 0) return false;
  if (run(process.execPath, ['--test', 'app/test/electron-logic.test.mjs', 'app/test/electron-bridge.test.mjs', 'app/test/ts-peer-pixels.test.mjs']) !== 0) return false;
  if (run(process.execPath, ['app/test/electronegativity.mjs']) !== 0) return false;
  return run(process.execPath, ['app/test/electron-app.mjs']) === 0;
}
