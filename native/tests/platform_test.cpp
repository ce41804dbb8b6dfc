// The platform layer (smc/platform/): the park/wake primitive on its own, below the
// endpoint (park_wake_test covers it inside the protocol), the file probe that guards the
// plugin loader, and thread placement. Run against every SMC_WAIT build: release (the OS's
// primitive), the portable presets, and the Windows build under Wine.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "smc/platform/dynlib.hpp"
#include "smc/platform/thread.hpp"
#include "smc/platform/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(SMC_UNDER_SANITIZER) || defined(SMC_REDUCED_STRESS)
constexpr uint32_t kPingPongs = 3'000;
#else
constexpr uint32_t kPingPongs = 20'000;
#endif
// Long enough that one lost wake-up shows as a stall several times any honest wait.
constexpr auto kLongPark = 10s;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

uint32_t load(const uint32_t& w) {
  return std::atomic_ref<uint32_t>(const_cast<uint32_t&>(w)).load(std::memory_order_seq_cst);
}
void store(uint32_t& w, uint32_t v) {
  std::atomic_ref<uint32_t>(w).store(v, std::memory_order_seq_cst);
}

// Waits, parking, until `w` holds `want`; the way the endpoint uses park_on: pass the value
// last seen, re-check after every return.
void wait_for_value(const uint32_t& w, uint32_t want) {
  for (uint32_t seen = load(w); seen != want; seen = load(w)) smc::park_on(&w, seen, kLongPark);
}

TEST(PlatformWait, IsTheConfiguredPrimitive) {
  EXPECT_STREQ(smc::wait_primitive(), SMC_WAIT_EXPECTED);
}

TEST(PlatformWait, ReturnsAtOnceWhenTheWordAlreadyDiffers) {
  alignas(4) uint32_t w = 1;
  const auto t0 = Clock::now();
  smc::park_on(&w, 0, kLongPark);
  EXPECT_LT(ms_since(t0), 2'000.0) << "slept although the word was not the expected value";
}

TEST(PlatformWait, ATimeoutEndsTheSleep) {
  alignas(4) uint32_t w = 0;
  const auto t0 = Clock::now();
  smc::park_on(&w, 0, 30ms);
  EXPECT_LT(ms_since(t0), 5'000.0);
}

TEST(PlatformWait, WakeWithNobodyParkedIsHarmless) {
  alignas(4) uint32_t w = 0;
  smc::wake_all(&w);
  smc::wake_all(&w);
  EXPECT_EQ(load(w), 0u);
}

// Two threads hand a turn back and forth through two words, parking for every turn (no
// spinning): each store-then-wake races the other side's check-then-sleep. A lost wake-up
// stalls that turn for the whole 10 s park, which the time bound reports.
TEST(PlatformWait, PingPongNeverLosesAWakeUp) {
  alignas(64) uint32_t ping = 0;
  alignas(64) uint32_t pong = 0;
  std::thread echo([&] {
    for (uint32_t i = 1; i <= kPingPongs; ++i) {
      wait_for_value(ping, i);
      store(pong, i);
      smc::wake_all(&pong);
    }
  });
  double worst = 0;
  const auto t0 = Clock::now();
  for (uint32_t i = 1; i <= kPingPongs; ++i) {
    const auto t = Clock::now();
    store(ping, i);
    smc::wake_all(&ping);
    wait_for_value(pong, i);
    worst = std::max(worst, ms_since(t));
  }
  echo.join();
  std::printf("  %s: %u park/wake round trips in %.0f ms, worst %.3f ms\n", smc::wait_primitive(),
              kPingPongs, ms_since(t0), worst);
  EXPECT_LT(worst, 5'000.0) << "a round trip waited out a park timeout: lost wake-up";
}

// More sleepers than the portable fallback has buckets, each on its own word, so some
// share a bucket: waking one word must not lose another's wake-up (the futex and
// WaitOnAddress key by address and pass trivially).
TEST(PlatformWait, SleepersOnDistinctWordsAreEachWoken) {
  constexpr size_t kSleepers = 80;
  struct alignas(128) Slot {
    uint32_t word = 0;
  };
  std::vector<Slot> slots(kSleepers);
  std::atomic<size_t> woken{0};
  std::vector<std::thread> sleepers;
  for (size_t i = 0; i < kSleepers; ++i) {
    sleepers.emplace_back([&, i] {
      wait_for_value(slots[i].word, 1);
      woken.fetch_add(1);
    });
  }
  const auto t0 = Clock::now();
  for (size_t i = 0; i < kSleepers; ++i) {
    store(slots[i].word, 1);
    smc::wake_all(&slots[i].word);
  }
  for (auto& t : sleepers) t.join();
  EXPECT_EQ(woken.load(), kSleepers);
  EXPECT_LT(ms_since(t0), 5'000.0) << "a sleeper waited out its park timeout: lost wake-up";
}

// ---- the file probe ----------------------------------------------------------------------

TEST(PlatformFiles, ProbesKinds) {
  using smc::platform::FileKind;
  const std::string file = testing::TempDir() + "smc_platform_probe.bin";
  {
    std::ofstream f(file, std::ios::binary);
    f << "MZ and more than eight bytes";
  }
  const auto regular = smc::platform::probe_file(file);
  EXPECT_EQ(regular.kind, FileKind::regular);
  ASSERT_EQ(regular.head_size, sizeof regular.head) << "reads a bounded head";
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(regular.head), 2), "MZ");
  std::remove(file.c_str());

  EXPECT_EQ(smc::platform::probe_file(file).kind, FileKind::missing);
  EXPECT_EQ(smc::platform::probe_file(testing::TempDir()).kind, FileKind::directory);

  const std::string tiny = testing::TempDir() + "smc_platform_tiny.bin";
  {
    std::ofstream f(tiny, std::ios::binary);
    f << "M";
  }
  EXPECT_EQ(smc::platform::probe_file(tiny).head_size, 1u);
  std::remove(tiny.c_str());
}

TEST(PlatformFiles, LibraryErrorsComeFromTheLoader) {
  std::string error;
  const std::string path =
      testing::TempDir() + "smc_no_such_library" + smc::platform::library_suffix();
  EXPECT_EQ(smc::platform::open_library(path, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

// ---- threads -----------------------------------------------------------------------------

TEST(PlatformThread, PinAndNameTheCallingThread) {
  bool pinned = false;
  std::thread t([&] {
    smc::platform::name_current_thread("smc-platform-test-thread");
    pinned = smc::platform::pin_current_thread(0);
  });
  t.join();
#if defined(__APPLE__)
  EXPECT_FALSE(pinned) << "macOS has no pinning";
#else
  EXPECT_TRUE(pinned) << "CPU 0 exists everywhere this runs";
#endif
  EXPECT_FALSE(smc::platform::pin_current_thread(100'000)) << "a CPU that cannot exist";
}

// The plugin host keeps per-thread state behind this hook: it must run on the exiting
// thread, once per registration, newest first, before join() returns.
TEST(PlatformThread, ExitHooksRunOnTheExitingThreadInReverseOrder) {
  struct Log {
    std::vector<int> order;
    std::thread::id ran_on;
  } log;
  struct Hook {
    Log* log;
    int id;
  };
  Hook first{&log, 1}, second{&log, 2};
  std::thread::id worker_id;
  std::thread t([&] {
    worker_id = std::this_thread::get_id();
    auto run = [](void* p) {
      auto* h = static_cast<Hook*>(p);
      h->log->order.push_back(h->id);
      h->log->ran_on = std::this_thread::get_id();
    };
    smc::platform::at_thread_exit(run, &first);
    smc::platform::at_thread_exit(run, &second);
    EXPECT_TRUE(log.order.empty()) << "ran before the thread exited";
  });
  t.join();
  EXPECT_EQ(log.order, (std::vector<int>{2, 1}));
  EXPECT_EQ(log.ran_on, worker_id);
}

}  // namespace
