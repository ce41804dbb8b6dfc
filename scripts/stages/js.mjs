// TypeScript strict compile, then the node:test suites (real addon, real threads).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { root, run } from './util.mjs';

export default function js() {
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.json']) !== 0) return false;
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) !== 0) return false;
  const dir = path.join(root, 'build/js-test/test');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f));
  return run(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files]) === 0;
}
