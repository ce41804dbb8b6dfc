// SMC_WAIT=waitonaddress: Windows 8+ WaitOnAddress / WakeByAddressAll (synchronization
// API, api-ms-win-core-synch-l1-2-0). Like a futex, WaitOnAddress compares the word with
// `expected` and sleeps as one step against WakeByAddress*, so a wake after the store
// cannot be lost.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
// windows.h first: synchapi.h relies on its types.
#include <synchapi.h>

#include <algorithm>

#include "smc/platform/wait.hpp"

namespace smc {

void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  // Milliseconds, rounded up so a short timeout sleeps rather than spins; capped below
  // INFINITE so a huge timeout stays a timeout (callers re-check and park again).
  const int64_t ns = std::max<int64_t>(0, timeout.count());
  const int64_t ms = std::min<int64_t>((ns + 999'999) / 1'000'000, INFINITE - 1);
  WaitOnAddress(const_cast<uint32_t*>(word), &expected, sizeof expected, static_cast<DWORD>(ms));
}

void wake_all(const uint32_t* word) {
  WakeByAddressAll(const_cast<uint32_t*>(word));
}

const char* wait_primitive() {
  return "waitonaddress";
}

}  // namespace smc
