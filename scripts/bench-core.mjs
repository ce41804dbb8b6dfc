#!/usr/bin/env node
// Benchmarks the C++ core alone (C++ <-> C++ through one channel, two threads), with
// memcpy and raw atomic ping-pong references measured in the same run. Builds the Release
// preset first, then runs native/bench/core_bench.cpp's binary.
//
//   npm run bench:core [-- --json] [-- --quick] [-- --reps=N] [-- --no-pin]
//
// Every argument is forwarded to core_bench. With --json, stdout carries only the
// benchmark's JSON lines ({"metric", "value", "unit"}, one per line): the build's output
// goes to stderr. Method and figures: docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureAndBuild, presets } from './build.mjs';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const args = process.argv.slice(2);

if (args[0] === '--build-only') {
  // Child mode: the build, with its stdout sent to our stderr by the parent. A build dir
  // configured earlier with the benchmarks off keeps that in its cache: turn them on.
  presets.release.defs = { ...presets.release.defs, SMC_BUILD_BENCH: 'ON' };
  configureAndBuild('release');
  process.exit(0);
}

const build = spawnSync(process.execPath, [self, '--build-only'], {
  cwd: root,
  stdio: ['inherit', process.stderr, 'inherit'],
});
if (build.error || build.status !== 0) {
  console.error(`bench:core: the release build failed (${build.error?.message ?? `exit ${build.status}`})`);
  process.exit(build.status || 1);
}

const exe = path.join(root, presets.release.dir, 'native', 'bench', 'core_bench');
if (!existsSync(exe)) {
  console.error(`bench:core: ${exe} was not built (is SMC_BUILD_BENCH off in ${presets.release.dir}?)`);
  process.exit(1);
}
const run = spawnSync(exe, args, { cwd: root, stdio: 'inherit' });
if (run.error) {
  console.error(`bench:core: ${run.error.message}`);
  process.exit(1);
}
process.exit(run.status ?? 1);
