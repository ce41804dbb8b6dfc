// BPG one-shot decoding: the packet at the start of a buffer, checked B1-B7 in order
// (checks.hpp), its metadata and binary views into the input.
#include <algorithm>
#include <cstring>

#include "checks.hpp"
#include "wire.hpp"

namespace smc::bpg {

using namespace detail;

Result<Decoded> decode_one(std::span<const uint8_t> in, DecodeOneOptions opts,
                           size_t* needed_size) {
  if (needed_size) *needed_size = kPrefixSize;
  if (in.size() < kPrefixSize) {
    // A wrong magic is reported as soon as it is visible rather than as "truncated".
    uint8_t magic[4];
    store_be32(magic, kMagic);
    for (size_t i = 0; i < std::min<size_t>(in.size(), 4); ++i) {
      if (in[i] != magic[i]) {
        uint8_t got[4] = {};
        std::memcpy(got, in.data(), std::min<size_t>(in.size(), 4));
        return make_error(ErrorCode::bad_magic, bad_magic_message(load_be32(got)));
      }
    }
    return make_error(ErrorCode::truncated, format("%zu bytes are fewer than the %zu-byte prefix",
                                                   in.size(), kPrefixSize));
  }
  const Prefix pre = parse_prefix(in.data());
  // B1 magic
  if (pre.magic != kMagic) return make_error(ErrorCode::bad_magic, bad_magic_message(pre.magic));
  // B2 data length
  if (pre.data_length < 4) {
    return make_error(ErrorCode::data_length_too_small, data_length_message(pre.data_length));
  }
  const uint64_t total = pre.total();
  if (needed_size) *needed_size = static_cast<size_t>(std::min<uint64_t>(total, SIZE_MAX));
  // B3 version
  if (pre.version() > kVersion) {
    return make_error(ErrorCode::unsupported_version, version_message(pre.version()));
  }
  // B4 packet size
  if (total > opts.max_packet_size) {
    return make_error(ErrorCode::packet_too_large, oversize_message(total, opts.max_packet_size));
  }
  if (in.size() < kHeaderSize) {
    return make_error(ErrorCode::truncated, format("%zu bytes are fewer than the %zu-byte header",
                                                   in.size(), kHeaderSize));
  }
  const uint32_t string_length = load_be32(in.data() + kPrefixSize);
  // B5 string length
  if (string_length > pre.data_length - 4) {
    return make_error(ErrorCode::string_length_too_large,
                      string_length_message(string_length, pre.data_length));
  }
  // B6 tag
  if (Status s = check_tag(pre.tag); !s.ok()) return s.error;
  if (in.size() < total) {
    return make_error(ErrorCode::truncated,
                      format("%zu bytes are fewer than the packet size %llu", in.size(),
                             static_cast<unsigned long long>(total)));
  }
  Decoded d;
  d.size = static_cast<size_t>(total);
  d.packet = pre.packet<PacketView>();
  d.packet.metadata =
      std::string_view(reinterpret_cast<const char*>(in.data() + kHeaderSize), string_length);
  d.packet.binary = in.subspan(kHeaderSize + string_length, d.size - kHeaderSize - string_length);
  // B7 metadata UTF-8
  if (Status s = check_metadata(d.packet.metadata); !s.ok()) return s.error;
  return d;
}

}  // namespace smc::bpg
