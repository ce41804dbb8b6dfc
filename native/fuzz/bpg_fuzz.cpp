// Feeds arbitrary bytes to the BPG decoders. The first bytes choose the options and the chunk
// sizes, so the fuzzer can explore split points and limits as well as packet contents.
#include "smc/bpg.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

using namespace smc::bpg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t split_seed = data[0];
  const uint8_t option_bits = data[1];
  std::span<const uint8_t> in(data + 2, size - 2);

  // One-shot decoding must agree with the input's bounds and re-encode to the same bytes.
  if (auto r = decode_one(in); r.ok()) {
    const Decoded& d = r.value();
    if (d.size > in.size()) __builtin_trap();
    auto again = encode(d.packet);
    // Only the version byte (0 read as 1) and reserved prop bits (bytes 6..9 except the
    // end-of-group bit) may differ.
    if (!again.ok() || again.value().size() != d.size) __builtin_trap();
    const uint8_t* out = again.value().data();
    if (std::memcmp(out, in.data(), 6) != 0) __builtin_trap();  // magic and tag
    if ((out[9] & kEndOfGroupBit) != (in[9] & kEndOfGroupBit)) __builtin_trap();
    if (std::memcmp(out + 10, in.data() + 10, d.size - 10) != 0) __builtin_trap();
  }

  DecoderOptions opts;
  // Small limits make the oversize path reachable with short inputs.
  opts.max_packet_size = (option_bits & 1) ? 64 + (option_bits >> 1) : kDefaultMaxPacketSize;
  opts.group_timeout_ms = option_bits & 0x0F;
  Decoder decoder(opts);

  uint64_t now = 0;
  size_t pos = 0;
  uint32_t state = split_seed * 2654435761u + 1;
  while (pos < in.size()) {
    state = state * 1103515245u + 12345u;
    const size_t len = std::min<size_t>(in.size() - pos, (state >> 16) % 97);
    DecodeOutput out = decoder.push(in.subspan(pos, len), now);
    for (const Group& g : out.groups) {
      if (g.packets.empty() || !g.packets.back().end_of_group) __builtin_trap();
    }
    pos += len;
    now += state & 7;
    if ((state & 0x30) == 0) decoder.expire(now);
  }
  decoder.expire(now + 1000);
  if (decoder.pending_groups() != 0) __builtin_trap();
  return 0;
}
