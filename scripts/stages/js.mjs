// TypeScript strict compile (the library, then its tests), then the node:test suites (real addon, real threads).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { buildJs } from '../build.mjs';
import { root, run } from './util.mjs';

export default function js() {
  buildJs(); // js/dist (CJS + ESM): the package's own entry points, which some tests load by name
  if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'js/tsconfig.test.json']) !== 0) return false;
  const dir = path.join(root, 'build/js-test/test');
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dir, f));
  return run(process.execPath, ['--expose-gc', '--test', '--test-concurrency=1', ...files]) === 0;
}
