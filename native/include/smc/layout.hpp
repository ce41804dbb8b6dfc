// The shared region of protocol version 2 (docs/protocol.md, section 2): constants, and
// typed access to the words both sides share.
//
// Every shared word is a 32-bit little-endian unsigned integer so JavaScript can reach it
// through an Int32Array with Atomics. C++ touches them only through std::atomic_ref: the
// region is memory V8 allocated, so there are no std::atomic<T> objects in it to cast to.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "smc/errors.hpp"

namespace smc {

inline constexpr uint32_t kMagic = 0x31434D53;  // bytes "SMC1" in memory order
// 2: each parked word gained a wake sequence (section 5.2). Version 1 sleepers waited on
// the index words; the two versions cannot wake each other, so each refuses the other.
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kHeaderSize = 2048;
inline constexpr uint32_t kSlot = 128;  // two cache lines: defeats the adjacent-line prefetcher
inline constexpr uint32_t kMinCapacity = 4096;
inline constexpr uint32_t kMaxCapacity = 1u << 30;
inline constexpr uint32_t kRecordHeader = 8;
inline constexpr uint32_t kFirstPrefix = 8;  // total_length + a zero word in FIRST records

// Byte offsets of the immutable header fields (line 0).
namespace hdr {
inline constexpr uint32_t magic = 0;
inline constexpr uint32_t version = 4;
inline constexpr uint32_t header_size = 8;
inline constexpr uint32_t flags = 12;
inline constexpr uint32_t r2n_offset = 16;
inline constexpr uint32_t r2n_capacity = 20;
inline constexpr uint32_t n2r_offset = 24;
inline constexpr uint32_t n2r_capacity = 28;
inline constexpr uint32_t total_size = 32;
}  // namespace hdr

// The two sides by their names in the spec (docs/protocol.md 1) and the TS library ('R' |
// 'N'): R allocates the region and produces into R2N, N produces into N2R. They are
// roles, not languages (C++ tests play both). `js` and `native` are the former names.
enum class Side : uint8_t {
  r = 0,
  n = 1,
  js [[deprecated("use Side::r (docs/protocol.md names the sides R and N)")]] = r,
  native [[deprecated("use Side::n (docs/protocol.md names the sides R and N)")]] = n,
};
enum class Dir : uint8_t { r2n = 0, n2r = 1 };

inline constexpr Side peer_of(Side s) {
  return s == Side::r ? Side::n : Side::r;
}
inline constexpr Dir outgoing(Side s) {
  return s == Side::r ? Dir::r2n : Dir::n2r;
}
inline constexpr Dir incoming(Side s) {
  return s == Side::r ? Dir::n2r : Dir::r2n;
}

// Offsets of the mutable words, each alone in its own 128-byte slot.
inline constexpr uint32_t state_offset(Side s) {
  return kSlot * (1 + static_cast<uint32_t>(s));
}
inline constexpr uint32_t generation_offset(Side s) {
  return state_offset(s) + 4;
}
inline constexpr uint32_t ring_slot(Dir d) {
  return 3 + 4 * static_cast<uint32_t>(d);
}
inline constexpr uint32_t write_index_offset(Dir d) {
  return kSlot * (ring_slot(d) + 0);
}
inline constexpr uint32_t read_index_offset(Dir d) {
  return kSlot * (ring_slot(d) + 1);
}
inline constexpr uint32_t consumer_parked_offset(Dir d) {
  return kSlot * (ring_slot(d) + 2);
}
inline constexpr uint32_t producer_parked_offset(Dir d) {
  return kSlot * (ring_slot(d) + 3);
}
// The wake sequence of a sleeper role is the word after its parked word: the sleeper waits
// on it, the other side bumps it to wake it (docs/protocol.md 5.2). Same slot, because both
// are touched only around a park, and the producer's per-publication load of the parked
// word reads a line nobody writes while nobody parks.
inline constexpr uint32_t consumer_wake_seq_offset(Dir d) {
  return consumer_parked_offset(d) + 4;
}
inline constexpr uint32_t producer_wake_seq_offset(Dir d) {
  return producer_parked_offset(d) + 4;
}
static_assert(producer_parked_offset(Dir::n2r) + kSlot <= kHeaderSize);

// Every shared word of the control area under its name in docs/protocol.md and
// test-vectors/ring.json, in offset order. Derived from the offsets above, not restated:
// the vectors test compares it with the file, and the TS suite compares js/src's table
// with the same file, so the two languages agree through one description.
struct SharedWordLayout {
  std::string_view name;
  uint32_t offset;
  uint32_t size;
};
inline constexpr std::array<SharedWordLayout, 25> kSharedWordLayout{{
    {"magic", hdr::magic, 4},
    {"version", hdr::version, 4},
    {"header_size", hdr::header_size, 4},
    {"flags", hdr::flags, 4},
    {"r2n_offset", hdr::r2n_offset, 4},
    {"r2n_capacity", hdr::r2n_capacity, 4},
    {"n2r_offset", hdr::n2r_offset, 4},
    {"n2r_capacity", hdr::n2r_capacity, 4},
    {"total_size", hdr::total_size, 4},
    {"r_state", state_offset(Side::r), 4},
    {"r_generation", generation_offset(Side::r), 4},
    {"n_state", state_offset(Side::n), 4},
    {"n_generation", generation_offset(Side::n), 4},
    {"r2n_write_index", write_index_offset(Dir::r2n), 4},
    {"r2n_read_index", read_index_offset(Dir::r2n), 4},
    {"r2n_consumer_parked", consumer_parked_offset(Dir::r2n), 4},
    {"r2n_consumer_wake_seq", consumer_wake_seq_offset(Dir::r2n), 4},
    {"r2n_producer_parked", producer_parked_offset(Dir::r2n), 4},
    {"r2n_producer_wake_seq", producer_wake_seq_offset(Dir::r2n), 4},
    {"n2r_write_index", write_index_offset(Dir::n2r), 4},
    {"n2r_read_index", read_index_offset(Dir::n2r), 4},
    {"n2r_consumer_parked", consumer_parked_offset(Dir::n2r), 4},
    {"n2r_consumer_wake_seq", consumer_wake_seq_offset(Dir::n2r), 4},
    {"n2r_producer_parked", producer_parked_offset(Dir::n2r), 4},
    {"n2r_producer_wake_seq", producer_wake_seq_offset(Dir::n2r), 4},
}};

enum class RecordKind : uint32_t {
  message = 1,
  first = 2,
  middle = 3,
  last = 4,
  pad = 5,
  cancel = 6,
};

enum class SideState : uint32_t { detached = 0, attached = 1, closed = 2, failed = 3 };

inline constexpr uint32_t make_state_word(SideState s, Reason r = Reason::none) {
  return static_cast<uint32_t>(s) | (static_cast<uint32_t>(r) << 8);
}

inline constexpr bool is_power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}
inline constexpr bool valid_capacity(uint64_t c) {
  return is_power_of_two(c) && c >= kMinCapacity && c <= kMaxCapacity;
}
inline constexpr uint32_t align8(uint32_t n) {
  return (n + 7u) & ~7u;
}
inline constexpr uint32_t max_record(uint32_t capacity) {
  return capacity / 4;
}
inline constexpr uint32_t max_payload(uint32_t capacity) {
  return max_record(capacity) - kRecordHeader;
}

// A 32-bit word of shared memory. All loads and stores go through std::atomic_ref; the
// memory order is the caller's, named at each use with the SYNC POINT it belongs to.
class SharedWord {
 public:
  SharedWord() = default;
  explicit SharedWord(std::byte* p) : p_(reinterpret_cast<uint32_t*>(p)) {}
  uint32_t load(std::memory_order o) const { return std::atomic_ref<uint32_t>(*p_).load(o); }
  void store(uint32_t v, std::memory_order o) const { std::atomic_ref<uint32_t>(*p_).store(v, o); }
  uint32_t fetch_add(uint32_t v, std::memory_order o) const {
    return std::atomic_ref<uint32_t>(*p_).fetch_add(v, o);
  }
  uint32_t* address() const { return p_; }

 private:
  uint32_t* p_ = nullptr;
};

struct RegionConfig {
  uint32_t r2n_capacity = 1u << 20;
  uint32_t n2r_capacity = 1u << 20;
};

// The control words and the data of one ring.
struct RingWords {
  SharedWord write_index;
  SharedWord read_index;
  SharedWord consumer_parked;
  SharedWord producer_parked;
  SharedWord consumer_wake_seq;  // the parked consumer waits on it; the producer bumps it
  SharedWord producer_wake_seq;  // the parked producer waits on it; the consumer bumps it
  std::byte* data = nullptr;
  uint32_t capacity = 0;
};

// A validated view of a region. Cheap to copy; owns nothing.
class Region {
 public:
  // Total bytes a region with these capacities needs, or 0 if a capacity is invalid.
  static uint64_t size_for(RegionConfig c);

  // Zeroes the control area, writes the header and publishes it (SYNC POINT
  // header-publish). Fails with Errc::invalid_argument when the memory is too small,
  // misaligned, or a capacity is not a power of two in [4 KiB, 1 GiB].
  static Errc initialize(std::span<std::byte> memory, RegionConfig c, Region* out);

  // Validates every header field (docs/protocol.md 7.1) before use. On failure the
  // detail names the bad field and what is allowed.
  static Errc attach(std::span<std::byte> memory, Region* out, const char** detail = nullptr);

  RingWords ring(Dir d) const;
  SharedWord state(Side s) const { return word(state_offset(s)); }
  SharedWord generation(Side s) const { return word(generation_offset(s)); }
  uint32_t capacity(Dir d) const { return d == Dir::r2n ? r2n_capacity_ : n2r_capacity_; }
  std::span<std::byte> memory() const { return memory_; }

 private:
  SharedWord word(uint32_t offset) const { return SharedWord(memory_.data() + offset); }
  std::span<std::byte> memory_;
  uint32_t r2n_capacity_ = 0;
  uint32_t n2r_capacity_ = 0;
};

}  // namespace smc
