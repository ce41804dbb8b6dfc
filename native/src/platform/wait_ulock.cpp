// SMC_WAIT=ulock: macOS. os_sync_wait_on_address (public since macOS 14.4) when the SDK
// has it and the running OS provides it, else the __ulock_wait / __ulock_wake system calls
// that libc++'s std::atomic::wait is built on (present since macOS 10.12). Both compare
// the word with `expected` and sleep as one step against the matching wake.
#include <algorithm>
#include <cstdint>

#include "smc/platform/wait.hpp"

#if __has_include(<os/os_sync_wait_on_address.h>)
#include <os/clock.h>
#include <os/os_sync_wait_on_address.h>
#define SMC_HAVE_OS_SYNC_WAIT 1
#endif

extern "C" {
// From xnu's bsd/sys/ulock.h (not in the SDK).
int __ulock_wait(uint32_t operation, void* addr, uint64_t value, uint32_t timeout_us);
int __ulock_wake(uint32_t operation, void* addr, uint64_t wake_value);
}

namespace smc {

namespace {
constexpr uint32_t kUlCompareAndWait = 1;
constexpr uint32_t kUlfWakeAll = 0x00000100;
constexpr uint32_t kUlfNoErrno = 0x01000000;
}  // namespace

void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  const int64_t ns = std::max<int64_t>(0, timeout.count());
  void* addr = const_cast<uint32_t*>(word);
#if defined(SMC_HAVE_OS_SYNC_WAIT)
  if (__builtin_available(macOS 14.4, *)) {
    // The timeout is relative, in nanoseconds of the given clock.
    os_sync_wait_on_address_with_timeout(addr, expected, sizeof expected,
                                         OS_SYNC_WAIT_ON_ADDRESS_NONE, OS_CLOCK_MACH_ABSOLUTE_TIME,
                                         static_cast<uint64_t>(ns));
    return;
  }
#endif
  // Microseconds, rounded up; 0 would mean "forever", so at least 1.
  const int64_t us = std::clamp<int64_t>((ns + 999) / 1000, 1, UINT32_MAX);
  __ulock_wait(kUlCompareAndWait | kUlfNoErrno, addr, expected, static_cast<uint32_t>(us));
}

void wake_all(const uint32_t* word) {
  void* addr = const_cast<uint32_t*>(word);
#if defined(SMC_HAVE_OS_SYNC_WAIT)
  if (__builtin_available(macOS 14.4, *)) {
    os_sync_wake_by_address_all(addr, sizeof(uint32_t), OS_SYNC_WAKE_BY_ADDRESS_NONE);
    return;
  }
#endif
  __ulock_wake(kUlCompareAndWait | kUlfWakeAll | kUlfNoErrno, addr, 0);
}

const char* wait_primitive() {
  return "ulock";
}

}  // namespace smc
