// One side of a channel: full duplex over a Region (docs/protocol.md). Adds to the rings
// (ring.hpp) and the framer (framer.hpp: fragmentation, reassembly, CANCEL) what an
// application needs: blocking with deadlines (spin, yield, park), messages of any size up
// to 2^32-1 bytes, peer-state tracking, close, and the failed state.
//
// Threads: any number of threads may send (they are serialized by a mutex, so the ring
// still has one producer); exactly one thread at a time may receive. close() may be
// called from any thread and wakes this side's own blocked threads.
#pragma once

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>

#include "smc/framer.hpp"
#include "smc/layout.hpp"
#include "smc/ring.hpp"
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
  // Largest reassembly buffer kept for the next fragmented message (FrameReader).
  uint32_t keep_assembly = FrameReader::kDefaultKeep;
  Doorbell* doorbell = nullptr;  // not owned; nullptr: futex wake (native peer)
  // The peer is a thread of another process mapping the same memory (an isolated plugin,
  // smc/isolated_plugin.hpp): park and wake with process-shared futexes.
  bool process_shared = false;
};

struct EndpointStats {
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  uint64_t doorbells_rung = 0;  // times this side woke its peer
  uint64_t parks = 0;           // times this side went to sleep
};

class Endpoint {
 public:
  // Attaches `side` to an initialized region: validates, marks this side attached and
  // bumps its generation. Refuses a region whose indices fail the attach checks A1/A2
  // (docs/protocol.md 7.1): returns nullptr, sets *err to invalid_argument and *why to
  // index_misaligned or index_out_of_range, and writes nothing.
  static std::unique_ptr<Endpoint> attach(Region region, Side side, EndpointOptions options,
                                          Errc* err = nullptr, Reason* why = nullptr);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // ---- sending (any thread) ------------------------------------------------------------

  // Sends one message of any size (fragmented when larger than max_payload()). Blocks
  // for room until `deadline`. On timeout after some fragments went out, the message is
  // cancelled (a CANCEL record follows as soon as there is room), so the receiver never
  // sees part of it. With flush=false the records are written but the index is not
  // published until a later send with flush=true, flush() or close(): batching for
  // throughput. After the peer closed or failed: peer_closed / peer_failed, nothing written.
  Errc send(std::span<const std::byte> message, Deadline deadline = Deadline::never(),
            bool flush = true);
  Errc flush();

  // Zero-copy send of a message of at most max_payload() bytes: write into the returned
  // span, then commit() with the bytes used, or let the Reservation die to abort. Holds
  // the send lock while alive, so other senders wait.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&&) noexcept;
    Reservation& operator=(Reservation&&) noexcept;
    ~Reservation();
    std::span<std::byte> data() const { return data_; }
    explicit operator bool() const { return owner_ != nullptr; }
    Errc commit(size_t used, bool flush = true);
    void abort();

   private:
    friend class Endpoint;
    Endpoint* owner_ = nullptr;
    std::unique_lock<std::mutex> lock_;
    std::span<std::byte> data_;
  };
  Errc reserve(uint32_t n, Reservation* out, Deadline deadline = Deadline::never());

  // Batched sending: takes the send lock once for many messages. Each send() writes its
  // records without publishing them; flush() publishes everything written so far with one
  // index store, and so does the destructor. Use it for floods of small messages: a
  // locked instruction per message (what send() pays for its mutex) drains the store
  // buffer, so every message would wait for its ring lines to arrive from the consumer's
  // core. Holds the send lock while alive, so other senders wait.
  class Batch {
   public:
    Batch() = default;
    Batch(Batch&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)),
          lock_(std::move(o.lock_)),
          reserved_(o.reserved_),
          reserving_(std::exchange(o.reserving_, false)) {}
    Batch& operator=(Batch&& o) noexcept;
    ~Batch() { end(); }
    explicit operator bool() const { return owner_ != nullptr; }
    // As Endpoint::send with flush=false (a full ring publishes what is pending and waits).
    Errc send(std::span<const std::byte> message, Deadline deadline = Deadline::never());
    // Zero-copy within the batch: *out gets room for one message of n <= max_payload()
    // bytes inside the ring; write it, then commit(used <= n). Not published before the
    // batch's flush()/end(). A reservation not committed is dropped, unsent, by the next
    // send()/reserve() or by end().
    Errc reserve(uint32_t n, std::span<std::byte>* out, Deadline deadline = Deadline::never());
    Errc commit(size_t used);
    Errc flush();  // publishes now; the batch stays open
    void end();    // publishes and unlocks; the batch becomes empty

   private:
    friend class Endpoint;
    Endpoint* owner_ = nullptr;
    std::unique_lock<std::mutex> lock_;
    uint32_t reserved_ = 0;  // size of the open reservation
    bool reserving_ = false;
  };
  Batch batch();

  // ---- receiving (one thread) ----------------------------------------------------------

  // Delivers up to `max_messages` available messages to `on_message(std::span<const
  // std::byte>)` without blocking. The span points into the ring (or into the reassembly
  // buffer) and is valid only during the call. *delivered gets the count.
  template <class F>
  Errc poll(F&& on_message, size_t max_messages, size_t* delivered);

  // Like poll, but first waits until at least one message is available or `deadline`.
  template <class F>
  Errc receive(F&& on_message, size_t max_messages, size_t* delivered,
               Deadline deadline = Deadline::never());

  // Waits until a record can be read. ok, timeout, closed, peer_closed (and drained),
  // peer_failed, failed.
  Errc wait_readable(Deadline deadline);

  // Streaming receive (opt-in): fragments of messages larger than one record go to `sink`
  // as they arrive, without reassembly; whole messages still go to poll's callback. Call
  // on the receiving thread, between messages; nullptr turns it off. `sink` must outlive
  // its use. A streamed message counts as received when its last fragment arrives.
  void set_fragment_sink(FragmentSink* sink) { frame_reader_.set_sink(sink); }

  // ---- lifecycle -----------------------------------------------------------------------

  // Marks this side closed: wakes this side's own blocked threads, publishes every record
  // committed before (a send with flush=false, a batch's sends, a committed reservation:
  // docs/protocol.md 6), stores `closed` and wakes the peer if it sleeps, one wake each.
  // It never waits for the peer; it takes the send lock, so it waits for a Batch or a
  // Reservation open in another thread to end (their next call returns `closed`). A
  // thread holding a Batch or Reservation may call it too. Idempotent, any thread.
  void close();
  // SYNC: local-closed (partner: close()'s acq_rel exchange).
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // Enters the failed state (docs/protocol.md 7.3). Idempotent; the first reason sticks.
  void fail(Reason r);
  // SYNC: local-failure (partner: fail()'s compare-exchange).
  Reason failure() const { return static_cast<Reason>(failure_.load(std::memory_order_acquire)); }
  // The peer's state (S1: an unknown value counts as failed with peer_state_invalid).
  SideState peer_state() const;
  Reason peer_reason() const;

  Side side() const { return side_; }
  uint32_t max_payload() const { return writer_.max_payload(); }
  const Region& region() const { return region_; }
  EndpointStats stats() const;
  // Bytes published and not yet released, per direction (racy snapshot, for monitoring).
  uint32_t outgoing_fill() const;
  uint32_t incoming_fill() const;

 private:
  Endpoint(Region region, Side side, EndpointOptions options);
  Errc send_locked(std::span<const std::byte> message, Deadline deadline);
  Errc wait_writable(uint32_t bytes, Deadline deadline);
  template <class Ready, class State, class AfterPark>
  Errc idle_wait(Ready&& ready, State&& state, AfterPark&& after_park, SharedWord parked,
                 SharedWord wake_seq, Deadline deadline);
  // Put back our own index words if something overwrote them (endpoint.cpp explains).
  void restore_published();  // any thread
  void restore_released();   // the receiving thread
  Errc send_counted(std::span<const std::byte> message, Deadline deadline);
  Errc pay_cancel(Deadline deadline);
  // Waits for room for `bytes` of ring after a write found it full; publishes first.
  Errc wait_for_room(uint32_t bytes, Deadline deadline);
  Errc reserve_record(uint32_t n, RecordKind kind, Deadline deadline, std::span<std::byte>* out);
  // The zero-copy send of Reservation and Batch, under the send lock: room for one
  // MESSAGE record (after any CANCEL owed), then its commit with the send counters.
  Errc reserve_message(uint32_t n, Deadline deadline, std::span<std::byte>* out);
  void commit_message(size_t used);
  Errc send_state();  // why sending is impossible now, or ok
  Errc peer_errc();   // ok, peer_closed, peer_failed, or failed (S1: invalid state word)
  void publish_and_ring();
  void release_and_ring();
  void ring_peer(SharedWord wake_seq);
  void ring_parked_peer();  // after a state change: each peer role that announced a park
  void wake_own_sleepers();
  void wake_sleepers();
  // The thread holding the send lock through a Batch or a Reservation (close() from that
  // thread must not lock again).
  void hold_send_lock() {
    send_lock_holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void drop_send_lock() { send_lock_holder_.store({}, std::memory_order_relaxed); }
  Errc fail_from_reader();
  Errc fail_from_framer();
  // A receive that ended the channel tells a streamed message's sink (FrameReader::end).
  Errc end_stream(Errc e);
  void bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  // Hot state is grouped by the thread that writes it, each group on 128-byte slots of its
  // own (kSlot, as in the region): a sending thread, the receiving thread and the peer's
  // Endpoint (often the next object on the heap) never write a line another one reads on
  // every message. Without this, the per-message stats stores of one side's sender
  // false-share with the other side's receiver.

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

  // Sending (guarded by send_mu_).
  alignas(kSlot) std::mutex send_mu_;
  RingWriter writer_;
  FrameWriter frame_writer_{&writer_};
  // What write_index holds once the publication in progress is done: stored (under
  // send_mu_) before write_index itself, so the receiving thread can restore an
  // overwritten write_index without the send lock (restore_published).
  std::atomic<uint32_t> published_shadow_{0};
  std::atomic<uint64_t> messages_sent_{0}, bytes_sent_{0};
  std::atomic<std::thread::id> send_lock_holder_{};

  // Receiving (the receiving thread only).
  alignas(kSlot) RingReader reader_;
  std::atomic<uint64_t> messages_received_{0}, bytes_received_{0};
  FrameReader frame_reader_{UINT32_MAX};

  // Slow-path counters (any thread).
  alignas(kSlot) std::atomic<uint64_t> doorbells_{0}, parks_{0};
};

// ---- template members ------------------------------------------------------------------

template <class F>
Errc Endpoint::poll(F&& on_message, size_t max_messages, size_t* delivered) {
  size_t count = 0;
  uint64_t bytes = 0;
  // Release what was consumed even if the handler throws: the producer must not stall.
  struct Finish {
    Endpoint* self;
    size_t* count;
    uint64_t* bytes;
    size_t* out;
    ~Finish() {
      self->release_and_ring();
      self->bump(self->messages_received_, *count);
      self->bump(self->bytes_received_, *bytes);
      if (out) *out = *count;
    }
  } finish{this, &count, &bytes, delivered};

  if (closed()) return end_stream(Errc::closed);
  if (failure() != Reason::none) return end_stream(Errc::failed);
  const uint32_t release_every = reader_.capacity() / 4;
  while (count < max_messages) {
    std::optional<Record> rec = reader_.peek();
    if (!rec) {
      if (reader_.failure() != Reason::none) return fail_from_reader();
      break;
    }
    std::span<const std::byte> message;
    const FrameReader::Step step = frame_reader_.accept(*rec, &message);
    if (step == FrameReader::Step::failed) return fail_from_framer();
    if (step == FrameReader::Step::deliver) {
      ++count;
      bytes += message.size();
      on_message(message);
      if (rec->kind != RecordKind::message) frame_reader_.delivered();
    } else if (step == FrameReader::Step::streamed) {
      ++count;
      bytes += frame_reader_.total();
    }
    reader_.consume();
    if (reader_.unreleased() >= release_every) release_and_ring();
  }
  return Errc::ok;
}

template <class F>
Errc Endpoint::receive(F&& on_message, size_t max_messages, size_t* delivered, Deadline deadline) {
  for (;;) {
    size_t n = 0;
    Errc e = poll(on_message, max_messages, &n);
    if (e != Errc::ok || n > 0) {
      if (delivered) *delivered = n;
      return e;
    }
    e = wait_readable(deadline);
    if (e != Errc::ok) {
      if (delivered) *delivered = 0;
      return e == Errc::timeout ? e : end_stream(e);
    }
  }
}

}  // namespace smc
