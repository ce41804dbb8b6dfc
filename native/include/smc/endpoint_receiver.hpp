// The receiving role of an Endpoint (smc/endpoint.hpp): the incoming ring's reader and its
// framer (C8-C10, reassembly or a FragmentSink), delivering messages, releasing what was
// read, and waiting until something is readable. One thread at a time receives. The
// TypeScript twin is js/src/protocol/endpoint-receiver.ts.
//
// Its calls take the Endpoint's lifecycle (endpoint_lifecycle.hpp) as an argument, as the
// sender's do; waiting also takes the sender, whose write_index an idle receiving thread
// restores (docs/protocol.md 7.4).
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <span>

#include "smc/endpoint_lifecycle.hpp"
#include "smc/endpoint_sender.hpp"
#include "smc/framer.hpp"
#include "smc/ring.hpp"

namespace smc {

class EndpointReceiver {
 public:
  // Endpoint::poll, receive, wait_readable and set_fragment_sink (documented there).
  template <class F>
  Errc poll(EndpointLifecycle& life, F&& on_message, size_t max_messages, size_t* delivered);
  template <class F>
  Errc receive(EndpointLifecycle& life, EndpointSender& sender, F&& on_message, size_t max_messages,
               size_t* delivered, Deadline deadline);
  Errc wait_readable(EndpointLifecycle& life, EndpointSender& sender, Deadline deadline);
  void set_fragment_sink(FragmentSink* sink) { frame_reader_.set_sink(sink); }

  uint64_t messages_received() const { return messages_received_.load(std::memory_order_relaxed); }
  uint64_t bytes_received() const { return bytes_received_.load(std::memory_order_relaxed); }

 private:
  friend class Endpoint;
  EndpointReceiver(uint32_t max_message, uint32_t keep_assembly)
      : frame_reader_(max_message, keep_assembly) {}
  // attach: the reader continues from the shared read_index (docs/protocol.md 2.2).
  void start(const RingWords& in, uint32_t read) { reader_ = RingReader(in, read); }

  void release_and_ring(EndpointLifecycle& life);
  // Puts back read_index if something moved it back (endpoint_receiver.cpp explains).
  void restore_released(EndpointLifecycle& life);
  Errc fail_from_reader(EndpointLifecycle& life);
  Errc fail_from_framer(EndpointLifecycle& life);
  // A receive that ended the channel tells a streamed message's sink (FrameReader::end).
  Errc end_stream(Errc e);

  // The receiving thread only; on a slot of its own (see EndpointSender).
  alignas(kSlot) RingReader reader_;
  std::atomic<uint64_t> messages_received_{0}, bytes_received_{0};
  FrameReader frame_reader_;
};

// ---- template members ------------------------------------------------------------------

template <class F>
Errc EndpointReceiver::poll(EndpointLifecycle& life, F&& on_message, size_t max_messages,
                            size_t* delivered) {
  size_t count = 0;
  uint64_t bytes = 0;
  // Release what was consumed even if the handler throws: the producer must not stall.
  struct Finish {
    EndpointReceiver* self;
    EndpointLifecycle* life;
    size_t* count;
    uint64_t* bytes;
    size_t* out;
    ~Finish() {
      self->release_and_ring(*life);
      detail::bump(self->messages_received_, *count);
      detail::bump(self->bytes_received_, *bytes);
      if (out) *out = *count;
    }
  } finish{this, &life, &count, &bytes, delivered};

  if (life.closed()) return end_stream(Errc::closed);
  if (life.failure() != Reason::none) return end_stream(Errc::failed);
  const uint32_t release_every = reader_.capacity() / 4;
  while (count < max_messages) {
    std::optional<Record> rec = reader_.peek();
    if (!rec) {
      if (reader_.failure() != Reason::none) return fail_from_reader(life);
      break;
    }
    std::span<const std::byte> message;
    const FrameReader::Step step = frame_reader_.accept(*rec, &message);
    if (step == FrameReader::Step::failed) return fail_from_framer(life);
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
    if (reader_.unreleased() >= release_every) release_and_ring(life);
  }
  return Errc::ok;
}

template <class F>
Errc EndpointReceiver::receive(EndpointLifecycle& life, EndpointSender& sender, F&& on_message,
                               size_t max_messages, size_t* delivered, Deadline deadline) {
  for (;;) {
    size_t n = 0;
    Errc e = poll(life, on_message, max_messages, &n);
    if (e != Errc::ok || n > 0) {
      if (delivered) *delivered = n;
      return e;
    }
    e = wait_readable(life, sender, deadline);
    if (e != Errc::ok) {
      if (delivered) *delivered = 0;
      return e == Errc::timeout ? e : end_stream(e);
    }
  }
}

}  // namespace smc
