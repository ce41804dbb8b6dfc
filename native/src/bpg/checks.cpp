// The validity rules B1-B7 of docs/bpg.md: their messages, and the B6 / B7 checks.
#include "checks.hpp"

namespace smc::bpg::detail {

namespace {

// Matches the WHATWG decoder with fatal: true (what the TypeScript side uses), so both codecs
// accept exactly the same metadata: no overlongs, no surrogates, nothing above U+10FFFF.
// Returns the offset of the first bad byte, or npos.
size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (n - i < len) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

bool tag_byte_ok(uint8_t c) {
  return c >= 0x20 && c <= 0x7E;
}

}  // namespace

std::string bad_magic_message(uint32_t magic) {
  return format("magic 0x%08x is not 0x%08x (\"BPG\\x01\")", magic, kMagic);
}
std::string data_length_message(uint32_t data_length) {
  return format("data length %u is below the minimum 4 (the string length field)", data_length);
}
std::string string_length_message(uint32_t string_length, uint32_t data_length) {
  return format("string length %u exceeds data length %u - 4 = %u", string_length, data_length,
                data_length - 4);
}
std::string oversize_message(uint64_t total, size_t max) {
  return format("packet size %llu exceeds the maximum %llu", static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(max));
}
std::string version_message(uint32_t version) {
  return format("version %u is above the supported version %u", version, kVersion);
}

Status check_tag(const Tag& tag) {
  for (size_t i = 0; i < tag.size(); ++i) {
    const auto c = static_cast<uint8_t>(tag[i]);
    if (!tag_byte_ok(c)) {
      return {make_error(ErrorCode::invalid_tag,
                         format("tag byte %zu is 0x%02x; allowed are printable ASCII 0x20..0x7e", i,
                                static_cast<unsigned>(c)))};
    }
  }
  return {};
}

Status check_metadata(std::string_view metadata) {
  const size_t bad = find_invalid_utf8(metadata);
  if (bad == std::string_view::npos) return {};
  return {make_error(
      ErrorCode::invalid_metadata_utf8,
      format("metadata byte %zu (0x%02x) of %zu is not well-formed UTF-8", bad,
             static_cast<unsigned>(static_cast<uint8_t>(metadata[bad])), metadata.size()))};
}

}  // namespace smc::bpg::detail
