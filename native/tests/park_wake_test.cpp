// Lost wake-up detectors. Every side parks at once (no spinning, no yielding) with a park
// timeout of 10 s, so a single lost wake-up stalls a round trip by 10 s: the watchdog and
// per-test time bounds turn that into a failure instead of a hung CI job.
//
// Sleepers wait on a wake sequence they read before re-checking (docs/protocol.md 5.2), so
// a state change or publication between that re-check and the wait itself is never lost.
// The racing tests aim at that window: they end the channel right after the sleeper's
// parks counter moves (it counts the decision to sleep, just before the wait), as well as
// at once and after a short spin, also with four busy threads competing for the cores.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

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
constexpr int kRaces = 90;
#else
constexpr uint32_t kRoundTrips = 20'000;
constexpr uint32_t kSpaceMessages = 20'000;
constexpr int kRaces = 300;
#endif
constexpr auto kParkTimeout = std::chrono::milliseconds(10000);
// Far below the park timeout: a wait this long was not ended by a wake.
constexpr double kLostWakeMs = 5'000.0;

// Threads that spin until destroyed: the load under which the racing tests also run (four
// of them on this project's 2-core machines, so the sleeper and the waker get preempted
// at arbitrary points).
class BusyLoops {
 public:
  explicit BusyLoops(int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load(std::memory_order_relaxed)) cpu_relax();
      });
    }
  }
  ~BusyLoops() {
    stop_.store(true, std::memory_order_relaxed);
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

IdleOptions park_only(std::chrono::milliseconds timeout = kParkTimeout) {
  return parking(0, 0, timeout);  // no spinning, no yielding
}

struct Pair : EndpointPair {
  explicit Pair(RegionConfig c, IdleOptions idle = park_only()) : EndpointPair(c, idle) {}
};

// Waits (yielding) until `ep` has decided to sleep at least `n` times in all: its parks
// counter moves just before the wait on the wake sequence.
void wait_for_parks(const Endpoint& ep, uint64_t n = 1) {
  const auto t0 = Clock::now();
  while (ep.stats().parks < n && ms_since(t0) < 20'000) std::this_thread::yield();
  ASSERT_GE(ep.stats().parks, n) << "the waiter never parked";
}

// Four records of max_payload fill a 4 KiB ring: the next send waits for space.
void fill_n2r(Endpoint& nat) {
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(nat.send(as_span(pattern(1016, i))), Errc::ok);
}

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
  EXPECT_LT(worst, kLostWakeMs) << "a round trip waited for a park timeout: lost wake-up";
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
  EXPECT_LT(worst, kLostWakeMs) << "a receive waited for a park timeout: lost wake-up";
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
  wait_for_parks(*p.nat);
  const uint32_t seq = p.region.ring(Dir::r2n).consumer_wake_seq.load(std::memory_order_seq_cst);
  const auto t0 = Clock::now();
  p.js->close();
  receiver.join();
  EXPECT_EQ(rx, Errc::peer_closed);
  EXPECT_LT(ms_since(t0), kLostWakeMs) << "close must wake the parked peer, not leave it to the "
                                          "park timeout";
  EXPECT_EQ(p.region.ring(Dir::r2n).consumer_wake_seq.load(std::memory_order_seq_cst), seq + 1)
      << "one bump of the sleeper's wake sequence";
  EXPECT_EQ(p.js->stats().doorbells_rung, 1u) << "one ring suffices";
  EXPECT_EQ(p.region.ring(Dir::r2n).consumer_parked.load(std::memory_order_relaxed), 0u);
}

TEST(ParkWakeTest, CloseWakesAParkedSendingPeer) {
  Watchdog dog("close wakes parked sender", 60s);
  Pair p({4096, 4096});
  fill_n2r(*p.nat);
  Errc tx = Errc::ok;
  std::thread sender([&] { tx = p.nat->send(as_span(pattern(1016, 9))); });
  wait_for_parks(*p.nat);
  const auto t0 = Clock::now();
  p.js->close();
  sender.join();
  EXPECT_EQ(tx, Errc::peer_closed);
  EXPECT_LT(ms_since(t0), kLostWakeMs);
  EXPECT_EQ(p.js->stats().doorbells_rung, 1u);
}

TEST(ParkWakeTest, FailureWakesAParkedPeer) {
  Watchdog dog("failure wakes parked receiver", 60s);
  Pair p({4096, 4096});
  Errc rx = Errc::ok;
  std::thread receiver([&] { rx = recv_one(*p.js, nullptr); });
  wait_for_parks(*p.js);
  const auto t0 = Clock::now();
  p.nat->fail(Reason::local_error);
  receiver.join();
  EXPECT_EQ(rx, Errc::peer_failed);
  EXPECT_LT(ms_since(t0), kLostWakeMs);
  EXPECT_EQ(p.js->peer_reason(), Reason::local_error);
}

TEST(ParkWakeTest, CloseWakesThisSidesOwnParkedThreads) {
  Watchdog dog("close wakes own threads", 60s);
  Pair p({4096, 4096});
  fill_n2r(*p.nat);
  Errc rx = Errc::ok, tx = Errc::ok;
  std::thread receiver([&] { rx = recv_one(*p.nat, nullptr); });
  std::thread sender([&] { tx = p.nat->send(as_span(pattern(1016, 9))); });
  wait_for_parks(*p.nat, 2);
  const auto t0 = Clock::now();
  p.nat->close();
  receiver.join();
  sender.join();
  EXPECT_EQ(rx, Errc::closed);
  EXPECT_EQ(tx, Errc::closed);
  EXPECT_LT(ms_since(t0), kLostWakeMs);
}

// A peer that died parked leaves its parked words set. The old design rang such a word
// again and again for up to 50 ms; now each parked role gets exactly one ring, and close()
// waits for nobody.
TEST(ParkWakeTest, CloseRingsEachParkedRoleOfADeadPeerOnce) {
  Pair p({4096, 4096});
  const RingWords r2n = p.region.ring(Dir::r2n);
  const RingWords n2r = p.region.ring(Dir::n2r);
  r2n.consumer_parked.store(1, std::memory_order_seq_cst);  // the native side "died" parked
  n2r.producer_parked.store(1, std::memory_order_seq_cst);
  p.js->close();
  EXPECT_EQ(p.js->stats().doorbells_rung, 2u);
  EXPECT_EQ(r2n.consumer_wake_seq.load(std::memory_order_seq_cst), 1u);
  EXPECT_EQ(n2r.producer_wake_seq.load(std::memory_order_seq_cst), 1u);
  // The js side's own roles were not parked: nothing of theirs moves.
  EXPECT_EQ(n2r.consumer_wake_seq.load(std::memory_order_seq_cst), 0u);
  EXPECT_EQ(r2n.producer_wake_seq.load(std::memory_order_seq_cst), 0u);
}

TEST(ParkWakeTest, AttachRingsAParkedPeer) {
  Pair p({4096, 4096});
  Errc rx = Errc::ok;
  std::thread receiver([&] { rx = recv_one(*p.nat, nullptr, Deadline::in(30s)); });
  wait_for_parks(*p.nat);
  const uint32_t seq = p.region.ring(Dir::r2n).consumer_wake_seq.load(std::memory_order_seq_cst);
  p.js.reset();  // closes: the receiver sees peer_closed
  receiver.join();
  EXPECT_EQ(rx, Errc::peer_closed);
  // A state change of attach rings a parked role like close does (docs/protocol.md 2.2).
  p.region.ring(Dir::r2n).consumer_parked.store(1, std::memory_order_seq_cst);
  EndpointOptions o;
  o.idle = park_only();
  auto again = attach(p.region, Side::r, o);
  EXPECT_EQ(again->stats().doorbells_rung, 1u);
  EXPECT_EQ(p.region.ring(Dir::r2n).consumer_wake_seq.load(std::memory_order_seq_cst), seq + 2);
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
      if (sending) fill_n2r(*p.nat);
      Errc result = Errc::ok;
      std::thread waiter([&] {
        result = sending ? p.nat->send(as_span(pattern(1016, 9))) : recv_one(*p.nat, nullptr);
      });
      wait_for_parks(*p.nat);
      const auto t0 = Clock::now();
      // The js side "dies": its state word changes, nobody rings.
      p.region.state(Side::r).store(c.word, std::memory_order_seq_cst);
      waiter.join();
      const double ms = ms_since(t0);
      EXPECT_EQ(result, c.expected);
      EXPECT_LT(ms, static_cast<double>(kTimeout.count()) + 1'500.0)
          << "not noticed within about one park timeout";
    }
  }
}

// A hostile writer holding a wake sequence at one value can undo a bump before the
// sleeper's wait compares it: that costs at most one park timeout, never a hang.
TEST(ParkWakeTest, AWakeSequenceHeldByAHostileWriterCostsAtMostAParkTimeout) {
  Watchdog dog("hostile wake sequence", 60s);
  constexpr auto kTimeout = std::chrono::milliseconds(200);
  constexpr uint32_t kTrips = 200;
  Pair p({4096, 4096}, park_only(kTimeout));
  std::atomic<bool> stop{false};
  std::thread hostile([&] {
    const SharedWord seq = p.region.ring(Dir::r2n).consumer_wake_seq;
    while (!stop.load(std::memory_order_relaxed)) seq.store(7, std::memory_order_relaxed);
  });
  std::thread echo([&] {
    for (uint32_t i = 0; i < kTrips; ++i) {
      Bytes m;
      ASSERT_EQ(recv_one(*p.nat, &m, Deadline::in(30s)), Errc::ok) << i;
      ASSERT_EQ(p.nat->send(as_span(m), Deadline::in(30s)), Errc::ok);
    }
  });
  double worst = 0;
  for (uint32_t i = 0; i < kTrips; ++i) {
    const auto t = Clock::now();
    Bytes m(8), back;
    wr32(m.data(), i);
    ASSERT_EQ(p.js->send(as_span(m), Deadline::in(30s)), Errc::ok);
    ASSERT_EQ(recv_one(*p.js, &back, Deadline::in(30s)), Errc::ok) << i;
    ASSERT_EQ(back, m);
    worst = std::max(worst, ms_since(t));
  }
  echo.join();
  stop = true;
  hostile.join();
  EXPECT_LT(worst, static_cast<double>(kTimeout.count()) + 1'500.0);
}

// ---- races: a state change against the sleeper's decision to park ---------------------

enum class Ender { peer_close, peer_failure, own_close };

// `kRaces` times: a native thread receives (even iterations) or sends into a full ring
// (odd ones), and the channel is ended at once, right after the thread's parks counter
// moved (between its re-check and its wait), or after a short spin. Returns the longest
// time from the ending call to the waiter's return.
double race(Ender ender, int races) {
  double worst = 0;
  for (int i = 0; i < races; ++i) {
    Pair p({4096, 4096});
    const bool sending = (i & 1) != 0;
    if (sending) fill_n2r(*p.nat);
    std::atomic<bool> started{false};
    Errc result = Errc::ok;
    std::thread waiter([&] {
      started.store(true, std::memory_order_release);
      result = sending ? p.nat->send(as_span(pattern(1016, 9))) : recv_one(*p.nat, nullptr);
    });
    while (!started.load(std::memory_order_acquire)) cpu_relax();
    switch ((i >> 1) % 3) {
      case 0:
        break;
      case 1:
        while (p.nat->stats().parks == 0) cpu_relax();  // the waiter is about to wait
        break;
      case 2:
        for (int k = 0; k < (i % 64) * 16; ++k) cpu_relax();
        break;
    }
    const auto t0 = Clock::now();
    Errc expected = Errc::closed;
    switch (ender) {
      case Ender::peer_close:
        p.js->close();
        expected = Errc::peer_closed;
        break;
      case Ender::peer_failure:
        p.js->fail(Reason::local_error);
        expected = Errc::peer_failed;
        break;
      case Ender::own_close:
        p.nat->close();
        break;
    }
    waiter.join();
    worst = std::max(worst, ms_since(t0));
    EXPECT_EQ(result, expected) << "race " << i << (sending ? " sending" : " receiving");
  }
  return worst;
}

TEST(ParkWakeTest, CloseRacingParkIsNeverLost) {
  Watchdog dog("close racing park", 120s);
  EXPECT_LT(race(Ender::peer_close, kRaces), kLostWakeMs);
}

TEST(ParkWakeTest, FailureRacingParkIsNeverLost) {
  Watchdog dog("failure racing park", 120s);
  EXPECT_LT(race(Ender::peer_failure, kRaces), kLostWakeMs);
}

TEST(ParkWakeTest, OwnCloseRacingParkIsNeverLost) {
  Watchdog dog("own close racing park", 120s);
  EXPECT_LT(race(Ender::own_close, kRaces), kLostWakeMs);
}

TEST(ParkWakeTest, StateChangesRacingParkUnderFourBusyLoopsAreNeverLost) {
  Watchdog dog("races under load", 300s);
  BusyLoops load(4);
  EXPECT_LT(race(Ender::peer_close, kRaces / 6), kLostWakeMs);
  EXPECT_LT(race(Ender::peer_failure, kRaces / 6), kLostWakeMs);
  EXPECT_LT(race(Ender::own_close, kRaces / 6), kLostWakeMs);
}

}  // namespace
