// BPG encoding: the size of a packet, and writing it into a span (a region reserved in a
// ring) or a new vector. Everything is checked before anything is written.
#include <cstring>
#include <limits>

#include "checks.hpp"
#include "wire.hpp"

namespace smc::bpg {

using namespace detail;

namespace {

// Everything encode_into and encode check before writing, in the order both report it.
Status validate(const PacketView& p) {
  if (Status s = check_tag(p.tag); !s.ok()) return s;
  // Summed in 64 bits so a huge binary cannot wrap around into a small, "valid" length.
  const uint64_t data_length = 4 + uint64_t{p.metadata.size()} + uint64_t{p.binary.size()};
  if (data_length > std::numeric_limits<uint32_t>::max()) {
    return {make_error(
        ErrorCode::length_overflow,
        format("4 + metadata %zu + binary %zu bytes exceeds the 32-bit data length limit %u",
               p.metadata.size(), p.binary.size(), std::numeric_limits<uint32_t>::max()))};
  }
  return check_metadata(p.metadata);
}

// Writes a validated packet at d, which has room for encoded_size(p) bytes.
void write_packet(const PacketView& p, uint8_t* d) {
  store_be32(d, kMagic);
  d[4] = static_cast<uint8_t>(p.tag[0]);
  d[5] = static_cast<uint8_t>(p.tag[1]);
  store_be32(d + 6, (kVersion << 8) | (p.end_of_group ? kEndOfGroupBit : 0u));
  store_be32(d + 10, p.target_id);
  store_be32(d + 14, p.group_id);
  store_be32(d + 18, static_cast<uint32_t>(4 + p.metadata.size() + p.binary.size()));
  store_be32(d + 22, static_cast<uint32_t>(p.metadata.size()));
  // memcpy from an empty view may have a null source, which is UB even for length 0.
  if (!p.metadata.empty()) std::memcpy(d + kHeaderSize, p.metadata.data(), p.metadata.size());
  // A binary already in place (written straight into a reserved region) is not copied.
  uint8_t* binary_at = d + kHeaderSize + p.metadata.size();
  if (!p.binary.empty() && p.binary.data() != binary_at) {
    std::memcpy(binary_at, p.binary.data(), p.binary.size());
  }
}

}  // namespace

size_t encoded_size(const PacketView& p) noexcept {
  return kHeaderSize + p.metadata.size() + p.binary.size();
}

Result<size_t> encode_into(const PacketView& p, std::span<uint8_t> out) {
  if (Status s = validate(p); !s.ok()) return s.error;
  const size_t size = encoded_size(p);
  if (out.size() < size) {
    return make_error(
        ErrorCode::buffer_too_small,
        format("target of %zu bytes is too small for a %zu-byte packet", out.size(), size));
  }
  write_packet(p, out.data());
  return size;
}

Result<std::vector<uint8_t>> encode(const PacketView& p) {
  // Validate before allocating: an overflowing size must not turn into a huge allocation.
  if (Status s = validate(p); !s.ok()) return s.error;
  std::vector<uint8_t> bytes(encoded_size(p));
  write_packet(p, bytes.data());
  return bytes;
}

}  // namespace smc::bpg
