// ThreadSanitizer build of the core + ctest (stress scaled down by the tests).
import { configureAndBuild } from '../build.mjs';
import { ctest } from './util.mjs';

export default function tsan() {
  configureAndBuild('tsan');
  // halt_on_error: a race fails the test instead of scrolling past.
  return ctest('build/tsan', { ...process.env, TSAN_OPTIONS: 'halt_on_error=1 second_deadlock_stack=1' });
}
