#include <bit>
#include <cstdio>
#include <cstring>

#include "smc/layout.hpp"

namespace smc {

static_assert(std::endian::native == std::endian::little,
              "the wire protocol is little-endian; a big-endian port needs byte swaps");

namespace {
uint32_t read_u32(std::span<std::byte> m, uint32_t offset) {
  uint32_t v;
  std::memcpy(&v, m.data() + offset, 4);
  return v;
}
void write_u32(std::span<std::byte> m, uint32_t offset, uint32_t v) {
  std::memcpy(m.data() + offset, &v, 4);
}
}  // namespace

uint64_t Region::size_for(RegionConfig c) {
  if (!valid_capacity(c.r2n_capacity) || !valid_capacity(c.n2r_capacity)) return 0;
  return uint64_t{kHeaderSize} + c.r2n_capacity + c.n2r_capacity;
}

Errc Region::initialize(std::span<std::byte> memory, RegionConfig c, Region* out) {
  const uint64_t size = size_for(c);
  if (size == 0 || memory.size() < size) return Errc::invalid_argument;
  if (reinterpret_cast<uintptr_t>(memory.data()) % 8 != 0) return Errc::invalid_argument;
  // Zero only the control area: ring bytes are never read before they are written.
  std::memset(memory.data() + 4, 0, kHeaderSize - 4);
  write_u32(memory, hdr::version, kVersion);
  write_u32(memory, hdr::header_size, kHeaderSize);
  write_u32(memory, hdr::flags, 0);
  write_u32(memory, hdr::r2n_offset, kHeaderSize);
  write_u32(memory, hdr::r2n_capacity, c.r2n_capacity);
  write_u32(memory, hdr::n2r_offset, kHeaderSize + c.r2n_capacity);
  write_u32(memory, hdr::n2r_capacity, c.n2r_capacity);
  write_u32(memory, hdr::total_size, static_cast<uint32_t>(size));
  // SYNC: header-publish (partner: Region::attach's acquire load of magic).
  SharedWord(memory.data() + hdr::magic).store(kMagic, std::memory_order_release);
  return attach(memory, out);
}

Errc Region::attach(std::span<std::byte> memory, Region* out, const char** detail) {
  auto bad = [&](const char* why) {
    if (detail) *detail = why;
    return Errc::invalid_argument;
  };
  if (memory.size() < kHeaderSize) return bad("region smaller than the 2048-byte header");
  if (reinterpret_cast<uintptr_t>(memory.data()) % 8 != 0) return bad("region not 8-aligned");
  // SYNC: header-publish (partner: Region::initialize's release store of magic).
  if (SharedWord(memory.data() + hdr::magic).load(std::memory_order_acquire) != kMagic) {
    return bad("magic is not 0x31434D53 ('SMC1'): not an initialized region");
  }
  if (const uint32_t v = read_u32(memory, hdr::version); v != kVersion) {
    // Names both versions: a region made by another release of the other implementation.
    thread_local char why[128];
    std::snprintf(why, sizeof why,
                  "protocol version is %u, this implementation speaks version %u (both sides "
                  "must come from the same release)",
                  v, kVersion);
    return bad(why);
  }
  if (read_u32(memory, hdr::header_size) != kHeaderSize) return bad("header_size is not 2048");
  if (read_u32(memory, hdr::flags) != 0) return bad("flags is not 0");
  const uint32_t r2n = read_u32(memory, hdr::r2n_capacity);
  const uint32_t n2r = read_u32(memory, hdr::n2r_capacity);
  if (!valid_capacity(r2n)) return bad("r2n_capacity is not a power of two in [4096, 2^30]");
  if (!valid_capacity(n2r)) return bad("n2r_capacity is not a power of two in [4096, 2^30]");
  if (read_u32(memory, hdr::r2n_offset) != kHeaderSize) return bad("r2n_offset is not 2048");
  if (read_u32(memory, hdr::n2r_offset) != kHeaderSize + r2n) {
    return bad("n2r_offset is not 2048 + r2n_capacity");
  }
  const uint64_t total = uint64_t{kHeaderSize} + r2n + n2r;
  if (read_u32(memory, hdr::total_size) != total) return bad("total_size does not add up");
  if (memory.size() < total) return bad("region shorter than total_size");
  out->memory_ = memory.first(static_cast<size_t>(total));
  out->r2n_capacity_ = r2n;
  out->n2r_capacity_ = n2r;
  return Errc::ok;
}

RingWords Region::ring(Dir d) const {
  const uint32_t data_offset = d == Dir::r2n ? kHeaderSize : kHeaderSize + r2n_capacity_;
  return RingWords{word(write_index_offset(d)),       word(read_index_offset(d)),
                   word(consumer_parked_offset(d)),   word(producer_parked_offset(d)),
                   word(consumer_wake_seq_offset(d)), word(producer_wake_seq_offset(d)),
                   memory_.data() + data_offset,      capacity(d)};
}

}  // namespace smc
