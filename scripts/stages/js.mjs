// TypeScript strict compile (the library, then its tests), then the node:test suites
// (real addon, real threads) under the Node that runs `npm test`.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildJs } from '../build.mjs';
import { root, run } from './util.mjs';

/** Compiles the library (js/dist) and the tests (build/js-test); true when both compile. */
export function compileJsTests() {
  buildJs(); // js/dist (CJS + ESM): the package's own entry points
  // A test file deleted or renamed in js/test must not run on from an earlier compile.
  rmSync(path.join(root, 'build/js-test'), { recursive: true, force: true });
  return run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) === 0;
}

/** Runs the compiled suites with the given node binary; true when all pass. */
export function runJsTests(nodeBinary = process.execPath, env = process.env) {
  const dir = path.join(root, 'build/js-test/test');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f));
  return run(nodeBinary, ['--expose-gc', '--test', '--test-concurrency=1', ...files], { env }) === 0;
}

export default function js() {
  return compileJsTests() && runJsTests();
}
