// The portable park/wake fallback (SMC_WAIT=portable, native/src/platform/wait_portable.cpp)
// on Linux: the core suites (park/wake watchdog tests included) on a Release build, then
// again under ThreadSanitizer, which sees its mutexes and condition variables (a futex is
// opaque to it).
import { configureAndBuild } from '../build.mjs';
import { ctest } from './util.mjs';

export default function portable() {
  configureAndBuild('portable');
  if (!ctest('build/portable')) return false;
  configureAndBuild('tsan-portable');
  return ctest('build/tsan-portable', { ...process.env, TSAN_OPTIONS: 'halt_on_error=1 second_deadlock_stack=1' });
}
