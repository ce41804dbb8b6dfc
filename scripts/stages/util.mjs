// Helpers shared by the test stages: the repository root and a command runner that
// prints what it runs and returns the exit status.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function run(cmd, argv, opts = {}) {
  console.log(`\n$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

export function ctest(dir, env = process.env) {
  return run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', '2'], { env }) === 0;
}

/** Failed test names per stage, repeated after the summary by scripts/test.mjs. */
export const failures = [];
export function noteFailures(stage, names) {
  for (const name of names) failures.push(`${stage}: ${name}`);
}
