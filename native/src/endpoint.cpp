// Endpoint (smc/endpoint.hpp): attach, peer state, doorbells, the lifecycle (close,
// failure, waking sleepers), sending (records, fragments through the framer, batches,
// reservations), the idle strategy and receiving. Over 400 lines because it is one
// class's methods in the order of the header; splitting Endpoint itself into sender,
// receiver and lifecycle handles is the open part of issue #12.
#include "smc/endpoint.hpp"

#include <algorithm>
#include <new>
#include <thread>
#include <utility>

#include "smc/platform/process.hpp"

namespace smc {

namespace {

// The attach checks of docs/protocol.md 7.1 on the indices read once: A1 (all four
// aligned) before A2 (each ring's write - read within its capacity), outgoing ring first.
Reason attach_check(const RingWords& out, uint32_t ow, uint32_t orr, const RingWords& in,
                    uint32_t iw, uint32_t ir) {
  if (((ow | orr | iw | ir) & 7u) != 0) return Reason::index_misaligned;                    // A1
  if (ow - orr > out.capacity || iw - ir > in.capacity) return Reason::index_out_of_range;  // A2
  return Reason::none;
}

// EndpointOptions::process_shared: the peer's threads are in another process.
void wake(bool shared, const uint32_t* word) {
  if (shared) {
    platform::wake_all_shared(word);
  } else {
    wake_all(word);
  }
}
void park(bool shared, const uint32_t* word, uint32_t seen, std::chrono::nanoseconds timeout) {
  if (shared) {
    platform::park_on_shared(word, seen, timeout);
  } else {
    park_on(word, seen, timeout);
  }
}

}  // namespace

std::unique_ptr<Endpoint> Endpoint::attach(Region region, Side side, EndpointOptions options,
                                           Errc* err, Reason* why) {
  auto set = [&](Errc e, Reason r = Reason::none) {
    if (err) *err = e;
    if (why) *why = r;
  };
  const RingWords out = region.ring(outgoing(side));
  const RingWords in = region.ring(incoming(side));
  // Both indices of a ring are read once here and validated; a fresh region has zeros.
  // SYNC: ring-publish / ring-release (partners: a previous incarnation's or the peer's
  // stores of these indices in RingWriter::publish / RingReader::release): records below
  // a write index are visible, bytes below a read index are free to overwrite.
  const uint32_t ow = out.write_index.load(std::memory_order_acquire);
  const uint32_t orr = out.read_index.load(std::memory_order_acquire);
  const uint32_t iw = in.write_index.load(std::memory_order_acquire);
  const uint32_t ir = in.read_index.load(std::memory_order_acquire);
  if (const Reason r = attach_check(out, ow, orr, in, iw, ir); r != Reason::none) {
    set(Errc::invalid_argument, r);  // refused: nothing written (docs/protocol.md 7.1)
    return nullptr;
  }
  std::unique_ptr<Endpoint> ep(new Endpoint(region, side, options));
  // The consumer may not have read everything the previous incarnation of this side
  // published: the writer starts from the shared read index, not from an empty ring.
  ep->writer_ = RingWriter(out, ow, orr);
  ep->reader_ = RingReader(in, ir);
  ep->published_shadow_.store(ow, std::memory_order_relaxed);  // before the thread exists
  region.generation(side).fetch_add(1, std::memory_order_relaxed);
  // A previous incarnation of this side may have died parked; its parked words would keep
  // the peer ringing for nobody (docs/protocol.md 2.2). The state-publish below orders them.
  out.producer_parked.store(0, std::memory_order_relaxed);
  in.consumer_parked.store(0, std::memory_order_relaxed);
  // SYNC: state-publish (partner: the peer's acquire load in Endpoint::peer_state).
  ep->own_state_.store(make_state_word(SideState::attached), std::memory_order_seq_cst);
  ep->ring_parked_peer();  // a state change rings like a publication (docs/protocol.md 2.2)
  set(Errc::ok);
  return ep;
}

Endpoint::Endpoint(Region region, Side side, EndpointOptions options)
    : region_(region),
      side_(side),
      options_(options),
      own_state_(region.state(side)),
      peer_state_(region.state(peer_of(side))),
      out_(region.ring(outgoing(side))),
      in_(region.ring(incoming(side))),
      frame_reader_(options.max_message, options.keep_assembly) {}

Endpoint::~Endpoint() {
  close();
}

// ---- peer state --------------------------------------------------------------------------

namespace {
// S1: only the values of docs/protocol.md 2.2 are valid; a reason belongs to `failed` only.
bool valid_state_word(uint32_t w) {
  const uint32_t s = w & 0xFFu;
  const uint32_t failed = static_cast<uint32_t>(SideState::failed);
  return (w >> 16) == 0 && s <= failed && (s == failed || (w >> 8) == 0);
}
}  // namespace

SideState Endpoint::peer_state() const {
  // SYNC: state-publish (partner: the peer's seq_cst store of its state word).
  const uint32_t w = peer_state_.load(std::memory_order_acquire);
  if (!valid_state_word(w)) return SideState::failed;
  return static_cast<SideState>(w & 0xFFu);
}

Reason Endpoint::peer_reason() const {
  // SYNC: state-publish (partner: the peer's seq_cst store of its state word).
  const uint32_t w = peer_state_.load(std::memory_order_acquire);
  if (!valid_state_word(w)) return Reason::peer_state_invalid;
  const uint32_t r = (w >> 8) & 0xFFu;
  return r <= static_cast<uint32_t>(Reason::local_error) ? static_cast<Reason>(r)
                                                         : Reason::peer_state_invalid;
}

Errc Endpoint::peer_errc() {
  // SYNC: state-publish (partner: the peer's seq_cst store of its state word). Read once.
  const uint32_t w = peer_state_.load(std::memory_order_acquire);
  if (!valid_state_word(w)) {
    fail(Reason::peer_state_invalid);  // S1 is a runtime check: this side fails (7.2)
    return Errc::failed;
  }
  switch (static_cast<SideState>(w & 0xFFu)) {
    case SideState::closed:
      return Errc::peer_closed;
    case SideState::failed:
      return Errc::peer_failed;
    default:
      return Errc::ok;
  }
}

Errc Endpoint::send_state() {
  if (closed()) return Errc::closed;
  if (failure() != Reason::none) return Errc::failed;
  return peer_errc();
}

// ---- doorbells ---------------------------------------------------------------------------

// Wakes a sleeper role of the peer that announced a park: bumps its wake sequence, then
// rings. The bump comes after the publication or state change the caller made, so a
// sleeper that read the sequence before it and then missed that change in its re-check
// finds the sequence changed when it enters its wait (docs/protocol.md 5.2).
void Endpoint::ring_peer(SharedWord wake_seq) {
  doorbells_.fetch_add(1, std::memory_order_relaxed);  // rung from several threads
  // SYNC: wake-seq (partner: idle_wait's seq_cst load of the wake sequence before its
  // re-check, in the peer's process or thread; the TS side's Endpoint.park).
  wake_seq.fetch_add(1, std::memory_order_seq_cst);
  if (options_.doorbell) {
    options_.doorbell->ring(wake_seq.address());
  } else {
    wake(options_.process_shared, wake_seq.address());
  }
}

void Endpoint::ring_parked_peer() {
  // SYNC: park-announce (partner: the peer's seq_cst stores of 1 to its parked words). Our
  // caller's seq_cst store of a state word or index comes first (Dekker, section 5.2).
  if (out_.consumer_parked.load(std::memory_order_seq_cst)) ring_peer(out_.consumer_wake_seq);
  if (in_.producer_parked.load(std::memory_order_seq_cst)) ring_peer(in_.producer_wake_seq);
}

void Endpoint::publish_and_ring() {
  if (writer_.has_unpublished()) {
    // SYNC: publish-shadow (partner: the acquire load in restore_published). Stored before
    // write_index, so a restorer that loaded the new write_index sees this value or a
    // newer one, never an older one it could put back over it.
    published_shadow_.store(writer_.write_position(), std::memory_order_release);
  }
  if (writer_.publish()) ring_peer(out_.consumer_wake_seq);
}

// Our own index words are written by us alone, but anything may overwrite shared memory.
// An index moved back to a value the peer never saw cannot be caught by the peer's checks
// (C3/P3 need a newer value it saw), and it leaves both sides waiting on each other: the
// producer for space it already has, the consumer for records it was already shown. So a
// side that waited long enough to park puts its own words back after each park: such a
// write costs one park timeout, like a lost doorbell (docs/protocol.md 7.4). Only a word
// moved back (aligned, at most a ring behind): anything else the peer's checks name
// (C1/C2, P1/P2), and putting it back could hide that from them.
namespace {
bool moved_back(uint32_t seen, uint32_t ours, uint32_t capacity) {
  const uint32_t back = ours - seen;
  return (seen & 7u) == 0 && back != 0 && back <= capacity;
}
}  // namespace

void Endpoint::restore_published() {
  if (failure() != Reason::none) return;
  std::atomic_ref<uint32_t> word(*out_.write_index.address());
  // write_index first, then the shadow: a publish between the two loads makes the shadow
  // newer than `seen`, and the compare-exchange below fails (or publishes early what was
  // committed, which is safe); never an older value over a newer one.
  // SYNC: ring-publish (partner: RingWriter::publish's seq_cst store of write_index).
  uint32_t seen = word.load(std::memory_order_seq_cst);
  // SYNC: publish-shadow (partner: the release store in publish_and_ring).
  const uint32_t published = published_shadow_.load(std::memory_order_acquire);
  if (!moved_back(seen, published, out_.capacity)) return;
  // SYNC: ring-publish (partner: RingReader::refill's acquire load of write_index): the
  // records below `published` were committed before the shadow's release store.
  if (word.compare_exchange_strong(seen, published, std::memory_order_seq_cst)) {
    // SYNC: park-announce (partner: the consumer's seq_cst store of consumer_parked).
    if (out_.consumer_parked.load(std::memory_order_seq_cst)) ring_peer(out_.consumer_wake_seq);
  }
}

void Endpoint::restore_released() {
  if (failure() != Reason::none) return;
  const uint32_t released = reader_.released();
  if (!moved_back(in_.read_index.load(std::memory_order_relaxed), released, in_.capacity)) return;
  // SYNC: ring-release (partner: RingWriter::refresh_read's acquire load of read_index).
  in_.read_index.store(released, std::memory_order_seq_cst);
  // SYNC: park-announce (partner: the producer's seq_cst store of producer_parked).
  if (in_.producer_parked.load(std::memory_order_seq_cst)) ring_peer(in_.producer_wake_seq);
}

void Endpoint::release_and_ring() {
  // A failed endpoint writes nothing more to the region (7.3), not even the release of
  // records it consumed before a fragment check (C8-C10) failed.
  if (failure() != Reason::none) return;
  if (reader_.release()) ring_peer(in_.producer_wake_seq);
}

// ---- lifecycle ---------------------------------------------------------------------------

void Endpoint::close() {
  // SYNC: local-closed (partner: the acquire load in closed()): a thread that sees the
  // flag also sees everything the closing thread did before close(). seq_cst: it is the
  // store half of the own-park Dekker pair in wake_own_sleepers.
  if (closed_.exchange(true, std::memory_order_seq_cst)) return;
  // A sender waiting for room sees `closed` and drops the send lock taken below.
  wake_own_sleepers();
  if (failure() == Reason::none) {
    // What was committed before the close is published before `closed` (docs/protocol.md
    // 6): a peer that sees the state word then drains it. Under the send lock, unless this
    // thread already holds it through a Batch or a Reservation.
    std::unique_lock lock(send_mu_, std::defer_lock);
    if (send_lock_holder_.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
      lock.lock();
    }
    publish_and_ring();
    // SYNC: state-publish (partner: the peer's acquire load in peer_state()). seq_cst so the
    // loads of the peer's parked words below cannot move before it (Dekker, section 5.2).
    own_state_.store(make_state_word(SideState::closed), std::memory_order_seq_cst);
  }
  ring_parked_peer();
}

// Wakes, once, every thread that sleeps across a state change of this side: the peer's
// (through its parked words, as a publication does) and this side's own (counted locally:
// the peer may scribble over our parked words). One wake suffices: every sleeper waits on
// a wake sequence it read before re-checking the state, and the bump below comes after
// the state change, so a sleeper that missed the change finds the sequence moved on
// (docs/protocol.md 5.2). No sleeper is re-rung and close() does not wait for anyone.
void Endpoint::wake_sleepers() {
  ring_parked_peer();
  wake_own_sleepers();
}

void Endpoint::wake_own_sleepers() {
  // SYNC: own-park (partner: idle_wait's seq_cst increment of own_parked_ after its
  // parked-word store; our caller's seq_cst store of closed_ or failure_ came first, so a
  // sleeper either sees it in its re-check or is counted here).
  if (own_parked_.load(std::memory_order_seq_cst) != 0) {
    // SYNC: wake-seq (partner: idle_wait's seq_cst load of the wake sequence). Our own
    // sleepers wait on the same words the peer bumps; one more bump only wakes them.
    in_.consumer_wake_seq.fetch_add(1, std::memory_order_seq_cst);
    out_.producer_wake_seq.fetch_add(1, std::memory_order_seq_cst);
    wake(options_.process_shared, in_.consumer_wake_seq.address());
    wake(options_.process_shared, out_.producer_wake_seq.address());
  }
}

void Endpoint::fail(Reason r) {
  uint8_t expected = 0;
  // SYNC: local-failure (partner: the acquire load in failure()); the first reason wins.
  // seq_cst, as closed_ in close(): the own-park Dekker pair of wake_sleepers.
  if (!failure_.compare_exchange_strong(expected, static_cast<uint8_t>(r),
                                        std::memory_order_seq_cst)) {
    return;
  }
  // SYNC: state-publish (partner: the peer's acquire load in peer_state()).
  own_state_.store(make_state_word(SideState::failed, r), std::memory_order_seq_cst);
  wake_sleepers();
}

Errc Endpoint::fail_from_reader() {
  fail(reader_.failure());
  return end_stream(Errc::failed);
}

// ---- sending -----------------------------------------------------------------------------

Errc Endpoint::send(std::span<const std::byte> message, Deadline deadline, bool flush) {
  if (message.size() > UINT32_MAX) return Errc::too_large;
  std::unique_lock lock(send_mu_);
  const Errc e = send_counted(message, deadline);
  if (flush) publish_and_ring();
  return e;
}

// send_locked plus the counters; an error publishes what went out (a CANCEL included).
Errc Endpoint::send_counted(std::span<const std::byte> message, Deadline deadline) {
  const Errc e = send_locked(message, deadline);
  if (e == Errc::ok) {
    bump(messages_sent_);
    bump(bytes_sent_, message.size());
  } else {
    publish_and_ring();
  }
  return e;
}

Errc Endpoint::flush() {
  std::unique_lock lock(send_mu_);
  publish_and_ring();
  return send_state();
}

// ---- batches -----------------------------------------------------------------------------

Endpoint::Batch Endpoint::batch() {
  Batch b;
  b.owner_ = this;
  b.lock_ = std::unique_lock(send_mu_);
  b.owner_->hold_send_lock();
  return b;
}

Endpoint::Batch& Endpoint::Batch::operator=(Batch&& o) noexcept {
  if (this != &o) {
    end();
    owner_ = std::exchange(o.owner_, nullptr);
    lock_ = std::move(o.lock_);
    reserved_ = o.reserved_;
    reserving_ = std::exchange(o.reserving_, false);
  }
  return *this;
}

Errc Endpoint::Batch::send(std::span<const std::byte> message, Deadline deadline) {
  if (!owner_) return Errc::invalid_argument;
  if (message.size() > UINT32_MAX) return Errc::too_large;
  reserving_ = false;  // an open reservation is dropped: its bytes were never committed
  return owner_->send_counted(message, deadline);
}

Errc Endpoint::Batch::reserve(uint32_t n, std::span<std::byte>* out, Deadline deadline) {
  if (!owner_ || !out) return Errc::invalid_argument;
  reserving_ = false;
  if (Errc e = owner_->reserve_message(n, deadline, out); e != Errc::ok) return e;
  reserved_ = n;
  reserving_ = true;
  return Errc::ok;
}

Errc Endpoint::Batch::commit(size_t used) {
  if (!owner_ || !reserving_ || used > reserved_) return Errc::invalid_argument;
  reserving_ = false;
  owner_->commit_message(used);
  return Errc::ok;
}

Errc Endpoint::Batch::flush() {
  if (!owner_) return Errc::invalid_argument;
  owner_->publish_and_ring();
  return owner_->send_state();
}

void Endpoint::Batch::end() {
  if (!owner_) return;
  reserving_ = false;
  owner_->publish_and_ring();
  if (lock_.owns_lock()) {
    owner_->drop_send_lock();
    lock_.unlock();
  }
  owner_ = nullptr;
}

Errc Endpoint::send_locked(std::span<const std::byte> message, Deadline deadline) {
  // The peer's state is read before anything is written (docs/protocol.md 6).
  if (Errc e = send_state(); e != Errc::ok) return e;
  if (Errc e = pay_cancel(deadline); e != Errc::ok) return e;
  frame_writer_.begin(message);
  while (!frame_writer_.advance()) {
    Errc e = wait_for_room(frame_writer_.next_record_bytes(), deadline);
    if (e == Errc::timeout) {
      // Part of the message may be out: cancel it so the receiver drops the part it holds.
      frame_writer_.cancel();
    } else if (e != Errc::ok) {
      frame_writer_.abandon();
    }
    if (e != Errc::ok) return e;
  }
  return Errc::ok;
}

// A CANCEL owed by a message that timed out part-way goes before any other record.
Errc Endpoint::pay_cancel(Deadline deadline) {
  while (!frame_writer_.pay_cancel()) {
    if (Errc e = wait_for_room(frame_writer_.next_record_bytes(), deadline); e != Errc::ok)
      return e;
  }
  return Errc::ok;
}

Errc Endpoint::wait_for_room(uint32_t bytes, Deadline deadline) {
  if (writer_.failure() != Reason::none) {
    fail(writer_.failure());
    return Errc::failed;
  }
  // Full. Publish what is pending first: the consumer cannot free space it cannot see.
  publish_and_ring();
  return wait_writable(bytes, deadline);
}

// Room for one record of `n` payload bytes, waiting for the consumer while the ring is
// full. The caller writes *out and commits.
Errc Endpoint::reserve_record(uint32_t n, RecordKind kind, Deadline deadline,
                              std::span<std::byte>* out) {
  for (;;) {
    if (auto dst = writer_.reserve(n, kind)) {
      *out = *dst;
      return Errc::ok;
    }
    if (Errc e = wait_for_room(writer_.bytes_needed(n), deadline); e != Errc::ok) return e;
  }
}

// The idle strategy of docs/protocol.md 5.1-5.2, for both directions: spin on `ready`,
// yield, then park on `wake_seq` after announcing it through `parked`. Returns ok once
// `ready()` holds, the first non-ok `state()` (close, failure, peer gone), or timeout.
// `ready` reloads the peer's index; `state` is the slower check, run every 64 spins.
template <class Ready, class State, class AfterPark>
Errc Endpoint::idle_wait(Ready&& ready, State&& state, AfterPark&& after_park, SharedWord parked,
                         SharedWord wake_seq, Deadline deadline) {
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
    // ring_parked_peer). Store, then re-check below (Dekker).
    parked.store(1, std::memory_order_seq_cst);
    // SYNC: own-park (partner: wake_sleepers' seq_cst load of own_parked_).
    own_parked_.fetch_add(1, std::memory_order_seq_cst);
    // SYNC: wake-seq (partner: the seq_cst fetch_add in ring_peer, or in wake_sleepers for
    // our own close/failure). Read before the re-check: a change the re-check misses is
    // bumped after this load, so the park below returns at once or is woken.
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
      park(options_.process_shared, wake_seq.address(), seen, timeout);
    }
    parked.store(0, std::memory_order_relaxed);
    own_parked_.fetch_sub(1, std::memory_order_relaxed);
    if (e != Errc::would_block) return e;
    after_park();
  }
}

// Waits until `bytes` of ring are free (or the writer failed, or the state changed).
Errc Endpoint::wait_writable(uint32_t bytes, Deadline deadline) {
  // The send lock is held: no publication runs concurrently with restore_published.
  return idle_wait([&] { return writer_.has_room(bytes) || writer_.failure() != Reason::none; },
                   [&] { return send_state(); }, [&] { restore_published(); }, out_.producer_parked,
                   out_.producer_wake_seq, deadline);
}

// ---- zero-copy reservations --------------------------------------------------------------

Errc Endpoint::reserve_message(uint32_t n, Deadline deadline, std::span<std::byte>* out) {
  if (n > writer_.max_payload()) return Errc::too_large;
  if (Errc e = send_state(); e != Errc::ok) return e;
  if (Errc e = pay_cancel(deadline); e != Errc::ok) return e;
  return reserve_record(n, RecordKind::message, deadline, out);
}

void Endpoint::commit_message(size_t used) {
  writer_.commit(static_cast<uint32_t>(used));
  bump(messages_sent_);
  bump(bytes_sent_, used);
}

Errc Endpoint::reserve(uint32_t n, Reservation* out, Deadline deadline) {
  if (n > writer_.max_payload()) return Errc::too_large;
  std::unique_lock lock(send_mu_);
  std::span<std::byte> dst;
  if (Errc e = reserve_message(n, deadline, &dst); e != Errc::ok) return e;
  out->abort();
  out->owner_ = this;
  out->lock_ = std::move(lock);
  out->data_ = dst;
  hold_send_lock();
  return Errc::ok;
}

Endpoint::Reservation::Reservation(Reservation&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), lock_(std::move(o.lock_)), data_(o.data_) {}

Endpoint::Reservation& Endpoint::Reservation::operator=(Reservation&& o) noexcept {
  if (this != &o) {
    abort();
    owner_ = std::exchange(o.owner_, nullptr);
    lock_ = std::move(o.lock_);
    data_ = o.data_;
  }
  return *this;
}

Endpoint::Reservation::~Reservation() {
  abort();
}

void Endpoint::Reservation::abort() {
  if (lock_.owns_lock()) {
    owner_->drop_send_lock();
    lock_.unlock();
  }
  owner_ = nullptr;
  data_ = {};
}

Errc Endpoint::Reservation::commit(size_t used, bool flush) {
  if (!owner_) return Errc::invalid_argument;
  if (used > data_.size()) return Errc::invalid_argument;
  Endpoint* ep = owner_;
  ep->commit_message(used);
  if (flush) ep->publish_and_ring();
  ep->drop_send_lock();
  owner_ = nullptr;
  data_ = {};
  lock_.unlock();
  return Errc::ok;
}

// ---- receiving ---------------------------------------------------------------------------

Errc Endpoint::fail_from_framer() {
  fail(frame_reader_.failure());
  return Errc::failed;
}

Errc Endpoint::end_stream(Errc e) {
  switch (e) {
    case Errc::closed:
      frame_reader_.end(StreamEnd::closed);
      break;
    case Errc::peer_closed:
      frame_reader_.end(StreamEnd::peer_closed);
      break;
    case Errc::peer_failed:
      frame_reader_.end(StreamEnd::peer_failed);
      break;
    case Errc::failed:
      frame_reader_.end(StreamEnd::failed);
      break;
    default:
      break;
  }
  return e;
}

Errc Endpoint::wait_readable(Deadline deadline) {
  // A closed or failed endpoint refuses before looking at the ring (docs/protocol.md 7.3).
  if (closed()) return Errc::closed;
  if (failure() != Reason::none) return Errc::failed;
  auto ready = [&]() {
    return reader_.has_data() || reader_.refill() || reader_.failure() != Reason::none;
  };
  // A closed or failed peer is reported only after everything it published is drained.
  auto state = [&]() -> Errc {
    if (closed()) return Errc::closed;
    if (failure() != Reason::none) return Errc::failed;
    const Errc p = peer_errc();
    if (p == Errc::failed) return p;                // S1: this side failed
    if (p != Errc::ok && ready()) return Errc::ok;  // its last records, published before
    return p;
  };
  // The receiving thread restores both words: its own read_index, and write_index, which
  // it may do without the send lock (restore_published), so an idle consumer also puts
  // back the index of replies the peer was shown and then lost.
  auto restore = [&] {
    restore_released();
    restore_published();
  };
  const Errc e =
      idle_wait(ready, state, restore, in_.consumer_parked, in_.consumer_wake_seq, deadline);
  if (e == Errc::ok && reader_.failure() != Reason::none) return fail_from_reader();
  return e;
}

// ---- monitoring --------------------------------------------------------------------------

EndpointStats Endpoint::stats() const {
  EndpointStats s;
  s.messages_sent = messages_sent_.load(std::memory_order_relaxed);
  s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
  s.messages_received = messages_received_.load(std::memory_order_relaxed);
  s.bytes_received = bytes_received_.load(std::memory_order_relaxed);
  s.doorbells_rung = doorbells_.load(std::memory_order_relaxed);
  s.parks = parks_.load(std::memory_order_relaxed);
  return s;
}

uint32_t Endpoint::outgoing_fill() const {
  const uint32_t w = out_.write_index.load(std::memory_order_relaxed);
  const uint32_t r = out_.read_index.load(std::memory_order_relaxed);
  return std::min(w - r, out_.capacity);
}

uint32_t Endpoint::incoming_fill() const {
  const uint32_t w = in_.write_index.load(std::memory_order_relaxed);
  const uint32_t r = in_.read_index.load(std::memory_order_relaxed);
  return std::min(w - r, in_.capacity);
}

}  // namespace smc
