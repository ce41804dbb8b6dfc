// The tarball installed with SMC_IGNORE_PREBUILDS=1: the install builds the addon and the
// example plugins from source (no tests, no benchmarks, GoogleTest never looked for), and
// a prebuild for a newer glibc than the system's is refused with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageOut, prebuiltDir, sourceDir, runNode, writeIn } from './env.mjs';

const pkgDir = path.join(sourceDir, 'node_modules/shared-memory-channel');
const buildDir = path.join(pkgDir, 'build/release');

test('the source install built the addon and plugins only, without GoogleTest', () => {
  const log = readFileSync(path.join(sourceDir, 'install.log'), 'utf8');
  assert.match(log, /building from source: SMC_IGNORE_PREBUILDS is set/);
  assert.match(log, /built the addon and the example plugins from source in [\d.]+ s/);
  assert.ok(existsSync(path.join(buildDir, 'smc.node')));
  assert.deepEqual(readdirSync(path.join(buildDir, 'plugins')).sort(), ['libsmc_echo.so', 'libsmc_image_filter.so', 'libsmc_image_source.so']);
  assert.equal(existsSync(path.join(buildDir, 'native/tests')), false, 'tests were built');
  assert.equal(existsSync(path.join(buildDir, 'native/bench')), false, 'benchmarks were built');
  const cache = readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8');
  // find_package(GTest) is disabled for this build: had anything asked for it, configure
  // would have failed. And nothing of GoogleTest was found.
  assert.match(cache, /^CMAKE_DISABLE_FIND_PACKAGE_GTest:\w+=ON$/m);
  assert.doesNotMatch(cache, /GTest_DIR|GTEST_INCLUDE_DIR/);
  const { seconds } = JSON.parse(readFileSync(path.join(sourceDir, 'install.json'), 'utf8'));
  const prebuilt = JSON.parse(readFileSync(path.join(prebuiltDir, 'install.json'), 'utf8')).seconds;
  // Reported, not asserted: a duration is a measurement (docs/packaging.md records them),
  // and on a loaded machine this one took 137 s against 16-52 s quiet.
  console.log(`install: ${prebuilt.toFixed(1)} s with the prebuild, ${seconds.toFixed(1)} s building from source`);
});

test('the source-built addon echoes', () => {
  const file = writeIn(sourceDir, 'echo.mjs', `
import { SharedMemoryChannel, loadAddon } from 'shared-memory-channel';
const ch = new SharedMemoryChannel(1 << 16, 1 << 16);
ch.startReceiving((m) => { console.log('echo', Array.from(m).join(',')); ch.cleanup(); });
ch.send(new Uint8Array([5, 6, 7]));
`);
  const r = runNode(sourceDir, file, { env: { SMC_IGNORE_PREBUILDS: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /echo 5,6,7/);
});

test('a prebuild for a newer glibc is refused, and the install says why and what it needs', () => {
  // A copy of the installed package whose manifest asks for a glibc no system has yet.
  const copy = path.join(packageOut, 'glibc-mismatch');
  cpSync(path.join(prebuiltDir, 'node_modules/shared-memory-channel'), copy, { recursive: true, dereference: true });
  const manifest = path.join(copy, 'prebuilds/linux-x64/prebuild.json');
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), glibc: '99.0' }));
  // With no compiler on PATH the fallback cannot build: one message, no stack.
  const r = runNode(copy, path.join(copy, 'scripts/install.mjs'));
  assert.equal(r.status, 1);
  assert.match(r.stdout, /building from source: the linux-x64 prebuild needs glibc >= 99\.0, and this system has glibc \d+\.\d+/);
  assert.match(r.stderr, /cannot build the native addon from source: missing CMake >= 3\.20 \(not found on PATH\) and a C\+\+20 compiler/);
  assert.match(r.stderr, /npm rebuild shared-memory-channel/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'printed a stack');
});
