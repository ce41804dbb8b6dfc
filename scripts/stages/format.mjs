// clang-format check of the C/C++ sources (the same list `npm run format` rewrites).
import { cppSources } from '../cpp-sources.mjs';
import { run } from './util.mjs';

export default function format() {
  return run('clang-format', ['--dry-run', '--Werror', ...cppSources()]) === 0;
}
