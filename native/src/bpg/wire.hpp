// BPG wire format, shared by the codec's files (not installed): big-endian words, the
// 22-byte prefix as read, error construction. The files, one job each, named as their
// TypeScript twins in js/src/bpg/:
//   wire.cpp            to_string(ErrorCode), format()
//   checks.hpp/.cpp     the validity rules B1-B7 (docs/bpg.md) and their messages
//   encoder.cpp         encoded_size, encode_into, encode
//   decode_one.cpp      decode_one
//   byte_queue.cpp      the stream decoder's pending bytes
//   stream_decoder.cpp  Decoder
#pragma once

#include <cstdint>
#include <string>

#include "smc/bpg.hpp"

namespace smc::bpg::detail {

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// printf-style so the compiler checks every message's arguments. MinGW's plain `printf`
// archetype is Microsoft's, without %zu; its builds use MinGW's C99 stdio
// (__USE_MINGW_ANSI_STDIO, CMakeLists.txt), checked as gnu_printf.
#if defined(__MINGW32__)
#define SMC_PRINTF_LIKE __attribute__((format(gnu_printf, 1, 2)))
#elif defined(__GNUC__)
#define SMC_PRINTF_LIKE __attribute__((format(printf, 1, 2)))
#else
#define SMC_PRINTF_LIKE
#endif
SMC_PRINTF_LIKE std::string format(const char* fmt, ...);

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

struct Prefix {
  uint32_t magic;
  Tag tag;
  uint32_t prop;
  uint32_t target_id;
  uint32_t group_id;
  uint32_t data_length;

  uint32_t version() const {
    const uint32_t v = (prop >> 8) & 0xFF;
    return v == 0 ? 1 : v;  // version-0 encoders predate the field
  }
  bool end_of_group() const { return (prop & kEndOfGroupBit) != 0; }
  uint64_t total() const { return kPrefixSize + uint64_t{data_length}; }

  // A PacketView or Packet with the fields this prefix carries (metadata and binary empty).
  template <class P>
  P packet() const {
    P p;
    p.tag = tag;
    p.end_of_group = end_of_group();
    p.version = version();
    p.target_id = target_id;
    p.group_id = group_id;
    return p;
  }
};

inline Prefix parse_prefix(const uint8_t* p) {
  return Prefix{load_be32(p),      Tag{static_cast<char>(p[4]), static_cast<char>(p[5])},
                load_be32(p + 6),  load_be32(p + 10),
                load_be32(p + 14), load_be32(p + 18)};
}

}  // namespace smc::bpg::detail
