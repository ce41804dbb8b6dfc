// The BPG stream decoder (docs/bpg.md, "Streaming decoder semantics"): chunks in, groups
// and errors out; resync on a bad magic, B1-B7 on every packet (checks.hpp), groups by
// (group id, target id), expiry by the caller's clock.
#include <algorithm>
#include <cstring>

#include "checks.hpp"
#include "wire.hpp"

namespace smc::bpg {

using namespace detail;

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
    // B1 magic
    if (load_be32(hdr) != kMagic) {
      resyncing_ = true;
      resync_start_ = offset_;
      resync_dropped_ = 0;
      continue;
    }
    if (have < kPrefixSize) break;
    const Prefix pre = parse_prefix(hdr);
    // B2 data length
    if (pre.data_length < 4) {
      fail_header(out, ErrorCode::data_length_too_small, data_length_message(pre.data_length));
      continue;
    }
    const uint64_t total = pre.total();
    // B3 version
    if (pre.version() > kVersion) {
      ++stats_.packets_skipped_version;
      skip_ = total;
      continue;
    }
    // B4 packet size
    if (total > opts_.max_packet_size) {
      ++stats_.packets_rejected_oversize;
      out.errors.push_back(
          {ErrorCode::packet_too_large, oversize_message(total, opts_.max_packet_size), offset_});
      skip_ = total;
      continue;
    }
    if (have < kHeaderSize) break;
    const uint32_t string_length = load_be32(hdr + kPrefixSize);
    // B5 string length
    if (string_length > pre.data_length - 4) {
      fail_header(out, ErrorCode::string_length_too_large,
                  string_length_message(string_length, pre.data_length));
      continue;
    }
    // B6 tag
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
    // B7 metadata UTF-8
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
