// BPG wire format: error names (shared with the TypeScript codec's BpgErrorCode) and
// message formatting.
#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "wire.hpp"

namespace smc::bpg {

namespace detail {

std::string format(const char* fmt, ...) {
  char buf[256];
  va_list args;
  va_start(args, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return std::string(buf, n < 0 ? 0 : std::min(static_cast<size_t>(n), sizeof buf - 1));
}

}  // namespace detail

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok:
      return "ok";
    case ErrorCode::truncated:
      return "truncated";
    case ErrorCode::bad_magic:
      return "bad_magic";
    case ErrorCode::data_length_too_small:
      return "data_length_too_small";
    case ErrorCode::string_length_too_large:
      return "string_length_too_large";
    case ErrorCode::invalid_tag:
      return "invalid_tag";
    case ErrorCode::invalid_metadata_utf8:
      return "invalid_metadata_utf8";
    case ErrorCode::unsupported_version:
      return "unsupported_version";
    case ErrorCode::packet_too_large:
      return "packet_too_large";
    case ErrorCode::buffer_too_small:
      return "buffer_too_small";
    case ErrorCode::length_overflow:
      return "length_overflow";
  }
  return "unknown";
}

}  // namespace smc::bpg
