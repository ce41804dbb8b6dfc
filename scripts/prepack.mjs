#!/usr/bin/env node
// `npm pack` / `npm publish` run this first: a clean js/dist (CommonJS + ES modules +
// declarations) and fresh prebuilt binaries (scripts/prebuild.mjs), so the tarball holds
// exactly what `files` in package.json names, built from this tree.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildJs } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
try {
  rmSync(path.join(root, 'js/dist'), { recursive: true, force: true });
  buildJs();
} catch (e) {
  console.error(`prepack: ${e.message}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [path.join(root, 'scripts/prebuild.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
