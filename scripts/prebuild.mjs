#!/usr/bin/env node
// `npm run prebuild`: the binaries a consumer installs without a compiler, written to
// prebuilds/<platform>-<arch>/ (node-gyp-build's layout and file tags) with a
// prebuild.json manifest that the loader and the install script read:
//   linux-x64  built here (g++); the manifest states the oldest glibc and libstdc++
//              (GLIBCXX) the binaries run on, read off their symbol versions
//   win32-x64  cross-built with mingw-w64 (scripts/build-windows.mjs), when available
//   --only=linux-x64,win32-x64 picks some; a requested target that cannot be built fails.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureAndBuild } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAPI_VERSION = 8;
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? onlyArg.slice(7).split(',') : null;

/** The newest GLIBC_x.y and GLIBCXX_x.y.z symbol versions any of `files` needs. */
function linuxBaselines(files) {
  const newest = { GLIBC: '0', GLIBCXX: '0' };
  for (const f of files) {
    const r = spawnSync('objdump', ['-T', f], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`prebuild: objdump -T ${f} failed: ${r.stderr}`);
    for (const m of r.stdout.matchAll(/\((GLIBC|GLIBCXX)_(\d+(?:\.\d+)+)\)/g)) {
      if (m[2].localeCompare(newest[m[1]], undefined, { numeric: true }) > 0) newest[m[1]] = m[2];
    }
  }
  return { glibc: newest.GLIBC, glibcxx: newest.GLIBCXX };
}

function writeTarget(tag, manifestBase, addonSrc, pluginSrcs, addonName, extras = []) {
  const dir = path.join(root, 'prebuilds', tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'plugins'), { recursive: true });
  copyFileSync(addonSrc, path.join(dir, addonName));
  const plugins = pluginSrcs.map((p) => {
    copyFileSync(p, path.join(dir, 'plugins', path.basename(p)));
    return `plugins/${path.basename(p)}`;
  });
  // Executables the addon starts, beside it (the isolated-plugin host: docs/plugins.md).
  const executables = extras.map((p) => {
    copyFileSync(p, path.join(dir, path.basename(p)));
    return path.basename(p);
  });
  const manifest = { ...manifestBase, napi: NAPI_VERSION, addon: addonName, plugins, ...(executables.length ? { executables } : {}) };
  writeFileSync(path.join(dir, 'prebuild.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`prebuild: ${tag}: ${addonName} + ${plugins.length} plugins${manifest.glibc ? `, glibc >= ${manifest.glibc}, libstdc++ GLIBCXX >= ${manifest.glibcxx}` : ''}`);
}

function linuxX64() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('prebuild: linux-x64 is built on Linux x64 only');
  const dir = configureAndBuild('prebuild');
  const addon = path.join(dir, 'smc.node');
  const pluginDir = path.join(dir, 'plugins');
  const plugins = readdirSync(pluginDir).filter((f) => f.endsWith('.so')).map((f) => path.join(pluginDir, f));
  const host = path.join(dir, 'smc_plugin_host');
  const extras = existsSync(host) ? [host] : [];
  writeTarget('linux-x64', { platform: 'linux', arch: 'x64', libc: 'glibc', ...linuxBaselines([addon, ...plugins, ...extras]) }, addon, plugins, 'smc.napi.glibc.node', extras);
}

async function win32X64() {
  const script = path.join(root, 'scripts/build-windows.mjs');
  if (!existsSync(script)) throw new Error('prebuild: scripts/build-windows.mjs is missing');
  const { buildWindows } = await import(script);
  const { addon, plugins } = await buildWindows();
  writeTarget('win32-x64', { platform: 'win32', arch: 'x64' }, addon, plugins, 'smc.napi.node');
}

const targets = { 'linux-x64': linuxX64, 'win32-x64': win32X64 };
try {
  for (const [tag, fn] of Object.entries(targets)) {
    if (only && !only.includes(tag)) continue;
    if (!only && tag === 'win32-x64') {
      if (spawnSync('x86_64-w64-mingw32-g++-posix', ['--version']).error) {
        console.log('prebuild: win32-x64 skipped: x86_64-w64-mingw32-g++-posix is not installed (apt-get install g++-mingw-w64-x86-64-posix)');
        continue;
      }
      if (!existsSync(path.join(root, 'scripts/build-windows.mjs'))) {
        console.log('prebuild: win32-x64 skipped: this tree has no Windows build script (scripts/build-windows.mjs)');
        continue;
      }
    }
    await fn();
  }
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
