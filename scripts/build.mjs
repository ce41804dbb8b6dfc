#!/usr/bin/env node
// Builds the product: the C++ core, the Node-API addon, the example plugins and the
// C++ benchmarks (CMake, Release) and, when TypeScript is installed, the JS library
// (js/dist/cjs for Node and Electron, js/dist/esm for bundlers and browsers).
// Headers come from local npm packages (node-api-headers, node-addon-api): no downloads.
//
//   node scripts/build.mjs [--preset=NAME] [--no-js] [--js-only]
// Presets: release (everything, the repository's default), addon (the addon and the
// example plugins only: what a consumer's source build needs), tsan, asan, fuzz.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const preset = args.preset ?? 'release';

export const presets = {
  release: {
    dir: 'build/release',
    defs: { CMAKE_BUILD_TYPE: 'Release', SMC_BUILD_TESTS: 'ON', SMC_BUILD_BENCH: 'ON', SMC_BUILD_PLUGINS: 'ON', SMC_BUILD_ADDON: 'ON' },
  },
  // What `npm install` builds from source when no prebuild fits: no tests, no benchmarks,
  // and GoogleTest may not even be looked for.
  addon: {
    dir: 'build/release',
    defs: {
      CMAKE_BUILD_TYPE: 'Release', SMC_BUILD_TESTS: 'OFF', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_PLUGINS: 'ON', SMC_BUILD_ADDON: 'ON',
      CMAKE_DISABLE_FIND_PACKAGE_GTest: 'ON',
    },
  },
  // The Linux prebuild: the addon preset in a directory of its own. The C++ runtime stays
  // shared: linked statically it pulls in arc4random and _dl_find_object and raises the
  // glibc baseline from 2.34 to 2.36 (scripts/prebuild.mjs reads both baselines off the
  // binaries' symbol versions).
  prebuild: {
    dir: 'build/prebuild',
    defs: {
      CMAKE_BUILD_TYPE: 'Release', SMC_BUILD_TESTS: 'OFF', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_PLUGINS: 'ON', SMC_BUILD_ADDON: 'ON',
      CMAKE_DISABLE_FIND_PACKAGE_GTest: 'ON',
    },
  },
  tsan: {
    dir: 'build/tsan',
    defs: { CMAKE_BUILD_TYPE: 'RelWithDebInfo', SMC_SANITIZE: 'thread', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'OFF', SMC_BUILD_PLUGINS: 'ON' },
  },
  asan: {
    dir: 'build/asan',
    // The addon too: the asan stage runs the JS suite against it (scripts/stages/asan.mjs).
    defs: { CMAKE_BUILD_TYPE: 'RelWithDebInfo', SMC_SANITIZE: 'address', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'ON', SMC_BUILD_PLUGINS: 'ON' },
  },
  // The portable park/wake fallback (SMC_WAIT=portable: condition variables instead of the
  // OS's address wait), built and tested on Linux so that it stays correct (stage portable).
  portable: {
    dir: 'build/portable',
    defs: { CMAKE_BUILD_TYPE: 'Release', SMC_WAIT: 'portable', SMC_BUILD_TESTS: 'ON', SMC_BUILD_BENCH: 'ON', SMC_BUILD_PLUGINS: 'ON', SMC_BUILD_ADDON: 'OFF' },
  },
  'tsan-portable': {
    dir: 'build/tsan-portable',
    defs: { CMAKE_BUILD_TYPE: 'RelWithDebInfo', SMC_SANITIZE: 'thread', SMC_WAIT: 'portable', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'OFF', SMC_BUILD_PLUGINS: 'ON' },
  },
  fuzz: {
    dir: 'build/fuzz',
    defs: {
      CMAKE_BUILD_TYPE: 'RelWithDebInfo', CMAKE_CXX_COMPILER: 'clang++', CMAKE_C_COMPILER: 'clang',
      SMC_BUILD_FUZZ: 'ON', SMC_BUILD_TESTS: 'OFF', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'OFF', SMC_BUILD_PLUGINS: 'OFF',
    },
  },
};

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw new Error(`build: cannot run '${cmd}': ${r.error.message}`);
  if (r.status !== 0) throw new Error(`build: '${cmd} ${argv.join(' ')}' exited with ${r.status}`);
}

function nodeApiDirs() {
  try {
    const headers = path.dirname(require.resolve('node-api-headers/package.json'));
    const addonApi = path.dirname(require.resolve('node-addon-api/package.json'));
    return { NODE_API_HEADERS_DIR: path.join(headers, 'include'), NODE_ADDON_API_DIR: addonApi };
  } catch {
    return null;
  }
}

export function configureAndBuild(name) {
  const p = presets[name];
  if (!p) throw new Error(`unknown preset '${name}'; allowed: ${Object.keys(presets).join(', ')}`);
  const defs = { ...p.defs, SMC_WERROR: process.env.SMC_CI ? 'ON' : 'OFF' };
  const napi = nodeApiDirs();
  if (napi) Object.assign(defs, napi);
  else defs.SMC_BUILD_ADDON = 'OFF';
  const gen = spawnSync('ninja', ['--version']).status === 0 ? ['-G', 'Ninja'] : [];
  const cfg = existsSync(path.join(root, p.dir, 'CMakeCache.txt')) ? [] : gen;
  run('cmake', ['-S', '.', '-B', p.dir, '--no-warn-unused-cli', ...cfg, ...Object.entries(defs).map(([k, v]) => `-D${k}=${v}`)]);
  run('cmake', ['--build', p.dir, '--parallel', String(Math.max(2, buildJobs()))]);
  return path.join(root, p.dir);
}

function buildJobs() {
  return Number(process.env.SMC_JOBS) || os.availableParallelism?.() || os.cpus().length || 2;
}

/** Compiles the TypeScript library into js/dist/cjs (with .d.ts) and js/dist/esm. */
export function buildJs() {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  run(process.execPath, [tsc, '-p', 'js/tsconfig.json']);
  run(process.execPath, [tsc, '-p', 'js/tsconfig.esm.json']);
  // Node must read js/dist/esm as ES modules if anything loads it there.
  writeFileSync(path.join(root, 'js/dist/esm/package.json'), '{ "type": "module" }\n');
}

export function hasTypeScript() {
  return existsSync(path.join(root, 'node_modules/typescript/bin/tsc'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const a of process.argv.slice(2)) {
    if (!/^--(preset=[\w-]+|no-js|js-only)$/.test(a)) {
      console.error(`build: unknown argument '${a}'; usage: node scripts/build.mjs [--preset=NAME] [--no-js] [--js-only] (presets: ${Object.keys(presets).join(', ')})`);
      process.exit(2);
    }
  }
  try {
    if (!args['js-only']) configureAndBuild(preset);
    if ((preset === 'release' && !args['no-js']) || args['js-only']) {
      if (hasTypeScript()) buildJs();
      else if (args['js-only']) throw new Error('build: TypeScript is not installed (run npm install first)');
    }
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
