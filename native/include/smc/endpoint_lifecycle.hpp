// The lifecycle role of an Endpoint (smc/endpoint.hpp): this side's and the peer's state
// words (attach, close, failure: docs/protocol.md 2.2, 6, 7.3), the doorbells that wake the
// peer's sleepers and this side's own, and the idle strategy (spin, yield, park: 5.1-5.2)
// that the sending and the receiving role (endpoint_sender.hpp, endpoint_receiver.hpp)
// wait with. The TypeScript twin is js/src/protocol/endpoint-lifecycle.ts.
//
// The roles do not point at each other: the Endpoint that holds all three passes its
// lifecycle to the sender's and the receiver's calls, an address it computes from its own
// `this`, so the per-message paths load no pointer to reach the state words.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "smc/framer.hpp"
#include "smc/layout.hpp"
#include "smc/platform/process.hpp"
#include "smc/wait.hpp"

namespace smc {

// What wakes the peer when it has parked. `wake_seq` is the wake sequence the parked role
// waits on (docs/protocol.md 5.2), already bumped by the endpoint. The default wakes the
// futex on it (the peer is a native thread); a Node binding substitutes a
// thread-safe-function call when the peer is a JS event loop.
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  virtual void ring(const uint32_t* wake_seq) = 0;
};

struct EndpointOptions {
  IdleOptions idle;
  uint32_t max_message = UINT32_MAX;  // largest message this side accepts (C10)
  // The reassembly buffer's keep limit (FrameReader::kDefaultKeepAssembly says what it means).
  uint32_t keep_assembly = FrameReader::kDefaultKeepAssembly;
  Doorbell* doorbell = nullptr;  // not owned; nullptr: futex wake (native peer)
  // The peer is a thread of another process mapping the same memory (an isolated plugin,
  // smc/isolated_plugin.hpp): park and wake with process-shared futexes.
  bool process_shared = false;
};

namespace detail {
// A counter written by one thread and read by monitors: no locked instruction.
inline void bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
// An own index word reads `seen` instead of `ours` because it was moved back (aligned, at
// most a ring behind): the one change the peer's checks cannot catch (docs/protocol.md 7.4;
// EndpointSender::restore_published explains).
inline bool moved_back(uint32_t seen, uint32_t ours, uint32_t capacity) {
  const uint32_t back = ours - seen;
  return (seen & 7u) == 0 && back != 0 && back <= capacity;
}
}  // namespace detail

class EndpointLifecycle {
 public:
  // SYNC: local-closed (partner: mark_closed()'s seq_cst exchange).
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // SYNC: local-failure (partner: fail()'s compare-exchange).
  Reason failure() const { return static_cast<Reason>(failure_.load(std::memory_order_acquire)); }
  // Enters the failed state (docs/protocol.md 7.3). Idempotent; the first reason sticks.
  void fail(Reason r);
  // The peer's state (S1: an unknown value counts as failed with peer_state_invalid).
  SideState peer_state() const;
  Reason peer_reason() const;
  // ok, peer_closed, peer_failed, or failed (S1: an invalid peer state word fails this side).
  Errc peer_errc();
  // Why sending is impossible now (closed, failed, the peer ended), or ok.
  Errc send_state() {
    if (closed()) return Errc::closed;
    if (failure() != Reason::none) return Errc::failed;
    return peer_errc();
  }

  // The first half of close(): true for the call that closed this side (false when it was
  // already closed); wakes this side's own sleepers, which see the flag and leave.
  bool mark_closed();
  // Stores this side's state word (state-publish), then wakes each peer role parked.
  void publish_state(SideState s, Reason r = Reason::none);
  // Publishes `closed` unless this side failed: `failed` stays, also when fail() runs on
  // another thread while this one stores `closed`.
  void publish_closed_unless_failed();

  // Wakes a sleeper role of the peer that announced a park (bump, then ring: 5.2).
  void ring_peer(SharedWord wake_seq);
  // After a state change: each peer role that announced a park.
  void ring_parked_peer();

  // The idle strategy of docs/protocol.md 5.1-5.2, for both directions: spin on `ready`,
  // yield, then park on `wake_seq` after announcing it through `parked`. Returns ok once
  // `ready()` holds, the first non-ok `state()` (close, failure, peer gone), or timeout.
  // `ready` reloads the peer's index; `state` is the slower check, run every 64 spins;
  // `after_park` runs after each park timeout (spinning: once per park timeout).
  template <class Ready, class State, class AfterPark>
  Errc idle_wait(Ready&& ready, State&& state, AfterPark&& after_park, SharedWord parked,
                 SharedWord wake_seq, Deadline deadline);

  Side side() const { return side_; }
  const Region& region() const { return region_; }
  const EndpointOptions& options() const { return options_; }
  const RingWords& out() const { return out_; }
  const RingWords& in() const { return in_; }
  uint64_t doorbells_rung() const { return doorbells_.load(std::memory_order_relaxed); }
  uint64_t parks() const { return parks_.load(std::memory_order_relaxed); }

 private:
  friend class Endpoint;
  EndpointLifecycle(Region region, Side side, EndpointOptions options);
  void wake_own_sleepers();

  // Read-mostly after attach.
  Region region_;
  Side side_;
  EndpointOptions options_;
  SharedWord own_state_;
  SharedWord peer_state_;
  RingWords out_;
  RingWords in_;
  std::atomic<bool> closed_{false};
  std::atomic<uint32_t> own_parked_{0};  // this side's threads announcing a park
  std::atomic<uint8_t> failure_{0};

  // Slow-path counters (any thread).
  alignas(kSlot) std::atomic<uint64_t> doorbells_{0}, parks_{0};
};

// ---- template members ------------------------------------------------------------------

namespace detail {
// EndpointOptions::process_shared: the peer's threads are in another process.
inline void park(bool shared, const uint32_t* word, uint32_t seen,
                 std::chrono::nanoseconds timeout) {
  if (shared) {
    platform::park_on_shared(word, seen, timeout);
  } else {
    park_on(word, seen, timeout);
  }
}
}  // namespace detail

template <class Ready, class State, class AfterPark>
Errc EndpointLifecycle::idle_wait(Ready&& ready, State&& state, AfterPark&& after_park,
                                  SharedWord parked, SharedWord wake_seq, Deadline deadline) {
  const IdleOptions& idle = options_.idle;
  // A side that never parks (spin mode) runs after_park once per park timeout instead.
  auto restore_at = Clock::now() + idle.park_timeout;
  for (uint32_t i = 0; i < idle.spin_iterations || !idle.park; ++i) {
    if (ready()) return Errc::ok;
    if ((i & 63u) == 0) {
      if (Errc e = state(); e != Errc::ok) return e;
      if (deadline.passed()) return Errc::timeout;
      if (!idle.park && (i & 4095u) == 0 && Clock::now() >= restore_at) {
        after_park();
        restore_at = Clock::now() + idle.park_timeout;
      }
    }
    cpu_relax();
  }
  for (uint32_t i = 0; i < idle.yield_iterations; ++i) {
    if (ready()) return Errc::ok;
    std::this_thread::yield();
  }
  for (;;) {
    // SYNC: park-announce (partner: the peer's seq_cst load of this parked word right
    // after its seq_cst store of the index we wait on, RingWriter::publish for a parked
    // consumer, RingReader::release for a parked producer, or of its state word,
    // EndpointLifecycle::ring_parked_peer). Store, then re-check below (Dekker).
    parked.store(1, std::memory_order_seq_cst);
    // SYNC: own-park (partner: wake_own_sleepers' seq_cst load of own_parked_).
    own_parked_.fetch_add(1, std::memory_order_seq_cst);
    // SYNC: wake-seq (partner: the seq_cst fetch_add in ring_peer, or in wake_own_sleepers
    // for our own close/failure). Read before the re-check: a change the re-check misses
    // is bumped after this load, so the park below returns at once or is woken.
    const uint32_t seen = wake_seq.load(std::memory_order_seq_cst);
    // The re-checks load the peer's index and state with acquire; this fence orders them
    // after the announce and the load above in the single total order, which the Dekker
    // argument of section 5.2 needs (on x86 the store above is already a full barrier).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    Errc e = Errc::would_block;
    if (ready()) {
      e = Errc::ok;
    } else if (Errc st = state(); st != Errc::ok) {
      e = st;
    } else if (deadline.passed()) {
      e = Errc::timeout;
    } else {
      auto timeout = std::chrono::nanoseconds(idle.park_timeout);
      if (!deadline.is_never()) timeout = std::min(timeout, deadline.at - Clock::now());
      parks_.fetch_add(1, std::memory_order_relaxed);
      detail::park(options_.process_shared, wake_seq.address(), seen, timeout);
    }
    parked.store(0, std::memory_order_relaxed);
    own_parked_.fetch_sub(1, std::memory_order_relaxed);
    if (e != Errc::would_block) return e;
    after_park();
  }
}

}  // namespace smc
