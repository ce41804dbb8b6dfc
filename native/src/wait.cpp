#include "smc/wait.hpp"

#include <algorithm>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#else
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#endif

namespace smc {

#if defined(__linux__)

// FUTEX_*_PRIVATE: both sides are threads of one process (a SharedArrayBuffer cannot
// cross processes), and private futexes skip the shared-mapping lookup.
void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  const auto ns = std::max<int64_t>(0, timeout.count());
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void wake_all(const uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

#else

// Portable fallback: a parking lot of condition variables hashed by address. A waker
// takes the bucket's mutex, so a sleeper that checked the word under the same mutex
// cannot miss it.
namespace {
struct Bucket {
  std::mutex mu;
  std::condition_variable cv;
};
std::array<Bucket, 64> g_buckets;
Bucket& bucket_for(const uint32_t* w) {
  return g_buckets[(reinterpret_cast<uintptr_t>(w) >> 3) % g_buckets.size()];
}
}  // namespace

void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  Bucket& b = bucket_for(word);
  std::unique_lock lock(b.mu);
  if (std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(word)).load(std::memory_order_seq_cst) !=
      expected)
    return;
  b.cv.wait_for(lock, timeout);
}

void wake_all(const uint32_t* word) {
  Bucket& b = bucket_for(word);
  { std::lock_guard lock(b.mu); }
  b.cv.notify_all();
}

#endif

}  // namespace smc
