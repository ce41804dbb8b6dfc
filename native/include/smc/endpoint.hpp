// One side of a channel: full duplex over a Region (docs/protocol.md). Adds to the rings
// (ring.hpp) and the framer (framer.hpp: fragmentation, reassembly, CANCEL) what an
// application needs: blocking with deadlines (spin, yield, park), messages of any size up
// to 2^32-1 bytes, peer-state tracking, close, and the failed state.
//
// Three roles do the work, one job each, as in the TypeScript twin (js/src/protocol/):
// the lifecycle (endpoint_lifecycle.hpp: state words, close, failure, doorbells, the idle
// strategy), the sender (endpoint_sender.hpp) and the receiver (endpoint_receiver.hpp).
// Endpoint holds the three and forwards its API to them, passing its lifecycle along.
//
// Threads: any number of threads may send (they are serialized by the send lock, so the
// ring still has one producer; a Batch or Reservation holds it and may move between
// threads); exactly one thread at a time may receive. close() may be called from any
// thread and wakes this side's own blocked threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "smc/endpoint_lifecycle.hpp"
#include "smc/endpoint_receiver.hpp"
#include "smc/endpoint_sender.hpp"
#include "smc/framer.hpp"
#include "smc/layout.hpp"
#include "smc/ring.hpp"
#include "smc/wait.hpp"

namespace smc {

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

  // ---- sending (any thread; EndpointSender) ---------------------------------------------

  // Sends one message of any size (fragmented when larger than max_payload()). Blocks
  // for room until `deadline`. On timeout after some fragments went out, the message is
  // cancelled (a CANCEL record follows as soon as there is room), so the receiver never
  // sees part of it. With flush=false the records are written but the index is not
  // published until a later send with flush=true, flush() or close(): batching for
  // throughput. After the peer closed or failed: peer_closed / peer_failed, nothing written.
  Errc send(std::span<const std::byte> message, Deadline deadline = Deadline::never(),
            bool flush = true) {
    if (message.size() > UINT32_MAX) return Errc::too_large;
    return sender_.send(life_, message, deadline, flush);
  }
  Errc flush() { return sender_.flush(life_); }

  // Zero-copy send of one message of at most max_payload() bytes (EndpointSender::Reservation).
  using Reservation = EndpointSender::Reservation;
  Errc reserve(uint32_t n, Reservation* out, Deadline deadline = Deadline::never()) {
    return sender_.reserve(life_, n, out, deadline);
  }

  // Many messages under one send lock, published together (EndpointSender::Batch).
  using Batch = EndpointSender::Batch;
  Batch batch() { return sender_.batch(life_); }

  // ---- receiving (one thread; EndpointReceiver) -----------------------------------------

  // Delivers up to `max_messages` available messages to `on_message(std::span<const
  // std::byte>)` without blocking. The span points into the ring (or into the reassembly
  // buffer) and is valid only during the call. *delivered gets the count.
  template <class F>
  Errc poll(F&& on_message, size_t max_messages, size_t* delivered) {
    return receiver_.poll(life_, on_message, max_messages, delivered);
  }

  // Like poll, but first waits until at least one message is available or `deadline`.
  template <class F>
  Errc receive(F&& on_message, size_t max_messages, size_t* delivered,
               Deadline deadline = Deadline::never()) {
    return receiver_.receive(life_, sender_, on_message, max_messages, delivered, deadline);
  }

  // Waits until a record can be read. ok, timeout, closed, peer_closed (and drained),
  // peer_failed, failed.
  Errc wait_readable(Deadline deadline) {
    return receiver_.wait_readable(life_, sender_, deadline);
  }

  // Streaming receive (opt-in): fragments of messages larger than one record go to `sink`
  // as they arrive, without reassembly; whole messages still go to poll's callback. Call
  // on the receiving thread, between messages; nullptr turns it off. `sink` must outlive
  // its use. A streamed message counts as received when its last fragment arrives.
  void set_fragment_sink(FragmentSink* sink) { receiver_.set_fragment_sink(sink); }

  // ---- lifecycle (EndpointLifecycle) ----------------------------------------------------

  // Marks this side closed: wakes this side's own blocked threads, publishes every record
  // committed before (a send with flush=false, a batch's sends, a committed reservation:
  // docs/protocol.md 6), stores `closed` and wakes the peer if it sleeps, one wake each.
  // It never waits for the peer, nor for a Batch or a Reservation: when one is open (on
  // any thread, the caller's own included), every send and commit through it returns
  // `closed` from now on, and its end publishes what was committed before the close and
  // stores `closed`. It waits only for a whole send() or flush() that holds the send lock
  // (waking one that waits for room). Idempotent, any thread. The destructor closes, then
  // waits for a Batch or Reservation of another thread to end: destroy an Endpoint only
  // after its handles (destroyed by a thread that holds one, it hangs).
  void close();
  bool closed() const { return life_.closed(); }
  // Enters the failed state (docs/protocol.md 7.3). Idempotent; the first reason sticks.
  void fail(Reason r) { life_.fail(r); }
  Reason failure() const { return life_.failure(); }
  // The peer's state (S1: an unknown value counts as failed with peer_state_invalid).
  SideState peer_state() const { return life_.peer_state(); }
  Reason peer_reason() const { return life_.peer_reason(); }

  Side side() const { return life_.side(); }
  uint32_t max_payload() const { return sender_.max_payload(); }
  const Region& region() const { return life_.region(); }
  EndpointStats stats() const;
  // Bytes published and not yet released, per direction (racy snapshot, for monitoring).
  uint32_t outgoing_fill() const;
  uint32_t incoming_fill() const;

 private:
  Endpoint(Region region, Side side, EndpointOptions options);

  // The read-mostly lifecycle first; the sender's and the receiver's hot state each start
  // a 128-byte slot of their own (alignas(kSlot) in their classes), so the per-message
  // stores of one side's sender never share a line with its receiver or the peer's.
  EndpointLifecycle life_;
  EndpointSender sender_;
  EndpointReceiver receiver_;
};

}  // namespace smc
