// Lost wake-up detectors. Every side parks at once (no spinning, no yielding) with a park
// timeout of 10 s, so a single lost wake-up stalls a round trip by 10 s: the watchdog and
// per-test time bounds turn that into a failure instead of a hung CI job.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

#ifdef SMC_UNDER_SANITIZER
constexpr uint32_t kRoundTrips = 3'000;
constexpr uint32_t kSpaceMessages = 3'000;
#else
constexpr uint32_t kRoundTrips = 20'000;
constexpr uint32_t kSpaceMessages = 20'000;
#endif
constexpr auto kParkTimeout = std::chrono::milliseconds(10'000);

// Aborts the process if the scope is not left within `limit`: a hang fails loudly.
class Watchdog {
 public:
  Watchdog(const char* what, std::chrono::seconds limit) : what_(what) {
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: '%s' still running after %lld s: lost wake-up?\n", what_,
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  const char* what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

IdleOptions park_only(std::chrono::milliseconds timeout = kParkTimeout) {
  return parking(0, 0, timeout);  // no spinning, no yielding
}

struct Pair : EndpointPair {
  explicit Pair(RegionConfig c, IdleOptions idle = park_only()) : EndpointPair(c, idle) {}
};

TEST(ParkWakeTest, PingPongParkOnly) {
  Watchdog dog("ping-pong", 60s);
  Pair p({4096, 4096});
  std::thread echo([&] {
    for (uint32_t i = 0; i < kRoundTrips; ++i) {
      Bytes m;
      ASSERT_EQ(recv_one(*p.nat, &m, Deadline::in(30s)), Errc::ok) << i;
      ASSERT_EQ(p.nat->send(as_span(m), Deadline::in(30s)), Errc::ok);
    }
  });
  double worst = 0;
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < kRoundTrips; ++i) {
    const auto t = Clock::now();
    Bytes m(8), back;
    wr32(m.data(), i);
    ASSERT_EQ(p.js->send(as_span(m), Deadline::in(30s)), Errc::ok);
    ASSERT_EQ(recv_one(*p.js, &back, Deadline::in(30s)), Errc::ok) << i;
    ASSERT_EQ(back, m);
    worst = std::max(worst, ms_since(t));
  }
  echo.join();
  // One lost wake-up would cost a whole park timeout (10 s) on that round trip.
  EXPECT_LT(worst, 5'000.0) << "a round trip waited for a park timeout: lost wake-up";
  std::printf("  %u round trips in %.0f ms, worst %.2f ms, parks js %llu nat %llu\n", kRoundTrips,
              ms_since(t0), worst, static_cast<unsigned long long>(p.js->stats().parks),
              static_cast<unsigned long long>(p.nat->stats().parks));
  EXPECT_GT(p.js->stats().parks + p.nat->stats().parks, 0u) << "the test never parked";
  EXPECT_GT(p.js->stats().doorbells_rung + p.nat->stats().doorbells_rung, 0u);
}

TEST(ParkWakeTest, ProducerWaitsForSpaceParkOnly) {
  Watchdog dog("producer waiting for space", 60s);
  Pair p({4096, 4096});
  // Each message is a maximal record, so the ring holds four: the producer waits for space
  // all the time, and the consumer for data.
  std::thread sender([&] {
    for (uint32_t i = 0; i < kSpaceMessages; ++i) {
      Bytes m = pattern(1016, i);
      ASSERT_EQ(p.js->send(as_span(m), Deadline::in(30s)), Errc::ok) << i;
    }
  });
  double worst = 0;
  for (uint32_t i = 0; i < kSpaceMessages; ++i) {
    const auto t = Clock::now();
    Bytes m;
    ASSERT_EQ(recv_one(*p.nat, &m, Deadline::in(30s)), Errc::ok) << i;
    ASSERT_EQ(m, pattern(1016, i));
    worst = std::max(worst, ms_since(t));
  }
  sender.join();
  EXPECT_LT(worst, 5'000.0) << "a receive waited for a park timeout: lost wake-up";
  EXPECT_GT(p.js->stats().parks, 0u) << "the producer never parked waiting for space";
  EXPECT_GT(p.nat->stats().doorbells_rung, 0u) << "the consumer never rang the producer";
}

TEST(ParkWakeTest, FragmentedStreamParkOnly) {
  Watchdog dog("fragmented stream", 60s);
  Pair p({4096, 4096});
  constexpr uint32_t kCount = 300;
  std::thread sender([&] {
    for (uint32_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(p.js->send(as_span(pattern(20'000 + i, i)), Deadline::in(30s)), Errc::ok);
    }
  });
  for (uint32_t i = 0; i < kCount; ++i) {
    Bytes m;
    ASSERT_EQ(recv_one(*p.nat, &m, Deadline::in(30s)), Errc::ok) << i;
    ASSERT_EQ(m, pattern(20'000 + i, i));
  }
  sender.join();
}

TEST(ParkWakeTest, CloseWakesAParkedReceivingPeer) {
  Watchdog dog("close wakes parked receiver", 60s);
  Pair p({4096, 4096});
  Errc rx = Errc::ok;
  std::thread receiver([&] { rx = recv_one(*p.nat, nullptr); });
  wait_for_word(p.region.ring(Dir::r2n).consumer_parked, 1);
  std::this_thread::sleep_for(20ms);  // inside the futex by now
  const auto t0 = Clock::now();
  p.js->close();
  receiver.join();
  const double ms = ms_since(t0);
  EXPECT_EQ(rx, Errc::peer_closed);
  EXPECT_LT(ms, 2'000.0) << "close must ring the parked peer, not leave it to the timeout";
  EXPECT_EQ(p.region.ring(Dir::r2n).consumer_parked.load(std::memory_order_relaxed), 0u);
}

TEST(ParkWakeTest, CloseWakesAParkedSendingPeer) {
  Watchdog dog("close wakes parked sender", 60s);
  Pair p({4096, 4096});
  for (int i = 0; i < 4; ++i) ASSERT_EQ(p.nat->send(as_span(pattern(1016, i))), Errc::ok);
  Errc tx = Errc::ok;
  std::thread sender([&] { tx = p.nat->send(as_span(pattern(1016, 9))); });
  wait_for_word(p.region.ring(Dir::n2r).producer_parked, 1);
  std::this_thread::sleep_for(20ms);
  const auto t0 = Clock::now();
  p.js->close();
  sender.join();
  EXPECT_EQ(tx, Errc::peer_closed);
  EXPECT_LT(ms_since(t0), 2'000.0);
}

TEST(ParkWakeTest, FailureWakesAParkedPeer) {
  Watchdog dog("failure wakes parked receiver", 60s);
  Pair p({4096, 4096});
  Errc rx = Errc::ok;
  std::thread receiver([&] { rx = recv_one(*p.js, nullptr); });
  wait_for_word(p.region.ring(Dir::n2r).consumer_parked, 1);
  std::this_thread::sleep_for(20ms);
  const auto t0 = Clock::now();
  p.nat->fail(Reason::local_error);
  receiver.join();
  EXPECT_EQ(rx, Errc::peer_failed);
  EXPECT_LT(ms_since(t0), 2'000.0);
  EXPECT_EQ(p.js->peer_reason(), Reason::local_error);
}

// A peer that dies without ringing: its state word changes, nothing wakes us, and the park
// timeout bounds how long it takes to notice.
TEST(ParkWakeTest, SilentPeerDeathIsNoticedWithinTheParkTimeout) {
  Watchdog dog("silent death", 60s);
  constexpr auto kTimeout = std::chrono::milliseconds(300);
  struct Case {
    uint32_t word;
    Errc expected;
  };
  for (const Case c :
       {Case{2u, Errc::peer_closed},
        Case{3u | (uint32_t{static_cast<uint8_t>(Reason::local_error)} << 8), Errc::peer_failed}}) {
    for (bool sending : {false, true}) {
      SCOPED_TRACE(std::to_string(c.word) + (sending ? " sending" : " receiving"));
      Pair p({4096, 4096}, park_only(kTimeout));
      if (sending) {
        for (int i = 0; i < 4; ++i) ASSERT_EQ(p.nat->send(as_span(pattern(1016, i))), Errc::ok);
      }
      Errc result = Errc::ok;
      std::thread waiter([&] {
        result = sending ? p.nat->send(as_span(pattern(1016, 9))) : recv_one(*p.nat, nullptr);
      });
      wait_for_word(sending ? p.region.ring(Dir::n2r).producer_parked
                            : p.region.ring(Dir::r2n).consumer_parked,
                    1);
      std::this_thread::sleep_for(20ms);
      const auto t0 = Clock::now();
      // The js side "dies": its state word changes, nobody rings.
      p.region.state(Side::js).store(c.word, std::memory_order_seq_cst);
      waiter.join();
      const double ms = ms_since(t0);
      EXPECT_EQ(result, c.expected);
      EXPECT_LT(ms, static_cast<double>(kTimeout.count()) + 1'500.0)
          << "not noticed within about one park timeout";
      EXPECT_GT(p.nat->stats().parks, 0u);
    }
  }
}

// Close racing the peer's decision to park, many times: any lost wake-up costs 10 s, which
// the time bound catches.
TEST(ParkWakeTest, CloseRacingParkIsNeverLost) {
  Watchdog dog("close racing park", 60s);
#ifdef SMC_UNDER_SANITIZER
  constexpr int kIterations = 100;
#else
  constexpr int kIterations = 300;
#endif
  double worst = 0;
  for (int i = 0; i < kIterations; ++i) {
    Pair p({4096, 4096});
    Errc rx = Errc::ok;
    std::atomic<bool> started{false};
    std::thread receiver([&] {
      started = true;
      rx = recv_one(*p.nat, nullptr);
    });
    while (!started.load()) std::this_thread::yield();
    if (i % 3 == 1) std::this_thread::yield();
    if (i % 3 == 2) std::this_thread::sleep_for(std::chrono::microseconds(i % 50));
    const auto t0 = Clock::now();
    p.js->close();
    receiver.join();
    worst = std::max(worst, ms_since(t0));
    ASSERT_EQ(rx, Errc::peer_closed) << i;
  }
  EXPECT_LT(worst, 5'000.0) << "a close raced a park and its wake-up was lost";
}

}  // namespace
