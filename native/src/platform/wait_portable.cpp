// SMC_WAIT=portable: standard C++ only, for platforms without an address-wait system call
// (and built and tested on Linux so that it stays correct). Sleepers wait on a condition
// variable chosen by hashing the word's address; the word itself stays a plain shared
// word that JS writes with Atomics.
//
// Why a wake-up cannot be lost (not merely "is unlikely to be"). Every waker follows the
// protocol's order: it stores the new value into the word (seq_cst for the protocol's
// words; SendLock's release exchange is enough too: the bucket mutex orders it), and
// only then calls wake_all(word), which locks the word's bucket mutex and notifies. The
// sleeper checks the word while holding that same mutex, and condition_variable::wait
// releases the mutex and joins the wait set as one atomic step. So the waker's lock is
// either
//   (a) before the sleeper's lock: the waker's store is sequenced before its unlock,
//       which synchronizes with the sleeper's lock, so the sleeper's check sees the new
//       value (or a later one) and returns without sleeping; or
//   (b) after the sleeper's lock: the waker can only get the mutex once the sleeper has
//       released it, i.e. once it returned or is already in the wait set, and the
//       notify_all that follows reaches it.
// There is no third order. Words that share a bucket only cause spurious returns, which
// the contract allows (callers re-check). The timed wait bounds a sleep whose waker never
// comes (a peer that died silently), as with the futex.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "smc/platform/wait.hpp"

namespace smc {

namespace {

struct alignas(64) Bucket {
  std::mutex mu;
  std::condition_variable cv;
};

constexpr size_t kBucketBits = 6;
std::array<Bucket, size_t{1} << kBucketBits> g_buckets;

// The region's words sit 128 bytes apart, so plain address bits would crowd them into a
// few buckets: multiplicative (Fibonacci) hashing spreads them.
Bucket& bucket_for(const uint32_t* word) {
  const auto a = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(word));
  return g_buckets[(a * 0x9E3779B97F4A7C15ull) >> (64 - kBucketBits)];
}

}  // namespace

void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  Bucket& b = bucket_for(word);
  std::unique_lock lock(b.mu);
  // SYNC: portable-wait (partner: the waker's seq_cst store of the word, made visible to
  // this load by wake_all's lock of the same bucket mutex, case (a) above).
  if (std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(word)).load(std::memory_order_seq_cst) !=
      expected) {
    return;
  }
  // Bounded so that now() + timeout inside wait_for cannot overflow; callers re-park.
  b.cv.wait_for(lock, std::min<std::chrono::nanoseconds>(timeout, std::chrono::hours(24)));
}

void wake_all(const uint32_t* word) {
  Bucket& b = bucket_for(word);
  // Taking the mutex is the whole point (case (b) above): it cannot be had while a sleeper
  // is between its check and its wait.
  { std::lock_guard lock(b.mu); }
  b.cv.notify_all();
}

const char* wait_primitive() {
  return "portable";
}

}  // namespace smc
