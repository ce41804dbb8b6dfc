#include "smc/errors.hpp"

namespace smc {

const char* to_string(Errc e) {
  switch (e) {
    case Errc::ok:
      return "ok";
    case Errc::would_block:
      return "would_block";
    case Errc::timeout:
      return "timeout";
    case Errc::closed:
      return "closed";
    case Errc::peer_closed:
      return "peer_closed";
    case Errc::peer_failed:
      return "peer_failed";
    case Errc::failed:
      return "failed";
    case Errc::too_large:
      return "too_large";
    case Errc::invalid_argument:
      return "invalid_argument";
  }
  return "unknown";
}

const char* to_string(Reason r) {
  switch (r) {
    case Reason::none:
      return "none";
    case Reason::index_misaligned:
      return "index_misaligned";
    case Reason::index_out_of_range:
      return "index_out_of_range";
    case Reason::index_regressed:
      return "index_regressed";
    case Reason::record_kind_invalid:
      return "record_kind_invalid";
    case Reason::record_length_invalid:
      return "record_length_invalid";
    case Reason::record_beyond_index:
      return "record_beyond_index";
    case Reason::record_crosses_end:
      return "record_crosses_end";
    case Reason::pad_invalid:
      return "pad_invalid";
    case Reason::fragment_sequence:
      return "fragment_sequence";
    case Reason::fragment_length:
      return "fragment_length";
    case Reason::message_too_large:
      return "message_too_large";
    case Reason::peer_state_invalid:
      return "peer_state_invalid";
    case Reason::local_error:
      return "local_error";
  }
  return "unknown";
}

}  // namespace smc
