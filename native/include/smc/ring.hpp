// One SPSC ring of records (docs/protocol.md, sections 3 and 4): the producer's and the
// consumer's halves. Neither half blocks or allocates; waiting and fragmentation live in
// Endpoint. Each half keeps its own index privately and a cached copy of the peer's
// index, so the fast path touches only lines this side writes (rigtorp/SPSCQueue).
//
// Everything loaded from shared memory is untrusted: each value is read once into a
// local, checked (the C and P checks of the spec), and only the local is used. A failed
// check latches a Reason; the half then refuses all work and never touches ring data.
#pragma once

#include <cstring>
#include <optional>
#include <span>

#include "smc/layout.hpp"
#include "smc/prefetch.hpp"

namespace smc {

namespace detail {
// Record headers live in shared memory the peer may be rewriting; reading them through
// relaxed atomics keeps a hostile concurrent write a well-defined (if useless) value
// instead of a data race. On x86 and ARM this is an ordinary load.
inline uint32_t load_relaxed(const std::byte* p) {
  return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(const_cast<std::byte*>(p)))
      .load(std::memory_order_relaxed);
}
inline void store_relaxed(std::byte* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(p)).store(v, std::memory_order_relaxed);
}
}  // namespace detail

class RingWriter {
 public:
  RingWriter() = default;
  // `start` is the index to continue from and `read` the consumer's index as found in
  // shared memory (both validated by the caller: aligned, start - read <= capacity).
  RingWriter(RingWords w, uint32_t start, uint32_t read)
      : w_(w),
        mask_(w.capacity - 1),
        write_(start),
        published_(start),
        cached_read_(read),
        prefetched_(start) {}
  RingWriter(RingWords w, uint32_t start) : RingWriter(w, start, start) {}

  uint32_t capacity() const { return w_.capacity; }
  uint32_t max_payload() const { return smc::max_payload(w_.capacity); }
  Reason failure() const { return failure_; }
  const RingWords& words() const { return w_; }

  // Room for a record with `n` payload bytes of kind `k` (n <= max_payload()). Returns a
  // writable span of exactly n bytes, or an empty optional when the ring is full (or the
  // writer has failed). Writes a PAD record first if the record would cross the end.
  // Nothing is visible to the consumer before commit() and publish().
  std::optional<std::span<std::byte>> reserve(uint32_t n, RecordKind k = RecordKind::message) {
    if (failure_ != Reason::none || n > max_payload()) return std::nullopt;
    const uint32_t offset = write_ & mask_;
    const uint32_t to_end = w_.capacity - offset;
    const uint32_t needed = bytes_needed(n);
    if (!has_room(needed)) return std::nullopt;
    if (n <= kWriteAheadMaxPayload) write_ahead();
    if (needed > to_end) {  // the record would cross the end: PAD to it first
      write_header(offset, to_end - kRecordHeader, RecordKind::pad);
      write_ += to_end;
    }
    reserved_kind_ = k;
    reserved_max_ = n;
    return std::span<std::byte>(w_.data + (write_ & mask_) + kRecordHeader, n);
  }

  // Finalizes the last reservation with `n` <= reserved bytes. Not yet published.
  void commit(uint32_t n) {
    if (n > reserved_max_) n = reserved_max_;
    write_header(write_ & mask_, n, reserved_kind_);
    write_ += kRecordHeader + align8(n);
    reserved_max_ = 0;
  }

  // Copy-in convenience: reserve + copy + commit. False when full.
  bool write(std::span<const std::byte> payload, RecordKind k = RecordKind::message) {
    auto dst = reserve(static_cast<uint32_t>(payload.size()), k);
    if (!dst) return false;
    if (!payload.empty()) std::memcpy(dst->data(), payload.data(), payload.size());
    commit(static_cast<uint32_t>(payload.size()));
    return true;
  }

  // Ring bytes a record with `n` payload bytes takes from the current position, counting
  // the PAD it needs when it would cross the end.
  uint32_t bytes_needed(uint32_t n) const {
    const uint32_t need = kRecordHeader + align8(n);
    const uint32_t to_end = w_.capacity - (write_ & mask_);
    return need <= to_end ? need : to_end + need;
  }

  bool has_unpublished() const { return write_ != published_; }
  // What the next publish() stores (everything committed so far).
  uint32_t write_position() const { return write_; }

  // Makes every committed record visible with one store, then tells whether the consumer
  // is parked and needs a doorbell.
  bool publish() {
    if (write_ == published_) return false;
    published_ = write_;
    // SYNC: ring-publish (partner: RingReader::refill's acquire load of write_index). The
    // store is seq_cst, not just release: it is the store half of the park-announce
    // Dekker pair, and the load of consumer_parked below must not be reordered before it.
    w_.write_index.store(write_, std::memory_order_seq_cst);
    // SYNC: park-announce (partner: the consumer's seq_cst store of consumer_parked
    // before its seq_cst re-load of write_index in EndpointLifecycle::idle_wait).
    return w_.consumer_parked.load(std::memory_order_seq_cst) != 0;
  }

  // Bytes free right now, reloading the consumer's index.
  uint32_t free_bytes() {
    refresh_read();
    return w_.capacity - (write_ - cached_read_);
  }

  // True when a record needing `total` bytes fits. Reloads the consumer's index only when
  // the cached copy says no.
  bool has_room(uint32_t total) {
    if (w_.capacity - (write_ - cached_read_) >= total) return true;
    refresh_read();
    return failure_ == Reason::none && w_.capacity - (write_ - cached_read_) >= total;
  }

  // Latches a failure found elsewhere (e.g. by the endpoint).
  void fail(Reason r) {
    if (failure_ == Reason::none) failure_ = r;
  }

 private:
  // Requests ownership of the free lines up to kWriteAheadBytes past write_ (see
  // prefetch.hpp), each line once. Bounded by the cached consumer index (a stale cache
  // only shortens the window) and one line short of it, so the line holding the first
  // byte the consumer has not released stays with the consumer.
  void write_ahead() {
    const uint32_t free = w_.capacity - (write_ - cached_read_);
    constexpr uint32_t kLine = kCacheLine;
    const uint32_t room = free > kLine ? free - kLine : 0;
    const uint32_t end = write_ + (room < kWriteAheadBytes ? room : kWriteAheadBytes);
    // prefetched_ is valid only within the window ahead of write_; anything else (it fell
    // behind while large records were written, however far) restarts it at write_.
    if (prefetched_ - write_ > kWriteAheadBytes + kLine) prefetched_ = write_;
    for (; static_cast<int32_t>(end - prefetched_) > 0; prefetched_ += kCacheLine) {
      prefetch_line_for_write(w_.data + (prefetched_ & mask_));
    }
  }

  void refresh_read() {
    if (failure_ != Reason::none) return;
    // SYNC: ring-release (partner: RingReader::release's store of read_index). Acquire: the
    // consumer's reads of the bytes below r happened before we overwrite them.
    const uint32_t r = w_.read_index.load(std::memory_order_acquire);
    if ((r & 7u) != 0) return fail(Reason::index_misaligned);  // P1
    // The consumer can only have released bytes we published: r in [cached_read_,
    // published_]. Behind the cache is a regression (P3), anything else out of range (P2).
    // P2 comes first: r more than a capacity below what we published is out of range even
    // when it is only a little behind the cache.
    if (r - cached_read_ > published_ - cached_read_) {
      return fail(published_ - r <= w_.capacity ? Reason::index_regressed
                                                : Reason::index_out_of_range);
    }
    cached_read_ = r;
  }

  void write_header(uint32_t offset, uint32_t length, RecordKind k) {
    detail::store_relaxed(w_.data + offset, length);
    detail::store_relaxed(w_.data + offset + 4, static_cast<uint32_t>(k));
  }

  RingWords w_{};
  uint32_t mask_ = 0;
  uint32_t write_ = 0;        // private: never re-read from shared memory
  uint32_t published_ = 0;    // last value stored to write_index
  uint32_t cached_read_ = 0;  // consumer's index as last seen (validated)
  uint32_t prefetched_ = 0;   // lines before this index were requested by write_ahead
  RecordKind reserved_kind_ = RecordKind::message;
  uint32_t reserved_max_ = 0;
  Reason failure_ = Reason::none;
};

// A record as read: its kind and a view of its payload inside the ring. The view stays
// valid until the record is released (RingReader::release after consume).
struct Record {
  RecordKind kind;
  std::span<const std::byte> payload;
};

class RingReader {
 public:
  RingReader() = default;
  RingReader(RingWords w, uint32_t start)
      : w_(w),
        mask_(w.capacity - 1),
        read_(start),
        released_(start),
        cached_write_(start),
        prefetched_(start) {}

  uint32_t capacity() const { return w_.capacity; }
  Reason failure() const { return failure_; }
  const RingWords& words() const { return w_; }
  // True when published records remain unread (no shared-memory access).
  bool has_data() const { return cached_write_ != read_; }
  // Bytes consumed but not yet released back to the producer.
  uint32_t unreleased() const { return read_ - released_; }
  // The last value release() stored to read_index.
  uint32_t released() const { return released_; }

  // The next non-PAD record, validated, or nullopt when nothing is published (or the
  // reader failed: check failure()). Does not advance; call consume() after using it.
  std::optional<Record> peek() {
    for (;;) {
      if (failure_ != Reason::none) return std::nullopt;
      uint32_t avail = cached_write_ - read_;
      if (avail == 0) {
        refill();
        avail = cached_write_ - read_;
        if (avail == 0) return std::nullopt;
      }
      read_ahead();
      const uint32_t offset = read_ & mask_;
      // The local copies below are all that is used from here on (C4-C7).
      const uint32_t length = detail::load_relaxed(w_.data + offset);
      const uint32_t kind_word = detail::load_relaxed(w_.data + offset + 4);
      if (kind_word < 1 || kind_word > 6) return reject(Reason::record_kind_invalid);  // C4
      const auto kind = static_cast<RecordKind>(kind_word);
      const uint32_t to_end = w_.capacity - offset;
      if (kind == RecordKind::pad) {
        if (length != to_end - kRecordHeader) return reject(Reason::pad_invalid);  // C7
        if (to_end > avail) return reject(Reason::record_beyond_index);            // C6
        read_ += to_end;
        continue;
      }
      if (kind == RecordKind::cancel ? length != 0 : length > max_payload(w_.capacity)) {
        return reject(Reason::record_length_invalid);  // C5
      }
      const uint32_t size = kRecordHeader + align8(length);
      if (size > avail) return reject(Reason::record_beyond_index);  // C6
      if (size > to_end) return reject(Reason::record_crosses_end);  // C7
      current_size_ = size;
      return Record{kind, {w_.data + offset + kRecordHeader, length}};
    }
  }

  // Steps past the record returned by the last peek(). It stays readable until release().
  void consume() {
    read_ += current_size_;
    current_size_ = 0;
  }

  // Hands everything consumed back to the producer with one store; tells whether the
  // producer is parked waiting for space and needs a doorbell.
  bool release() {
    if (read_ == released_ || failure_ != Reason::none) return false;
    released_ = read_;
    // SYNC: ring-release (partner: RingWriter::refresh_read's acquire load of read_index).
    // seq_cst for the same Dekker reason as RingWriter::publish.
    w_.read_index.store(read_, std::memory_order_seq_cst);
    // SYNC: park-announce (partner: a producer's seq_cst store of producer_parked before
    // its re-load of read_index in EndpointLifecycle::idle_wait).
    return w_.producer_parked.load(std::memory_order_seq_cst) != 0;
  }

  // Reloads the producer's index (validated). True if new bytes are published.
  bool refill() {
    if (failure_ != Reason::none) return false;
    // SYNC: ring-publish (partner: RingWriter::publish's store of write_index). Acquire:
    // the record headers and payloads below w are visible after this load.
    const uint32_t w = w_.write_index.load(std::memory_order_acquire);
    if ((w & 7u) != 0) return fail(Reason::index_misaligned), false;                     // C1
    if (w - read_ > w_.capacity) return fail(Reason::index_out_of_range), false;         // C2
    if (w - read_ < cached_write_ - read_) return fail(Reason::index_regressed), false;  // C3
    const bool fresh = w != cached_write_;
    cached_write_ = w;
    return fresh;
  }

  // Latches a failure found elsewhere (e.g. by the framer); the first reason stays.
  void fail(Reason r) {
    if (failure_ == Reason::none) failure_ = r;
  }

 private:
  // Requests the published lines up to kRingReadAheadBytes past read_ (prefetch.hpp), each
  // line once. Only bytes below the validated cached_write_: the producer is done with them,
  // so the request pulls no line away from it.
  void read_ahead() {
    const uint32_t ahead = cached_write_ - read_;
    const uint32_t end = read_ + (ahead < kRingReadAheadBytes ? ahead : kRingReadAheadBytes);
    if (static_cast<int32_t>(prefetched_ - read_) < 0) prefetched_ = read_;
    for (; static_cast<int32_t>(end - prefetched_) > 0; prefetched_ += kCacheLine) {
      prefetch_line_to_l2(w_.data + (prefetched_ & mask_));
    }
  }

  // fail() for peek(): latches the reason and returns "no record".
  std::nullopt_t reject(Reason r) {
    fail(r);
    return std::nullopt;
  }

  RingWords w_{};
  uint32_t mask_ = 0;
  uint32_t read_ = 0;          // private: never re-read from shared memory
  uint32_t released_ = 0;      // last value stored to read_index
  uint32_t cached_write_ = 0;  // producer's index as last seen (validated)
  uint32_t current_size_ = 0;
  uint32_t prefetched_ = 0;  // lines before this index were requested by read_ahead
  Reason failure_ = Reason::none;
};

}  // namespace smc
