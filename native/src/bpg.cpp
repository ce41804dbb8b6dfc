#include "smc/bpg.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>

namespace smc::bpg {
namespace {

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t v) {
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
SMC_PRINTF_LIKE std::string format(const char* fmt, ...) {
  char buf[256];
  va_list args;
  va_start(args, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return std::string(buf, n < 0 ? 0 : std::min(static_cast<size_t>(n), sizeof buf - 1));
}

Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

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

Prefix parse_prefix(const uint8_t* p) {
  return Prefix{load_be32(p),      Tag{static_cast<char>(p[4]), static_cast<char>(p[5])},
                load_be32(p + 6),  load_be32(p + 10),
                load_be32(p + 14), load_be32(p + 18)};
}

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

// ---- encoding ---------------------------------------------------------------------------

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

// ---- one-shot decoding ------------------------------------------------------------------

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
  if (pre.magic != kMagic) return make_error(ErrorCode::bad_magic, bad_magic_message(pre.magic));
  if (pre.data_length < 4) {
    return make_error(ErrorCode::data_length_too_small, data_length_message(pre.data_length));
  }
  const uint64_t total = pre.total();
  if (needed_size) *needed_size = static_cast<size_t>(std::min<uint64_t>(total, SIZE_MAX));
  if (pre.version() > kVersion) {
    return make_error(ErrorCode::unsupported_version, version_message(pre.version()));
  }
  if (total > opts.max_packet_size) {
    return make_error(ErrorCode::packet_too_large, oversize_message(total, opts.max_packet_size));
  }
  if (in.size() < kHeaderSize) {
    return make_error(ErrorCode::truncated, format("%zu bytes are fewer than the %zu-byte header",
                                                   in.size(), kHeaderSize));
  }
  const uint32_t string_length = load_be32(in.data() + kPrefixSize);
  if (string_length > pre.data_length - 4) {
    return make_error(ErrorCode::string_length_too_large,
                      string_length_message(string_length, pre.data_length));
  }
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
  if (Status s = check_metadata(d.packet.metadata); !s.ok()) return s.error;
  return d;
}

// ---- streaming decoding: byte queue -----------------------------------------------------

void Decoder::ByteQueue::borrow(std::span<const uint8_t> chunk) {
  borrowed_ = chunk;
  size_ += chunk.size();
}

void Decoder::ByteQueue::retain() {
  if (borrowed_.empty()) return;
  // Tiny chunks are coalesced so a byte-at-a-time stream does not cost a node per byte.
  constexpr size_t kCoalesceBelow = 4096;
  if (!owned_.empty() && owned_.back().size() < kCoalesceBelow) {
    owned_.back().insert(owned_.back().end(), borrowed_.begin(), borrowed_.end());
  } else {
    owned_.emplace_back(borrowed_.begin(), borrowed_.end());
  }
  borrowed_ = {};
}

void Decoder::ByteQueue::copy_out(size_t offset, std::span<uint8_t> dst) const {
  size_t done = 0;
  auto take = [&](const uint8_t* data, size_t size) {
    if (offset >= size) {
      offset -= size;
      return;
    }
    const size_t n = std::min(size - offset, dst.size() - done);
    std::memcpy(dst.data() + done, data + offset, n);
    done += n;
    offset = 0;
  };
  for (size_t i = 0; i < owned_.size() && done < dst.size(); ++i) {
    const size_t start = i == 0 ? head_ : 0;
    take(owned_[i].data() + start, owned_[i].size() - start);
  }
  if (done < dst.size()) take(borrowed_.data(), borrowed_.size());
}

void Decoder::ByteQueue::consume(size_t n) {
  size_ -= n;
  while (n > 0 && !owned_.empty()) {
    const size_t avail = owned_.front().size() - head_;
    if (n < avail) {
      head_ += n;
      return;
    }
    n -= avail;
    owned_.pop_front();
    head_ = 0;
  }
  if (n > 0) borrowed_ = borrowed_.subspan(n);
}

std::span<const uint8_t> Decoder::ByteQueue::front() const {
  if (!owned_.empty()) {
    return std::span<const uint8_t>(owned_.front()).subspan(head_);
  }
  return borrowed_;
}

// ---- streaming decoding -----------------------------------------------------------------

Decoder::Decoder(DecoderOptions opts) : opts_(opts) {}

void Decoder::consume(size_t n) {
  queue_.consume(n);
  offset_ += n;
}

void Decoder::fail_header(DecodeOutput& out, ErrorCode code, std::string message) {
  ++stats_.packets_malformed;
  out.errors.push_back({code, std::move(message), offset_});
  // No length in a malformed header can be trusted, so the next packet is found by its magic.
  resyncing_ = true;
  resync_start_ = offset_;
  resync_dropped_ = 1;
  ++stats_.bytes_dropped;
  consume(1);
}

bool Decoder::resync(DecodeOutput& out) {
  while (queue_.size() >= 4) {
    uint8_t m[4];
    queue_.copy_out(0, m);
    if (load_be32(m) == kMagic) {
      out.errors.push_back({ErrorCode::bad_magic,
                            format("dropped %llu bytes before the next magic 0x%08x",
                                   static_cast<unsigned long long>(resync_dropped_), kMagic),
                            resync_start_});
      resyncing_ = false;
      return true;
    }
    // Jump to the next candidate first byte within the contiguous run instead of testing
    // every offset with a cross-chunk copy.
    const auto f = queue_.front();
    const void* hit =
        f.size() > 1 ? std::memchr(f.data() + 1, kMagic >> 24, f.size() - 1) : nullptr;
    const size_t n =
        hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - f.data()) : f.size();
    consume(n);
    stats_.bytes_dropped += n;
    resync_dropped_ += n;
  }
  return false;
}

void Decoder::deliver(Packet&& packet, uint64_t now_ms, DecodeOutput& out) {
  ++stats_.packets_decoded;
  const uint64_t key = (uint64_t{packet.group_id} << 32) | packet.target_id;
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (packet.end_of_group) {
      ++stats_.groups_completed;
      Group g{packet.group_id, packet.target_id, {}};
      g.packets.push_back(std::move(packet));
      out.groups.push_back(std::move(g));
      return;
    }
    it = groups_.emplace(key, PendingGroup{{}, now_ms, group_sequence_++}).first;
  }
  PendingGroup& pending = it->second;
  pending.last_activity_ms = now_ms;
  const bool complete = packet.end_of_group;
  pending.packets.push_back(std::move(packet));
  if (!complete) return;
  ++stats_.groups_completed;
  out.groups.push_back(
      {static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key), std::move(pending.packets)});
  groups_.erase(it);
}

DecodeOutput Decoder::push(std::span<const uint8_t> chunk, uint64_t now_ms) {
  DecodeOutput out;
  stats_.bytes_in += chunk.size();
  queue_.borrow(chunk);
  for (;;) {
    if (skip_ > 0) {
      // Consumed straight from the borrowed chunk, so a rejected packet is never buffered.
      const size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, queue_.size()));
      consume(n);
      skip_ -= n;
      if (skip_ > 0) break;
    }
    if (resyncing_ && !resync(out)) break;
    if (queue_.size() < 4) break;

    uint8_t hdr[kHeaderSize];
    const size_t have = std::min(queue_.size(), kHeaderSize);
    queue_.copy_out(0, std::span<uint8_t>(hdr, have));
    if (load_be32(hdr) != kMagic) {
      resyncing_ = true;
      resync_start_ = offset_;
      resync_dropped_ = 0;
      continue;
    }
    if (have < kPrefixSize) break;
    const Prefix pre = parse_prefix(hdr);
    if (pre.data_length < 4) {
      fail_header(out, ErrorCode::data_length_too_small, data_length_message(pre.data_length));
      continue;
    }
    const uint64_t total = pre.total();
    if (pre.version() > kVersion) {
      ++stats_.packets_skipped_version;
      skip_ = total;
      continue;
    }
    if (total > opts_.max_packet_size) {
      ++stats_.packets_rejected_oversize;
      out.errors.push_back(
          {ErrorCode::packet_too_large, oversize_message(total, opts_.max_packet_size), offset_});
      skip_ = total;
      continue;
    }
    if (have < kHeaderSize) break;
    const uint32_t string_length = load_be32(hdr + kPrefixSize);
    if (string_length > pre.data_length - 4) {
      fail_header(out, ErrorCode::string_length_too_large,
                  string_length_message(string_length, pre.data_length));
      continue;
    }
    if (Status s = check_tag(pre.tag); !s.ok()) {
      // The framing is intact, so only this packet is lost.
      ++stats_.packets_malformed;
      out.errors.push_back({s.error.code, std::move(s.error.message), offset_});
      skip_ = total;
      continue;
    }
    if (queue_.size() < total) break;

    Packet p = pre.packet<Packet>();
    p.metadata.resize(string_length);
    queue_.copy_out(kHeaderSize, std::span<uint8_t>(reinterpret_cast<uint8_t*>(p.metadata.data()),
                                                    string_length));
    p.binary.resize(static_cast<size_t>(total) - kHeaderSize - string_length);
    queue_.copy_out(kHeaderSize + string_length, p.binary);
    const uint64_t packet_offset = offset_;
    consume(static_cast<size_t>(total));
    if (Status s = check_metadata(p.metadata); !s.ok()) {
      ++stats_.packets_malformed;
      out.errors.push_back({s.error.code, std::move(s.error.message), packet_offset});
      continue;
    }
    deliver(std::move(p), now_ms, out);
  }
  queue_.retain();
  return out;
}

std::vector<ExpiredGroup> Decoder::expire(uint64_t now_ms) {
  std::vector<std::pair<uint64_t, ExpiredGroup>> expired;
  for (auto it = groups_.begin(); it != groups_.end();) {
    const PendingGroup& g = it->second;
    if (now_ms >= g.last_activity_ms && now_ms - g.last_activity_ms >= opts_.group_timeout_ms) {
      expired.push_back({g.sequence,
                         {static_cast<uint32_t>(it->first >> 32), static_cast<uint32_t>(it->first),
                          g.packets.size(), g.last_activity_ms}});
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(expired.begin(), expired.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  stats_.groups_expired += expired.size();
  std::vector<ExpiredGroup> result;
  result.reserve(expired.size());
  for (auto& e : expired) result.push_back(e.second);
  return result;
}

}  // namespace smc::bpg
