#include "smc/bpg.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef SMC_SOURCE_DIR
#error "SMC_SOURCE_DIR must name the repository root"
#endif

namespace {

using namespace smc::bpg;
using Bytes = std::vector<uint8_t>;

// ---- a JSON reader just big enough for test-vectors/bpg.json ----------------------------

struct Vector {
  std::string name, tag, metadata, binary_hex, hex;
  bool end_of_group = false;
  uint64_t version = 0, target_id = 0, group_id = 0;
};

class JsonReader {
 public:
  explicit JsonReader(std::string text) : s_(std::move(text)) {}

  std::vector<Vector> vectors() {
    std::vector<Vector> out;
    expect('[');
    if (peek() == ']') return out;
    for (;;) {
      out.push_back(object());
      if (peek() == ']') break;
      expect(',');
    }
    return out;
  }

 private:
  Vector object() {
    Vector v;
    expect('{');
    for (;;) {
      const std::string key = string();
      expect(':');
      if (key == "name")
        v.name = string();
      else if (key == "tag")
        v.tag = string();
      else if (key == "metadata")
        v.metadata = string();
      else if (key == "binaryHex")
        v.binary_hex = string();
      else if (key == "hex")
        v.hex = string();
      else if (key == "endOfGroup")
        v.end_of_group = boolean();
      else if (key == "version")
        v.version = number();
      else if (key == "targetId")
        v.target_id = number();
      else if (key == "groupId")
        v.group_id = number();
      else
        ADD_FAILURE() << "unknown key " << key;
      if (peek() == '}') break;
      expect(',');
    }
    expect('}');
    return v;
  }

  char peek() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  void expect(char c) {
    ASSERT_EQ(peek(), c) << "at offset " << i_;
    ++i_;
  }
  bool boolean() {
    peek();
    if (s_.compare(i_, 4, "true") == 0) {
      i_ += 4;
      return true;
    }
    EXPECT_EQ(s_.compare(i_, 5, "false"), 0);
    i_ += 5;
    return false;
  }
  uint64_t number() {
    peek();
    uint64_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
    }
    return v;
  }
  uint32_t hex4() {
    const uint32_t v = static_cast<uint32_t>(std::stoul(s_.substr(i_, 4), nullptr, 16));
    i_ += 4;
    return v;
  }
  void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    std::string out;
    expect('"');
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      c = s_[i_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(i_, 2, "\\u") == 0) {
            i_ += 2;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          out += c;
      }
    }
    ++i_;
    return out;
  }

  std::string s_;
  size_t i_ = 0;
};

std::vector<Vector> load_vectors() {
  std::ifstream f(std::string(SMC_SOURCE_DIR) + "/test-vectors/bpg.json", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return JsonReader(ss.str()).vectors();
}

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes must_encode(const PacketView& p) {
  auto r = encode(p);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Bytes{};
}

Bytes make(Tag tag, bool eog, uint32_t target, uint32_t group, std::string_view meta,
           const Bytes& bin = {}) {
  return must_encode(PacketView{tag, eog, kVersion, target, group, meta, bin});
}

void put_be32(Bytes& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 24);
  b[at + 1] = static_cast<uint8_t>(v >> 16);
  b[at + 2] = static_cast<uint8_t>(v >> 8);
  b[at + 3] = static_cast<uint8_t>(v);
}

// Pushes `stream` in the given chunks through a scratch buffer that is overwritten right after
// each push, proving the decoder keeps copies instead of pointers into caller memory.
struct Collected {
  std::vector<Group> groups;
  std::vector<StreamError> errors;
};
void push_transient(Decoder& d, std::span<const uint8_t> bytes, uint64_t now, Collected& c) {
  Bytes scratch(bytes.begin(), bytes.end());
  DecodeOutput out = d.push(scratch, now);
  std::fill(scratch.begin(), scratch.end(), 0xEE);
  for (auto& g : out.groups) c.groups.push_back(std::move(g));
  for (auto& e : out.errors) c.errors.push_back(std::move(e));
}
Collected push_all(Decoder& d, const Bytes& stream, const std::vector<size_t>& cuts = {},
                   uint64_t now = 0) {
  Collected c;
  size_t prev = 0;
  for (size_t cut : cuts) {
    push_transient(d, std::span(stream).subspan(prev, cut - prev), now, c);
    prev = cut;
  }
  push_transient(d, std::span(stream).subspan(prev), now, c);
  return c;
}

bool same_packet(const Packet& a, const Packet& b) {
  return a.tag == b.tag && a.end_of_group == b.end_of_group && a.version == b.version &&
         a.target_id == b.target_id && a.group_id == b.group_id && a.metadata == b.metadata &&
         a.binary == b.binary;
}

// ---- shared vectors ---------------------------------------------------------------------

TEST(BpgVectors, FileHasTheRequiredCases) {
  const auto vs = load_vectors();
  ASSERT_GE(vs.size(), 8u);
  bool empty_meta = false, empty_bin = false, max_ids = false, zero_ids = false, eog = false,
       not_eog = false, bom = false, magic_in_binary = false, big_binary = false,
       two_packet_group = false;
  bool utf8_width[5] = {};                             // seen a character of 1..4 UTF-8 bytes
  std::map<std::pair<uint64_t, uint64_t>, bool> open;  // (group, target) with a packet pending
  for (const auto& v : vs) {
    auto& pending = open[{v.group_id, v.target_id}];
    two_packet_group |= v.end_of_group && pending;
    pending = !v.end_of_group;
    empty_meta |= v.metadata.empty();
    empty_bin |= v.binary_hex.empty();
    for (unsigned char c : v.metadata) {  // lead bytes tell the width; skip continuations
      if (c < 0x80 || c >= 0xC0) utf8_width[c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4] = true;
    }
    max_ids |= (v.target_id == 0xFFFFFFFFu && v.group_id == 0xFFFFFFFFu);
    zero_ids |= (v.target_id == 0 && v.group_id == 0);
    eog |= v.end_of_group;
    not_eog |= !v.end_of_group;
    bom |= v.metadata.starts_with("\xEF\xBB\xBF");
    magic_in_binary |= v.binary_hex.find("42504701") != std::string::npos;
    big_binary |= v.binary_hex.size() / 2 >= 300;
  }
  EXPECT_TRUE(empty_meta && empty_bin && max_ids && zero_ids && eog && not_eog);
  EXPECT_TRUE(utf8_width[1] && utf8_width[2] && utf8_width[3] && utf8_width[4]);
  EXPECT_TRUE(bom && magic_in_binary && big_binary && two_packet_group);
}

TEST(BpgVectors, DecodeToFieldsAndEncodeToExactBytes) {
  for (const auto& v : load_vectors()) {
    SCOPED_TRACE(v.name);
    const Bytes wire = from_hex(v.hex);
    const Bytes binary = from_hex(v.binary_hex);
    auto r = decode_one(wire);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const PacketView& p = r.value().packet;
    EXPECT_EQ(r.value().size, wire.size());
    ASSERT_EQ(v.tag.size(), 2u);
    EXPECT_EQ(p.tag, (Tag{v.tag[0], v.tag[1]}));
    EXPECT_EQ(p.end_of_group, v.end_of_group);
    EXPECT_EQ(p.version, v.version);
    EXPECT_EQ(p.target_id, v.target_id);
    EXPECT_EQ(p.group_id, v.group_id);
    EXPECT_EQ(p.metadata, v.metadata);
    EXPECT_EQ(Bytes(p.binary.begin(), p.binary.end()), binary);

    const PacketView in{Tag{v.tag[0], v.tag[1]},
                        v.end_of_group,
                        kVersion,
                        static_cast<uint32_t>(v.target_id),
                        static_cast<uint32_t>(v.group_id),
                        v.metadata,
                        binary};
    EXPECT_EQ(encoded_size(in), wire.size());
    EXPECT_EQ(must_encode(in), wire);
  }
}

TEST(BpgVectors, StreamOfAllVectorsInOneChunk) {
  const auto vs = load_vectors();
  Bytes stream;
  for (const auto& v : vs) {
    const Bytes b = from_hex(v.hex);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  Decoder d;
  Collected c = push_all(d, stream);
  EXPECT_TRUE(c.errors.empty());
  // Reconstruct what the groups must be: packets keyed by (group, target), closed by eog.
  std::vector<std::vector<std::string>> expected;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::string>> open;
  for (const auto& v : vs) {
    auto& g = open[{v.group_id, v.target_id}];
    g.push_back(v.name);
    if (v.end_of_group) {
      expected.push_back(std::move(g));
      open.erase({v.group_id, v.target_id});
    }
  }
  ASSERT_EQ(c.groups.size(), expected.size());
  EXPECT_EQ(d.pending_groups(), open.size());
  size_t vi = 0;
  std::map<std::string, const Vector*> by_name;
  for (const auto& v : vs) by_name[v.name] = &v;
  for (size_t gi = 0; gi < expected.size(); ++gi) {
    ASSERT_EQ(c.groups[gi].packets.size(), expected[gi].size());
    for (size_t pi = 0; pi < expected[gi].size(); ++pi, ++vi) {
      const Vector& v = *by_name[expected[gi][pi]];
      EXPECT_EQ(c.groups[gi].packets[pi].metadata, v.metadata) << v.name;
      EXPECT_EQ(c.groups[gi].packets[pi].binary, from_hex(v.binary_hex)) << v.name;
    }
  }
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

// ---- encoding ---------------------------------------------------------------------------

TEST(BpgEncode, IntoReservedRegionWritesOnlyThePacket) {
  const Bytes bin{1, 2, 3};
  const PacketView p{kTagImage, false, kVersion, 5, 6, "{}", bin};
  Bytes region(encoded_size(p) + 8, 0xAA);
  auto r = encode_into(p, std::span(region).subspan(4, encoded_size(p)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), encoded_size(p));
  EXPECT_EQ(region[0], 0xAA);
  EXPECT_EQ(region[region.size() - 1], 0xAA);
  EXPECT_EQ(Bytes(region.begin() + 4, region.end() - 4), must_encode(p));
}

TEST(BpgEncode, ErrorsAreReportedAndNothingIsWritten) {
  const PacketView p{kTagText, true, kVersion, 1, 2, "abc", {}};
  Bytes small(encoded_size(p) - 1, 0x11);
  auto r = encode_into(p, small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::buffer_too_small);
  EXPECT_NE(r.error().message.find(std::to_string(encoded_size(p))), std::string::npos);
  EXPECT_EQ(small, Bytes(small.size(), 0x11));

  PacketView bad_tag = p;
  bad_tag.tag = Tag{'T', '\n'};
  EXPECT_EQ(encode(bad_tag).code(), ErrorCode::invalid_tag);

  PacketView bad_utf8 = p;
  bad_utf8.metadata = "\xC0\x80";
  EXPECT_EQ(encode(bad_utf8).code(), ErrorCode::invalid_metadata_utf8);

  // The sizes are checked before any byte is read, so these views are never dereferenced.
  static const uint8_t one = 0;
  PacketView huge = p;
  huge.binary = std::span<const uint8_t>(&one, 0xFFFFFFFFu);
  auto h = encode(huge);
  EXPECT_EQ(h.code(), ErrorCode::length_overflow);
}

TEST(BpgEncode, VersionFieldIsAlwaysWrittenAsOne) {
  PacketView p{kTagAck, true, 7, 0, 0, "", {}};
  const Bytes b = must_encode(p);
  EXPECT_EQ(b[8], 1);  // bits 8-15 of prop
  EXPECT_EQ(b[9], 1);  // end of group
}

// ---- decode_one -------------------------------------------------------------------------

TEST(BpgDecodeOne, TruncatedReportsNeededSizeAndTrailingBytesAreIgnored) {
  const Bytes pkt = make(kTagText, true, 1, 2, "meta", {9, 9});
  for (size_t n = 0; n < pkt.size(); ++n) {
    size_t needed = 0;
    auto r = decode_one(std::span(pkt).first(n), {}, &needed);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), ErrorCode::truncated) << n;
    EXPECT_EQ(needed, n < kPrefixSize ? kPrefixSize : pkt.size());
  }
  const Bytes two = concat({pkt, pkt});
  auto r = decode_one(two);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().size, pkt.size());
}

// ---- malformed input --------------------------------------------------------------------

struct MalformedCase {
  std::string name;
  Bytes bytes;
  ErrorCode code;
  std::string message_part;
};

std::vector<MalformedCase> malformed_cases() {
  std::vector<MalformedCase> cases;
  const Bytes good = make(kTagText, true, 1, 2, "meta", {1, 2, 3});
  {
    Bytes b = good;
    b[3] = 0x02;
    cases.push_back({"B1 bad magic", b, ErrorCode::bad_magic, "0x42504702"});
  }
  for (uint32_t dl = 0; dl < 4; ++dl) {
    Bytes b = good;
    put_be32(b, 18, dl);
    cases.push_back({"B2 data length " + std::to_string(dl), b, ErrorCode::data_length_too_small,
                     "data length " + std::to_string(dl) + " is below the minimum 4"});
  }
  {
    Bytes b = good;
    put_be32(b, 22, 8);  // data length is 4 + 4 + 3 = 11, so at most 7 is allowed
    cases.push_back({"B5 string length too large", b, ErrorCode::string_length_too_large,
                     "string length 8 exceeds data length 11 - 4 = 7"});
  }
  {
    Bytes b = good;
    put_be32(b, 22, 0xFFFFFFFFu);
    cases.push_back({"B5 string length huge", b, ErrorCode::string_length_too_large, "4294967295"});
  }
  {
    Bytes b = good;
    b[5] = 0x00;
    cases.push_back({"B6 tag NUL", b, ErrorCode::invalid_tag, "0x00"});
  }
  {
    Bytes b = good;
    b[4] = 0x80;
    cases.push_back({"B6 tag non-ASCII", b, ErrorCode::invalid_tag, "tag byte 0 is 0x80"});
  }
  const std::pair<const char*, std::string> bad_utf8[] = {
      {"overlong", "\xC0\xAF"},          {"surrogate", "\xED\xA0\x80"},
      {"above max", "\xF4\x90\x80\x80"}, {"lead F5", "\xF5\x80\x80\x80"},
      {"cut short", "ab\xE6\x97"},       {"lone continuation", "\x80"},
  };
  for (const auto& [name, meta] : bad_utf8) {
    Bytes b = make(kTagText, true, 1, 2, std::string(meta.size(), 'x'), {});
    std::memcpy(b.data() + kHeaderSize, meta.data(), meta.size());
    cases.push_back(
        {std::string("B7 ") + name, b, ErrorCode::invalid_metadata_utf8, "not well-formed UTF-8"});
  }
  return cases;
}

TEST(BpgMalformed, DecodeOneReportsEachDistinctly) {
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.name);
    auto r = decode_one(c.bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), c.code) << to_string(r.code()) << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST(BpgMalformed, StreamReportsEachAndRecovers) {
  const Bytes next = make(kTagAck, true, 77, 78, "after", {4});
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.name);
    for (bool bytewise : {false, true}) {
      Decoder d;
      const Bytes stream = concat({c.bytes, next});
      std::vector<size_t> cuts;
      if (bytewise) {
        for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
      }
      Collected got = push_all(d, stream, cuts);
      ASSERT_FALSE(got.errors.empty());
      EXPECT_EQ(got.errors[0].code, c.code) << got.errors[0].message;
      EXPECT_EQ(got.errors[0].offset, 0u);
      ASSERT_EQ(got.groups.size(), 1u);
      EXPECT_EQ(got.groups[0].packets[0].metadata, "after");
      EXPECT_EQ(got.groups[0].target_id, 77u);
    }
  }
}

// ---- resync -----------------------------------------------------------------------------

TEST(BpgResync, SkipsGarbageToTheNextMagicAndCountsDroppedBytes) {
  const Bytes a = make(kTagText, true, 1, 1, "a");
  const Bytes b = make(kTagText, true, 1, 2, "b");
  // Garbage containing near-misses of the magic, which must not fool the scan.
  const Bytes garbage{'x', 'B', 'P', 'G', 0x02, 'B', 'B', 'P', 0x00, 'B', 'P', 'G'};
  const Bytes stream = concat({garbage, a, garbage, garbage, b});
  for (size_t step : {size_t{1}, size_t{3}, size_t{7}, stream.size()}) {
    SCOPED_TRACE(step);
    Decoder d;
    std::vector<size_t> cuts;
    for (size_t i = step; i < stream.size(); i += step) cuts.push_back(i);
    Collected c = push_all(d, stream, cuts);
    ASSERT_EQ(c.groups.size(), 2u);
    EXPECT_EQ(c.groups[0].packets[0].metadata, "a");
    EXPECT_EQ(c.groups[1].packets[0].metadata, "b");
    ASSERT_EQ(c.errors.size(), 2u);
    EXPECT_EQ(c.errors[0].code, ErrorCode::bad_magic);
    EXPECT_EQ(c.errors[0].offset, 0u);
    EXPECT_NE(c.errors[0].message.find("dropped 12 bytes"), std::string::npos)
        << c.errors[0].message;
    EXPECT_EQ(c.errors[1].offset, garbage.size() + a.size());
    EXPECT_NE(c.errors[1].message.find("dropped 24 bytes"), std::string::npos);
    EXPECT_EQ(d.stats().bytes_dropped, 36u);
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
}

TEST(BpgResync, SingleGarbageByteRightBeforeAMagicIsDroppedAlone) {
  Decoder d;
  Collected c = push_all(d, concat({Bytes{'x'}, make(kTagText, true, 1, 1, "a")}));
  ASSERT_EQ(c.groups.size(), 1u);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_NE(c.errors[0].message.find("dropped 1 bytes"), std::string::npos);
}

TEST(BpgResync, TrailingGarbageIsCountedBeforeAMagicAppears) {
  Decoder d;
  const Bytes junk(1000, 0x41);
  d.push(junk, 0);
  EXPECT_EQ(d.stats().bytes_dropped, 1000u);
  EXPECT_LE(d.buffered_bytes(), 3u);
}

// ---- oversize ---------------------------------------------------------------------------

TEST(BpgB4PacketSize, RejectedAfterTheHeaderAndSkippedWithoutBuffering) {
  DecoderOptions opts;
  opts.max_packet_size = 1024;
  Decoder d(opts);
  const Bytes big = make(kTagImage, true, 1, 1, "{}", Bytes(100'000, 7));
  const Bytes after = make(kTagText, true, 1, 2, "ok");
  const Bytes stream = concat({big, after});
  Collected c;
  size_t max_buffered = 0;
  for (size_t i = 0; i < stream.size(); i += 4000) {
    const size_t n = std::min<size_t>(4000, stream.size() - i);
    push_transient(d, std::span(stream).subspan(i, n), 0, c);
    max_buffered = std::max(max_buffered, d.buffered_bytes());
  }
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].code, ErrorCode::packet_too_large);
  EXPECT_NE(c.errors[0].message.find("packet size 100028 exceeds the maximum 1024"),
            std::string::npos)
      << c.errors[0].message;
  EXPECT_EQ(max_buffered, 0u);
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].packets[0].metadata, "ok");
  EXPECT_EQ(d.stats().packets_rejected_oversize, 1u);
}

TEST(BpgB4PacketSize, HugeDeclaredLengthFailsImmediatelyWithDefaultMax) {
  Decoder d;
  Bytes hdr = make(kTagImage, true, 1, 1, "");
  put_be32(hdr, 18, 0xFFFFFFF0u);
  DecodeOutput out = d.push(std::span(hdr).first(kPrefixSize), 0);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].code, ErrorCode::packet_too_large);
  EXPECT_EQ(d.buffered_bytes(), 0u);
  EXPECT_EQ(decode_one(hdr).code(), ErrorCode::packet_too_large);
}

// ---- versions ---------------------------------------------------------------------------

TEST(BpgB3Version, AboveOneIsSkippedAndCounted) {
  Bytes v2 = make(kTagText, true, 1, 1, "future", {1, 2, 3});
  v2[8] = 2;
  const Bytes v1 = make(kTagText, true, 1, 2, "now");
  size_t needed = 0;
  auto r = decode_one(v2, {}, &needed);
  EXPECT_EQ(r.code(), ErrorCode::unsupported_version);
  EXPECT_EQ(needed, v2.size());
  for (size_t step : {size_t{1}, size_t{5}, size_t{1000}}) {
    Decoder d;
    const Bytes stream = concat({v2, v1, v2});
    std::vector<size_t> cuts;
    for (size_t i = step; i < stream.size(); i += step) cuts.push_back(i);
    Collected c = push_all(d, stream, cuts);
    EXPECT_TRUE(c.errors.empty());
    ASSERT_EQ(c.groups.size(), 1u);
    EXPECT_EQ(c.groups[0].packets[0].metadata, "now");
    EXPECT_EQ(d.stats().packets_skipped_version, 2u);
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
}

TEST(BpgB3Version, ZeroIsReadAsOne) {
  Bytes v0 = make(kTagText, true, 1, 1, "old");
  v0[8] = 0;
  auto r = decode_one(v0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().packet.version, 1u);
  Decoder d;
  DecodeOutput out = d.push(v0, 0);
  ASSERT_EQ(out.groups.size(), 1u);
  EXPECT_EQ(out.groups[0].packets[0].version, 1u);
}

// ---- groups -----------------------------------------------------------------------------

TEST(BpgGroups, CompleteAtEndOfGroupInArrivalOrderKeyedByGroupAndTarget) {
  const Bytes stream = concat({
      make(kTagText, false, 1, 10, "a0"),
      make(kTagText, false, 2, 10, "c0"),  // same group id, other target: another group
      make(kTagText, false, 1, 11, "b0"),
      make(kTagText, false, 1, 10, "a1"),
      make(kTagText, true, 1, 11, "b1"),
      make(kTagText, true, 1, 10, "a2"),
      make(kTagAck, true, 1, 12, "single"),
      make(kTagText, true, 2, 10, "c1"),
  });
  Decoder d;
  Collected c = push_all(d, stream, {5, 40, 41, 100});
  ASSERT_EQ(c.groups.size(), 4u);
  auto names = [](const Group& g) {
    std::string s;
    for (const auto& p : g.packets) s += p.metadata + ",";
    return s;
  };
  EXPECT_EQ(names(c.groups[0]), "b0,b1,");
  EXPECT_EQ(names(c.groups[1]), "a0,a1,a2,");
  EXPECT_EQ(names(c.groups[2]), "single,");
  EXPECT_EQ(names(c.groups[3]), "c0,c1,");
  EXPECT_EQ(c.groups[3].target_id, 2u);
  EXPECT_EQ(c.groups[3].group_id, 10u);
  EXPECT_EQ(d.pending_groups(), 0u);
  EXPECT_EQ(d.stats().groups_completed, 4u);
}

TEST(BpgGroups, IncompleteGroupsExpireAfterIdleTimeout) {
  DecoderOptions opts;
  opts.group_timeout_ms = 1000;
  Decoder d(opts);
  d.push(make(kTagText, false, 1, 1, "first"), 100);
  d.push(make(kTagText, false, 1, 2, "second"), 200);
  d.push(make(kTagText, false, 1, 2, "second-more"), 600);  // activity extends its life
  EXPECT_TRUE(d.expire(1099).empty());
  auto e = d.expire(1100);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].group_id, 1u);
  EXPECT_EQ(e[0].packet_count, 1u);
  EXPECT_EQ(e[0].last_activity_ms, 100u);
  d.push(make(kTagText, false, 1, 3, "third"), 700);
  e = d.expire(5000);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].group_id, 2u);  // oldest first
  EXPECT_EQ(e[0].packet_count, 2u);
  EXPECT_EQ(e[1].group_id, 3u);
  EXPECT_EQ(d.pending_groups(), 0u);
  EXPECT_EQ(d.stats().groups_expired, 3u);
  // A late end-of-group packet of an expired group arrives as a group of its own.
  DecodeOutput out = d.push(make(kTagText, true, 1, 2, "late"), 6000);
  ASSERT_EQ(out.groups.size(), 1u);
  EXPECT_EQ(out.groups[0].packets.size(), 1u);
}

// ---- property: random split points ------------------------------------------------------

TEST(BpgProperty, RandomSplitPointsReassembleIdentically) {
  std::mt19937 rng(0xB96);
  auto uniform = [&](size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
  };
  const std::string alphabet[] = {"a", "{", "\"", "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x8E\x89"};
  const Tag tags[] = {kTagText, kTagImage, kTagAck, kTagError};
  for (int iter = 0; iter < 400; ++iter) {
    SCOPED_TRACE(iter);
    // Interleaved groups on a few targets, each closed by its last packet.
    std::vector<Packet> packets;
    std::vector<std::vector<size_t>> expected_groups;
    std::map<uint64_t, std::vector<size_t>> open;
    const size_t count = uniform(2, 12);
    for (size_t i = 0; i < count; ++i) {
      Packet p;
      p.tag = tags[uniform(0, 3)];
      p.target_id = static_cast<uint32_t>(uniform(0, 2));
      p.group_id = static_cast<uint32_t>(uniform(0, 3));
      p.end_of_group = i + 1 == count || uniform(0, 2) == 0;
      for (size_t k = uniform(0, 20); k > 0; --k) p.metadata += alphabet[uniform(0, 5)];
      p.binary.resize(uniform(0, 1) ? uniform(0, 40) : uniform(0, 3000));
      for (auto& b : p.binary) b = static_cast<uint8_t>(uniform(0, 255));
      const uint64_t key = (uint64_t{p.group_id} << 32) | p.target_id;
      open[key].push_back(i);
      if (p.end_of_group) {
        expected_groups.push_back(std::move(open[key]));
        open.erase(key);
      }
      packets.push_back(std::move(p));
    }
    Bytes stream;
    for (const auto& p : packets) {
      const Bytes b = must_encode(p.view());
      stream.insert(stream.end(), b.begin(), b.end());
    }
    std::vector<size_t> cuts;
    for (size_t k = uniform(0, 30); k > 0; --k) cuts.push_back(uniform(0, stream.size()));
    std::sort(cuts.begin(), cuts.end());  // duplicates give empty chunks, which must be harmless

    Decoder d;
    Collected c = push_all(d, stream, cuts);
    EXPECT_TRUE(c.errors.empty());
    ASSERT_EQ(c.groups.size(), expected_groups.size());
    for (size_t g = 0; g < expected_groups.size(); ++g) {
      ASSERT_EQ(c.groups[g].packets.size(), expected_groups[g].size());
      for (size_t k = 0; k < expected_groups[g].size(); ++k) {
        EXPECT_TRUE(same_packet(c.groups[g].packets[k], packets[expected_groups[g][k]]));
      }
    }
    EXPECT_EQ(d.pending_groups(), open.size());
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_EQ(d.stats().packets_decoded, count);
  }
}

TEST(BpgProperty, ByteAtATimeLargeStreamIsLinear) {
  // 2000 packets pushed one byte at a time: quadratic buffering would make this crawl.
  Bytes stream;
  for (uint32_t i = 0; i < 2000; ++i) {
    const Bytes b = make(kTagText, true, i, i, "{\"i\":" + std::to_string(i) + "}", Bytes(64, 1));
    stream.insert(stream.end(), b.begin(), b.end());
  }
  Decoder d;
  size_t groups = 0;
  for (uint8_t byte : stream) groups += d.push(std::span(&byte, 1), 0).groups.size();
  EXPECT_EQ(groups, 2000u);
}

}  // namespace
