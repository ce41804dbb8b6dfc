#!/usr/bin/env node
// Cross-compiles the Windows x64 addon and example plugins on Linux with mingw-w64
// (cmake/mingw-w64-x86_64.cmake), Release, no tests, into build/win64-release, and checks
// that each binary imports only system DLLs (the C++ runtime and winpthreads are linked in).
//
//   node scripts/build-windows.mjs            prints { addon, plugins } as JSON
//   import { buildWindows } from './build-windows.mjs'
//   buildWindows() -> { addon: '/abs/smc.node', plugins: ['/abs/smc_echo.dll', ...] }
//
// Needs: apt-get install -y g++-mingw-w64-x86-64-posix cmake ninja-build (the stage
// scripts/stages/windows.mjs also builds the tests and runs them under Wine).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const TRIPLE = 'x86_64-w64-mingw32';
// What a Windows binary of ours may import: the OS and its C runtime. libstdc++-6.dll,
// libgcc_s_seh-1.dll or libwinpthread-1.dll here would mean a DLL we would have to ship.
const SYSTEM_DLL = /^(kernel32|msvcrt|ucrtbase|ntdll|advapi32|user32|ws2_32|api-ms-win-[a-z0-9-]+)\.dll$/i;

/** The cross tools this needs that are not on PATH (empty when all are there). */
export function missingWindowsTools(extra = []) {
  const tools = [`${TRIPLE}-g++-posix`, `${TRIPLE}-gcc-posix`, `${TRIPLE}-dlltool`, `${TRIPLE}-objdump`, 'cmake', ...extra];
  return tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
}

// Where build tools write their output: the command line mode keeps stdout for the JSON.
let toolStdout = 'inherit';

function run(cmd, argv, opts = {}) {
  console.log(`\n$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: ['inherit', toolStdout, 'inherit'], cwd: root, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`'${cmd} ${argv.join(' ')}' exited with ${r.status}`);
}

function nodeApiDirs() {
  const headers = path.dirname(require.resolve('node-api-headers/package.json'));
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json'));
  return { NODE_API_HEADERS_DIR: path.join(headers, 'include'), NODE_ADDON_API_DIR: addonApi };
}

/**
 * Configures and builds a Windows x64 tree. `dir` is relative to the repository root;
 * `tests` adds the GoogleTest suites (GoogleTest compiled from `gtestSource`) and the
 * test plugins; `bench` adds native/bench. Returns the build directory's absolute path.
 */
export function crossBuild({ dir, tests = false, bench = false, wait = 'auto', gtestSource = '/usr/src/googletest' }) {
  const missing = missingWindowsTools();
  if (missing.length) {
    throw new Error(`Windows cross build: missing ${missing.join(', ')} (apt-get install -y g++-mingw-w64-x86-64-posix cmake)`);
  }
  if (tests && !existsSync(path.join(gtestSource, 'CMakeLists.txt'))) {
    throw new Error(`Windows cross build: no GoogleTest source at ${gtestSource} (apt-get install -y googletest)`);
  }
  const defs = {
    CMAKE_TOOLCHAIN_FILE: path.join(root, 'cmake/mingw-w64-x86_64.cmake'),
    CMAKE_BUILD_TYPE: 'Release',
    SMC_WAIT: wait,
    SMC_BUILD_ADDON: 'ON',
    SMC_BUILD_PLUGINS: 'ON',
    SMC_BUILD_TESTS: tests ? 'ON' : 'OFF',
    SMC_BUILD_BENCH: bench ? 'ON' : 'OFF',
    SMC_WERROR: process.env.SMC_CI ? 'ON' : 'OFF',
    ...nodeApiDirs(),
  };
  if (tests) defs.SMC_GTEST_SOURCE_DIR = gtestSource;
  const abs = path.join(root, dir);
  const gen = spawnSync('ninja', ['--version']).status === 0 ? ['-G', 'Ninja'] : [];
  const cfg = existsSync(path.join(abs, 'CMakeCache.txt')) ? [] : gen;
  run('cmake', ['-S', '.', '-B', dir, ...cfg, ...Object.entries(defs).map(([k, v]) => `-D${k}=${v}`)]);
  run('cmake', ['--build', dir, '--parallel', String(Number(process.env.SMC_JOBS) || 2)]);
  return abs;
}

/** The DLLs `file` imports, directly or delay-loaded (objdump -p). */
export function dllImports(file) {
  const r = spawnSync(`${TRIPLE}-objdump`, ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${TRIPLE}-objdump -p ${file}: ${r.stderr}`);
  return [...r.stdout.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]);
}

/**
 * Fails unless every file imports only system DLLs, or node.exe: the addon's napi_*
 * imports, delay-loaded and bound to the running executable by its hook.
 */
export function checkSystemImports(files) {
  const bad = [];
  for (const f of files) {
    const imports = dllImports(f);
    console.log(`${path.relative(root, f)} imports: ${imports.join(', ')}`);
    for (const dll of imports) if (!SYSTEM_DLL.test(dll) && dll.toLowerCase() !== 'node.exe') bad.push(`${f}: ${dll}`);
  }
  if (bad.length) throw new Error(`non-system DLL imports (link them statically):\n  ${bad.join('\n  ')}`);
}

/** The addon and example plugins of a Windows build directory (absolute paths). */
export function windowsArtifacts(dir) {
  const addon = path.join(dir, 'smc.node');
  const pluginDir = path.join(dir, 'plugins');
  const plugins = existsSync(pluginDir)
    ? readdirSync(pluginDir).filter((f) => /^smc_.*\.dll$/.test(f)).sort().map((f) => path.join(pluginDir, f))
    : [];
  if (!existsSync(addon)) throw new Error(`Windows build: ${addon} was not built`);
  if (plugins.length === 0) throw new Error(`Windows build: no plugins in ${pluginDir}`);
  return { addon, plugins };
}

/** Release addon + example plugins for win32-x64, checked to import only system DLLs. */
export function buildWindows() {
  const dir = crossBuild({ dir: 'build/win64-release' });
  const out = windowsArtifacts(dir);
  checkSystemImports([out.addon, ...out.plugins]);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    // Build logs on stderr; stdout carries only the JSON result.
    const log = console.log;
    console.log = (...a) => console.error(...a);
    toolStdout = 2;
    const out = buildWindows();
    log(JSON.stringify(out, null, 2));
  } catch (e) {
    console.error(`build-windows: ${e.message}`);
    process.exit(1);
  }
}
