// Replays test-vectors/ring.json with the C++ implementation: the layout against
// smc/layout.hpp, every operation sequence byte for byte, every hostile state to its named
// reason. js/test/ring-vectors.test.ts replays the same file with the TypeScript
// implementation (which scripts/gen-ring-vectors.mjs used to write it), so the two agree
// on every byte the file records. The file's "format" entry describes the steps.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

#ifndef SMC_SOURCE_DIR
#error "SMC_SOURCE_DIR must name the repository root"
#endif

namespace {

using namespace smc;
using namespace smc::test;

// ---- a small JSON reader: the file is generated, so malformed input only has to fail ------

struct Json {
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;  // keeps the file's order
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v;

  bool has(const std::string& key) const { return find(key) != nullptr; }
  const Json* find(const std::string& key) const {
    if (const auto* o = std::get_if<Object>(&v)) {
      for (const auto& [k, value] : *o) {
        if (k == key) return &value;
      }
    }
    return nullptr;
  }
  const Json& operator[](const std::string& key) const {
    const Json* j = find(key);
    if (!j) throw std::runtime_error("ring.json: missing key " + key);
    return *j;
  }
  const Array& array() const { return std::get<Array>(v); }
  const Object& object() const { return std::get<Object>(v); }
  const std::string& str() const { return std::get<std::string>(v); }
  uint64_t num() const { return static_cast<uint64_t>(std::get<double>(v)); }
  std::string str_or(const std::string& key, const std::string& fallback) const {
    const Json* j = find(key);
    return j ? j->str() : fallback;
  }
};

class JsonParser {
 public:
  explicit JsonParser(std::string text) : s_(std::move(text)) {}
  Json parse() {
    Json j = value();
    if (peek() != '\0') fail("trailing text");
    return j;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error("ring.json: " + std::string(what) + " at offset " +
                             std::to_string(i_));
  }
  char peek() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++i_;
  }
  Json value() {
    const char c = peek();
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return Json{string()};
    if (s_.compare(i_, 4, "true") == 0) return i_ += 4, Json{true};
    if (s_.compare(i_, 5, "false") == 0) return i_ += 5, Json{false};
    if (s_.compare(i_, 4, "null") == 0) return i_ += 4, Json{nullptr};
    char* end = nullptr;
    const double d = std::strtod(s_.c_str() + i_, &end);
    if (end == s_.c_str() + i_) fail("expected a value");
    i_ = static_cast<size_t>(end - s_.c_str());
    return Json{d};
  }
  Json object() {
    Json::Object o;
    expect('{');
    if (peek() == '}') return ++i_, Json{std::move(o)};
    for (;;) {
      std::string key = string();
      expect(':');
      o.emplace_back(std::move(key), value());
      if (peek() == '}') return ++i_, Json{std::move(o)};
      expect(',');
    }
  }
  Json array() {
    Json::Array a;
    expect('[');
    if (peek() == ']') return ++i_, Json{std::move(a)};
    for (;;) {
      a.push_back(value());
      if (peek() == ']') return ++i_, Json{std::move(a)};
      expect(',');
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        ++i_;
        if (i_ >= s_.size() || s_[i_] == 'u') fail("escape the generator never writes");
        out += s_[i_] == 'n' ? '\n' : s_[i_];
      } else {
        out += s_[i_];
      }
      ++i_;
    }
    expect('"');
    return out;
  }

  std::string s_;
  size_t i_ = 0;
};

const Json& vectors() {
  static const Json file = [] {
    std::ifstream f(std::string(SMC_SOURCE_DIR) + "/test-vectors/ring.json", std::ios::binary);
    if (!f) throw std::runtime_error("cannot open test-vectors/ring.json");
    std::stringstream text;
    text << f.rdbuf();
    return JsonParser(text.str()).parse();
  }();
  return file;
}

std::optional<uint32_t> word_offset(const std::string& name) {
  for (const SharedWordLayout& w : kSharedWordLayout) {
    if (w.name == name) return w.offset;
  }
  return std::nullopt;
}

Bytes hex_bytes(const std::string& hex) {
  std::string digits;
  for (char c : hex) {
    if (c != ' ') digits += c;
  }
  Bytes out(digits.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::byte>(std::stoul(digits.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

Bytes message_bytes(const Json& spec) {
  const uint64_t seed = spec["seed"].num();
  Bytes b(spec["length"].num());
  if (seed != 0) {
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>(1 + (seed * 7 + i) % 255);
  }
  return b;
}

// ---- the layout ----------------------------------------------------------------------------

TEST(RingVectorsLayout, LayoutHppDescribesTheLayoutOfRingJson) {
  const Json& layout = vectors()["layout"];
  const Json::Array& words = layout["shared_words"].array();
  ASSERT_EQ(words.size(), kSharedWordLayout.size()) << "number of shared words";
  for (size_t i = 0; i < words.size(); ++i) {
    EXPECT_EQ(words[i]["name"].str(), kSharedWordLayout[i].name) << "word " << i;
    EXPECT_EQ(words[i]["offset"].num(), kSharedWordLayout[i].offset) << words[i]["name"].str();
    EXPECT_EQ(words[i]["size"].num(), kSharedWordLayout[i].size) << words[i]["name"].str();
  }
  EXPECT_EQ(layout["magic"].num(), kMagic);
  EXPECT_EQ(layout["version"].num(), kVersion);
  EXPECT_EQ(layout["header_size"].num(), kHeaderSize);
  EXPECT_EQ(layout["slot_size"].num(), kSlot);
  EXPECT_EQ(layout["min_capacity"].num(), kMinCapacity);
  EXPECT_EQ(layout["max_capacity"].num(), kMaxCapacity);
  EXPECT_EQ(layout["record_header_size"].num(), kRecordHeader);
  EXPECT_EQ(layout["first_prefix_size"].num(), kFirstPrefix);

  const std::map<std::string, RecordKind> kinds{
      {"MESSAGE", RecordKind::message}, {"FIRST", RecordKind::first},
      {"MIDDLE", RecordKind::middle},   {"LAST", RecordKind::last},
      {"PAD", RecordKind::pad},         {"CANCEL", RecordKind::cancel}};
  ASSERT_EQ(layout["kinds"].object().size(), kinds.size());
  for (const auto& [name, number] : layout["kinds"].object()) {
    ASSERT_TRUE(kinds.contains(name)) << name;
    EXPECT_EQ(number.num(), static_cast<uint32_t>(kinds.at(name))) << name;
  }
  const std::map<std::string, SideState> states{{"detached", SideState::detached},
                                                {"attached", SideState::attached},
                                                {"closed", SideState::closed},
                                                {"failed", SideState::failed}};
  ASSERT_EQ(layout["states"].object().size(), states.size());
  for (const auto& [name, number] : layout["states"].object()) {
    ASSERT_TRUE(states.contains(name)) << name;
    EXPECT_EQ(number.num(), static_cast<uint32_t>(states.at(name))) << name;
  }
  const Json::Object& reasons = layout["reasons"].object();
  ASSERT_EQ(reasons.size(), static_cast<size_t>(Reason::local_error));
  for (const auto& [name, number] : reasons) {
    EXPECT_EQ(to_string(static_cast<Reason>(number.num())), name) << "reason " << number.num();
  }
}

// The sides are named as in the spec (R, N) and ring.json; the former names still compile,
// deprecated, and mean the same. So does the former name of the reassembly keep limit.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
static_assert(Side::js == Side::r && Side::native == Side::n);
static_assert(FrameReader::kDefaultKeep == FrameReader::kDefaultKeepAssembly);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// ---- replay --------------------------------------------------------------------------------

// The region a snapshot describes, byte for byte: every byte it does not name is zero.
Bytes expected_image(const Json& snapshot, size_t size, uint32_t r2n_capacity) {
  Bytes image(size);
  for (const auto& [name, value] : snapshot["words"].object()) {
    const auto offset = word_offset(name);
    if (!offset) throw std::runtime_error("snapshot names unknown word " + name);
    wr32(image.data() + *offset, static_cast<uint32_t>(value.num()));
  }
  const std::pair<const char*, size_t> rings[] = {{"r2n", kHeaderSize},
                                                  {"n2r", kHeaderSize + r2n_capacity}};
  for (const auto& [ring, base] : rings) {
    for (const Json& run : snapshot[ring].array()) {
      const Bytes bytes = hex_bytes(run.array()[1].str());
      const uint64_t at = base + run.array()[0].num();
      if (at + bytes.size() > size) throw std::runtime_error("snapshot run beyond the region");
      std::memcpy(image.data() + at, bytes.data(), bytes.size());
    }
  }
  return image;
}

// Where `actual` differs from `expected`, named; empty when they are equal.
std::string region_difference(std::span<const std::byte> actual, const Bytes& expected,
                              uint32_t r2n_capacity) {
  if (actual.size() != expected.size()) return "region size differs";
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == expected[i]) continue;
    const size_t at = i & ~size_t{3};
    std::ostringstream where;
    if (i < kHeaderSize) {
      where << "control byte " << i;
      for (const SharedWordLayout& w : kSharedWordLayout) {
        if (w.offset == at) where << " (word " << w.name << ")";
      }
    } else if (i < kHeaderSize + r2n_capacity) {
      where << "r2n data offset " << i - kHeaderSize;
    } else {
      where << "n2r data offset " << i - kHeaderSize - r2n_capacity;
    }
    where << ": byte is " << std::to_integer<int>(actual[i]) << ", expected "
          << std::to_integer<int>(expected[i]) << " (u32 " << rd32(actual.data() + at) << " vs "
          << rd32(expected.data() + at) << ")";
    return where.str();
  }
  return "";
}

struct Outcome {
  std::string result = "ok";
  std::string fails;  // empty: this side did not fail in the step
  std::string end;
  std::string refused;  // an attach refused by A1/A2, with this reason
  std::vector<Bytes> messages;
};

// One vector's region and endpoints, stepped through with the C++ implementation.
class Replay {
 public:
  Outcome step(const Json& s) {
    Outcome out;
    const std::string what = s["do"].str();
    if (what == "init") {
      const RegionConfig c{static_cast<uint32_t>(s["r2n_capacity"].num()),
                           static_cast<uint32_t>(s["n2r_capacity"].num())};
      arena_ = std::make_unique<CanaryArena>(c);
      if (Region::initialize(arena_->span(), c, &region_) != Errc::ok) out.result = "init failed";
    } else if (what == "poke") {
      if (s.has("word")) {
        const auto offset = word_offset(s["word"].str());
        if (!offset) throw std::runtime_error("poke of unknown word " + s["word"].str());
        wr32(arena_->region_bytes() + *offset, static_cast<uint32_t>(s["value"].num()));
      } else {
        const RingWords ring = region_.ring(s["ring"].str() == "r2n" ? Dir::r2n : Dir::n2r);
        const Bytes bytes = hex_bytes(s["hex"].str());
        const uint64_t at = s["at"].num();
        if (at + bytes.size() > ring.capacity) throw std::runtime_error("poke beyond the ring");
        std::memcpy(ring.data + at, bytes.data(), bytes.size());
      }
    } else if (what == "attach") {
      EndpointOptions options;
      if (s.has("max_message")) options.max_message = static_cast<uint32_t>(s["max_message"].num());
      Errc e = Errc::ok;
      Reason why = Reason::none;
      endpoint(s) = Endpoint::attach(region_, side(s), options, &e, &why);
      if (e == Errc::invalid_argument && why != Reason::none) {
        out.refused = to_string(why);  // A1/A2 (docs/protocol.md 7.1): nothing written
      } else if (e != Errc::ok) {
        out.result = std::string("attach: ") + to_string(e);
      }
    } else if (what == "send") {
      const Bytes message = message_bytes(s["message"]);
      const bool publish = !s.has("publish") || std::get<bool>(s["publish"].v);
      // An already passed deadline: a full ring times out at once instead of waiting.
      settle(attached(s).send(as_span(message), Deadline::now(), publish), s, &out);
    } else if (what == "reserve") {
      const Bytes message = message_bytes(s["message"]);
      Endpoint::Reservation reservation;
      const Errc e =
          attached(s).reserve(static_cast<uint32_t>(message.size()), &reservation, Deadline::now());
      if (e == Errc::ok) {
        std::memcpy(reservation.data().data(), message.data(), message.size());
        if (s.has("commit")) {
          const bool publish = !s.has("publish") || std::get<bool>(s["publish"].v);
          if (s.has("close_before_commit") && std::get<bool>(s["close_before_commit"].v)) {
            attached(s).close();
          }
          settle(reservation.commit(s["commit"].num(), publish), s, &out);
        } else {
          reservation.abort();
        }
      } else {
        settle(e, s, &out);
      }
    } else if (what == "flush") {
      settle(attached(s).flush(), s, &out);
    } else if (what == "receive") {
      receive(s, &out);
    } else if (what == "close") {
      attached(s).close();
    } else if (what == "reader_poll") {
      RingReader& reader = bare_reader(s);
      for (uint64_t n = 0; n < s["max"].num(); ++n) {
        const std::optional<Record> rec = reader.peek();
        if (!rec) break;
        if (rec->kind != RecordKind::message)
          throw std::runtime_error("reader_poll reads MESSAGE records only");
        out.messages.emplace_back(rec->payload.begin(), rec->payload.end());
        reader.consume();
      }
      reader.release();
      if (reader.failure() != Reason::none) out.fails = to_string(reader.failure());
    } else if (what == "reader_refill") {
      RingReader& reader = bare_reader(s);
      reader.refill();
      if (reader.failure() != Reason::none) out.fails = to_string(reader.failure());
    } else {
      throw std::runtime_error("unknown step " + what);
    }
    return out;
  }

  std::span<const std::byte> region_bytes() const { return arena_->span(); }
  uint32_t r2n_capacity() const { return region_.capacity(Dir::r2n); }
  bool canaries_intact() const { return arena_->intact(); }

 private:
  static Side side(const Json& s) { return s["side"].str() == "R" ? Side::r : Side::n; }
  std::unique_ptr<Endpoint>& endpoint(const Json& s) { return sides_[s["side"].str()]; }
  // A ring reader of its own, from the shared read_index, for checks no endpoint path
  // reaches (C3: Endpoint reloads write_index only when nothing is cached).
  RingReader& bare_reader(const Json& s) {
    const std::string& ring = s["ring"].str();
    if (!readers_.contains(ring)) {
      const RingWords words = region_.ring(ring == "r2n" ? Dir::r2n : Dir::n2r);
      readers_.emplace(ring, RingReader(words, words.read_index.load(std::memory_order_relaxed)));
    }
    return readers_.at(ring);
  }
  Endpoint& attached(const Json& s) {
    auto& ep = endpoint(s);
    if (!ep) throw std::runtime_error("side " + s["side"].str() + " is not attached");
    return *ep;
  }
  void settle(Errc e, const Json& s, Outcome* out) {
    if (e == Errc::failed) {
      out->fails = to_string(attached(s).failure());
    } else if (e != Errc::ok) {
      out->result = to_string(e);
    }
  }
  // Every available message; with none, one look at the peer's state (wait_readable with a
  // passed deadline: drained and the peer ended gives peer_closed / peer_failed).
  void receive(const Json& s, Outcome* out) {
    Endpoint& ep = attached(s);
    auto collect = [&](std::span<const std::byte> m) {
      out->messages.emplace_back(m.begin(), m.end());
    };
    size_t delivered = 0;
    Errc e = ep.poll(collect, SIZE_MAX, &delivered);
    if (e == Errc::ok && delivered == 0) {
      e = ep.wait_readable(Deadline::now());
      if (e == Errc::ok) e = ep.poll(collect, SIZE_MAX, &delivered);
      if (e == Errc::timeout) e = Errc::ok;
    }
    if (e == Errc::peer_closed || e == Errc::peer_failed) {
      out->end = to_string(e);
    } else {
      settle(e, s, out);
    }
  }

  std::unique_ptr<CanaryArena> arena_;
  Region region_;
  std::map<std::string, std::unique_ptr<Endpoint>> sides_;
  std::map<std::string, RingReader> readers_;
};

// Runs every step of `vector`, checking each outcome and snapshot. `on_snapshot` (optional)
// sees each snapshot with the region it must equal.
void replay(const Json& vector,
            const std::function<void(const Json&, std::span<const std::byte>, uint32_t)>&
                on_snapshot = {}) {
  Replay r;
  const Json::Array& steps = vector["steps"].array();
  for (size_t i = 0; i < steps.size(); ++i) {
    const Json& s = steps[i];
    SCOPED_TRACE(vector["name"].str() + " step " + std::to_string(i) + " (" + s["do"].str() + ")");
    const Outcome out = r.step(s);
    EXPECT_EQ(out.result, s.str_or("result", "ok"));
    EXPECT_EQ(out.fails, s.str_or("fails", "")) << "failure reason";
    EXPECT_EQ(out.end, s.str_or("end", "")) << "end of stream";
    EXPECT_EQ(out.refused, s.str_or("refused", "")) << "attach refusal";
    if (s["do"].str() == "receive" || s["do"].str() == "reader_poll") {
      std::vector<Bytes> wanted;
      for (const Json& m : s["messages"].array()) wanted.push_back(message_bytes(m));
      EXPECT_EQ(out.messages.size(), wanted.size()) << "messages delivered";
      EXPECT_TRUE(out.messages == wanted) << "message bytes";
    }
    if (s.has("region")) {
      const Bytes expected = expected_image(s["region"], r.region_bytes().size(), r.r2n_capacity());
      EXPECT_EQ(region_difference(r.region_bytes(), expected, r.r2n_capacity()), "");
      if (on_snapshot) on_snapshot(s["region"], r.region_bytes(), r.r2n_capacity());
    }
  }
  EXPECT_TRUE(r.canaries_intact()) << "a write outside the region";
}

std::vector<std::string> names_of(const char* list) {
  std::vector<std::string> names;
  for (const Json& v : vectors()[list].array()) names.push_back(v["name"].str());
  return names;
}

const Json& vector_named(const char* list, const std::string& name) {
  for (const Json& v : vectors()[list].array()) {
    if (v["name"].str() == name) return v;
  }
  throw std::runtime_error("no vector " + name);
}

// Each vector's test is named after it (the names are identifiers already).
std::string name_of_test(const ::testing::TestParamInfo<std::string>& vector) {
  return vector.param;
}

class RingVectorSequence : public ::testing::TestWithParam<std::string> {};

TEST_P(RingVectorSequence, ReplaysByteForByte) {
  replay(vector_named("sequences", GetParam()));
}

INSTANTIATE_TEST_SUITE_P(RingJson, RingVectorSequence, ::testing::ValuesIn(names_of("sequences")),
                         name_of_test);

class RingVectorHostile : public ::testing::TestWithParam<std::string> {};

TEST_P(RingVectorHostile, FailsWithTheNamedReason) {
  const Json& v = vector_named("hostile", GetParam());
  const Json& last = v["steps"].array().back();
  ASSERT_EQ(last["fails"].str(), v["reason"].str()) << "the last step fails with the reason";
  replay(v);
  // An endpoint publishes its failure: failed | reason << 8 in its state word (a bare ring
  // reader has no state word; its snapshot shows that it wrote nothing).
  if (last["do"].str() == "reader_refill") return;
  const std::string state_word = last["side"].str() == "R" ? "r_state" : "n_state";
  const uint64_t reason = vectors()["layout"]["reasons"][v["reason"].str()].num();
  EXPECT_EQ(last["region"]["words"][state_word].num(),
            make_state_word(SideState::failed, static_cast<Reason>(reason)));
}

INSTANTIATE_TEST_SUITE_P(RingJson, RingVectorHostile, ::testing::ValuesIn(names_of("hostile")),
                         name_of_test);

// A comparison that passes anyway would make every vector above worthless: each snapshot
// with one expected byte changed (control words, ring bytes) must no longer match.
TEST(RingVectorsComparison, CatchesOneChangedByteInAnySnapshot) {
  size_t snapshots = 0;
  for (const char* list : {"sequences", "hostile"}) {
    for (const Json& v : vectors()[list].array()) {
      replay(v, [&](const Json& snapshot, std::span<const std::byte> actual, uint32_t r2n) {
        ++snapshots;
        const Bytes expected = expected_image(snapshot, actual.size(), r2n);
        std::vector<size_t> changes{*word_offset("magic"), *word_offset("r2n_write_index"),
                                    kHeaderSize + 4095, actual.size() - 1};
        if (!snapshot["r2n"].array().empty()) {
          changes.push_back(kHeaderSize + snapshot["r2n"].array()[0].array()[0].num() + 4);
        }
        for (size_t at : changes) {
          Bytes changed = expected;
          changed[at] ^= std::byte{0x40};
          EXPECT_NE(region_difference(actual, changed, r2n), "")
              << v["name"].str() << ": a change at byte " << at << " goes unnoticed";
        }
      });
    }
  }
  EXPECT_GE(snapshots, 40u);
}

}  // namespace
