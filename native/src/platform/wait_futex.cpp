// SMC_WAIT=futex: Linux futexes on the shared word itself, so the "is it still the value I
// saw?" check and the sleep are one atomic step in the kernel.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <ctime>

#include "smc/platform/wait.hpp"

namespace smc {

// FUTEX_*_PRIVATE: both sides are threads of one process (a SharedArrayBuffer cannot
// cross processes), and private futexes skip the shared-mapping lookup.
void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  const auto ns = std::max<int64_t>(0, timeout.count());
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void wake_all(const uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

const char* wait_primitive() {
  return "futex";
}

}  // namespace smc
