// AddressSanitizer + UndefinedBehaviorSanitizer build + ctest.
import { configureAndBuild } from '../build.mjs';
import { ctest } from './util.mjs';

export default function asan() {
  configureAndBuild('asan');
  return ctest('build/asan', { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' });
}
