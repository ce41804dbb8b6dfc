// TypeScript strict compile (the library, then its tests), then the node:test suites
// (real addon, real threads) under the Node that runs `npm test`.
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildJs } from '../build.mjs';
import { noteFailures, root, run } from './util.mjs';

/** Compiles the library (js/dist) and the tests (build/js-test); true when both compile. */
export function compileJsTests() {
  buildJs(); // js/dist (CJS + ESM): the package's own entry points
  // A test file deleted or renamed in js/test must not run on from an earlier compile.
  rmSync(path.join(root, 'build/js-test'), { recursive: true, force: true });
  return run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) === 0;
}

/**
 * Runs the compiled suites with the given node binary; true when all pass. A second TAP
 * report goes to a file so the names of failed tests can be repeated in the summary (CI
 * shows only the tail of the output).
 */
export function runJsTests(nodeBinary = process.execPath, env = process.env, label = 'js') {
  const dir = path.join(root, 'build/js-test/test');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f));
  const reportDir = path.join(root, 'build/test-reports');
  mkdirSync(reportDir, { recursive: true });
  const report = path.join(reportDir, `${label}.tap`);
  rmSync(report, { force: true });
  const reporters = ['--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${report}`];
  const ok = run(nodeBinary, ['--expose-gc', '--test', '--test-concurrency=1', ...reporters, ...files], { env }) === 0;
  if (!ok) noteFailures(label, failedTests(report));
  return ok;
}

/** The failed tests of a TAP report, innermost names with their file. */
function failedTests(report) {
  let text;
  try {
    text = readFileSync(report, 'utf8');
  } catch {
    return ['(no TAP report written)'];
  }
  const failed = [];
  let file = '';
  for (const line of text.split('\n')) {
    const top = /^# Subtest: (.*)$/.exec(line);
    if (top) file = path.basename(top[1]);
    const bad = /^(\s*)not ok \d+ - (.*?)(\s+# .*)?$/.exec(line);
    if (bad && bad[1].length > 0) failed.push(`${file}: ${bad[2]}`);
    else if (bad) failed.push(bad[2]);
  }
  return failed.length ? failed : ['(exit status non-zero, no failed test in the TAP report)'];
}

export default function js() {
  return compileJsTests() && runJsTests();
}
