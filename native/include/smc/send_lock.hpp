// The send lock of an Endpoint's sending role (endpoint_sender.hpp): one 32-bit word that
// serializes the ring's producers. It is not a std::mutex because a Batch or a Reservation
// holds it from open to end and may be moved to another thread and ended there, and a
// std::mutex may only be unlocked by the thread that locked it. Any thread may release
// this lock. The word also records that a Batch or a Reservation (a "handle") holds it, so
// close() never waits for one (whichever thread holds it, the caller's own included): it
// leaves a note in the word instead, and the handle's end completes the close.
//
// Uncontended, it costs what a mutex costs: one locked instruction to take it, one to
// release it. Contended, it parks on the word with the platform's park_on/wake_all.
#pragma once

#include <atomic>
#include <cstdint>

namespace smc {

class SendLock {
 public:
  static constexpr uint32_t kLocked = 1;        // held
  static constexpr uint32_t kWaiters = 2;       // a thread may be parked on the word
  static constexpr uint32_t kHandle = 4;        // held by a Batch or a Reservation
  static constexpr uint32_t kClosePending = 8;  // close() ran while a handle held it

  // Takes the lock, waiting while another holder has it. `holder`: kHandle for a Batch or
  // a Reservation, 0 for one whole send (or flush, or the wait in ~Endpoint).
  void lock(uint32_t holder = 0) {
    uint32_t free = 0;
    // SYNC: send-lock (partner: the release in unlock() / unlock_handle()): everything the
    // previous holder wrote to the ring writer happens before what we do with it.
    if (word().compare_exchange_strong(free, kLocked | holder, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow(holder);
  }

  // Releases a lock taken with holder 0. Any thread.
  void unlock() {
    // SYNC: send-lock (partner: the acquire compare-exchange in lock() / acquire(), the
    // wait of lock_slow() and lock_unless_handle()).
    if (word().exchange(0, std::memory_order_release) & kWaiters) wake();
  }

  // For close(): takes the lock (waiting out a whole send, which the close wakes if it waits
  // for room) and returns true, unless a handle holds it: then it sets kClosePending for
  // that handle's end and returns false without waiting.
  bool lock_unless_handle();

  // Releases a lock held by a handle (any thread), unless close() left kClosePending: then
  // it returns false and the caller still holds the lock, completes the close and calls
  // unlock(). Checking and releasing is one compare-exchange, so a close cannot slip in
  // between: it either left its note before (false) or finds the lock free after.
  bool unlock_handle() {
    std::atomic_ref<uint32_t> w = word();
    // SYNC: close-pending (partner: the release compare-exchange in acquire() that sets
    // kClosePending for lock_unless_handle()): a handle that sees the note also sees the
    // close before it.
    uint32_t held = w.load(std::memory_order_acquire);
    while ((held & kClosePending) == 0) {
      // SYNC: send-lock (partner: the acquire compare-exchange in lock() / acquire()). On
      // failure its acquire reload is close-pending's partner too.
      if (w.compare_exchange_weak(held, 0, std::memory_order_release, std::memory_order_acquire)) {
        if (held & kWaiters) wake();
        return true;
      }
    }
    return false;
  }

 private:
  std::atomic_ref<uint32_t> word() { return std::atomic_ref<uint32_t>(word_); }
  // What the wait for the lock does while a Batch or Reservation holds it.
  enum class OnHandle : uint8_t { wait, leave_close_note };
  // Takes the lock with `holder`'s bits (true), spinning and then parking while it is
  // held; or, with leave_close_note, sets kClosePending on a handle's lock and returns
  // false without it.
  bool acquire(uint32_t holder, OnHandle on_handle);
  void lock_slow(uint32_t holder);
  void wake();

  // A plain word, accessed through atomic_ref, because park_on/wake_all take its address.
  alignas(std::atomic_ref<uint32_t>::required_alignment) uint32_t word_ = 0;
};

}  // namespace smc
