// The sending role of an Endpoint (smc/endpoint_sender.hpp): whole sends and fragmented
// ones through the framer, the CANCEL owed, batches, zero-copy reservations, publication
// with its doorbell, waiting for room, putting back an overwritten write_index, and the
// sending half of close(). The TypeScript twin is js/src/protocol/endpoint-sender.ts.
#include "smc/endpoint_sender.hpp"

#include <utility>

namespace smc {

void EndpointSender::start(const RingWords& out, uint32_t write, uint32_t read) {
  writer_ = RingWriter(out, write, read);
  published_shadow_.store(write, std::memory_order_relaxed);  // before any thread uses it
}

// ---- whole sends ---------------------------------------------------------------------------

Errc EndpointSender::send(EndpointLifecycle& life, std::span<const std::byte> message,
                          Deadline deadline, bool flush) {
  send_lock_.lock();
  const Errc e = send_counted(life, message, deadline);
  if (flush) publish_and_ring(life);
  send_lock_.unlock();
  return e;
}

// send_locked plus the counters; an error publishes what went out (a CANCEL included).
Errc EndpointSender::send_counted(EndpointLifecycle& life, std::span<const std::byte> message,
                                  Deadline deadline) {
  const Errc e = send_locked(life, message, deadline);
  if (e == Errc::ok) {
    detail::bump(messages_sent_);
    detail::bump(bytes_sent_, message.size());
  } else {
    publish_and_ring(life);
  }
  return e;
}

Errc EndpointSender::flush(EndpointLifecycle& life) {
  send_lock_.lock();
  publish_and_ring(life);
  send_lock_.unlock();
  return life.send_state();
}

Errc EndpointSender::send_locked(EndpointLifecycle& life, std::span<const std::byte> message,
                                 Deadline deadline) {
  // The peer's state is read before anything is written (docs/protocol.md 6).
  if (Errc e = life.send_state(); e != Errc::ok) return e;
  if (Errc e = pay_cancel(life, deadline); e != Errc::ok) return e;
  if (frame_writer_.start(message)) return Errc::ok;
  // start() has just found the ring full: wait for room before each further attempt.
  do {
    Errc e = wait_for_room(life, frame_writer_.next_record_bytes(), deadline);
    if (e == Errc::timeout) {
      // Part of the message may be out: cancel it so the receiver drops the part it holds.
      frame_writer_.cancel();
    } else if (e != Errc::ok) {
      frame_writer_.abandon();
    }
    if (e != Errc::ok) return e;
  } while (!frame_writer_.advance());
  return Errc::ok;
}

// A CANCEL owed by a message that timed out part-way goes before any other record.
Errc EndpointSender::pay_cancel(EndpointLifecycle& life, Deadline deadline) {
  while (!frame_writer_.pay_cancel()) {
    if (Errc e = wait_for_room(life, frame_writer_.next_record_bytes(), deadline); e != Errc::ok) {
      return e;
    }
  }
  return Errc::ok;
}

// ---- publication -----------------------------------------------------------------------------

void EndpointSender::publish_and_ring(EndpointLifecycle& life) {
  if (writer_.has_unpublished()) {
    // SYNC: publish-shadow (partner: the acquire load in restore_published). Stored before
    // write_index, so a restorer that loaded the new write_index sees this value or a
    // newer one, never an older one it could put back over it.
    published_shadow_.store(writer_.write_position(), std::memory_order_release);
  }
  if (writer_.publish()) life.ring_peer(life.out().consumer_wake_seq);
}

// ---- close ------------------------------------------------------------------------------

// What was committed before the close is published before `closed` (docs/protocol.md 6):
// a peer that sees the state word then drains it. A handle holding the send lock may be
// held by this very thread (or moved to it), so close() cannot wait for it; it leaves a
// note in the lock word and the handle's end calls publish_closed (end_handle).
void EndpointSender::close(EndpointLifecycle& life) {
  if (!send_lock_.lock_unless_handle()) return;
  publish_closed(life);
  send_lock_.unlock();
}

void EndpointSender::publish_closed(EndpointLifecycle& life) {
  publish_and_ring(life);
  life.publish_closed_unless_failed();
}

void EndpointSender::end_handle(EndpointLifecycle& life, bool publish) {
  if (publish) publish_and_ring(life);
  if (send_lock_.unlock_handle()) return;
  // close() ran while we held the lock and left the rest of it to us: every commit since
  // was refused, so this publishes exactly what was committed before it.
  publish_closed(life);
  send_lock_.unlock();
}

// Our own index words are written by us alone, but anything may overwrite shared memory.
// An index moved back to a value the peer never saw cannot be caught by the peer's checks
// (C3/P3 need a newer value it saw), and it leaves both sides waiting on each other: the
// producer for space it already has, the consumer for records it was already shown. So a
// side that waited long enough to park puts its own words back after each park: such a
// write costs one park timeout, like a lost doorbell (docs/protocol.md 7.4). Only a word
// moved back (aligned, at most a ring behind): anything else the peer's checks name
// (C1/C2, P1/P2), and putting it back could hide that from them. The receiving role does
// the same for read_index (EndpointReceiver::restore_released).
void EndpointSender::restore_published(EndpointLifecycle& life) {
  if (life.failure() != Reason::none) return;
  const RingWords& out = life.out();
  std::atomic_ref<uint32_t> word(*out.write_index.address());
  // write_index first, then the shadow: a publish between the two loads makes the shadow
  // newer than `seen`, and the compare-exchange below fails (or publishes early what was
  // committed, which is safe); never an older value over a newer one.
  // SYNC: ring-publish (partner: RingWriter::publish's seq_cst store of write_index).
  uint32_t seen = word.load(std::memory_order_seq_cst);
  // SYNC: publish-shadow (partner: the release store in publish_and_ring).
  const uint32_t published = published_shadow_.load(std::memory_order_acquire);
  if (!detail::moved_back(seen, published, out.capacity)) return;
  // SYNC: ring-publish (partner: RingReader::refill's acquire load of write_index): the
  // records below `published` were committed before the shadow's release store.
  if (word.compare_exchange_strong(seen, published, std::memory_order_seq_cst)) {
    // SYNC: park-announce (partner: the consumer's seq_cst store of consumer_parked).
    if (out.consumer_parked.load(std::memory_order_seq_cst)) life.ring_peer(out.consumer_wake_seq);
  }
}

// ---- waiting for room ------------------------------------------------------------------------

Errc EndpointSender::wait_for_room(EndpointLifecycle& life, uint32_t bytes, Deadline deadline) {
  if (writer_.failure() != Reason::none) {
    life.fail(writer_.failure());
    return Errc::failed;
  }
  // Full. Publish what is pending first: the consumer cannot free space it cannot see.
  publish_and_ring(life);
  return wait_writable(life, bytes, deadline);
}

// Waits until `bytes` of ring are free (or the writer failed, or the state changed).
Errc EndpointSender::wait_writable(EndpointLifecycle& life, uint32_t bytes, Deadline deadline) {
  // The send lock is held: no publication runs concurrently with restore_published.
  return life.idle_wait(
      [&] { return writer_.has_room(bytes) || writer_.failure() != Reason::none; },
      [&] { return life.send_state(); }, [&] { restore_published(life); },
      life.out().producer_parked, life.out().producer_wake_seq, deadline);
}

// Room for one record of `n` payload bytes, waiting for the consumer while the ring is
// full. The caller writes *out and commits.
Errc EndpointSender::reserve_record(EndpointLifecycle& life, uint32_t n, RecordKind kind,
                                    Deadline deadline, std::span<std::byte>* out) {
  for (;;) {
    if (auto dst = writer_.reserve(n, kind)) {
      *out = *dst;
      return Errc::ok;
    }
    if (Errc e = wait_for_room(life, writer_.bytes_needed(n), deadline); e != Errc::ok) return e;
  }
}

// ---- zero-copy reservations --------------------------------------------------------------

Errc EndpointSender::reserve_message(EndpointLifecycle& life, uint32_t n, Deadline deadline,
                                     std::span<std::byte>* out) {
  if (n > writer_.max_payload()) return Errc::too_large;
  if (Errc e = life.send_state(); e != Errc::ok) return e;
  if (Errc e = pay_cancel(life, deadline); e != Errc::ok) return e;
  return reserve_record(life, n, RecordKind::message, deadline, out);
}

Errc EndpointSender::commit_message(EndpointLifecycle& life, size_t used) {
  // A commit is the moment a zero-copy send happens: after close() it would be published
  // after `closed` (or never), so it is refused like a send (docs/protocol.md 6). Two
  // loads of the lifecycle's read-mostly line, no locked instruction.
  if (life.closed()) return Errc::closed;
  if (life.failure() != Reason::none) return Errc::failed;
  writer_.commit(static_cast<uint32_t>(used));
  detail::bump(messages_sent_);
  detail::bump(bytes_sent_, used);
  return Errc::ok;
}

Errc EndpointSender::reserve(EndpointLifecycle& life, uint32_t n, Reservation* out,
                             Deadline deadline) {
  if (n > writer_.max_payload()) return Errc::too_large;
  out->abort();
  send_lock_.lock(SendLock::kHandle);
  std::span<std::byte> dst;
  if (Errc e = reserve_message(life, n, deadline, &dst); e != Errc::ok) {
    end_handle(life, /*publish=*/false);
    return e;
  }
  out->sender_ = this;
  out->life_ = &life;
  out->data_ = dst;
  return Errc::ok;
}

EndpointSender::Reservation& EndpointSender::Reservation::operator=(Reservation&& o) noexcept {
  if (this != &o) {
    abort();
    sender_ = std::exchange(o.sender_, nullptr);
    life_ = o.life_;
    data_ = std::exchange(o.data_, {});
  }
  return *this;
}

void EndpointSender::Reservation::abort() {
  EndpointSender* s = std::exchange(sender_, nullptr);
  data_ = {};
  if (s) s->end_handle(*life_, /*publish=*/false);
}

Errc EndpointSender::Reservation::commit(size_t used, bool flush) {
  if (!sender_) return Errc::invalid_argument;
  if (used > data_.size()) return Errc::invalid_argument;
  EndpointSender* s = std::exchange(sender_, nullptr);
  data_ = {};
  const Errc e = s->commit_message(*life_, used);
  s->end_handle(*life_, flush && e == Errc::ok);
  return e;
}

// ---- batches -----------------------------------------------------------------------------

EndpointSender::Batch EndpointSender::batch(EndpointLifecycle& life) {
  Batch b;
  send_lock_.lock(SendLock::kHandle);
  b.sender_ = this;
  b.life_ = &life;
  return b;
}

EndpointSender::Batch& EndpointSender::Batch::operator=(Batch&& o) noexcept {
  if (this != &o) {
    end();
    sender_ = std::exchange(o.sender_, nullptr);
    life_ = o.life_;
    reserved_ = o.reserved_;
    reserving_ = std::exchange(o.reserving_, false);
  }
  return *this;
}

Errc EndpointSender::Batch::send(std::span<const std::byte> message, Deadline deadline) {
  if (!sender_) return Errc::invalid_argument;
  if (message.size() > UINT32_MAX) return Errc::too_large;
  reserving_ = false;  // an open reservation is dropped: its bytes were never committed
  return sender_->send_counted(*life_, message, deadline);
}

Errc EndpointSender::Batch::reserve(uint32_t n, std::span<std::byte>* out, Deadline deadline) {
  if (!sender_ || !out) return Errc::invalid_argument;
  reserving_ = false;
  if (Errc e = sender_->reserve_message(*life_, n, deadline, out); e != Errc::ok) return e;
  reserved_ = n;
  reserving_ = true;
  return Errc::ok;
}

Errc EndpointSender::Batch::commit(size_t used) {
  if (!sender_ || !reserving_ || used > reserved_) return Errc::invalid_argument;
  reserving_ = false;
  return sender_->commit_message(*life_, used);
}

Errc EndpointSender::Batch::flush() {
  if (!sender_) return Errc::invalid_argument;
  sender_->publish_and_ring(*life_);
  return life_->send_state();
}

void EndpointSender::Batch::end() {
  EndpointSender* s = std::exchange(sender_, nullptr);
  if (!s) return;
  reserving_ = false;
  s->end_handle(*life_, /*publish=*/true);
}

}  // namespace smc
