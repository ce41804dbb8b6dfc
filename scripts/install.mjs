#!/usr/bin/env node
// `npm install` / `npm rebuild` of shared-memory-channel.
//
// In the repository (native/tests present): build everything, as a developer expects.
// Installed from the registry or a tarball: use the prebuilt binary for this platform when
// one fits (js/dist/cjs/prebuilds.js decides, the same code the loader runs); otherwise
// build only the addon and the example plugins from source, and when that cannot work,
// say in one message what is missing and how to get it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const log = (msg) => console.log(`shared-memory-channel: ${msg}`);
const MIN_CMAKE = [3, 20];

function fail(msg) {
  console.error(`shared-memory-channel: ${msg}`);
  process.exit(1);
}

function onPath(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error ? null : `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** One message naming everything a source build lacks, or null when it can run. */
function missingToolchain() {
  const missing = [];
  const cmake = onPath('cmake');
  const v = cmake && /cmake version (\d+)\.(\d+)/.exec(cmake);
  if (!v) missing.push(`CMake >= ${MIN_CMAKE.join('.')} (not found on PATH)`);
  else if (Number(v[1]) * 1000 + Number(v[2]) < MIN_CMAKE[0] * 1000 + MIN_CMAKE[1]) {
    missing.push(`CMake >= ${MIN_CMAKE.join('.')} (found ${v[1]}.${v[2]})`);
  }
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++', 'cl'].filter(Boolean);
  if (!compilers.some((c) => onPath(c, c === 'cl' ? [] : ['--version']) !== null)) {
    missing.push(`a C++20 compiler (GCC >= 10, Clang >= 12, MSVC 2019 16.11 or Xcode 13; tried ${compilers.join(', ')})`);
  }
  if (!missing.length) return null;
  return (
    `cannot build the native addon from source: missing ${missing.join(' and ')}. ` +
    'Install them (Debian/Ubuntu: apt-get install cmake g++; macOS: xcode-select --install and brew install cmake; ' +
    "Windows: Visual Studio Build Tools with 'Desktop development with C++', which includes CMake), " +
    'then run: npm rebuild shared-memory-channel'
  );
}

async function main() {
  const build = await import('./build.mjs');
  if (existsSync(path.join(root, 'native/tests/CMakeLists.txt'))) {
    // The repository: everything, tests and benchmarks included, and the JS library.
    build.configureAndBuild('release');
    if (build.hasTypeScript()) build.buildJs();
    return;
  }
  const prebuilds = path.join(root, 'js/dist/cjs/prebuilds.js');
  if (!existsSync(prebuilds)) fail(`the package is incomplete: ${prebuilds} is missing (reinstall it)`);
  const { selectPrebuild } = require(prebuilds);
  const choice = selectPrebuild(root);
  if (choice.prebuild) {
    const m = choice.prebuild.manifest;
    log(`using the prebuilt binary for ${m.platform}-${m.arch}${m.glibc ? ` (glibc >= ${m.glibc})` : ''}`);
    return;
  }
  log(`building from source: ${choice.reason}`);
  const missing = missingToolchain();
  if (missing) fail(missing);
  const t0 = Date.now();
  try {
    build.configureAndBuild('addon');
  } catch (e) {
    fail(`${e.message}. The source build needs CMake >= ${MIN_CMAKE.join('.')} and a C++20 compiler; the output above says what failed.`);
  }
  log(`built the addon and the example plugins from source in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => fail(e.message));
