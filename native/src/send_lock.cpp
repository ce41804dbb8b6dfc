// The send lock's slow paths (smc/send_lock.hpp): waiting for it, and close()'s way of
// taking it that never waits for a Batch or a Reservation.
#include "smc/send_lock.hpp"

#include <chrono>

#include "smc/platform/wait.hpp"
#include "smc/wait.hpp"

namespace smc {

namespace {
// Spins before a waiter parks: a whole send holds the lock for tens of nanoseconds.
constexpr int kSpins = 64;
// park_on needs a timeout; the wake in unlock() is what normally ends the wait.
constexpr std::chrono::milliseconds kParkTimeout{100};
}  // namespace

bool SendLock::acquire(uint32_t holder, OnHandle on_handle) {
  std::atomic_ref<uint32_t> w = word();
  for (int spins = 0;; ++spins) {
    uint32_t seen = w.load(std::memory_order_relaxed);
    if (on_handle == OnHandle::leave_close_note && (seen & kHandle)) {
      // SYNC: close-pending (partner: unlock_handle()'s acquire load of the word).
      if (w.compare_exchange_weak(seen, seen | kClosePending, std::memory_order_release,
                                  std::memory_order_relaxed)) {
        return false;
      }
      continue;
    }
    if ((seen & kLocked) == 0) {
      // Free (the release stored 0 and woke every sleeper: those that lose this race set
      // kWaiters again before they park, so the next release wakes them).
      // SYNC: send-lock (partner: the release in unlock() / unlock_handle()).
      if (w.compare_exchange_weak(seen, seen | kLocked | holder, std::memory_order_acquire,
                                  std::memory_order_relaxed)) {
        return true;
      }
      continue;
    }
    if (spins < kSpins) {
      cpu_relax();
      continue;
    }
    // Announce the sleeper in the word itself: the release that clears the word returns
    // kWaiters and wakes us; one that came first changed the word, so park_on returns.
    if ((seen & kWaiters) == 0 &&
        !w.compare_exchange_weak(seen, seen | kWaiters, std::memory_order_relaxed)) {
      continue;
    }
    park_on(&word_, seen | kWaiters, kParkTimeout);
  }
}

void SendLock::lock_slow(uint32_t holder) {
  acquire(holder, OnHandle::wait);
}

bool SendLock::lock_unless_handle() {
  return acquire(0, OnHandle::leave_close_note);
}

void SendLock::wake() {
  wake_all(&word_);
}

}  // namespace smc
