// The lifecycle of an Endpoint (smc/endpoint_lifecycle.hpp, smc/endpoint.hpp): attach and
// its index checks, the state words of both sides, close and failure, and the doorbells
// that wake the peer's sleepers and this side's own. The TypeScript twin is
// js/src/protocol/endpoint-lifecycle.ts.
#include "smc/endpoint_lifecycle.hpp"

#include <algorithm>
#include <utility>

#include "smc/endpoint.hpp"
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

// S1: only the values of docs/protocol.md 2.2 are valid; a reason belongs to `failed` only.
bool valid_state_word(uint32_t w) {
  const uint32_t s = w & 0xFFu;
  const uint32_t failed = static_cast<uint32_t>(SideState::failed);
  return (w >> 16) == 0 && s <= failed && (s == failed || (w >> 8) == 0);
}

}  // namespace

// ---- Endpoint: attach, close, monitoring -------------------------------------------------

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
  ep->sender_.start(out, ow, orr);
  ep->receiver_.start(in, ir);
  region.generation(side).fetch_add(1, std::memory_order_relaxed);
  // A previous incarnation of this side may have died parked; its parked words would keep
  // the peer ringing for nobody (docs/protocol.md 2.2). The state-publish below orders them.
  out.producer_parked.store(0, std::memory_order_relaxed);
  in.consumer_parked.store(0, std::memory_order_relaxed);
  // A state change rings like a publication (docs/protocol.md 2.2).
  ep->life_.publish_state(SideState::attached);
  set(Errc::ok);
  return ep;
}

Endpoint::Endpoint(Region region, Side side, EndpointOptions options)
    : life_(region, side, options), receiver_(options.max_message, options.keep_assembly) {}

Endpoint::~Endpoint() {
  close();
  // A Batch or a Reservation of another thread points into this endpoint until it ends
  // (and completes the close).
  sender_.wait_for_handles();
}

void Endpoint::close() {
  if (!life_.mark_closed()) return;
  if (life_.failure() == Reason::none) {
    // Publishes what was committed, then stores `closed`; or leaves both to the end of a
    // Batch or a Reservation that holds the send lock (EndpointSender::close).
    sender_.close(life_);
  } else {
    life_.ring_parked_peer();
  }
}

EndpointStats Endpoint::stats() const {
  EndpointStats s;
  s.messages_sent = sender_.messages_sent();
  s.bytes_sent = sender_.bytes_sent();
  s.messages_received = receiver_.messages_received();
  s.bytes_received = receiver_.bytes_received();
  s.doorbells_rung = life_.doorbells_rung();
  s.parks = life_.parks();
  return s;
}

uint32_t Endpoint::outgoing_fill() const {
  const RingWords& out = life_.out();
  const uint32_t w = out.write_index.load(std::memory_order_relaxed);
  const uint32_t r = out.read_index.load(std::memory_order_relaxed);
  return std::min(w - r, out.capacity);
}

uint32_t Endpoint::incoming_fill() const {
  const RingWords& in = life_.in();
  const uint32_t w = in.write_index.load(std::memory_order_relaxed);
  const uint32_t r = in.read_index.load(std::memory_order_relaxed);
  return std::min(w - r, in.capacity);
}

// ---- EndpointLifecycle ---------------------------------------------------------------------

EndpointLifecycle::EndpointLifecycle(Region region, Side side, EndpointOptions options)
    : region_(region),
      side_(side),
      options_(options),
      own_state_(region.state(side)),
      peer_state_(region.state(peer_of(side))),
      out_(region.ring(outgoing(side))),
      in_(region.ring(incoming(side))) {}

SideState EndpointLifecycle::peer_state() const {
  // SYNC: state-publish (partner: the peer's seq_cst store of its state word).
  const uint32_t w = peer_state_.load(std::memory_order_acquire);
  if (!valid_state_word(w)) return SideState::failed;
  return static_cast<SideState>(w & 0xFFu);
}

Reason EndpointLifecycle::peer_reason() const {
  // SYNC: state-publish (partner: the peer's seq_cst store of its state word).
  const uint32_t w = peer_state_.load(std::memory_order_acquire);
  if (!valid_state_word(w)) return Reason::peer_state_invalid;
  const uint32_t r = (w >> 8) & 0xFFu;
  return r <= static_cast<uint32_t>(Reason::local_error) ? static_cast<Reason>(r)
                                                         : Reason::peer_state_invalid;
}

Errc EndpointLifecycle::peer_errc() {
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

// Wakes a sleeper role of the peer that announced a park: bumps its wake sequence, then
// rings. The bump comes after the publication or state change the caller made, so a
// sleeper that read the sequence before it and then missed that change in its re-check
// finds the sequence changed when it enters its wait (docs/protocol.md 5.2).
void EndpointLifecycle::ring_peer(SharedWord wake_seq) {
  doorbells_.fetch_add(1, std::memory_order_relaxed);  // rung from several threads
  // SYNC: wake-seq (partner: idle_wait's seq_cst load of the wake sequence before its
  // re-check, in the peer's process or thread; on the TS side, Parking.announce in
  // endpoint-lifecycle.ts).
  wake_seq.fetch_add(1, std::memory_order_seq_cst);
  if (options_.doorbell) {
    options_.doorbell->ring(wake_seq.address());
  } else {
    wake(options_.process_shared, wake_seq.address());
  }
}

void EndpointLifecycle::ring_parked_peer() {
  // SYNC: park-announce (partner: the peer's seq_cst stores of 1 to its parked words). Our
  // caller's seq_cst store of a state word or index comes first (Dekker, section 5.2).
  if (out_.consumer_parked.load(std::memory_order_seq_cst)) ring_peer(out_.consumer_wake_seq);
  if (in_.producer_parked.load(std::memory_order_seq_cst)) ring_peer(in_.producer_wake_seq);
}

void EndpointLifecycle::publish_state(SideState s, Reason r) {
  // SYNC: state-publish (partner: the peer's acquire load in peer_state()). seq_cst so the
  // loads of the peer's parked words below cannot move before it (Dekker, section 5.2).
  own_state_.store(make_state_word(s, r), std::memory_order_seq_cst);
  ring_parked_peer();
}

void EndpointLifecycle::publish_closed_unless_failed() {
  if (failure() != Reason::none) return;  // `failed` is published and stays
  publish_state(SideState::closed);
  // SYNC: closed-after-failure (partner: fail()'s seq_cst compare-exchange of failure_,
  // which precedes its store of `failed`). If that exchange came after this load in the
  // single total order, its store also comes after our `closed`; otherwise this load sees
  // it and `failed` is stored again over `closed`.
  const auto r = static_cast<Reason>(failure_.load(std::memory_order_seq_cst));
  if (r != Reason::none) publish_state(SideState::failed, r);
}

bool EndpointLifecycle::mark_closed() {
  // SYNC: local-closed (partner: the acquire load in closed()): a thread that sees the
  // flag also sees everything the closing thread did before close(). seq_cst: it is the
  // store half of the own-park Dekker pair in wake_own_sleepers.
  if (closed_.exchange(true, std::memory_order_seq_cst)) return false;
  // A sender waiting for room sees `closed` and drops the send lock close() takes next.
  wake_own_sleepers();
  return true;
}

// Wakes, once, every thread of this side that sleeps across its close or failure (counted
// locally: the peer may scribble over our parked words). One wake suffices: every sleeper
// waits on a wake sequence it read before re-checking the state, and the bump below comes
// after the change, so a sleeper that missed the change finds the sequence moved on
// (docs/protocol.md 5.2). No sleeper is re-rung and nobody waits for them.
void EndpointLifecycle::wake_own_sleepers() {
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

void EndpointLifecycle::fail(Reason r) {
  uint8_t expected = 0;
  // SYNC: local-failure (partner: the acquire load in failure()); the first reason wins.
  // seq_cst, as closed_ in mark_closed(): the own-park Dekker pair of wake_own_sleepers,
  // and closed-after-failure (partner: publish_closed_unless_failed's seq_cst reload).
  if (!failure_.compare_exchange_strong(expected, static_cast<uint8_t>(r),
                                        std::memory_order_seq_cst)) {
    return;
  }
  publish_state(SideState::failed, r);  // 7.3: failed | reason << 8, then ring
  wake_own_sleepers();
}

}  // namespace smc
