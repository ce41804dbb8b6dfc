#!/usr/bin/env node
// `npm run electron:build`: packages the dashboard with electron-builder. The native
// addon (build/release/smc.node) and the plugins are unpacked from the asar archive,
// because dlopen cannot read from inside an archive.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

export const builderConfig = {
  appId: 'dev.shared-memory-channel.dashboard',
  productName: 'SharedMemoryChannel Dashboard',
  directories: { output: 'build/electron-dist' },
  // js/dist/cjs: the preload requires the library by its name, which resolves to this
  // package itself (the root package.json's name and exports map).
  files: ['app/dist/**', 'app/electron/dist/**', 'js/dist/cjs/**', 'build/release/smc.node', 'build/release/plugins/**', 'package.json'],
  asarUnpack: ['**/*.node', 'build/release/plugins/**'],
  extraMetadata: { main: 'app/electron/dist/app/electron/main.js' },
  linux: { target: ['dir'] },
};

function fail(msg) {
  console.error(`electron:build: ${msg}`);
  process.exit(1);
}

let binary = null;
try {
  binary = require('electron');
} catch {
  binary = null;
}
if (typeof binary !== 'string' || !existsSync(binary)) {
  fail('needs the Electron binary, which is not installed (npm could not download it: no internet here, or Node < 22 skipped the optional electron package). Install electron@45 where it can download, then rerun.');
}
for (const step of [
  [process.execPath, [path.join(root, 'scripts/build.mjs')]],
  [process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'app/vite.config.ts']],
  [process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'app/electron/tsconfig.json']],
  ['npx', ['--yes', 'electron-builder@26', '--config', JSON.stringify(builderConfig)]],
]) {
  const r = spawnSync(step[0], step[1], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) fail(`'${path.basename(step[0])} ${step[1].join(' ')}' failed`);
}
