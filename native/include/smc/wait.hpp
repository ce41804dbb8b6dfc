// Idle and wake primitives (docs/protocol.md, section 5): spin with a pause hint, yield,
// then park on a 32-bit shared word with the platform layer's park_on / wake_all
// (smc/platform/wait.hpp: futex, WaitOnAddress, ulock or the portable fallback).
#pragma once

#include <chrono>
#include <cstdint>

#include "smc/platform/wait.hpp"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

namespace smc {

using Clock = std::chrono::steady_clock;

// A point in time after which a blocking call gives up. Deadline::never() waits forever
// (but still re-checks the peer's state every park timeout).
struct Deadline {
  Clock::time_point at = Clock::time_point::max();
  static Deadline never() { return {}; }
  static Deadline now() { return {Clock::now()}; }
  static Deadline in(std::chrono::nanoseconds d) { return {Clock::now() + d}; }
  bool is_never() const { return at == Clock::time_point::max(); }
  bool passed() const { return !is_never() && Clock::now() >= at; }
};

// How a waiting side spends its time before it sleeps. Sleeping costs ~400x a spin
// round trip on this class of machine (platform notes), so spin briefly first.
struct IdleOptions {
  uint32_t spin_iterations = 4000;  // pause-hinted polls (~10-40 us)
  uint32_t yield_iterations = 20;   // sched_yield polls
  bool park = true;                 // false: spin forever (dedicated latency-critical thread)
  std::chrono::milliseconds park_timeout{100};  // bound on learning of a silent peer death
};

// CPU hint for spin loops (PAUSE on x86, YIELD on ARM).
inline void cpu_relax() {
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

}  // namespace smc
