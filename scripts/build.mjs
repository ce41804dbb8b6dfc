#!/usr/bin/env node
// Builds the product: the C++ core, the Node-API addon, the example plugins and the
// C++ benchmarks (CMake, Release) and, when TypeScript is installed, the JS library.
// Headers come from local npm packages (node-api-headers, node-addon-api): no downloads.
//
//   node scripts/build.mjs [--preset=release|tsan|asan|fuzz] [--no-js]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  tsan: {
    dir: 'build/tsan',
    defs: { CMAKE_BUILD_TYPE: 'RelWithDebInfo', SMC_SANITIZE: 'thread', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'OFF', SMC_BUILD_PLUGINS: 'ON' },
  },
  asan: {
    dir: 'build/asan',
    defs: { CMAKE_BUILD_TYPE: 'RelWithDebInfo', SMC_SANITIZE: 'address', SMC_BUILD_BENCH: 'OFF', SMC_BUILD_ADDON: 'OFF', SMC_BUILD_PLUGINS: 'ON' },
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
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    console.error(`build: '${cmd} ${argv.join(' ')}' exited with ${r.status}`);
    process.exit(r.status ?? 1);
  }
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
  run('cmake', ['-S', '.', '-B', p.dir, ...cfg, ...Object.entries(defs).map(([k, v]) => `-D${k}=${v}`)]);
  run('cmake', ['--build', p.dir, '--parallel', String(Math.max(2, buildJobs()))]);
  return path.join(root, p.dir);
}

function buildJobs() {
  return Number(process.env.SMC_JOBS) || 2;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  configureAndBuild(preset);
  if (preset === 'release' && !args['no-js'] && existsSync(path.join(root, 'node_modules/typescript'))) {
    run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'js/tsconfig.json']);
  }
}
