#include "smc/framer.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "smc/prefetch.hpp"

namespace smc {

// ---- sending -----------------------------------------------------------------------------

bool FrameWriter::write_cancel() {
  if (!ring_->write({}, RecordKind::cancel)) return false;
  cancel_owed_ = false;
  return true;
}

uint32_t FrameWriter::next_record_bytes() const {
  if (cancel_owed_) return ring_->bytes_needed(0);
  const uint32_t max = ring_->max_payload();
  const size_t left = message_.size() - sent_;
  if (!started_) return ring_->bytes_needed(left <= max ? static_cast<uint32_t>(left) : max);
  return ring_->bytes_needed(static_cast<uint32_t>(std::min<size_t>(left, max)));
}

bool FrameWriter::advance() {
  if (!pay_cancel()) return false;
  if (!active_) return true;
  const uint32_t max = ring_->max_payload();
  if (!started_) {
    if (message_.size() <= max) {
      if (!ring_->write(message_, RecordKind::message)) return false;
      active_ = false;
      return true;
    }
    // FIRST: total_length, a zero word, then max - 8 bytes (fewer than the total).
    auto dst = ring_->reserve(max, RecordKind::first);
    if (!dst) return false;
    const uint32_t prefix[2] = {static_cast<uint32_t>(message_.size()), 0};
    std::memcpy(dst->data(), prefix, kFirstPrefix);
    std::memcpy(dst->data() + kFirstPrefix, message_.data(), max - kFirstPrefix);
    ring_->commit(max);
    sent_ = max - kFirstPrefix;
    started_ = true;
  }
  while (sent_ < message_.size()) {
    const size_t chunk = std::min<size_t>(max, message_.size() - sent_);
    const bool last = sent_ + chunk == message_.size();
    if (!ring_->write(message_.subspan(sent_, chunk),
                      last ? RecordKind::last : RecordKind::middle)) {
      return false;
    }
    sent_ += chunk;
  }
  active_ = false;
  return true;
}

void FrameWriter::cancel() {
  if (active_ && started_) cancel_owed_ = true;
  active_ = false;
  pay_cancel();
}

// ---- receiving ---------------------------------------------------------------------------

const char* to_string(StreamEnd why) {
  switch (why) {
    case StreamEnd::cancelled:
      return "cancelled";
    case StreamEnd::closed:
      return "closed";
    case StreamEnd::peer_closed:
      return "peer_closed";
    case StreamEnd::peer_failed:
      return "peer_failed";
    case StreamEnd::failed:
      return "failed";
  }
  return "unknown";
}

FrameReader::Step FrameReader::reject(Reason r) {
  if (failure_ == Reason::none) failure_ = r;
  end(StreamEnd::failed);
  return Step::failed;
}

void FrameReader::end(StreamEnd why) {
  FragmentSink* stream = in_message_ ? stream_ : nullptr;
  in_message_ = false;
  stream_ = nullptr;
  if (stream) stream->on_abort(why);
}

// Makes the reassembly buffer hold at least `need` (<= total_) bytes. A kept buffer large
// enough is reused as it is. Messages up to the keep limit (keep_assembly_) get their whole
// size at once; larger ones grow by doubling as fragments arrive, so a hostile FIRST
// announcing 4 GiB costs memory only in proportion to the bytes the peer really sends.
bool FrameReader::reserve(uint32_t need) {
  if (need <= capacity_ && buffer_) return true;
  uint64_t cap = total_;
  if (total_ > keep_assembly_) {
    cap = std::max<uint64_t>({need, uint64_t{capacity_} * 2, uint64_t{keep_assembly_}});
    cap = std::min<uint64_t>(cap, total_);
  }
  std::unique_ptr<std::byte[]> bigger(new (std::nothrow) std::byte[cap]);
  if (!bigger) return false;
  if (have_ > 0) std::memcpy(bigger.get(), buffer_.get(), have_);
  buffer_ = std::move(bigger);
  capacity_ = static_cast<uint32_t>(cap);
  return true;
}

void FrameReader::delivered() {
  if (capacity_ > keep_assembly_) {
    buffer_.reset();
    capacity_ = 0;
  }
}

namespace {
// Copies a fragment out of the ring with software read-ahead (prefetch.hpp): the fragment
// was just written by the other core, and a plain memcpy of it stalls at every 4 KiB page.
void copy_out_of_ring(std::byte* dst, std::span<const std::byte> src) {
  for_each_block(src, [&](std::span<const std::byte> block) {
    std::memcpy(dst, block.data(), block.size());
    dst += block.size();
  });
}
}  // namespace

FrameReader::Step FrameReader::first(std::span<const std::byte> payload) {
  const auto len = static_cast<uint32_t>(payload.size());
  if (in_message_) return reject(Reason::fragment_sequence);  // C8
  if (len < kFirstPrefix) return reject(Reason::fragment_length);
  uint32_t prefix[2];
  std::memcpy(prefix, payload.data(), sizeof prefix);  // read once
  const uint32_t total = prefix[0];
  const uint32_t chunk = len - kFirstPrefix;
  if (prefix[1] != 0 || chunk == 0 || chunk > total) return reject(Reason::fragment_length);  // C9
  if (total > max_message_) return reject(Reason::message_too_large);                         // C10
  total_ = total;
  have_ = 0;
  in_message_ = true;
  stream_ = sink_;
  const auto bytes = payload.subspan(kFirstPrefix);
  if (stream_) {
    have_ = chunk;
    stream_->on_fragment(0, total, bytes);
    return Step::more;
  }
  if (!reserve(chunk)) return reject(Reason::local_error);
  copy_out_of_ring(buffer_.get(), bytes);
  have_ = chunk;
  return Step::more;
}

FrameReader::Step FrameReader::next(bool last, std::span<const std::byte> payload,
                                    std::span<const std::byte>* deliver) {
  const auto len = static_cast<uint32_t>(payload.size());
  if (!in_message_) return reject(Reason::fragment_sequence);  // C8
  const uint32_t room = total_ - have_;
  if (len == 0 || len > room || (last && len != room) || (!last && len == room)) {  // C9
    return reject(Reason::fragment_length);
  }
  const uint32_t at = have_;
  if (FragmentSink* stream = stream_) {
    have_ += len;
    if (last) {
      in_message_ = false;
      stream_ = nullptr;
    }
    stream->on_fragment(at, total_, payload);
    return last ? Step::streamed : Step::more;
  }
  if (!reserve(at + len)) return reject(Reason::local_error);
  copy_out_of_ring(buffer_.get() + at, payload);
  have_ += len;
  if (!last) return Step::more;
  in_message_ = false;
  *deliver = {buffer_.get(), total_};
  return Step::deliver;
}

// C8-C10 on one record (the ring checked C1-C7).
FrameReader::Step FrameReader::accept_record(RecordKind kind, std::span<const std::byte> payload,
                                             std::span<const std::byte>* deliver) {
  switch (kind) {
    case RecordKind::message:
      if (in_message_) return reject(Reason::fragment_sequence);                    // C8
      if (payload.size() > max_message_) return reject(Reason::message_too_large);  // C10
      *deliver = payload;
      return Step::deliver;
    case RecordKind::first:
      return first(payload);
    case RecordKind::middle:
    case RecordKind::last:
      return next(kind == RecordKind::last, payload, deliver);
    case RecordKind::cancel:
      if (!in_message_) return reject(Reason::fragment_sequence);  // C8
      end(StreamEnd::cancelled);
      return Step::more;
    case RecordKind::pad:  // RingReader never returns PAD
      break;
  }
  return reject(Reason::record_kind_invalid);
}

}  // namespace smc
