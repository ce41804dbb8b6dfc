// The receiving role of an Endpoint (smc/endpoint_receiver.hpp): releasing what was read
// with its doorbell, failing on what the ring or the framer rejected, ending a streamed
// message when the channel ends, waiting until a record is readable, and putting back an
// overwritten read_index. Delivery itself (poll) is a template in the header. The
// TypeScript twin is js/src/protocol/endpoint-receiver.ts.
#include "smc/endpoint_receiver.hpp"

namespace smc {

void EndpointReceiver::release_and_ring(EndpointLifecycle& life) {
  // A failed endpoint writes nothing more to the region (7.3), not even the release of
  // records it consumed before a fragment check (C8-C10) failed.
  if (life.failure() != Reason::none) return;
  if (reader_.release()) life.ring_peer(life.in().producer_wake_seq);
}

// The read_index counterpart of EndpointSender::restore_published (which says why). Only
// the receiving thread stores read_index, so no compare-exchange is needed.
void EndpointReceiver::restore_released(EndpointLifecycle& life) {
  if (life.failure() != Reason::none) return;
  const RingWords& in = life.in();
  const uint32_t released = reader_.released();
  if (!detail::moved_back(in.read_index.load(std::memory_order_relaxed), released, in.capacity)) {
    return;
  }
  // SYNC: ring-release (partner: RingWriter::refresh_read's acquire load of read_index).
  in.read_index.store(released, std::memory_order_seq_cst);
  // SYNC: park-announce (partner: the producer's seq_cst store of producer_parked).
  if (in.producer_parked.load(std::memory_order_seq_cst)) life.ring_peer(in.producer_wake_seq);
}

Errc EndpointReceiver::fail_from_reader(EndpointLifecycle& life) {
  life.fail(reader_.failure());
  return end_stream(Errc::failed);
}

Errc EndpointReceiver::fail_from_framer(EndpointLifecycle& life) {
  life.fail(frame_reader_.failure());
  return Errc::failed;
}

Errc EndpointReceiver::end_stream(Errc e) {
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

Errc EndpointReceiver::wait_readable(EndpointLifecycle& life, EndpointSender& sender,
                                     Deadline deadline) {
  // A closed or failed endpoint refuses before looking at the ring (docs/protocol.md 7.3).
  if (life.closed()) return Errc::closed;
  if (life.failure() != Reason::none) return Errc::failed;
  auto ready = [&]() {
    return reader_.has_data() || reader_.refill() || reader_.failure() != Reason::none;
  };
  // A closed or failed peer is reported only after everything it published is drained.
  auto state = [&]() -> Errc {
    if (life.closed()) return Errc::closed;
    if (life.failure() != Reason::none) return Errc::failed;
    const Errc p = life.peer_errc();
    if (p == Errc::failed) return p;                // S1: this side failed
    if (p != Errc::ok && ready()) return Errc::ok;  // its last records, published before
    return p;
  };
  // The receiving thread restores both words: its own read_index, and write_index, which
  // it may do without the send lock (EndpointSender::restore_published), so an idle
  // consumer also puts back the index of replies the peer was shown and then lost.
  auto restore = [&] {
    restore_released(life);
    sender.restore_published(life);
  };
  const RingWords& in = life.in();
  const Errc e =
      life.idle_wait(ready, state, restore, in.consumer_parked, in.consumer_wake_seq, deadline);
  if (e == Errc::ok && reader_.failure() != Reason::none) return fail_from_reader(life);
  return e;
}

}  // namespace smc
