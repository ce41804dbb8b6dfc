// The sending role of an Endpoint (smc/endpoint.hpp): the outgoing ring's writer and its
// framer (fragments, the CANCEL owed), whole sends, batches and zero-copy reservations,
// publication, and waiting for room. Any number of threads may send: they are serialized
// by the send lock, so the ring still has one producer. The TypeScript twin is
// js/src/protocol/endpoint-sender.ts.
//
// Its calls take the Endpoint's lifecycle (endpoint_lifecycle.hpp) as an argument: the
// state words, the doorbells and the idle strategy are the lifecycle's.
#pragma once

#include <atomic>
#include <mutex>
#include <span>
#include <thread>
#include <utility>

#include "smc/endpoint_lifecycle.hpp"
#include "smc/framer.hpp"
#include "smc/ring.hpp"

namespace smc {

class EndpointSender {
 public:
  // Zero-copy send of a message of at most max_payload() bytes: write into the returned
  // span, then commit() with the bytes used, or let the Reservation die to abort. Holds
  // the send lock while alive, so other senders wait. (Endpoint::Reservation.)
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&&) noexcept;
    Reservation& operator=(Reservation&&) noexcept;
    ~Reservation();
    std::span<std::byte> data() const { return data_; }
    explicit operator bool() const { return sender_ != nullptr; }
    Errc commit(size_t used, bool flush = true);
    void abort();

   private:
    friend class EndpointSender;
    EndpointSender* sender_ = nullptr;
    EndpointLifecycle* life_ = nullptr;
    std::unique_lock<std::mutex> lock_;
    std::span<std::byte> data_;
  };

  // Batched sending: takes the send lock once for many messages. Each send() writes its
  // records without publishing them; flush() publishes everything written so far with one
  // index store, and so does the destructor. Use it for floods of small messages: a
  // locked instruction per message (what send() pays for its mutex) drains the store
  // buffer, so every message would wait for its ring lines to arrive from the consumer's
  // core. Holds the send lock while alive, so other senders wait. (Endpoint::Batch.)
  class Batch {
   public:
    Batch() = default;
    Batch(Batch&& o) noexcept
        : sender_(std::exchange(o.sender_, nullptr)),
          life_(o.life_),
          lock_(std::move(o.lock_)),
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
    Errc commit(size_t used);
    Errc flush();  // publishes now; the batch stays open
    void end();    // publishes and unlocks; the batch becomes empty

   private:
    friend class EndpointSender;
    EndpointSender* sender_ = nullptr;
    EndpointLifecycle* life_ = nullptr;
    std::unique_lock<std::mutex> lock_;
    uint32_t reserved_ = 0;  // size of the open reservation
    bool reserving_ = false;
  };

  // Endpoint::send, flush, reserve and batch (documented there).
  Errc send(EndpointLifecycle& life, std::span<const std::byte> message, Deadline deadline,
            bool flush);
  Errc flush(EndpointLifecycle& life);
  Errc reserve(EndpointLifecycle& life, uint32_t n, Reservation* out, Deadline deadline);
  Batch batch(EndpointLifecycle& life);

  // close(): publishes what was committed, under the send lock unless this thread holds it
  // through a Batch or a Reservation (docs/protocol.md 6).
  void publish_before_close(EndpointLifecycle& life);
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
  void commit_message(size_t used);
  void publish_and_ring(EndpointLifecycle& life);
  // The thread holding the send lock through a Batch or a Reservation (close() from that
  // thread must not lock again).
  void hold_send_lock() {
    send_lock_holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void drop_send_lock() { send_lock_holder_.store({}, std::memory_order_relaxed); }

  // Guarded by send_mu_; on slots of their own (kSlot, as in the region): a sending thread
  // and the receiving thread never write a line the other reads on every message.
  alignas(kSlot) std::mutex send_mu_;
  RingWriter writer_;
  FrameWriter frame_writer_{&writer_};
  // What write_index holds once the publication in progress is done: stored (under
  // send_mu_) before write_index itself, so the receiving thread can restore an
  // overwritten write_index without the send lock (restore_published).
  std::atomic<uint32_t> published_shadow_{0};
  std::atomic<uint64_t> messages_sent_{0}, bytes_sent_{0};
  std::atomic<std::thread::id> send_lock_holder_{};
};

}  // namespace smc
