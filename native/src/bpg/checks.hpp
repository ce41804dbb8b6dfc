// The validity rules of docs/bpg.md, B1-B7, checked by every decoder in this order, and
// their messages. B1 magic (bad_magic), B2 data length (data_length_too_small), B3 version
// (unsupported_version), B4 packet size (packet_too_large), B5 string length
// (string_length_too_large), B6 tag (invalid_tag), B7 metadata UTF-8 (invalid_metadata_utf8).
// The encoders apply B6 and B7 to what they write. Twin of js/src/bpg/checks.ts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wire.hpp"

namespace smc::bpg::detail {

std::string bad_magic_message(uint32_t magic);                                    // B1
std::string data_length_message(uint32_t data_length);                            // B2
std::string version_message(uint32_t version);                                    // B3
std::string oversize_message(uint64_t total, size_t max);                         // B4
std::string string_length_message(uint32_t string_length, uint32_t data_length);  // B5
Status check_tag(const Tag& tag);                                                 // B6
Status check_metadata(std::string_view metadata);                                 // B7

}  // namespace smc::bpg::detail
