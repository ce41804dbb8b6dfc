// Endpoint behaviour: fragmentation and reassembly at the size boundaries, a 64 MiB
// message through a 64 KiB ring, CANCEL after a timeout mid-message, close from either
// side (publishing what was committed), the peer's failed state, deadlines, several
// sender threads, and stats.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

// Waits that should end promptly (woken) are bounded well below the park timeout used.
constexpr auto kLongPark = std::chrono::milliseconds(10'000);
constexpr auto kPrompt = std::chrono::milliseconds(2'000);

IdleOptions parky() {
  return parking(100, 2, kLongPark);
}

class EndpointTest : public ::testing::Test {
 protected:
  void make(RegionConfig c, EndpointOptions js_opt = {}, EndpointOptions nat_opt = {}) {
    arena_ = std::make_unique<CanaryArena>(c);
    region_ = init_region(arena_->span(), c);
    js_ = attach(region_, Side::r, js_opt);
    nat_ = attach(region_, Side::n, nat_opt);
  }
  void TearDown() override {
    js_.reset();
    nat_.reset();
    if (arena_) {
      EXPECT_TRUE(arena_->intact());
    }
  }
  std::unique_ptr<CanaryArena> arena_;
  Region region_;
  std::unique_ptr<Endpoint> js_, nat_;
};

// ---- fragmentation --------------------------------------------------------------------

TEST_F(EndpointTest, FragmentationBoundariesWithThreads) {
  make({4096, 16384});
  const uint32_t max = js_->max_payload();
  ASSERT_EQ(max, 1016u);
  const std::vector<size_t> sizes = {0,       1,    max - 1,   max,           max + 1,
                                     max + 8, 4096, 10 * 4096, 10 * 16384 + 3};
  for (Endpoint* tx : {js_.get(), nat_.get()}) {
    Endpoint* rx = tx == js_.get() ? nat_.get() : js_.get();
    std::thread sender([&] {
      for (size_t i = 0; i < sizes.size(); ++i) {
        EXPECT_EQ(tx->send(as_span(pattern(sizes[i], static_cast<uint32_t>(i)))), Errc::ok);
      }
    });
    for (size_t i = 0; i < sizes.size(); ++i) {
      Bytes got;
      ASSERT_EQ(recv_one(*rx, &got, Deadline::in(30s)), Errc::ok) << i;
      EXPECT_EQ(got.size(), sizes[i]);
      EXPECT_EQ(got, pattern(sizes[i], static_cast<uint32_t>(i))) << "size " << sizes[i];
    }
    sender.join();
  }
  EXPECT_EQ(js_->failure(), Reason::none);
  EXPECT_EQ(nat_->failure(), Reason::none);
}

TEST_F(EndpointTest, RecordKindsAtTheBoundary) {
  make({4096, 4096});
  const uint32_t max = js_->max_payload();
  const std::byte* data = region_.ring(Dir::r2n).data;
  ASSERT_EQ(js_->send(as_span(pattern(max, 1))), Errc::ok);  // one MESSAGE of 1016
  EXPECT_EQ(rd32(data), max);
  EXPECT_EQ(rd32(data + 4), 1u);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u);
  // max + 1: FIRST {1016: total, 0, 1008 bytes} then LAST {9 bytes} (section 8.2 shape).
  const Bytes m = pattern(max + 1, 2);
  ASSERT_EQ(js_->send(as_span(m)), Errc::ok);
  const std::byte* first = data + 1024;
  EXPECT_EQ(rd32(first), 1016u);
  EXPECT_EQ(rd32(first + 4), 2u);
  EXPECT_EQ(rd32(first + 8), max + 1);
  EXPECT_EQ(rd32(first + 12), 0u);
  EXPECT_EQ(std::memcmp(first + 16, m.data(), 1008), 0);
  const std::byte* last = data + 2048;
  EXPECT_EQ(rd32(last), 9u);
  EXPECT_EQ(rd32(last + 4), 4u);
  EXPECT_EQ(std::memcmp(last + 8, m.data() + 1008, 9), 0);
  got.clear();
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], m);
}

TEST_F(EndpointTest, Section82Example) {
  make({4096, 4096});
  const Bytes m = pattern(2500, 3);
  ASSERT_EQ(js_->send(as_span(m)), Errc::ok);
  const std::byte* d = region_.ring(Dir::r2n).data;
  EXPECT_EQ(rd32(d), 1016u);
  EXPECT_EQ(rd32(d + 4), 2u);
  EXPECT_EQ(rd32(d + 8), 2500u);
  EXPECT_EQ(rd32(d + 1024), 1016u);
  EXPECT_EQ(rd32(d + 1028), 3u);
  EXPECT_EQ(rd32(d + 2048), 476u);
  EXPECT_EQ(rd32(d + 2052), 4u);
  EXPECT_EQ(region_.ring(Dir::r2n).write_index.load(std::memory_order_relaxed),
            1024u + 1024u + 8u + 480u);
  Bytes got;
  ASSERT_EQ(recv_one(*nat_, &got, Deadline::now()), Errc::ok);
  EXPECT_EQ(got, m);
}

TEST_F(EndpointTest, SixtyFourMiBThroughSixtyFourKiB) {
  make({65536, 65536});
  const size_t n = 64u << 20;
  Bytes big(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(big.data() + i, &v, 8);
  }
  std::thread sender([&] { EXPECT_EQ(js_->send(as_span(big)), Errc::ok); });
  Bytes got;
  ASSERT_EQ(recv_one(*nat_, &got, Deadline::in(120s)), Errc::ok);
  sender.join();
  ASSERT_EQ(got.size(), n);
  EXPECT_TRUE(got == big);
  EXPECT_EQ(nat_->stats().bytes_received, n);
  EXPECT_EQ(js_->stats().bytes_sent, n);
}

// ---- CANCEL ---------------------------------------------------------------------------

TEST_F(EndpointTest, CancelOwedWhenTheRingIsFull) {
  make({4096, 4096});
  // Nobody reads: FIRST + 3 MIDDLE fill the 4 KiB ring, the rest times out.
  const Bytes big = pattern(10000, 1);
  EXPECT_EQ(js_->send(as_span(big), Deadline::in(50ms)), Errc::timeout);
  EXPECT_EQ(js_->outgoing_fill(), 4096u);
  EXPECT_EQ(js_->stats().messages_sent, 0u);
  // The next message goes out after the owed CANCEL, once the receiver makes room.
  const Bytes next = pattern(300, 2);
  std::thread sender([&] { EXPECT_EQ(js_->send(as_span(next), Deadline::in(30s)), Errc::ok); });
  std::vector<Bytes> got;
  const auto t0 = Clock::now();
  while (got.empty() && ms_since(t0) < 30'000) {
    ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
    std::this_thread::yield();
  }
  sender.join();
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u) << "the cancelled message must never be delivered";
  EXPECT_EQ(got[0], next);
  EXPECT_EQ(nat_->failure(), Reason::none);
  EXPECT_EQ(nat_->stats().messages_received, 1u);
}

TEST_F(EndpointTest, CancelWrittenAtOnceWhenThereIsRoom) {
  make({4096, 4096});
  ASSERT_EQ(js_->send(as_span(pattern(8, 0))), Errc::ok);  // 16 bytes
  // FIRST, MIDDLE, MIDDLE fit (3072 bytes); the next 1024-byte fragment does not, 1008
  // bytes stay free: the CANCEL (8 bytes) goes out right away.
  EXPECT_EQ(js_->send(as_span(pattern(5000, 1)), Deadline::in(30ms)), Errc::timeout);
  const std::byte* d = region_.ring(Dir::r2n).data;
  EXPECT_EQ(rd32(d + 16 + 4), 2u);  // FIRST
  EXPECT_EQ(rd32(d + 16 + 3072), 0u);
  EXPECT_EQ(rd32(d + 16 + 3072 + 4), 6u);  // CANCEL
  EXPECT_EQ(region_.ring(Dir::r2n).write_index.load(std::memory_order_relaxed), 16u + 3072u + 8u);
  ASSERT_EQ(js_->send(as_span(pattern(40, 2)), Deadline::now()), Errc::ok);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], pattern(8, 0));
  EXPECT_EQ(got[1], pattern(40, 2));
  EXPECT_EQ(nat_->failure(), Reason::none);
}

TEST_F(EndpointTest, TimeoutBeforeFirstFragmentWritesNoCancel) {
  make({4096, 4096});
  for (int i = 0; i < 4; ++i) ASSERT_EQ(js_->send(as_span(pattern(1016, i))), Errc::ok);
  EXPECT_EQ(js_->send(as_span(pattern(3000, 9)), Deadline::now()), Errc::timeout);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 4u);
  // A stray CANCEL outside a message would fail the receiver (fragment_sequence).
  ASSERT_EQ(js_->send(as_span(pattern(3000, 10)), Deadline::now()), Errc::ok);
  got.clear();
  ASSERT_EQ(poll_all(*nat_, &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(3000, 10));
  EXPECT_EQ(nat_->failure(), Reason::none);
}

TEST_F(EndpointTest, CancelWithAConcurrentReceiver) {
  make({4096, 4096});
  // The receiver drains slowly while the sender keeps timing out mid-message; every
  // delivered message must be one of the complete ones.
  std::atomic<bool> done{false};
  std::thread sender([&] {
    for (uint32_t i = 0; i < 40; ++i) {
      const Bytes big = pattern(20000, i);
      (void)js_->send(as_span(big), Deadline::in(1ms));
      EXPECT_EQ(js_->send(as_span(pattern(100, 1000 + i)), Deadline::in(30s)), Errc::ok);
    }
    done = true;
  });
  size_t complete_big = 0, small = 0;
  while (!done.load() || nat_->incoming_fill() != 0) {
    std::vector<Bytes> got;
    ASSERT_EQ(poll_all(*nat_, &got, 1), Errc::ok);
    for (const Bytes& g : got) {
      if (g.size() == 100) {
        EXPECT_EQ(g, pattern(100, 1000 + static_cast<uint32_t>(small)));
        ++small;
      } else {
        ASSERT_EQ(g.size(), 20000u);
        ++complete_big;
      }
    }
    std::this_thread::sleep_for(20us);
  }
  sender.join();
  EXPECT_EQ(small, 40u);
  EXPECT_EQ(nat_->failure(), Reason::none);
  EXPECT_EQ(nat_->stats().messages_received, small + complete_big);
}

// ---- close ----------------------------------------------------------------------------

TEST_F(EndpointTest, ReceiverDrainsThenSeesPeerClosed) {
  for (Side closer : {Side::r, Side::n}) {
    SCOPED_TRACE(closer == Side::r ? "js closes" : "native closes");
    make({4096, 4096});
    Endpoint& a = closer == Side::r ? *js_ : *nat_;
    Endpoint& b = closer == Side::r ? *nat_ : *js_;
    ASSERT_EQ(a.send(as_span(pattern(10, 1))), Errc::ok);
    ASSERT_EQ(a.send(as_span(pattern(3000, 2))), Errc::ok);  // fragmented
    ASSERT_EQ(a.send(as_span(pattern(0, 3))), Errc::ok);
    a.close();
    EXPECT_TRUE(a.closed());
    EXPECT_EQ(state_word(region_, closer), 2u);
    EXPECT_EQ(b.peer_state(), SideState::closed);
    Bytes got;
    ASSERT_EQ(recv_one(b, &got, Deadline::in(5s)), Errc::ok);
    EXPECT_EQ(got, pattern(10, 1));
    ASSERT_EQ(recv_one(b, &got, Deadline::in(5s)), Errc::ok);
    EXPECT_EQ(got, pattern(3000, 2));
    ASSERT_EQ(recv_one(b, &got, Deadline::in(5s)), Errc::ok);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(recv_one(b, &got, Deadline::in(5s)), Errc::peer_closed);
    EXPECT_EQ(b.wait_readable(Deadline::never()), Errc::peer_closed);
    EXPECT_EQ(b.send(as_span(pattern(1, 1))), Errc::peer_closed);
    // The closed side refuses everything.
    EXPECT_EQ(a.send(as_span(pattern(1, 1))), Errc::closed);
    size_t n = 0;
    EXPECT_EQ(a.poll([](std::span<const std::byte>) {}, 1, &n), Errc::closed);
    EXPECT_EQ(a.wait_readable(Deadline::never()), Errc::closed);
    Endpoint::Reservation res;
    EXPECT_EQ(a.reserve(1, &res), Errc::closed);
    a.close();  // idempotent
    EXPECT_EQ(state_word(region_, closer), 2u);
    TearDown();
  }
}

TEST_F(EndpointTest, BlockedSenderGetsPeerClosed) {
  EndpointOptions o;
  o.idle = parky();
  make({4096, 4096}, o, o);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(js_->send(as_span(pattern(1016, i))), Errc::ok);
  std::atomic<bool> returned{false};
  Errc result = Errc::ok;
  std::thread sender([&] {
    result = js_->send(as_span(pattern(500, 9)));
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(returned.load());
  const auto t0 = Clock::now();
  nat_->close();
  sender.join();
  EXPECT_LT(ms_since(t0), kPrompt.count());
  EXPECT_EQ(result, Errc::peer_closed);
}

TEST_F(EndpointTest, LocalCloseWakesOwnBlockedReceiverAndSender) {
  EndpointOptions o;
  o.idle = parky();
  make({4096, 4096}, o, o);
  // js's incoming ring is empty (its receiver blocks); its outgoing ring is full (its
  // sender blocks).
  for (int i = 0; i < 4; ++i) ASSERT_EQ(js_->send(as_span(pattern(1016, i))), Errc::ok);
  Errc rx = Errc::ok, tx = Errc::ok;
  std::thread blocked_rx([&] {
    Bytes b;
    rx = recv_one(*js_, &b);
  });
  std::thread blocked_tx([&] { tx = js_->send(as_span(pattern(900, 1))); });
  // Both counted their park, so both are in (or entering) the futex wait.
  const auto t_park = Clock::now();
  while (js_->stats().parks < 2 && ms_since(t_park) < 20'000) std::this_thread::sleep_for(1ms);
  ASSERT_GE(js_->stats().parks, 2u);
  const auto t0 = Clock::now();
  js_->close();
  blocked_rx.join();
  blocked_tx.join();
  EXPECT_LT(ms_since(t0), kPrompt.count()) << "close must wake this side's own sleepers";
  EXPECT_EQ(rx, Errc::closed);
  EXPECT_EQ(tx, Errc::closed);
}

// A send that returned ok is not dropped by a clean close (docs/protocol.md 6): close()
// publishes what was committed, then stores `closed`. With a Batch or a Reservation open,
// close completes at its end: send_handle_test.cpp.
TEST_F(EndpointTest, ClosePublishesWhatWasSentWithoutFlush) {
  make({4096, 4096});
  ASSERT_EQ(js_->send(as_span(pattern(10, 1)), Deadline::never(), /*flush=*/false), Errc::ok);
  EXPECT_EQ(nat_->incoming_fill(), 0u) << "nothing published before the close";
  js_->close();
  EXPECT_GT(nat_->incoming_fill(), 0u) << "close() published it";
  EXPECT_EQ(nat_->peer_state(), SideState::closed);
  Bytes got;
  ASSERT_EQ(recv_one(*nat_, &got, Deadline::in(5s)), Errc::ok);
  EXPECT_EQ(got, pattern(10, 1));
  EXPECT_EQ(recv_one(*nat_, &got, Deadline::in(5s)), Errc::peer_closed);
}

// ---- peer failure ---------------------------------------------------------------------

TEST_F(EndpointTest, PeerFailedIsReportedWithItsReason) {
  make({4096, 4096});
  ASSERT_EQ(js_->send(as_span(pattern(5, 5))), Errc::ok);
  js_->fail(Reason::local_error);
  js_->fail(Reason::fragment_length);  // the first reason sticks
  EXPECT_EQ(js_->failure(), Reason::local_error);
  EXPECT_EQ(state_word(region_, Side::r), 3u | (13u << 8));
  EXPECT_EQ(nat_->peer_state(), SideState::failed);
  EXPECT_EQ(nat_->peer_reason(), Reason::local_error);
  // What the peer published before failing is still delivered, then peer_failed.
  Bytes got;
  ASSERT_EQ(recv_one(*nat_, &got, Deadline::in(5s)), Errc::ok);
  EXPECT_EQ(got, pattern(5, 5));
  EXPECT_EQ(recv_one(*nat_, &got, Deadline::in(5s)), Errc::peer_failed);
  EXPECT_EQ(nat_->send(as_span(pattern(1, 1))), Errc::peer_failed);
  Endpoint::Reservation res;
  EXPECT_EQ(nat_->reserve(1, &res), Errc::peer_failed);
  // The failed side refuses everything; close() does not overwrite the failed state.
  EXPECT_EQ(js_->send(as_span(pattern(1, 1))), Errc::failed);
  size_t n = 0;
  EXPECT_EQ(js_->poll([](std::span<const std::byte>) {}, 1, &n), Errc::failed);
  js_->close();
  EXPECT_EQ(state_word(region_, Side::r), 3u | (13u << 8));
  EXPECT_EQ(nat_->failure(), Reason::none) << "a failed peer does not fail this side";
}

TEST_F(EndpointTest, PeerFailureWakesBlockedSender) {
  EndpointOptions o;
  o.idle = parky();
  make({4096, 4096}, o, o);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(js_->send(as_span(pattern(1016, i))), Errc::ok);
  Errc tx = Errc::ok;
  std::thread sender([&] { tx = js_->send(as_span(pattern(900, 1))); });
  std::this_thread::sleep_for(100ms);
  const auto t0 = Clock::now();
  nat_->fail(Reason::message_too_large);
  sender.join();
  EXPECT_LT(ms_since(t0), kPrompt.count());
  EXPECT_EQ(tx, Errc::peer_failed);
  EXPECT_EQ(js_->peer_reason(), Reason::message_too_large);
}

// ---- deadlines ------------------------------------------------------------------------

TEST_F(EndpointTest, DeadlinesAndTimeouts) {
  EndpointOptions o;
  o.idle = parky();  // park timeout 10 s: the deadlines must bound the parks
  make({4096, 4096}, o, o);
  Bytes got;
  auto t0 = Clock::now();
  EXPECT_EQ(recv_one(*nat_, &got, Deadline::now()), Errc::timeout);
  EXPECT_LT(ms_since(t0), 2000.0);
  t0 = Clock::now();
  EXPECT_EQ(recv_one(*nat_, &got, Deadline::in(80ms)), Errc::timeout);
  double ms = ms_since(t0);
  EXPECT_GE(ms, 79.0);
  EXPECT_LT(ms, 5000.0) << "a deadline shorter than the park timeout bounds the park";
  t0 = Clock::now();
  EXPECT_EQ(nat_->wait_readable(Deadline::in(30ms)), Errc::timeout);
  EXPECT_GE(ms_since(t0), 29.0);
  // Deadline in the past.
  EXPECT_EQ(nat_->wait_readable(Deadline{Clock::now() - 1s}), Errc::timeout);

  for (int i = 0; i < 4; ++i) ASSERT_EQ(js_->send(as_span(pattern(1016, i))), Errc::ok);
  t0 = Clock::now();
  EXPECT_EQ(js_->send(as_span(pattern(8, 1)), Deadline::in(60ms)), Errc::timeout);
  ms = ms_since(t0);
  EXPECT_GE(ms, 59.0);
  EXPECT_LT(ms, 5000.0);
  Endpoint::Reservation res;
  EXPECT_EQ(js_->reserve(8, &res, Deadline::in(20ms)), Errc::timeout);
  EXPECT_FALSE(res);
  // A message arriving before the deadline ends the wait early.
  std::thread late([&] {
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(nat_->send(as_span(pattern(7, 7))), Errc::ok);
  });
  t0 = Clock::now();
  ASSERT_EQ(recv_one(*js_, &got, Deadline::in(20s)), Errc::ok);
  late.join();
  EXPECT_LT(ms_since(t0), 5000.0);
  EXPECT_EQ(got, pattern(7, 7));
}

// ---- several senders ------------------------------------------------------------------

TEST_F(EndpointTest, SeveralSenderThreadsAreSerialized) {
  make({8192, 4096});
  constexpr uint32_t kThreads = 4;
#ifdef SMC_UNDER_SANITIZER
  constexpr uint32_t kPerThread = 500;
#else
  constexpr uint32_t kPerThread = 3000;
#endif
  auto make_msg = [](uint32_t t, uint32_t seq) {
    const size_t size = 8 + (seq % 17 == 0 ? 5000 : (seq * 7 + t) % 200);
    Bytes m = pattern(size, t * 1000003 + seq);
    wr32(m.data(), t);
    wr32(m.data() + 4, seq);
    return m;
  };
  std::vector<std::thread> senders;
  for (uint32_t t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (uint32_t s = 0; s < kPerThread; ++s) {
        ASSERT_EQ(js_->send(as_span(make_msg(t, s)), Deadline::in(60s)), Errc::ok);
      }
    });
  }
  std::map<uint32_t, uint32_t> next;
  uint32_t total = 0;
  while (total < kThreads * kPerThread) {
    size_t n = 0;
    const Errc e = nat_->receive(
        [&](std::span<const std::byte> m) {
          ASSERT_GE(m.size(), 8u);
          const uint32_t t = rd32(m.data()), s = rd32(m.data() + 4);
          ASSERT_LT(t, kThreads);
          EXPECT_EQ(s, next[t]) << "per-thread order, thread " << t;
          EXPECT_TRUE(Bytes(m.begin(), m.end()) == make_msg(t, s)) << t << "/" << s;
          next[t] = s + 1;
          ++total;
        },
        64, &n, Deadline::in(60s));
    ASSERT_EQ(e, Errc::ok);
  }
  for (auto& s : senders) s.join();
  for (uint32_t t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kPerThread);
  EXPECT_EQ(nat_->failure(), Reason::none);
}

// ---- stats ----------------------------------------------------------------------------

TEST_F(EndpointTest, StatsCountMessagesBytesParksAndDoorbells) {
  EndpointOptions o;
  o.idle = parky();
  make({4096, 4096}, o, o);
  const size_t sizes[] = {0, 10, 1016, 1017, 5000};
  Bytes got;
  for (size_t s : sizes) {
    std::thread tx(
        [&] { EXPECT_EQ(js_->send(as_span(pattern(s, 1)), Deadline::in(20s)), Errc::ok); });
    ASSERT_EQ(recv_one(*nat_, &got, Deadline::in(20s)), Errc::ok);
    tx.join();
    EXPECT_EQ(got, pattern(s, 1));
  }
  const uint64_t bytes = 0 + 10 + 1016 + 1017 + 5000;
  EXPECT_EQ(js_->stats().messages_sent, 5u);
  EXPECT_EQ(js_->stats().bytes_sent, bytes);
  EXPECT_EQ(nat_->stats().messages_received, 5u);
  EXPECT_EQ(nat_->stats().bytes_received, bytes);
  EXPECT_EQ(nat_->stats().messages_sent, 0u);
  EXPECT_EQ(js_->stats().messages_received, 0u);

  // A parked receiver: the sender rings exactly because the parked word is set.
  const EndpointStats before_tx = js_->stats(), before_rx = nat_->stats();
  std::thread rx([&] { EXPECT_EQ(recv_one(*nat_, &got, Deadline::in(20s)), Errc::ok); });
  wait_for_word(region_.ring(Dir::r2n).consumer_parked, 1);
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(js_->send(as_span(pattern(3, 3))), Errc::ok);
  rx.join();
  EXPECT_EQ(got, pattern(3, 3));
  EXPECT_GE(nat_->stats().parks, before_rx.parks + 1);
  EXPECT_EQ(js_->stats().doorbells_rung, before_tx.doorbells_rung + 1);
  // An awake receiver costs no doorbell.
  const uint64_t rung = js_->stats().doorbells_rung;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(js_->send(as_span(pattern(3, 3))), Errc::ok);
  EXPECT_EQ(js_->stats().doorbells_rung, rung);
  EXPECT_EQ(js_->stats().messages_sent, 16u);
}

}  // namespace
