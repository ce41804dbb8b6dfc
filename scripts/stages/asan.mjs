// AddressSanitizer + UndefinedBehaviorSanitizer: the C++ tests (ctest), then the whole JS
// suite against the ASan+UBSan builds of the addon and the plugins.
//
// Node is not instrumented, so the sanitizer runtimes are preloaded into it (the
// instrumented addon needs libasan first in the initial library list). Leak detection is
// off for the JS run only: LeakSanitizer would report Node's and V8's own allocations
// still held at exit (isolates, the platform, static singletons: none of them ours, and
// reported by the thousand). Our native code's leaks are checked by ctest just before,
// with detect_leaks=1, in the same instrumented build.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { configureAndBuild } from '../build.mjs';
import { ctest, root, run } from './util.mjs';

/** Path of a sanitizer runtime of the compiler that built build/asan. */
function runtime(compiler, lib) {
  const p = execFileSync(compiler, [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
  if (!path.isAbsolute(p) || !existsSync(p)) throw new Error(`asan: ${compiler} does not know where ${lib} is (got '${p}')`);
  return p;
}

function cxxCompiler(dir) {
  const m = /^CMAKE_CXX_COMPILER:[A-Z]+=(.+)$/m.exec(readFileSync(path.join(root, dir, 'CMakeCache.txt'), 'utf8'));
  return m ? m[1] : 'c++';
}

export default function asan() {
  const dir = configureAndBuild('asan');
  const cxx = ctest('build/asan', { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' });

  const addon = path.join(dir, 'smc.node');
  if (!existsSync(addon)) {
    console.error(`asan: ${addon} was not built (the asan preset builds the addon when node-api-headers is installed)`);
    return false;
  }
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.json']) !== 0) return false;
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) !== 0) return false;
  const compiler = cxxCompiler('build/asan');
  const preload = [runtime(compiler, 'libasan.so'), runtime(compiler, 'libubsan.so')].join(':');
  const env = {
    ...process.env,
    LD_PRELOAD: preload,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    SMC_ADDON_PATH: addon,
    SMC_PLUGIN_DIR: path.join(dir, 'plugins'),
  };
  // The suite must really run the instrumented addon: check that it loads with the runtime.
  const probe = `const a = require(process.env.SMC_ADDON_PATH); const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
if (typeof a.NativeChannel !== 'function' || !maps.includes('libasan') || !maps.includes(process.env.SMC_ADDON_PATH)) process.exit(3);`;
  if (run(process.execPath, ['-e', probe], { env }) !== 0) {
    console.error('asan: the ASan addon did not load with the sanitizer runtime preloaded');
    return false;
  }
  const tests = path.join(root, 'build/js-test/test');
  const files = readdirSync(tests).filter((f) => f.endsWith('.test.js')).map((f) => path.join(tests, f));
  console.log(`asan: JS suite with LD_PRELOAD=${preload}, SMC_ADDON_PATH=${addon}`);
  const js = run(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files], { env }) === 0;
  return cxx && js;
}
