// The sending role of an Endpoint (smc/endpoint.hpp): the outgoing ring's writer and its
// framer (fragments, the CANCEL owed), whole sends, batches and zero-copy reservations,
// publication, and waiting for room. Any number of threads may send: they are serialized
// by the send lock (send_lock.hpp), so the ring still has one producer. The TypeScript
// twin is js/src/protocol/endpoint-sender.ts.
//
// Batch and Reservation ("handles") hold the send lock from open to end. A handle is not
// bound to a thread: it may be moved to another thread and used and ended there (one
// thread at a time: the move itself must be synchronized, as for any object). close() on
// any thread, the handle's own included, never waits for a handle: it refuses every commit
// and send from then on, and the handle's end publishes what was committed before the
// close and stores `closed` (docs/protocol.md 6, docs/api.md).
//
// Its calls take the Endpoint's lifecycle (endpoint_lifecycle.hpp) as an argument: the
// state words, the doorbells and the idle strategy are the lifecycle's.
#pragma once

#include <atomic>
#include <span>
#include <utility>

#include "smc/endpoint_lifecycle.hpp"
#include "smc/framer.hpp"
#include "smc/ring.hpp"
#include "smc/send_lock.hpp"

namespace smc {

class EndpointSender {
 public:
  // Zero-copy send of a message of at most max_payload() bytes: write into the returned
  // span, then commit() with the bytes used, or let the Reservation die to abort. Holds
  // the send lock while alive, so other senders wait. May be moved to, committed on and
  // destroyed on another thread. (Endpoint::Reservation.)
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept
        : sender_(std::exchange(o.sender_, nullptr)),
          life_(o.life_),
          data_(std::exchange(o.data_, {})) {}
    Reservation& operator=(Reservation&&) noexcept;
    ~Reservation() { abort(); }
    std::span<std::byte> data() const { return data_; }
    explicit operator bool() const { return sender_ != nullptr; }
    // Sends the first `used` bytes (published now unless flush is false) and ends the
    // reservation. After this side's close() (on any thread) or failure: Errc::closed /
    // Errc::failed, nothing is committed or published, and the reservation ends as abort().
    Errc commit(size_t used, bool flush = true);
    void abort();

   private:
    friend class EndpointSender;
    EndpointSender* sender_ = nullptr;  // set while it holds the send lock
    EndpointLifecycle* life_ = nullptr;
    std::span<std::byte> data_;
  };

  // Batched sending: takes the send lock once for many messages. Each send() writes its
  // records without publishing them; flush() publishes everything written so far with one
  // index store, and so does the destructor. Use it for floods of small messages: a
  // locked instruction per message (what send() pays for the send lock) drains the store
  // buffer, so every message would wait for its ring lines to arrive from the consumer's
  // core. Holds the send lock while alive, so other senders wait. May be moved to, used
  // on and ended on another thread, one thread at a time. (Endpoint::Batch.)
  class Batch {
   public:
    Batch() = default;
    Batch(Batch&& o) noexcept
        : sender_(std::exchange(o.sender_, nullptr)),
          life_(o.life_),
          reserved_(o.reserved_),
          reserving_(std::exchange(o.reserving_, false)) {}
    Batch& operator=(Batch&& o) noexcept;
    ~Batch() { end(); }
    explicit operator bool() const { return sender_ != nullptr; }
    // As Endpoint::send with flush=false (a full ring publishes what is pending and waits).
    Errc send(std::span<const std::byte> message, Deadline deadline = Deadline::never());
    // Zero-copy within the batch: *out gets room for one message of n <= max_payload()
    // bytes inside the ring; write it, then commit(used <= n). Not published before the
    // batch's flush()/end(). A reservation not committed is dropped, unsent, by the next
    // send()/reserve() or by end().
    Errc reserve(uint32_t n, std::span<std::byte>* out, Deadline deadline = Deadline::never());
    // Commits the open reservation. After this side's close() (on any thread) or failure:
    // Errc::closed / Errc::failed, and the reservation is dropped, never published.
    Errc commit(size_t used);
    Errc flush();  // publishes now; the batch stays open
    // Publishes and unlocks; the batch becomes empty. After a close() that ran while the
    // batch was open, it also completes that close: stores `closed` (docs/protocol.md 6).
    void end();

   private:
    friend class EndpointSender;
    EndpointSender* sender_ = nullptr;  // set while it holds the send lock
    EndpointLifecycle* life_ = nullptr;
    uint32_t reserved_ = 0;  // size of the open reservation
    bool reserving_ = false;
  };

  // Endpoint::send, flush, reserve and batch (documented there).
  Errc send(EndpointLifecycle& life, std::span<const std::byte> message, Deadline deadline,
            bool flush);
  Errc flush(EndpointLifecycle& life);
  Errc reserve(EndpointLifecycle& life, uint32_t n, Reservation* out, Deadline deadline);
  Batch batch(EndpointLifecycle& life);

  // close(), after this side was marked closed and not failed: publishes what was
  // committed, then stores `closed` (docs/protocol.md 6). When a Batch or a Reservation
  // holds the send lock, on any thread, it returns at once and that handle's end does both.
  void close(EndpointLifecycle& life);
  // ~Endpoint: waits until no handle holds the send lock (nor completes a close). A handle
  // open on the destroying thread itself is a use after free waiting to happen: it hangs.
  void wait_for_handles() {
    send_lock_.lock();
    send_lock_.unlock();
  }
  // Puts back write_index if something moved it back (any thread; endpoint_sender.cpp).
  void restore_published(EndpointLifecycle& life);

  uint32_t max_payload() const { return writer_.max_payload(); }
  uint64_t messages_sent() const { return messages_sent_.load(std::memory_order_relaxed); }
  uint64_t bytes_sent() const { return bytes_sent_.load(std::memory_order_relaxed); }

 private:
  friend class Endpoint;
  EndpointSender() = default;
  // attach: the writer continues from the shared write_index with the shared read_index
  // as its first cached copy (docs/protocol.md 2.2).
  void start(const RingWords& out, uint32_t write, uint32_t read);

  Errc send_counted(EndpointLifecycle& life, std::span<const std::byte> message, Deadline deadline);
  Errc send_locked(EndpointLifecycle& life, std::span<const std::byte> message, Deadline deadline);
  Errc pay_cancel(EndpointLifecycle& life, Deadline deadline);
  // Waits for room for `bytes` of ring after a write found it full; publishes first.
  Errc wait_for_room(EndpointLifecycle& life, uint32_t bytes, Deadline deadline);
  Errc wait_writable(EndpointLifecycle& life, uint32_t bytes, Deadline deadline);
  Errc reserve_record(EndpointLifecycle& life, uint32_t n, RecordKind kind, Deadline deadline,
                      std::span<std::byte>* out);
  // The zero-copy send of Reservation and Batch, under the send lock: room for one
  // MESSAGE record (after any CANCEL owed), then its commit with the send counters.
  Errc reserve_message(EndpointLifecycle& life, uint32_t n, Deadline deadline,
                       std::span<std::byte>* out);
  // Commits a reserved MESSAGE of `used` bytes with the send counters, unless this side
  // closed or failed since the reservation (then Errc::closed / Errc::failed, nothing).
  Errc commit_message(EndpointLifecycle& life, size_t used);
  void publish_and_ring(EndpointLifecycle& life);
  // The end of a Batch or a Reservation: publishes what it committed (publish: false
  // leaves it for a later flush), releases the send lock and completes a close() that ran
  // meanwhile.
  void end_handle(EndpointLifecycle& life, bool publish);
  // Under the send lock, this side closed: publishes, stores `closed` (unless it failed).
  void publish_closed(EndpointLifecycle& life);

  // Guarded by send_lock_; on slots of their own (kSlot, as in the region): a sending
  // thread and the receiving thread never write a line the other reads on every message.
  alignas(kSlot) SendLock send_lock_;
  RingWriter writer_;
  FrameWriter frame_writer_{&writer_};
  // What write_index holds once the publication in progress is done: stored (under
  // send_lock_) before write_index itself, so the receiving thread can restore an
  // overwritten write_index without the send lock (restore_published).
  std::atomic<uint32_t> published_shadow_{0};
  std::atomic<uint64_t> messages_sent_{0}, bytes_sent_{0};
};

}  // namespace smc
