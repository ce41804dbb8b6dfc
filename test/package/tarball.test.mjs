// What the tarball holds: the library, its sources for a source build, prebuilds, docs;
// nothing of the repository's tests, app, benchmarks, fuzzing, CI or images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { packList } from './env.mjs';

const files = packList.files.map((f) => f.path);

test('the tarball holds every entry point with its types, in both formats', () => {
  for (const f of [
    'package.json', 'README.md', 'LICENSE',
    'js/dist/cjs/index.js', 'js/dist/cjs/index.d.ts',
    'js/dist/cjs/browser.js', 'js/dist/cjs/browser.d.ts', 'js/dist/esm/browser.js',
    'js/dist/cjs/bpg.js', 'js/dist/cjs/bpg.d.ts', 'js/dist/esm/bpg.js',
    'js/dist/cjs/protocol/index.js', 'js/dist/cjs/protocol/index.d.ts', 'js/dist/esm/protocol/index.js',
    'js/dist/esm/package.json', 'js/dist/cjs/prebuilds.js',
  ]) assert.ok(files.includes(f), `missing ${f}`);
});

test('the tarball holds what a source build needs and the install script', () => {
  for (const f of ['CMakeLists.txt', 'cmake/NodeAddon.cmake', 'scripts/install.mjs', 'scripts/build.mjs', 'native/addon/addon.cpp', 'native/include/smc/plugin.h', 'native/plugins/CMakeLists.txt']) {
    assert.ok(files.includes(f), `missing ${f}`);
  }
  assert.ok(files.some((f) => f.startsWith('native/src/') && f.endsWith('.cpp')), 'no core sources');
});

test('the tarball holds the linux-x64 prebuild with its manifest', () => {
  for (const f of ['prebuilds/linux-x64/prebuild.json', 'prebuilds/linux-x64/smc.napi.glibc.node', 'prebuilds/linux-x64/plugins/libsmc_image_source.so']) {
    assert.ok(files.includes(f), `missing ${f}`);
  }
});

test('the linux-x64 prebuild carries the isolated-plugin host, executable, beside the addon', () => {
  const host = packList.files.find((f) => f.path === 'prebuilds/linux-x64/smc_plugin_host');
  assert.ok(host, 'missing prebuilds/linux-x64/smc_plugin_host');
  assert.notEqual(host.mode & 0o111, 0, `smc_plugin_host packed with mode ${host.mode.toString(8)}`);
});

test('the tarball holds the win32-x64 prebuild (mingw-w64 is installed here, so prepack built it)', (t) => {
  if (spawnSync('x86_64-w64-mingw32-g++-posix', ['--version']).error) {
    // .ci/run installs it; a developer machine without it packs linux-x64 only, and says so.
    t.skip('x86_64-w64-mingw32-g++-posix is not installed');
    return;
  }
  for (const f of ['prebuilds/win32-x64/prebuild.json', 'prebuilds/win32-x64/smc.napi.node', 'prebuilds/win32-x64/plugins/smc_echo.dll',
    'prebuilds/win32-x64/plugins/smc_image_source.dll', 'prebuilds/win32-x64/plugins/smc_image_filter.dll']) {
    assert.ok(files.includes(f), `missing ${f}`);
  }
});

test('the tarball holds no tests, app, benchmarks, fuzzing, CI files, images or build output', () => {
  const forbidden = [/^app\//, /^bench\//, /^native\/tests\//, /^native\/bench\//, /^native\/fuzz\//, /^js\/test\//, /^js\/src\//, /^test\//,
    /^test-vectors\//, /^\.ci\//, /^build\//, /\.png$/, /^docs\/images\//, /\.map$/, /^scripts\/(test|bench|prebuild|prepack|stages)/];
  const bad = files.filter((f) => forbidden.some((re) => re.test(f)));
  assert.deepEqual(bad, []);
});

test('the tarball is small (compressed under 4 MiB, both prebuilds included)', () => {
  assert.ok(packList.size < 4 * 1024 * 1024, `tarball is ${packList.size} bytes`);
  console.log(`tarball: ${packList.size} bytes packed, ${packList.unpackedSize} unpacked, ${files.length} files`);
});
