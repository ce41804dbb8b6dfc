// Status codes of the core and the protocol's failure reasons (docs/protocol.md 7.2).
#pragma once

#include <cstdint>

namespace smc {

// Outcome of an operation. Only `failed` carries a Reason (ask the endpoint for it).
enum class Errc : uint8_t {
  ok = 0,
  would_block,       // no room (sending) or nothing to read (receiving), non-blocking call
  timeout,           // the deadline passed first
  closed,            // this endpoint was closed
  peer_closed,       // the peer closed; nothing more will be read from / written to it
  peer_failed,       // the peer declared itself failed (its reason is in its state word)
  failed,            // a protocol violation was detected (see Reason)
  too_large,         // a message above 2^32-1 bytes, or a reservation above max_payload
  invalid_argument,  // a bad capacity, region, or API misuse
};

// Why an endpoint failed. Numbers are part of the wire protocol: the failing side
// publishes them in bits 8-15 of its state word.
enum class Reason : uint8_t {
  none = 0,
  index_misaligned = 1,
  index_out_of_range = 2,
  index_regressed = 3,
  record_kind_invalid = 4,
  record_length_invalid = 5,
  record_beyond_index = 6,
  record_crosses_end = 7,
  pad_invalid = 8,
  fragment_sequence = 9,
  fragment_length = 10,
  message_too_large = 11,
  peer_state_invalid = 12,
  local_error = 13,
};

const char* to_string(Errc e);
const char* to_string(Reason r);

}  // namespace smc
