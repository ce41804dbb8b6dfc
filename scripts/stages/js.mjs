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

/** The failed tests of a TAP report: "file: outer > inner" for each `not ok`. */
function failedTests(report) {
  let text;
  try {
    text = readFileSync(report, 'utf8');
  } catch {
    return ['(no TAP report written)'];
  }
  const failed = [];
  const names = []; // the open subtests, by nesting level
  let pending = null; // a failure whose YAML block may name its file
  for (const line of text.split('\n')) {
    const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (sub) {
      names.length = sub[1].length / 4;
      names.push(sub[2]);
      continue;
    }
    const bad = /^(\s*)not ok \d+ - (.*?)(\s+# .*)?$/.exec(line);
    if (bad) {
      const level = bad[1].length / 4;
      pending = { name: [...names.slice(0, level), bad[2]].join(' > '), file: '' };
      failed.push(pending);
      continue;
    }
    const loc = /^\s*location: '(.*?):\d+:\d+'$/.exec(line);
    if (loc && pending && !pending.file) pending.file = path.basename(loc[1]);
    if (/^\s*(ok|not ok) \d+/.test(line)) pending = null;
  }
  if (!failed.length) return ['(exit status non-zero, no failed test in the TAP report)'];
  return failed.map((f) => (f.file ? `${f.file}: ${f.name}` : f.name));
}

export default function js() {
  return compileJsTests() && runJsTests();
}
