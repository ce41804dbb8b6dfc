// Idle and wake primitives (docs/protocol.md, section 5): spin with a pause hint, yield,
// then park on a 32-bit shared word. On Linux parking is a futex on the word itself, so
// the sleeper's "is it still the value I saw?" check and the sleep are one atomic step;
// elsewhere a hashed table of condition variables gives the same contract.
#pragma once

#include <chrono>
#include <cstdint>

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
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

// Sleeps while *word == expected, at most `timeout`. Spurious returns are allowed; the
// caller re-checks its condition.
void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout);

// Wakes every thread parked on `word` (cheap when nobody is: ~300 ns syscall, which is why
// callers ring only when the parked flag says someone sleeps).
void wake_all(const uint32_t* word);

}  // namespace smc
