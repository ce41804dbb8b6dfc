// Electron's npm package needs Node >= 22 to install, and its binary cannot be
// downloaded here: type-check against its published types (fetched from the npm
// registry into build/electron-types) and unit-test the logic that needs no binary.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  if (run(process.execPath, ['--test', 'app/test/electron-logic.test.mjs', 'app/test/electron-bridge.test.mjs']) !== 0) return false;
  let binary = null;
  try {
    binary = createRequire(path.join(root, 'package.json'))('electron');
  } catch {
    binary = null;
  }
  if (typeof binary !== 'string' || !existsSync(binary)) {
    console.log('electron: SKIP running the app: the Electron binary is not installed (no internet to download it here)');
  }
  return true;
}
