// An index word moved back by a foreign write to a value the peer never saw passes every
// check of the peer (C3/P3 need a newer value it saw) and leaves both sides waiting on
// each other. A side that parks puts its own words back after each park, so such a write
// costs one park timeout instead of a stall (docs/protocol.md 7.4).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

constexpr auto kPark = std::chrono::milliseconds(50);

// spin: never parks; restores once per park timeout instead.
struct Pair : EndpointPair {
  explicit Pair(std::chrono::milliseconds park = kPark, bool spin = false)
      : EndpointPair({4096, 4096}, idle(park, spin)) {}
  static IdleOptions idle(std::chrono::milliseconds park, bool spin) {
    IdleOptions o = parking(0, 0, park);
    o.park = !spin;
    return o;
  }
};

// N published replies; before R read them, N2R write_index is set back to 0. N is idle
// (waiting for data), R waits for the replies it can no longer see.
class RestoreWriteIndexTest : public ::testing::TestWithParam<bool> {};

TEST_P(RestoreWriteIndexTest, WriteIndexMovedBackIsRestoredByTheIdleProducer) {
  Pair p(kPark, /*spin=*/GetParam());
  for (uint32_t i = 0; i < 3; ++i) ASSERT_EQ(p.nat->send(as_span(pattern(100, i))), Errc::ok);
  const uint32_t published = p.region.ring(Dir::n2r).write_index.load(std::memory_order_seq_cst);
  ASSERT_GT(published, 0u);
  p.region.ring(Dir::n2r).write_index.store(0, std::memory_order_seq_cst);

  Errc nat_got = Errc::ok;
  std::thread nat([&] { nat_got = recv_one(*p.nat, nullptr, Deadline::in(10s)); });
  // EXPECT, not ASSERT, while the thread runs: a failure must not skip its join.
  for (uint32_t i = 0; i < 3; ++i) {
    Bytes m;
    const auto t0 = Clock::now();
    const Errc e = recv_one(*p.js, &m, Deadline::in(3s));
    EXPECT_EQ(e, Errc::ok) << "reply " << i << " never came";
    if (e != Errc::ok) break;
    EXPECT_EQ(m, pattern(100, i));
    EXPECT_LT(ms_since(t0), 2'000.0);
  }
  EXPECT_EQ(p.region.ring(Dir::n2r).write_index.load(std::memory_order_seq_cst), published);
  ASSERT_EQ(p.js->send(as_span(pattern(8, 9))), Errc::ok);  // lets N's receive return
  nat.join();
  EXPECT_EQ(nat_got, Errc::ok);
  EXPECT_EQ(p.js->failure(), Reason::none);
  EXPECT_EQ(p.nat->failure(), Reason::none);
}

INSTANTIATE_TEST_SUITE_P(ParkOrSpin, RestoreWriteIndexTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "spin" : "park");
                         });

// R filled R2N; N consumed and released everything; then R2N read_index is set back to 0.
// R's next send waits for space it already has; N is idle.
TEST(RestoreTest, ReadIndexMovedBackIsRestoredByTheIdleConsumer) {
  Pair p;
  const uint32_t max = p.js->max_payload();
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_EQ(p.js->send(as_span(pattern(max, i)), Deadline::in(1s)), Errc::ok);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*p.nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 4u);
  p.region.ring(Dir::r2n).read_index.store(0, std::memory_order_seq_cst);

  Bytes fifth;
  Errc nat_got = Errc::ok;
  std::thread nat([&] { nat_got = recv_one(*p.nat, &fifth, Deadline::in(10s)); });
  const auto t0 = Clock::now();
  EXPECT_EQ(p.js->send(as_span(pattern(max, 4)), Deadline::in(3s)), Errc::ok)
      << "the producer waited for space it had";
  EXPECT_LT(ms_since(t0), 2'000.0);
  nat.join();
  EXPECT_EQ(nat_got, Errc::ok);
  EXPECT_EQ(fifth, pattern(max, 4));
  EXPECT_EQ(p.js->failure(), Reason::none);
  EXPECT_EQ(p.nat->failure(), Reason::none);
}

// Only a word moved back is put back: a forward or misaligned one is left for the peer's
// checks to name (putting it back could hide a corrupting writer from them).
TEST(RestoreTest, AForwardOrMisalignedWordIsLeftForThePeerToName) {
  Pair p;
  ASSERT_EQ(p.nat->send(as_span(pattern(40, 1))), Errc::ok);
  const uint32_t published = p.region.ring(Dir::n2r).write_index.load(std::memory_order_seq_cst);
  p.region.ring(Dir::n2r).write_index.store(published + 4, std::memory_order_seq_cst);
  // N parks (and would restore) twice before R looks.
  EXPECT_EQ(recv_one(*p.nat, nullptr, Deadline::in(3 * kPark)), Errc::timeout);
  EXPECT_EQ(p.region.ring(Dir::n2r).write_index.load(std::memory_order_seq_cst), published + 4);
  EXPECT_EQ(recv_one(*p.js, nullptr, Deadline::in(1s)), Errc::failed);
  EXPECT_EQ(p.js->failure(), Reason::index_misaligned);
}

// Restoring never moves an index back over a concurrent publication: many senders
// publish while the receiving thread parks and restores over and over; every message
// arrives once, in order per sender, and nobody fails.
TEST(RestoreTest, RestoringRacesPublicationsSafely) {
  Pair p(std::chrono::milliseconds(1));  // a restore every millisecond
  constexpr uint32_t kPerSender = 2'000;
  std::vector<std::thread> senders;
  for (uint32_t s = 0; s < 2; ++s) {
    senders.emplace_back([&, s] {
      for (uint32_t i = 0; i < kPerSender; ++i) {
        Bytes m(8);
        wr32(m.data(), s);
        wr32(m.data() + 4, i);
        ASSERT_EQ(p.nat->send(as_span(m), Deadline::in(10s)), Errc::ok);
        if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  // N's own receive thread parks (nothing comes from R) and restores meanwhile.
  std::thread nat_receiver([&] { (void)recv_one(*p.nat, nullptr, Deadline::in(30s)); });
  uint32_t next[2] = {0, 0};
  while (next[0] + next[1] < 2 * kPerSender) {
    Bytes m;
    const Errc e = recv_one(*p.js, &m, Deadline::in(10s));
    EXPECT_EQ(e, Errc::ok);
    const uint32_t s = m.size() == 8 ? rd32(m.data()) : 2;
    EXPECT_LT(s, 2u);
    if (e != Errc::ok || s >= 2) break;
    EXPECT_EQ(rd32(m.data() + 4), next[s]) << "sender " << s;
    next[s]++;
  }
  for (auto& t : senders) t.join();
  ASSERT_EQ(p.js->send(as_span(pattern(8, 1))), Errc::ok);
  nat_receiver.join();
  EXPECT_EQ(p.js->failure(), Reason::none);
  EXPECT_EQ(p.nat->failure(), Reason::none);
}

}  // namespace
