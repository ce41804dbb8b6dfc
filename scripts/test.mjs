#!/usr/bin/env node
// The whole test suite, in stages. `npm test` runs them all; `--only=a,b` picks some.
//
//   core   ctest on the Release build (the product as shipped)
//   js     TypeScript strict compile, then node:test suites (real addon, real threads)
//   tsan   ThreadSanitizer build of the core + ctest (stress scaled down by the tests)
//   asan   AddressSanitizer + UndefinedBehaviorSanitizer build + ctest
//   fuzz   libFuzzer targets (clang), each for a bounded time
//   format clang-format check of the C++ sources
//   e2e    real-browser tests (Debian Chromium via playwright-core), when present
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureAndBuild } from './build.mjs';
import { cppSources } from './cpp-sources.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const all = ['format', 'core', 'js', 'electron', 'tsan', 'asan', 'fuzz', 'e2e'];
const only = onlyArg ? onlyArg.slice(7).split(',') : all;
for (const s of only) {
  if (!all.includes(s)) {
    console.error(`test: unknown stage '${s}'; allowed: ${all.join(', ')}`);
    process.exit(2);
  }
}
const fuzzSeconds = Number(process.env.SMC_FUZZ_SECONDS ?? 20);

function run(cmd, argv, opts = {}) {
  console.log(`\n$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

const results = [];
function stage(name, fn) {
  if (!only.includes(name)) return;
  const t0 = Date.now();
  console.log(`\n===== stage ${name} =====`);
  let ok;
  try {
    ok = fn();
  } catch (e) {
    console.error(e);
    ok = false;
  }
  results.push({ name, ok, s: ((Date.now() - t0) / 1000).toFixed(1) });
}

function ctest(dir) {
  return run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', '2']) === 0;
}

stage('format', () => run('clang-format', ['--dry-run', '--Werror', ...cppSources()]) === 0);

stage('core', () => {
  configureAndBuild('release');
  return ctest('build/release');
});

stage('js', () => {
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.json']) !== 0) return false;
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) !== 0) return false;
  const dir = path.join(root, 'build/js-test/test');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f));
  return run(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files]) === 0;
});

stage('electron', () => {
  // Electron's npm package needs Node >= 22 to install, and its binary cannot be
  // downloaded here: type-check against its published types (fetched from the npm
  // registry into build/electron-types) and unit-test the logic that needs no binary.
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
  if (run(process.execPath, ['--test', 'app/test/electron-logic.test.mjs']) !== 0) return false;
  let binary = null;
  try {
    binary = createRequire(import.meta.url)('electron');
  } catch {
    binary = null;
  }
  if (typeof binary !== 'string' || !existsSync(binary)) {
    console.log('electron: SKIP running the app: the Electron binary is not installed (no internet to download it here)');
  }
  return true;
});

stage('tsan', () => {
  configureAndBuild('tsan');
  // halt_on_error: a race fails the test instead of scrolling past.
  return run('ctest', ['--test-dir', 'build/tsan', '--output-on-failure', '-j', '2'], {
    env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1 second_deadlock_stack=1' },
  }) === 0;
});

stage('asan', () => {
  configureAndBuild('asan');
  return run('ctest', ['--test-dir', 'build/asan', '--output-on-failure', '-j', '2'], {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
  }) === 0;
});

stage('fuzz', () => {
  configureAndBuild('fuzz');
  const dir = path.join(root, 'build/fuzz/native/fuzz');
  const targets = readdirSync(dir).filter((f) => f.endsWith('_fuzz'));
  let ok = targets.length > 0;
  for (const t of targets) {
    const corpus = path.join(root, 'build/fuzz/corpus', t);
    mkdirSync(corpus, { recursive: true });
    const seeds = path.join(root, 'native/fuzz/seeds', t);
    const argv = [`-max_total_time=${fuzzSeconds}`, '-print_final_stats=1', '-timeout=10', corpus];
    if (existsSync(seeds)) argv.push(seeds);
    ok = run(path.join(dir, t), argv) === 0 && ok;
  }
  return ok;
});

stage('e2e', () => {
  const script = path.join(root, 'app/test/e2e.mjs');
  if (!existsSync(script)) {
    console.log('e2e: no browser tests in this tree yet');
    return true;
  }
  return run(process.execPath, [script]) === 0;
});

console.log('\n===== summary =====');
for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(7)} ${r.s}s`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
