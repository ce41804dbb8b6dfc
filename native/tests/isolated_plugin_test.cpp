// Isolated plugins (smc/isolated_plugin.hpp): a plugin in a child process (smc_plugin_host)
// served over a second region in shared memory. Real child processes, real crashes: the
// test plugin (test_plugin_misbehave.c) segfaults, aborts, exits, spins forever or writes
// garbage into its ring on request, and each must fail the channel with its named reason
// while this process carries on; the child is reaped; a new load works.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "smc/isolated_plugin.hpp"
#include "smc/platform/process.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

#ifdef SMC_PLUGIN_HOST_EXE

Bytes text(const char* s) {
  Bytes b(std::strlen(s));
  std::memcpy(b.data(), s, b.size());
  return b;
}

std::string misbehave() {
  return std::string(SMC_TEST_PLUGIN_DIR) + "/" + plugin_file_name("test_misbehave");
}

// A process that exists (running or a zombie: a zombie still has /proc/<pid>).
bool process_exists(int64_t pid) {
  return pid > 0 && std::filesystem::exists("/proc/" + std::to_string(pid));
}

// A channel whose native side runs an IsolatedPluginSlot; the test plays the JS side.
struct Harness {
  explicit Harness(std::chrono::milliseconds timeout = 2000ms,
                   RegionConfig c = {1u << 16, 1u << 16})
      : arena(c) {
    region = init_region(arena.span(), c);
    js = attach(region, Side::r);
    auto n = attach(region, Side::n);
    slot = std::make_shared<IsolatedPluginSlot>(IsolateOptions{SMC_PLUGIN_HOST_EXE, timeout});
    slot->bind(n.get());
    native = n.get();
    responder = std::make_unique<Responder>(std::move(n), make_isolated_plugin_handler(slot));
  }
  ~Harness() {
    responder.reset();
    js->close();
  }

  bool load(const std::string& config = "{}") {
    std::string err;
    const bool ok = slot->load(misbehave(), config, &err);
    EXPECT_TRUE(ok) << err;
    return ok;
  }

  std::vector<Bytes> receive_n(size_t count, std::chrono::milliseconds limit = 10s) {
    std::vector<Bytes> got;
    const Deadline end = Deadline::in(limit);
    while (got.size() < count && !end.passed()) {
      size_t n = 0;
      const Errc e =
          js->receive([&](std::span<const std::byte> m) { got.emplace_back(m.begin(), m.end()); },
                      4096, &n, Deadline::in(20ms));
      if (e != Errc::ok && e != Errc::timeout) break;
    }
    return got;
  }

  // Receives until the native side fails the channel; the Errc seen (peer_failed expected).
  Errc wait_for_end(std::chrono::milliseconds limit = 10s) {
    const Deadline end = Deadline::in(limit);
    while (!end.passed()) {
      size_t n = 0;
      const Errc e = js->receive([](std::span<const std::byte>) {}, 4096, &n, Deadline::in(20ms));
      if (e != Errc::ok && e != Errc::timeout) return e;
    }
    return Errc::timeout;
  }

  // Sends `word` and expects the channel to fail with `reason`; returns the failure.
  IsolateFailure provoke(const char* word, const char* reason) {
    const int64_t pid = slot->child_pid();
    EXPECT_GT(pid, 0);
    EXPECT_EQ(js->send(as_span(text(word))), Errc::ok);
    EXPECT_EQ(wait_for_end(), Errc::peer_failed);
    EXPECT_EQ(js->peer_reason(), Reason::local_error);
    IsolateFailure f = slot->failure();
    EXPECT_EQ(f.reason, reason) << f.message;
    EXPECT_TRUE(contains(f.message, reason)) << f.message;
    EXPECT_TRUE(contains(f.message, "pid " + std::to_string(pid))) << f.message;
    // The native side stopped; closing it reaps the child: no zombie, no orphan.
    responder.reset();
    EXPECT_FALSE(process_exists(pid)) << "child " << pid << " still exists after close";
    return f;
  }

  ExactArena arena;
  Region region;
  std::unique_ptr<Endpoint> js;
  Endpoint* native = nullptr;
  std::shared_ptr<IsolatedPluginSlot> slot;
  std::unique_ptr<Responder> responder;
};

TEST(IsolatedPlugin, EchoesWholeAndFragmentedMessagesThroughTheChildProcess) {
  Harness h;
  ASSERT_TRUE(h.load());
  const int64_t pid = h.slot->child_pid();
  ASSERT_GT(pid, 0);
  EXPECT_NE(pid, platform::current_process_id());
  EXPECT_TRUE(process_exists(pid));
  const PluginStats s0 = h.slot->stats();
  EXPECT_TRUE(s0.loaded);
  EXPECT_EQ(s0.name, "misbehave");
  EXPECT_EQ(s0.version, "1.0.0");

  // Small, one record, and fragmented (larger than a record of either ring, both ways).
  const std::vector<size_t> sizes = {0, 1, 7, 64, 1000, h.native->max_payload(), 40000, 200000};
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    ASSERT_EQ(h.js->send(as_span(pattern(sizes[i], i))), Errc::ok);
  }
  const auto got = h.receive_n(sizes.size());
  ASSERT_EQ(got.size(), sizes.size());
  for (uint32_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(got[i], pattern(sizes[i], i)) << i;

  // Many small messages in order.
  constexpr uint32_t kCount = 5000;
  std::thread sender([&] {
    for (uint32_t i = 0; i < kCount; ++i) {
      Bytes m(8);
      wr32(m.data(), i);
      wr32(m.data() + 4, ~i);
      ASSERT_EQ(h.js->send(as_span(m)), Errc::ok);
    }
  });
  const auto many = h.receive_n(kCount);
  sender.join();
  ASSERT_EQ(many.size(), kCount);
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(rd32(many[i].data()), i);
    ASSERT_EQ(rd32(many[i].data() + 4), ~i);
  }
  EXPECT_EQ(h.slot->stats().delivered, sizes.size() + kCount);
  EXPECT_TRUE(h.slot->failure().reason.empty());

  // Close: the child exits and is reaped.
  h.responder.reset();
  EXPECT_FALSE(process_exists(pid));
}

TEST(IsolatedPlugin, SegfaultFailsTheChannelWithPluginCrashedAndTheSignal) {
  Harness h;
  ASSERT_TRUE(h.load());
  ASSERT_EQ(h.js->send(as_span(text("before"))), Errc::ok);
  ASSERT_EQ(h.receive_n(1).size(), 1u);
  const IsolateFailure f = h.provoke("segv", "plugin_crashed");
  EXPECT_TRUE(f.signaled);
  EXPECT_EQ(f.signal_name, "SIGSEGV");
  EXPECT_TRUE(contains(f.message, "killed by signal 11 (SIGSEGV)")) << f.message;
}

TEST(IsolatedPlugin, AbortFailsTheChannelWithPluginCrashedAndSigabrt) {
  Harness h;
  ASSERT_TRUE(h.load());
  const IsolateFailure f = h.provoke("abort", "plugin_crashed");
  EXPECT_TRUE(f.signaled);
  EXPECT_EQ(f.signal_name, "SIGABRT");
}

TEST(IsolatedPlugin, ExitFailsTheChannelWithPluginCrashedAndTheExitCode) {
  Harness h;
  ASSERT_TRUE(h.load());
  const IsolateFailure f = h.provoke("exit", "plugin_crashed");
  EXPECT_FALSE(f.signaled);
  EXPECT_EQ(f.exit_code, 7);
  EXPECT_TRUE(contains(f.message, "exited with code 7")) << f.message;
}

TEST(IsolatedPlugin, SpinningPluginIsUnresponsiveWithinTheTimeoutAndKilled) {
  Harness h(300ms);
  ASSERT_TRUE(h.load());
  const auto t0 = Clock::now();
  const IsolateFailure f = h.provoke("spin", "plugin_unresponsive");
  const auto took = Clock::now() - t0;
  EXPECT_TRUE(contains(f.message, "inside a callback")) << f.message;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
}

TEST(IsolatedPlugin, MisalignedIndexFromThePluginNamesTheRingReason) {
  Harness h;
  ASSERT_TRUE(h.load());
  const IsolateFailure f = h.provoke("garbage-index", "index_misaligned");
  EXPECT_TRUE(contains(f.message, "corrupted its ring")) << f.message;
}

TEST(IsolatedPlugin, GarbageRecordFromThePluginNamesTheRingReason) {
  Harness h;
  ASSERT_TRUE(h.load());
  h.provoke("garbage-record", "record_kind_invalid");
}

TEST(IsolatedPlugin, GarbageInTheControlBlockIsReadBoundedAndTrafficGoesOn) {
  Harness h;
  ASSERT_TRUE(h.load());
  ASSERT_EQ(h.js->send(as_span(text("garbage-control"))), Errc::ok);
  ASSERT_EQ(h.receive_n(1).size(), 1u);
  // The child's counters are now huge, its flags set, its texts without a NUL: the parent
  // reads them as hints, bounded and printable, and does not fail the channel for them.
  const PluginStats s = h.slot->stats();
  EXPECT_TRUE(s.failed);  // plugin_failed reads nonzero
  EXPECT_LE(s.failure.size(), isolate::kTextSize);
  for (char c : s.failure) ASSERT_TRUE(c >= 0x20 && c < 0x7F) << static_cast<int>(c);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(h.js->send(as_span(pattern(100, i))), Errc::ok);
  const auto got = h.receive_n(20);
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], pattern(100, i));
  EXPECT_TRUE(h.slot->failure().reason.empty()) << h.slot->failure().message;
}

TEST(IsolatedPlugin, TheFailureStaysInTheStatsAfterTheChannelStopped) {
  Harness h;
  ASSERT_TRUE(h.load());
  ASSERT_EQ(h.js->send(as_span(text("abort"))), Errc::ok);
  ASSERT_EQ(h.wait_for_end(), Errc::peer_failed);
  h.responder.reset();  // the channel's thread has stopped and unloaded the child
  EXPECT_TRUE(h.slot->stats().failed);
  EXPECT_TRUE(contains(h.slot->stats().failure, "plugin_crashed"));
}

TEST(IsolatedPlugin, CrashWhileLoadingIsALoadErrorAndTheSlotCanLoadAgain) {
  Harness h;
  std::string err;
  EXPECT_FALSE(h.slot->load(misbehave(), R"({"crashInCreate":true})", &err));
  EXPECT_TRUE(contains(err, "plugin '" + misbehave() + "'")) << err;
  EXPECT_TRUE(contains(err, "killed by signal 11 (SIGSEGV) while loading it")) << err;
  EXPECT_EQ(h.slot->child_pid(), -1);
  EXPECT_FALSE(h.slot->stats().loaded);
  // Restart on the same channel: a fresh child.
  ASSERT_TRUE(h.load());
  ASSERT_EQ(h.js->send(as_span(text("again"))), Errc::ok);
  const auto got = h.receive_n(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], text("again"));
}

TEST(IsolatedPlugin, LoadThatNeverEndsIsUnresponsiveAfterTheTimeout) {
  Harness h(300ms);
  std::string err;
  const auto t0 = Clock::now();
  EXPECT_FALSE(h.slot->load(misbehave(), R"({"spinInCreate":true})", &err));
  const auto took = Clock::now() - t0;
  EXPECT_TRUE(contains(err,
                       "plugin_unresponsive: the isolated plugin host did not finish "
                       "loading it within 300 ms"))
      << err;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(h.slot->child_pid(), -1);
}

TEST(IsolatedPlugin, StoppedPluginProcessIsUnresponsiveWithMessagesWaiting) {
  // SIGSTOP: the child neither runs a callback nor reads its ring; the message waits.
  Harness h(300ms);
  ASSERT_TRUE(h.load());
  const int64_t pid = h.slot->child_pid();
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  const IsolateFailure f = h.provoke("hello", "plugin_unresponsive");
  EXPECT_TRUE(contains(f.message, "messages waiting unread")) << f.message;
}

TEST(IsolatedPlugin, LoaderErrorsComeBackFromTheChildUnchanged) {
  Harness h;
  std::string err;
  EXPECT_FALSE(h.slot->load("/nonexistent/libsmc_nothing.so", "{}", &err));
  EXPECT_EQ(err, "plugin '/nonexistent/libsmc_nothing.so': file not found");
  const std::string bad = ::testing::TempDir() + "smc_isolated_not_a_library.so";
  std::ofstream(bad) << "not a library";
  EXPECT_FALSE(h.slot->load(bad, "{}", &err));
  EXPECT_TRUE(contains(err, "not a shared library")) << err;
  std::filesystem::remove(bad);
}

TEST(IsolatedPlugin, MissingHostExecutableIsALoadError) {
  ExactArena arena({1u << 16, 1u << 16});
  Region region = init_region(arena.span(), {1u << 16, 1u << 16});
  auto js = attach(region, Side::r);
  auto n = attach(region, Side::n);
  IsolatedPluginSlot slot(IsolateOptions{"/nonexistent/smc_plugin_host", 1000ms});
  slot.bind(n.get());
  std::string err;
  EXPECT_FALSE(slot.load(misbehave(), "{}", &err));
  EXPECT_TRUE(contains(err, "cannot start the plugin host")) << err;
  EXPECT_TRUE(contains(err, "/nonexistent/smc_plugin_host")) << err;
  slot.close();
}

TEST(IsolatedPlugin, ReloadOnALiveChannelStartsAFreshChildAndReapsTheOld) {
  Harness h;
  ASSERT_TRUE(h.load());
  const int64_t first = h.slot->child_pid();
  ASSERT_TRUE(h.load());
  const int64_t second = h.slot->child_pid();
  EXPECT_NE(first, second);
  EXPECT_FALSE(process_exists(first));
  std::string err;
  ASSERT_TRUE(h.slot->reload(&err)) << err;
  EXPECT_FALSE(process_exists(second));
  ASSERT_EQ(h.js->send(as_span(text("swap"))), Errc::ok);
  ASSERT_EQ(h.receive_n(1).size(), 1u);
  EXPECT_EQ(h.slot->stats().loads, 3u);
  EXPECT_EQ(h.slot->stats().unloads, 2u);
  EXPECT_TRUE(h.slot->unload());
  EXPECT_EQ(h.slot->child_pid(), -1);
}

TEST(IsolatedPlugin, CloseWhileThePluginSpinsKillsTheChildWithinTheGrace) {
  Harness h(400ms);
  ASSERT_TRUE(h.load());
  const int64_t pid = h.slot->child_pid();
  ASSERT_EQ(h.js->send(as_span(text("spin"))), Errc::ok);
  // Wait until the child is inside the spinning callback (no failure yet: 400 ms).
  const Deadline inside = Deadline::in(5s);
  while (!h.slot->child_in_callback() && !inside.passed()) std::this_thread::yield();
  ASSERT_TRUE(h.slot->child_in_callback());
  const auto t0 = Clock::now();
  h.responder.reset();  // close: the child cannot exit by itself, the grace ends it
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 390ms);  // it had its grace (min(timeout, 2 s)) to exit by itself
  EXPECT_LT(took, 3s);
  EXPECT_FALSE(process_exists(pid));
}

TEST(IsolatedPlugin, NewChannelAfterACrashWorks) {
  {
    Harness h;
    ASSERT_TRUE(h.load());
    h.provoke("segv", "plugin_crashed");
  }
  Harness h;
  ASSERT_TRUE(h.load());
  ASSERT_EQ(h.js->send(as_span(text("alive"))), Errc::ok);
  const auto got = h.receive_n(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], text("alive"));
}

#else  // no plugin host on this platform

TEST(IsolatedPlugin, UnsupportedPlatformSaysSo) {
  ExactArena arena({1u << 16, 1u << 16});
  Region region = init_region(arena.span(), {1u << 16, 1u << 16});
  auto js = attach(region, Side::r);
  auto n = attach(region, Side::n);
  IsolatedPluginSlot slot(IsolateOptions{"smc_plugin_host", 1000ms});
  slot.bind(n.get());
  std::string err;
  EXPECT_FALSE(slot.load("plugin.dll", "{}", &err));
  EXPECT_TRUE(contains(err, "isolate is not supported on this platform yet")) << err;
}

#endif

}  // namespace
