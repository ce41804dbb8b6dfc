// libFuzzer targets (clang), each for a bounded time (SMC_FUZZ_SECONDS, default 20).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { configureAndBuild } from '../build.mjs';
import { root, run } from './util.mjs';

export default function fuzz() {
  const fuzzSeconds = Number(process.env.SMC_FUZZ_SECONDS ?? 20);
  configureAndBuild('fuzz');
  const dir = path.join(root, 'build/fuzz/native/fuzz');
  const targets = readdirSync(dir).filter((f) => f.endsWith('_fuzz'));
  let ok = targets.length > 0;
  for (const t of targets) {
    const corpus = path.join(root, 'build/fuzz/corpus', t);
    mkdirSync(corpus, { recursive: true });
    const seeds = path.join(root, 'native/fuzz/seeds', t);
    const argv = [`-max_total_time=${fuzzSeconds}`, '-print_final_stats=1', '-timeout=10', corpus];
    if (existsSync(seeds)) argv.push(seeds);
    ok = run(path.join(dir, t), argv) === 0 && ok;
  }
  return ok;
}
