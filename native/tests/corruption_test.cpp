// A hostile or buggy peer: the test plays one side by writing shared words and record
// headers directly, and checks that the real endpoint on the other side fails with the
// exact Reason of docs/protocol.md 7.2, publishes failed|reason<<8 in its state word,
// refuses every later operation with Errc::failed, and never reads outside the region.
// The region ends exactly at the end of its heap allocation, and the victim's ring is
// placed last in it for one of the two victims, so an overread trips AddressSanitizer;
// after the failure the ring data is poisoned under ASan, so any later access trips too.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "smc/ring.hpp"
#include "test_support.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SMC_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMC_HAVE_ASAN 1
#endif
#endif
#ifdef SMC_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

constexpr uint32_t kCap = 4096;
constexpr uint32_t kMax = kCap / 4 - 8;  // 1016

enum K : uint32_t { MESSAGE = 1, FIRST = 2, MIDDLE = 3, LAST = 4, PAD = 5, CANCEL = 6 };

// Writes records into the ring the victim consumes, as its (hostile) producer would.
struct Forge {
  std::byte* data;
  SharedWord write_index;
  uint32_t at;  // forge position (free-running index)
  void header(uint32_t length, uint32_t kind) {
    wr32(data + (at & (kCap - 1)), length);
    wr32(data + (at & (kCap - 1)) + 4, kind);
  }
  // A record with `length` payload bytes (payload filled with a pattern); advances.
  Forge& rec(uint32_t length, uint32_t kind) {
    header(length, kind);
    const uint32_t off = at & (kCap - 1);
    const uint32_t room = kCap - off - 8;
    std::memset(data + off + 8, 0x5A, std::min(align8(length), room));
    at += 8 + align8(length);
    return *this;
  }
  Forge& first(uint32_t total, uint32_t chunk, uint32_t zero = 0) {
    header(8 + chunk, FIRST);
    const uint32_t off = at & (kCap - 1);
    wr32(data + off + 8, total);
    wr32(data + off + 12, zero);
    std::memset(data + off + 16, 0x33, chunk);
    at += 8 + align8(8 + chunk);
    return *this;
  }
  void publish() { write_index.store(at, std::memory_order_seq_cst); }
  void publish(uint32_t w) { write_index.store(w, std::memory_order_seq_cst); }
};

struct Case {
  std::string name;
  Reason reason;
  uint32_t start = 0;  // both indices of the forged ring, set before attach
  std::function<void(Forge&)> forge;
  uint32_t max_message = UINT32_MAX;
};

std::vector<Case> consumer_cases() {
  std::vector<Case> c;
  // C1-C3: the producer's index.
  c.push_back({"write_index misaligned", Reason::index_misaligned, 0, [](Forge& f) {
                 f.rec(8, MESSAGE);
                 f.publish(4);
               }});
  c.push_back({"write_index misaligned by 1 near 2^32", Reason::index_misaligned, 0xFFFFF000u,
               [](Forge& f) { f.publish(0xFFFFF001u); }});
  c.push_back({"write_index beyond capacity", Reason::index_out_of_range, 0,
               [](Forge& f) { f.publish(kCap + 8); }});
  c.push_back({"write_index huge", Reason::index_out_of_range, 0,
               [](Forge& f) { f.publish(0x80000000u); }});
  c.push_back({"write_index behind read_index", Reason::index_out_of_range, 4096,
               [](Forge& f) { f.publish(4088); }});
  c.push_back({"write_index behind read_index across 2^32", Reason::index_out_of_range, 0,
               [](Forge& f) { f.publish(0xFFFFFFF8u); }});
  // C4: kinds.
  for (uint32_t k : {0u, 7u, 255u, 0x101u, 0x80000001u, 0xFFFFFFFFu}) {
    c.push_back({"kind " + std::to_string(k), Reason::record_kind_invalid, 0, [k](Forge& f) {
                   f.header(8, k);
                   f.at += 16;
                   f.publish();
                 }});
  }
  // C5: lengths.
  c.push_back({"MESSAGE length max_payload+1", Reason::record_length_invalid, 0, [](Forge& f) {
                 f.rec(kMax + 1, MESSAGE);
                 f.publish();
               }});
  for (uint32_t len : {0xFFFFFFF8u, 0xFFFFFFFFu, 0x80000000u, kCap}) {
    c.push_back({"MESSAGE huge length " + std::to_string(len), Reason::record_length_invalid, 0,
                 [len](Forge& f) {
                   f.header(len, MESSAGE);
                   f.publish(kCap);
                 }});
  }
  c.push_back({"MIDDLE huge length", Reason::record_length_invalid, 0, [](Forge& f) {
                 f.first(5000, 100);
                 f.header(0xFFFFFF00u, MIDDLE);
                 f.publish(f.at + 16);
               }});
  c.push_back({"CANCEL with a length", Reason::record_length_invalid, 0, [](Forge& f) {
                 f.first(5000, 100);
                 f.rec(8, CANCEL);
                 f.publish();
               }});
  // C6: beyond the published index.
  c.push_back({"record beyond index", Reason::record_beyond_index, 0, [](Forge& f) {
                 f.rec(100, MESSAGE);
                 f.publish(16);
               }});
  c.push_back({"header only published", Reason::record_beyond_index, 0, [](Forge& f) {
                 f.rec(1, MESSAGE);
                 f.publish(8);
               }});
  c.push_back({"PAD beyond index", Reason::record_beyond_index, 4032, [](Forge& f) {
                 f.header(56, PAD);
                 f.publish(4040);
               }});
  // C7: crossing the end, bad PAD.
  c.push_back({"record crosses end", Reason::record_crosses_end, 4088, [](Forge& f) {
                 f.header(8, MESSAGE);
                 f.publish(4088 + 16);
               }});
  c.push_back({"big record crosses end", Reason::record_crosses_end, 3600, [](Forge& f) {
                 f.header(1000, MESSAGE);
                 f.publish(3600 + 1008);
               }});
  for (uint32_t len : {48u, 64u, 0u, 0xFFFFFFF8u}) {
    c.push_back({"PAD length " + std::to_string(len), Reason::pad_invalid, 4032, [len](Forge& f) {
                   f.header(len, PAD);
                   f.publish(4096 + 16);
                 }});
  }
  c.push_back({"PAD at offset 0 not covering the ring", Reason::pad_invalid, 0, [](Forge& f) {
                 f.header(100, PAD);
                 f.publish(112);
               }});
  // C8: fragment order.
  c.push_back({"MIDDLE outside a message", Reason::fragment_sequence, 0,
               [](Forge& f) { f.rec(8, MIDDLE).publish(); }});
  c.push_back({"LAST outside a message", Reason::fragment_sequence, 0,
               [](Forge& f) { f.rec(8, LAST).publish(); }});
  c.push_back({"CANCEL outside a message", Reason::fragment_sequence, 0,
               [](Forge& f) { f.rec(0, CANCEL).publish(); }});
  c.push_back({"FIRST inside a message", Reason::fragment_sequence, 0,
               [](Forge& f) { f.first(5000, 100).first(5000, 100).publish(); }});
  c.push_back({"MESSAGE inside a message", Reason::fragment_sequence, 0,
               [](Forge& f) { f.first(5000, 100).rec(4, MESSAGE).publish(); }});
  c.push_back({"MIDDLE after CANCEL", Reason::fragment_sequence, 0,
               [](Forge& f) { f.first(200, 100).rec(0, CANCEL).rec(4, MIDDLE).publish(); }});
  // C9: fragment lengths.
  c.push_back({"FIRST shorter than its prefix", Reason::fragment_length, 0,
               [](Forge& f) { f.rec(4, FIRST).publish(); }});
  c.push_back({"FIRST zero word not zero", Reason::fragment_length, 0,
               [](Forge& f) { f.first(5000, 100, 1).publish(); }});
  c.push_back({"FIRST with an empty chunk", Reason::fragment_length, 0,
               [](Forge& f) { f.first(5000, 0).publish(); }});
  c.push_back({"FIRST chunk above total", Reason::fragment_length, 0,
               [](Forge& f) { f.first(50, 100).publish(); }});
  c.push_back({"empty MIDDLE", Reason::fragment_length, 0,
               [](Forge& f) { f.first(5000, 100).rec(0, MIDDLE).publish(); }});
  c.push_back({"empty LAST", Reason::fragment_length, 0,
               [](Forge& f) { f.first(100, 100).rec(0, LAST).publish(); }});
  c.push_back({"LAST short of total", Reason::fragment_length, 0,
               [](Forge& f) { f.first(300, 100).rec(100, LAST).publish(); }});
  c.push_back({"LAST beyond total", Reason::fragment_length, 0,
               [](Forge& f) { f.first(150, 100).rec(100, LAST).publish(); }});
  c.push_back({"MIDDLE beyond total", Reason::fragment_length, 0,
               [](Forge& f) { f.first(150, 100).rec(100, MIDDLE).publish(); }});
  c.push_back({"MIDDLE completing total", Reason::fragment_length, 0,
               [](Forge& f) { f.first(200, 100).rec(100, MIDDLE).publish(); }});
  // C10.
  c.push_back({"FIRST above max_message", Reason::message_too_large, 0,
               [](Forge& f) { f.first(5000, 100).publish(); }, 4999});
  c.push_back({"FIRST announcing 4 GiB", Reason::message_too_large, 0,
               [](Forge& f) { f.first(0xFFFFFFFFu, 100).publish(); }, 1u << 20});
  return c;
}

class Victim {
 public:
  Victim(Side side, uint32_t start, uint32_t max_message) : arena_({kCap, kCap}), side_(side) {
    region_ = init_region(arena_.span(), {kCap, kCap});
    const RingWords in = region_.ring(incoming(side));
    in.write_index.store(start, std::memory_order_relaxed);
    in.read_index.store(start, std::memory_order_relaxed);
    EndpointOptions o;
    o.max_message = max_message;
    o.idle.spin_iterations = 10;
    o.idle.park_timeout = std::chrono::milliseconds(50);
    ep_ = attach(region_, side, o);
    // The hostile peer is "attached".
    region_.state(peer_of(side)).store(1, std::memory_order_seq_cst);
  }
  ~Victim() { unpoison(); }
  Endpoint& ep() { return *ep_; }
  Region& region() { return region_; }
  Forge forge(uint32_t start) {
    const RingWords in = region_.ring(incoming(side_));
    return Forge{in.data, in.write_index, start};
  }
  void poison() {
#ifdef SMC_HAVE_ASAN
    ASAN_POISON_MEMORY_REGION(arena_.bytes() + kHeaderSize, 2 * kCap);
    poisoned_ = true;
#endif
  }
  void unpoison() {
#ifdef SMC_HAVE_ASAN
    if (poisoned_) ASAN_UNPOISON_MEMORY_REGION(arena_.bytes() + kHeaderSize, 2 * kCap);
    poisoned_ = false;
#endif
  }
  // After the failure: the state word, and every operation refused without touching data.
  void expect_failed(Reason r) {
    EXPECT_EQ(ep_->failure(), r);
    EXPECT_EQ(state_word(region_, side_), 3u | (static_cast<uint32_t>(r) << 8));
    poison();
    size_t n = 7;
    EXPECT_EQ(ep_->poll([](std::span<const std::byte>) { ADD_FAILURE(); }, 10, &n), Errc::failed);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(recv_one(*ep_, nullptr, Deadline::in(10ms)), Errc::failed);
    EXPECT_EQ(ep_->wait_readable(Deadline::in(10ms)), Errc::failed);
    EXPECT_EQ(ep_->send(as_span(pattern(10, 1)), Deadline::now()), Errc::failed);
    EXPECT_EQ(ep_->flush(), Errc::failed);
    Endpoint::Reservation res;
    EXPECT_EQ(ep_->reserve(8, &res, Deadline::now()), Errc::failed);
    EXPECT_FALSE(res);
    ep_->fail(Reason::local_error);  // the first reason sticks
    ep_->close();
    EXPECT_EQ(ep_->failure(), r);
    EXPECT_EQ(state_word(region_, side_), 3u | (static_cast<uint32_t>(r) << 8));
    unpoison();
  }

 private:
  ExactArena arena_;
  Side side_;
  Region region_;
  std::unique_ptr<Endpoint> ep_;
  bool poisoned_ = false;
};

const char* side_name(Side s) {
  return s == Side::r ? "victim js (ring at the end of the allocation)" : "victim native";
}

TEST(CorruptionTest, ConsumerChecksFailWithTheExactReason) {
  for (Side side : {Side::r, Side::n}) {
    for (const Case& c : consumer_cases()) {
      SCOPED_TRACE(std::string(side_name(side)) + ": " + c.name);
      Victim v(side, c.start, c.max_message);
      Forge f = v.forge(c.start);
      c.forge(f);
      size_t n = 0;
      std::vector<Bytes> got;
      const Errc e = v.ep().poll(
          [&](std::span<const std::byte> m) { got.emplace_back(m.begin(), m.end()); }, 100, &n);
      EXPECT_EQ(e, Errc::failed);
      EXPECT_TRUE(got.empty()) << "nothing of a corrupt stream is delivered";
      v.expect_failed(c.reason);
    }
  }
}

// The same checks reached through a blocking receive (wait_readable's refill path).
TEST(CorruptionTest, BlockingReceiveFailsToo) {
  for (const Case& c : consumer_cases()) {
    SCOPED_TRACE(c.name);
    Victim v(Side::r, c.start, c.max_message);
    Forge f = v.forge(c.start);
    c.forge(f);
    EXPECT_EQ(recv_one(v.ep(), nullptr, Deadline::in(5s)), Errc::failed);
    v.expect_failed(c.reason);
  }
}

// Valid records before the corruption are delivered; the corruption then fails the endpoint.
TEST(CorruptionTest, GoodRecordsBeforeTheBadOneAreDelivered) {
  Victim v(Side::r, 0, UINT32_MAX);
  Forge f = v.forge(0);
  f.rec(5, MESSAGE).rec(0, MESSAGE).rec(8, 9);
  f.publish();
  std::vector<Bytes> got;
  EXPECT_EQ(poll_all(v.ep(), &got), Errc::failed);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].size(), 5u);
  EXPECT_TRUE(got[1].empty());
  v.expect_failed(Reason::record_kind_invalid);
}

// A fragmented message whose FIRST was fine and whose continuation is corrupt.
TEST(CorruptionTest, CorruptionMidMessageFailsWithoutDelivering) {
  Victim v(Side::n, 0, UINT32_MAX);
  Forge f = v.forge(0);
  f.first(3000, 1008).rec(1016, MIDDLE).publish();
  std::vector<Bytes> got;
  EXPECT_EQ(poll_all(v.ep(), &got), Errc::ok);
  EXPECT_TRUE(got.empty());
  f.rec(1016, LAST).publish();  // 1008 + 1016 + 1016 != 3000
  EXPECT_EQ(poll_all(v.ep(), &got), Errc::failed);
  EXPECT_TRUE(got.empty());
  v.expect_failed(Reason::fragment_length);
}

// The consumer's regression check (C3) needs a reload while records are still cached:
// RingReader::refill does that.
TEST(CorruptionTest, ReaderSeesWriteIndexRegress) {
  ExactArena arena({kCap, kCap});
  Region region = init_region(arena.span(), {kCap, kCap});
  const RingWords w = region.ring(Dir::n2r);
  RingWriter writer(w, 0);
  RingReader reader(w, 0);
  ASSERT_TRUE(writer.write(as_span(pattern(8, 1))));
  ASSERT_TRUE(writer.write(as_span(pattern(8, 2))));
  writer.publish();  // 32
  ASSERT_TRUE(reader.peek());
  reader.consume();  // read 16, cached write 32
  w.write_index.store(24, std::memory_order_relaxed);
  EXPECT_FALSE(reader.refill());
  EXPECT_EQ(reader.failure(), Reason::index_regressed);
  EXPECT_FALSE(reader.peek().has_value());
  EXPECT_FALSE(reader.release()) << "a failed reader stores nothing";
}

// ---- the producer's checks (P1-P3) ----------------------------------------------------

class ProducerVictim : public ::testing::Test {
 protected:
  ProducerVictim() : v_(Side::n, 0, UINT32_MAX) {}
  SharedWord read_index() { return v_.region().ring(Dir::n2r).read_index; }
  void fill() {
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(v_.ep().send(as_span(pattern(kMax, i)), Deadline::now()), Errc::ok);
    }
  }
  Victim v_;
};

TEST_F(ProducerVictim, ReadIndexMisaligned) {
  fill();
  read_index().store(4, std::memory_order_relaxed);
  EXPECT_EQ(v_.ep().send(as_span(pattern(8, 1)), Deadline::now()), Errc::failed);
  v_.expect_failed(Reason::index_misaligned);
}

TEST_F(ProducerVictim, ReadIndexBeyondPublished) {
  fill();
  read_index().store(kCap + 8, std::memory_order_relaxed);
  EXPECT_EQ(v_.ep().send(as_span(pattern(8, 1)), Deadline::now()), Errc::failed);
  v_.expect_failed(Reason::index_out_of_range);
}

TEST_F(ProducerVictim, ReadIndexHuge) {
  fill();
  read_index().store(0x80000000u, std::memory_order_relaxed);
  EXPECT_EQ(v_.ep().send(as_span(pattern(8, 1)), Deadline::in(1s)), Errc::failed);
  v_.expect_failed(Reason::index_out_of_range);
}

TEST_F(ProducerVictim, ReadIndexRegressesSlightly) {
  fill();                                               // write 4096
  read_index().store(2048, std::memory_order_relaxed);  // consumer released half
  ASSERT_EQ(v_.ep().send(as_span(pattern(kMax, 5)), Deadline::now()), Errc::ok);  // 5120
  ASSERT_EQ(v_.ep().send(as_span(pattern(8, 6)), Deadline::now()), Errc::ok);     // 5136
  read_index().store(2040, std::memory_order_relaxed);  // moves back; 5136 - 2040 <= 4096
  EXPECT_EQ(v_.ep().send(as_span(pattern(kMax, 7)), Deadline::now()), Errc::failed);
  v_.expect_failed(Reason::index_regressed);
}

TEST_F(ProducerVictim, ReadIndexRegressesOutOfRange) {
  fill();
  read_index().store(2048, std::memory_order_relaxed);
  ASSERT_EQ(v_.ep().send(as_span(pattern(kMax, 5)), Deadline::now()), Errc::ok);
  ASSERT_EQ(v_.ep().send(as_span(pattern(kMax, 6)), Deadline::now()), Errc::ok);  // 6144
  // Back to 1024: P2 comes first, (6144 - 1024) > capacity.
  read_index().store(1024, std::memory_order_relaxed);
  EXPECT_EQ(v_.ep().send(as_span(pattern(8, 7)), Deadline::now()), Errc::failed);
  v_.expect_failed(Reason::index_out_of_range);
}

TEST_F(ProducerVictim, FragmentedSendFailsMidway) {
  std::thread rogue([&] {
    // A "consumer" that releases once, then writes garbage into read_index.
    std::this_thread::sleep_for(20ms);
    read_index().store(1024, std::memory_order_seq_cst);
    std::this_thread::sleep_for(20ms);
    read_index().store(1028, std::memory_order_seq_cst);
  });
  EXPECT_EQ(v_.ep().send(as_span(pattern(20000, 1)), Deadline::in(10s)), Errc::failed);
  rogue.join();
  v_.expect_failed(Reason::index_misaligned);
}

// ---- the peer's state word (S1) -------------------------------------------------------

TEST(CorruptionTest, InvalidPeerStateWordFailsTheEndpoint) {
  const uint32_t bad[] = {4,     0xFF, 0x10001, 0x80000002u, 0x0501 /* attached + a reason */,
                          0x0D02 /* closed + a reason */};
  for (uint32_t word : bad) {
    for (int op = 0; op < 3; ++op) {
      SCOPED_TRACE("state word " + std::to_string(word) + " op " + std::to_string(op));
      Victim v(Side::n, 0, UINT32_MAX);
      v.region().state(Side::r).store(word, std::memory_order_seq_cst);
      EXPECT_EQ(v.ep().peer_state(), SideState::failed);
      EXPECT_EQ(v.ep().peer_reason(), Reason::peer_state_invalid);
      if (op == 0) {
        EXPECT_EQ(v.ep().send(as_span(pattern(3, 3))), Errc::failed);
      } else if (op == 1) {
        EXPECT_EQ(recv_one(v.ep(), nullptr, Deadline::in(5s)), Errc::failed);
      } else {
        Endpoint::Reservation res;
        EXPECT_EQ(v.ep().reserve(8, &res), Errc::failed);
      }
      v.expect_failed(Reason::peer_state_invalid);
    }
  }
}

TEST(CorruptionTest, ValidPeerStatesDoNotFail) {
  const uint32_t good[] = {0, 1, 2, 3, 3 | (5u << 8), 3 | (13u << 8)};
  for (uint32_t word : good) {
    SCOPED_TRACE(word);
    Victim v(Side::n, 0, UINT32_MAX);
    v.region().state(Side::r).store(word, std::memory_order_seq_cst);
    const Errc e = v.ep().send(as_span(pattern(3, 3)), Deadline::now());
    EXPECT_NE(e, Errc::failed);
    EXPECT_EQ(v.ep().failure(), Reason::none);
  }
}

// A hostile peer may also scribble over the immutable header and this side's own words
// after attach: the endpoint never re-reads them, so it keeps working.
TEST(CorruptionTest, ScribblingOverHeaderAndOwnWordsIsHarmless) {
  Victim v(Side::n, 0, UINT32_MAX);
  std::byte* m = v.region().memory().data();
  for (uint32_t off = 0; off < 128; off += 4) wr32(m + off, 0xDEADBEEF);
  v.region().state(Side::n).store(0xFFFFFFFF, std::memory_order_relaxed);              // own state
  v.region().ring(Dir::n2r).write_index.store(0x12345677, std::memory_order_relaxed);  // own
  v.region().ring(Dir::r2n).read_index.store(0x7777, std::memory_order_relaxed);       // own
  Forge f = v.forge(0);
  f.rec(5, MESSAGE).publish();
  std::vector<Bytes> got;
  EXPECT_EQ(poll_all(v.ep(), &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(v.ep().send(as_span(pattern(9, 9)), Deadline::now()), Errc::ok);
  EXPECT_EQ(v.region().ring(Dir::n2r).write_index.load(std::memory_order_relaxed), 24u);
  EXPECT_EQ(v.ep().failure(), Reason::none);
}

}  // namespace
