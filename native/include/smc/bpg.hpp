// BPG: the framed packet codec carried over the channel (docs/bpg.md).
//
// Byte-compatible with js/src/bpg.ts; both are checked against test-vectors/bpg.json. The
// implementation: native/src/bpg/ (one file per job, named as the TypeScript modules).
// Malformed input never throws: every entry point reports a Status / Result.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace smc::bpg {

inline constexpr uint32_t kMagic = 0x42504701;  // "BPG" 0x01
inline constexpr size_t kPrefixSize = 22;       // magic .. data length
inline constexpr size_t kHeaderSize = 26;       // prefix + string length
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kEndOfGroupBit = 1u;
inline constexpr size_t kDefaultMaxPacketSize = size_t{64} << 20;
inline constexpr uint64_t kDefaultGroupTimeoutMs = 30'000;

// Names are shared with the TypeScript codec (BpgErrorCode), so logs from both sides match.
enum class ErrorCode : uint8_t {
  ok = 0,
  truncated,                // decode_one: the input ends before the packet does
  bad_magic,                // the bytes do not start with kMagic (stream: bytes were dropped)
  data_length_too_small,    // data length < 4
  string_length_too_large,  // string length > data length - 4
  invalid_tag,              // a tag byte outside printable ASCII 0x20..0x7E
  invalid_metadata_utf8,    // the metadata string is not well-formed UTF-8
  unsupported_version,      // decode_one: version > 1 (the stream decoder skips these silently)
  packet_too_large,         // total packet size above the configured maximum
  buffer_too_small,         // encode_into: the target span cannot hold the packet
  length_overflow,          // encode: 4 + metadata + binary does not fit in 32 bits
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::ok;
  std::string message;
};

// Status of an operation without a value; ok() when code == ErrorCode::ok.
struct Status {
  Error error;
  bool ok() const { return error.code == ErrorCode::ok; }
  ErrorCode code() const { return error.code; }
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // Precondition: ok().
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  // ErrorCode::ok when the result holds a value.
  ErrorCode code() const { return ok() ? ErrorCode::ok : std::get<1>(v_).code; }
  // Precondition: !ok().
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

using Tag = std::array<char, 2>;
inline constexpr Tag kTagText{'T', 'X'};
inline constexpr Tag kTagImage{'I', 'M'};
inline constexpr Tag kTagAck{'A', 'K'};
inline constexpr Tag kTagError{'E', 'R'};

// A non-owning packet: what the encoders read and what decode_one returns (pointing into
// the input, so nothing is copied).
struct PacketView {
  Tag tag = kTagText;
  bool end_of_group = true;
  uint32_t version = kVersion;  // decoders report 0 as 1; encoders always write kVersion
  uint32_t target_id = 0;
  uint32_t group_id = 0;
  std::string_view metadata;
  std::span<const uint8_t> binary;
};

// An owning packet, as delivered by the streaming Decoder.
struct Packet {
  Tag tag = kTagText;
  bool end_of_group = true;
  uint32_t version = kVersion;
  uint32_t target_id = 0;
  uint32_t group_id = 0;
  std::string metadata;
  std::vector<uint8_t> binary;

  PacketView view() const {
    return {tag, end_of_group, version, target_id, group_id, metadata, binary};
  }
};

// ---- encoding ---------------------------------------------------------------------------

// Bytes encode_into() writes: kHeaderSize + metadata + binary. Does not validate.
size_t encoded_size(const PacketView& p) noexcept;

// Writes the packet at the start of `out`; returns the number of bytes written. Nothing is
// written unless the packet is valid and fits, so a reserved ring region is never half-filled.
// In-place payloads: when p.binary already starts at out.data() + kHeaderSize +
// p.metadata.size() (the payload was written straight into the target), it is not copied;
// only the header and metadata are written around it.
Result<size_t> encode_into(const PacketView& p, std::span<uint8_t> out);

Result<std::vector<uint8_t>> encode(const PacketView& p);

// ---- one-shot decoding ------------------------------------------------------------------

struct Decoded {
  PacketView packet;  // views into the decoded input
  size_t size = 0;    // bytes the packet occupies at the start of the input
};

// Decodes the packet at the start of `in` (trailing bytes are left alone; see Decoded::size).
// On ErrorCode::truncated, `needed_size` (when known from the prefix) tells the caller how many
// bytes to wait for; on unsupported_version it is the size to skip.
struct DecodeOneOptions {
  size_t max_packet_size = kDefaultMaxPacketSize;
};
Result<Decoded> decode_one(std::span<const uint8_t> in, DecodeOneOptions opts = {},
                           size_t* needed_size = nullptr);

// ---- streaming decoding -----------------------------------------------------------------

struct DecoderOptions {
  size_t max_packet_size = kDefaultMaxPacketSize;      // total bytes, header included
  uint64_t group_timeout_ms = kDefaultGroupTimeoutMs;  // idle time before expire() drops a group
};

// The packets sharing one (group id, target id), in arrival order; the last one carries the
// end-of-group bit.
struct Group {
  uint32_t group_id = 0;
  uint32_t target_id = 0;
  std::vector<Packet> packets;
};

struct StreamError {
  ErrorCode code = ErrorCode::ok;
  std::string message;
  uint64_t offset = 0;  // stream offset where the offending bytes start
};

struct ExpiredGroup {
  uint32_t group_id = 0;
  uint32_t target_id = 0;
  size_t packet_count = 0;
  uint64_t last_activity_ms = 0;
};

struct DecoderStats {
  uint64_t bytes_in = 0;
  uint64_t packets_decoded = 0;
  uint64_t groups_completed = 0;
  uint64_t groups_expired = 0;
  uint64_t bytes_dropped = 0;            // skipped while looking for a magic
  uint64_t packets_skipped_version = 0;  // version > 1
  uint64_t packets_rejected_oversize = 0;
  uint64_t packets_malformed = 0;
};

struct DecodeOutput {
  std::vector<Group> groups;  // completed groups, in completion order
  std::vector<StreamError> errors;
};

// Streaming decoder. Chunks may be arbitrary slices of the byte stream and are only borrowed
// during push(): bytes that are still needed afterwards are copied. Work is O(bytes pushed):
// a packet is assembled once, when all its bytes are present, and packets above
// max_packet_size or with an unknown version are skipped without being buffered.
class Decoder {
 public:
  explicit Decoder(DecoderOptions opts = {});

  // `now_ms` (caller's clock) stamps the groups that receive packets, for expire().
  DecodeOutput push(std::span<const uint8_t> chunk, uint64_t now_ms);

  // Drops and returns incomplete groups idle for at least group_timeout_ms, oldest first.
  std::vector<ExpiredGroup> expire(uint64_t now_ms);

  const DecoderStats& stats() const { return stats_; }
  size_t buffered_bytes() const { return queue_.size(); }
  size_t pending_groups() const { return groups_.size(); }

 private:
  // Pending bytes: owned chunks followed by the chunk being pushed (borrowed until retain()).
  class ByteQueue {
   public:
    size_t size() const { return size_; }
    void borrow(std::span<const uint8_t> chunk);
    void retain();  // copies the unconsumed part of the borrowed chunk
    void copy_out(size_t offset, std::span<uint8_t> dst) const;
    void consume(size_t n);
    std::span<const uint8_t> front() const;  // the first contiguous run

   private:
    std::deque<std::vector<uint8_t>> owned_;
    size_t head_ = 0;  // consumed bytes of owned_.front()
    std::span<const uint8_t> borrowed_;
    size_t size_ = 0;
  };

  struct PendingGroup {
    std::vector<Packet> packets;
    uint64_t last_activity_ms = 0;
    uint64_t sequence = 0;  // orders expiry reports by arrival
  };

  bool resync(DecodeOutput& out);
  void consume(size_t n);
  void fail_header(DecodeOutput& out, ErrorCode code, std::string message);
  void deliver(Packet&& packet, uint64_t now_ms, DecodeOutput& out);

  DecoderOptions opts_;
  ByteQueue queue_;
  DecoderStats stats_;
  uint64_t offset_ = 0;  // stream offset of queue_'s first byte
  uint64_t skip_ = 0;    // bytes of a rejected packet still to discard
  bool resyncing_ = false;
  uint64_t resync_start_ = 0;
  uint64_t resync_dropped_ = 0;
  uint64_t group_sequence_ = 0;
  std::unordered_map<uint64_t, PendingGroup> groups_;
};

}  // namespace smc::bpg
