// The C/C++ sources under clang-format: one list for `npm run format` (rewrites them)
// and the test suite's format stage (fails on any difference).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dirs = ['native/include/smc', 'native/include/smc/platform', 'native/src', 'native/src/platform', 'native/tests', 'native/bench', 'native/fuzz', 'native/addon', 'native/plugins', 'native/plugin-host', 'bench/native'];

export function cppSources() {
  return dirs
    .filter((d) => existsSync(path.join(root, d)))
    .flatMap((d) => readdirSync(path.join(root, d)).filter((f) => /\.(c|cpp|h|hpp)$/.test(f)).map((f) => path.join(d, f)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = spawnSync('clang-format', ['-i', ...cppSources()], { stdio: 'inherit', cwd: root });
  process.exit(r.status ?? 1);
}
