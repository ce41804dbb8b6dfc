// The plugin loader and lifecycle (smc/plugin_host.hpp): every loader error with its
// message, dispatch rules (nothing before create, drops while empty, fail()), sends from a
// plugin's own thread, tick cadence, unload while a plugin is blocked sending, and
// load/unload/reload under full-speed traffic (run under ThreadSanitizer by the tsan stage).
// The test plugins are native/tests/test_plugin_probe.c; the examples are native/plugins.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../plugins/plugin_util.hpp"
#include "smc/bpg.hpp"
#include "smc/plugin_host.hpp"
#include "special_files.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

#ifdef SMC_UNDER_SANITIZER
constexpr int kCycles = 12;
#else
constexpr int kCycles = 60;
#endif

std::string test_plugin(const char* name) {
  return std::string(SMC_TEST_PLUGIN_DIR) + "/" + plugin_file_name(name);
}
std::string probe() {
  return test_plugin("test_probe");
}
#ifdef SMC_HAVE_EXAMPLE_PLUGINS
std::string example(const char* name) {
  return std::string(SMC_PLUGIN_DIR) + "/" + plugin_file_name(name);
}
#endif

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A channel whose native side runs a PluginSlot; the test plays the JS side.
struct Harness {
  explicit Harness(RegionConfig c = {1u << 16, 1u << 16}) : arena(c) {
    region = init_region(arena.span(), c);
    js = attach(region, Side::r);
    auto n = attach(region, Side::n);
    native = n.get();
    slot = std::make_shared<PluginSlot>();
    slot->set_logger([this](int level, const std::string& plugin, const std::string& m) {
      std::lock_guard g(log_mu);
      logs.push_back(std::to_string(level) + " " + plugin + ": " + m);
    });
    slot->bind(native);
    responder = std::make_unique<Responder>(std::move(n), make_plugin_slot_handler(slot));
  }
  ~Harness() {
    responder.reset();
    js->close();
  }

  // Receives messages until `pred(all so far)` or the deadline; returns them.
  std::vector<Bytes> receive_until(const std::function<bool(const std::vector<Bytes>&)>& pred,
                                   std::chrono::milliseconds limit = 10s) {
    std::vector<Bytes> got;
    const Deadline end = Deadline::in(limit);
    while (!pred(got) && !end.passed()) {
      size_t n = 0;
      js->receive([&](std::span<const std::byte> m) { got.emplace_back(m.begin(), m.end()); }, 4096,
                  &n, Deadline::in(20ms));
    }
    return got;
  }
  std::vector<Bytes> receive_n(size_t count, std::chrono::milliseconds limit = 10s) {
    return receive_until([count](const std::vector<Bytes>& g) { return g.size() >= count; }, limit);
  }
  // For a probe sending 8-byte messages (16-byte records) that nobody reads: waits until
  // they fill the native -> JS ring, so the plugin's next send blocks.
  bool wait_until_ring_full(std::chrono::milliseconds limit = 10s) {
    const uint64_t records = region.capacity(Dir::n2r) / 16;
    const Deadline end = Deadline::in(limit);
    while (slot->stats().sent < records && !end.passed()) std::this_thread::sleep_for(1ms);
    return slot->stats().sent == records;
  }

  ExactArena arena;
  Region region;
  std::unique_ptr<Endpoint> js;
  Endpoint* native = nullptr;
  std::shared_ptr<PluginSlot> slot;
  std::unique_ptr<Responder> responder;
  std::mutex log_mu;
  std::vector<std::string> logs;
};

Bytes text(const char* s) {
  Bytes b(std::strlen(s));
  std::memcpy(b.data(), s, b.size());
  return b;
}

// ---- loader errors -----------------------------------------------------------------------

TEST(PluginLoader, FileMissing) {
  PluginSlot slot;
  std::string err;
  const std::string path = "/nonexistent/dir/libsmc_nothing.so";
  EXPECT_FALSE(slot.load(path, "{}", &err));
  EXPECT_TRUE(contains(err, "'" + path + "'")) << err;
  EXPECT_TRUE(contains(err, "file not found")) << err;
  EXPECT_FALSE(slot.stats().loaded);
}

TEST(PluginLoader, NotASharedLibrary) {
  const std::string path = testing::TempDir() + "smc_not_a_plugin.so";
  {
    std::ofstream f(path);
    f << "this is a text file, not a shared library\n";
  }
  PluginSlot slot;
  std::string err;
  EXPECT_FALSE(slot.load(path, "{}", &err));
  EXPECT_TRUE(contains(err, path)) << err;
  EXPECT_TRUE(contains(err, "not a shared library")) << err;
  std::remove(path.c_str());

  // A directory is not one either.
  EXPECT_FALSE(slot.load(SMC_TEST_PLUGIN_DIR, "{}", &err));
  EXPECT_TRUE(contains(err, "is a directory")) << err;
}

// ---- special files: refused by kind, never opened (a FIFO's open would block forever) ----

// A name no other test run uses at the same time (suites of several builds share /tmp).
std::string unique_name(const char* stem) {
  std::random_device rd;
  return std::string(stem) + "-" + std::to_string(rd()) + std::to_string(rd());
}

// Loads `path` on another thread and gives the load `limit` to return: a loader that
// blocks fails the test instead of hanging it. `release` unblocks such a loader so that
// the thread can be joined.
std::string load_error_within(const std::string& path, std::chrono::seconds limit,
                              const std::function<void()>& release, bool* returned) {
  PluginSlot slot;
  std::string err;
  auto done = std::async(std::launch::async, [&] { return slot.load(path, "{}", &err); });
  *returned = done.wait_for(limit) == std::future_status::ready;
  if (!*returned) release();
  EXPECT_FALSE(done.get()) << path << " loaded";
  return err;
}

#if !defined(_WIN32)
TEST(PluginLoader, RefusesAFifoWithoutBlocking) {
  TempFifo fifo(testing::TempDir() + unique_name("smc-plugin-fifo"));
  ASSERT_TRUE(fifo.ok()) << "mkfifo " << fifo.path();
  bool returned = false;
  const std::string err = load_error_within(
      fifo.path(), 10s, [&] { fifo.release_a_blocked_reader(); }, &returned);
  EXPECT_TRUE(returned) << "load() of a FIFO blocked";
  EXPECT_TRUE(contains(err, "'" + fifo.path() + "'")) << err;
  EXPECT_TRUE(contains(err, "is a FIFO (named pipe), not a regular file")) << err;
}

TEST(PluginLoader, RefusesACharacterDevice) {
  bool returned = false;
  const std::string err = load_error_within(
      "/dev/null", 10s, [] {}, &returned);
  EXPECT_TRUE(returned);
  EXPECT_TRUE(contains(err, "'/dev/null'")) << err;
  EXPECT_TRUE(contains(err, "is a character device, not a regular file")) << err;
}

TEST(PluginLoader, RefusesAUnixSocket) {
  // sun_path holds ~100 bytes: TempDir() can be longer, so the socket goes in /tmp.
  TempUnixSocket sock("/tmp/" + unique_name("smc-sock"));
  ASSERT_TRUE(sock.ok()) << "bind " << sock.path();
  bool returned = false;
  const std::string err = load_error_within(
      sock.path(), 10s, [] {}, &returned);
  EXPECT_TRUE(returned);
  EXPECT_TRUE(contains(err, "'" + sock.path() + "'")) << err;
  EXPECT_TRUE(contains(err, "is a socket, not a regular file")) << err;
}
#else
TEST(PluginLoader, RefusesANamedPipeWithoutBlocking) {
  TempNamedPipe pipe(unique_name("smc-plugin-pipe"));
  ASSERT_TRUE(pipe.ok()) << "CreateNamedPipe " << pipe.path();
  bool returned = false;
  const std::string err = load_error_within(
      pipe.path(), 10s, [] {}, &returned);
  EXPECT_TRUE(returned) << "load() of a named pipe blocked";
  EXPECT_TRUE(contains(err, "'" + pipe.path() + "'")) << err;
  EXPECT_TRUE(contains(err, "is a FIFO (named pipe), not a regular file")) << err;
}

TEST(PluginLoader, ADllWithoutTheEntryPointIsNotAPlugin) {
  PluginSlot slot;
  std::string err;
  const std::string path = "C:\\windows\\system32\\kernel32.dll";
  EXPECT_FALSE(slot.load(path, "{}", &err));
  EXPECT_TRUE(contains(err, "'" + path + "'")) << err;
  EXPECT_TRUE(contains(err, "entry symbol 'smc_plugin_entry' not found")) << err;
}
#endif

TEST(PluginLoader, RefusesADirectory) {
  bool returned = false;
  const std::string err = load_error_within(
      testing::TempDir(), 10s, [] {}, &returned);
  EXPECT_TRUE(returned);
  EXPECT_TRUE(contains(err, "'" + testing::TempDir() + "'")) << err;
  EXPECT_TRUE(contains(err, "is a directory, not a shared library")) << err;
}

TEST(PluginLoader, EntrySymbolMissing) {
  PluginSlot slot;
  std::string err;
  const std::string path = test_plugin("test_no_entry");
  EXPECT_FALSE(slot.load(path, "{}", &err));
  EXPECT_TRUE(contains(err, path)) << err;
  EXPECT_TRUE(contains(err, "entry symbol 'smc_plugin_entry' not found")) << err;
}

TEST(PluginLoader, AbiVersionMismatch) {
  PluginSlot slot;
  std::string err;
  const std::string path = test_plugin("test_abi_mismatch");
  EXPECT_FALSE(slot.load(path, "{}", &err));
  EXPECT_TRUE(contains(err, path)) << err;
  EXPECT_TRUE(contains(err, "ABI version mismatch")) << err;
  EXPECT_TRUE(contains(err, "built for ABI version 999")) << err;
  EXPECT_TRUE(contains(err, "implements ABI version 1")) << err;
}

TEST(PluginLoader, CreateFailedCarriesThePluginsMessage) {
  PluginSlot slot;
  std::string err;
  EXPECT_FALSE(slot.load(probe(), R"({"failCreate":"width must be positive"})", &err));
  EXPECT_TRUE(contains(err, probe())) << err;
  EXPECT_TRUE(contains(err, "create failed: width must be positive")) << err;
  EXPECT_FALSE(slot.stats().loaded);
  EXPECT_EQ(slot.stats().loads, 0u);

  auto h = make_plugin_handler(probe(), R"({"failCreate":"nope"})", &err);
  EXPECT_EQ(h, nullptr);
  EXPECT_TRUE(contains(err, "create failed: nope")) << err;
}

TEST(PluginLoader, ReloadWithoutPluginAndLoadAfterClose) {
  PluginSlot slot;
  std::string err;
  EXPECT_FALSE(slot.reload(&err));
  EXPECT_TRUE(contains(err, "no plugin is loaded")) << err;
  EXPECT_FALSE(slot.unload());
  slot.close();
  EXPECT_FALSE(slot.load(probe(), "{}", &err));
  EXPECT_TRUE(contains(err, "the channel is closed")) << err;
}

// The example plugins' config / metadata parser (native/plugins/plugin_util.hpp).
TEST(PluginUtil, FlatJsonParser) {
  using smc_plugin::FlatJsonParser;
  using smc_plugin::JsonValue;
  std::string err;
  auto o = FlatJsonParser::parse(
      R"( {"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00", "n":-1.5e2, "t":true, "z":null,)"
      R"( "o":{"k":[1,{"x":"}"}]}, "e":[], "s":"last wins"} )",
      &err);
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->at("s").text, "last wins");
  EXPECT_EQ(o->at("n").kind, JsonValue::kNumber);
  EXPECT_EQ(o->at("n").number, -150.0);
  EXPECT_TRUE(o->at("t").boolean);
  EXPECT_EQ(o->at("z").kind, JsonValue::kNull);
  EXPECT_EQ(o->at("o").kind, JsonValue::kNested);
  EXPECT_EQ(o->at("o").text, R"({"k":[1,{"x":"}"}]})");
  EXPECT_EQ(o->at("e").text, "[]");
  o = FlatJsonParser::parse(R"({"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"})", &err);
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->at("s").text, "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80");

  const char* bad[] = {"",
                       "[]",
                       R"({"a":1,})",
                       R"({"a":"\q"})",
                       R"({"a":"\ud83d"})",
                       R"({"a":"\u12G4"})",
                       R"({"a":"x)",
                       R"({"a":[1 2]})",
                       R"({"a":1} x)"};
  for (const char* b : bad) {
    err.clear();
    EXPECT_FALSE(FlatJsonParser::parse(b, &err)) << b;
    EXPECT_TRUE(contains(err, " at offset ")) << b << ": " << err;
  }
}

// ---- dispatch --------------------------------------------------------------------------

TEST(PluginHost, EchoesThroughProbeAndDropsWhileEmpty) {
  Harness h;
  // Nothing loaded: messages are dropped and counted.
  for (int i = 0; i < 50; ++i) ASSERT_EQ(h.js->send(as_span(text("early"))), Errc::ok);
  const Deadline end = Deadline::in(10s);
  while (h.slot->stats().dropped < 50 && !end.passed()) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(h.slot->stats().dropped, 50u);
  EXPECT_EQ(h.slot->stats().delivered, 0u);

  std::string err;
  ASSERT_TRUE(h.slot->load(probe(), "{}", &err)) << err;
  PluginStats s = h.slot->stats();
  EXPECT_TRUE(s.loaded);
  EXPECT_EQ(s.name, "probe");
  EXPECT_EQ(s.version, "0.1.0");
  EXPECT_EQ(s.path, probe());

  // Small (reserve/commit and send alternate in the probe) and fragmented messages.
  std::vector<Bytes> sent;
  for (uint32_t i = 0; i < 200; ++i) sent.push_back(pattern(i % 7 == 0 ? 40000 + i : i, i));
  // Send from another thread: the echoes must be read while sending, or both rings fill.
  std::thread sender([&] {
    for (const Bytes& m : sent) EXPECT_EQ(h.js->send(as_span(m)), Errc::ok);
  });
  auto got = h.receive_n(sent.size());
  sender.join();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i], sent[i]) << i;
  EXPECT_EQ(h.slot->stats().delivered, sent.size());
  EXPECT_TRUE(h.slot->unload());
  EXPECT_EQ(h.slot->stats().unloads, 1u);
}

TEST(PluginHost, SendsFromThePluginsOwnThread) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.slot->load(probe(), R"({"threadMessages":20000})", &err)) << err;
  auto got = h.receive_n(20000, 30s);
  ASSERT_EQ(got.size(), 20000u);
  for (uint32_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), 8u);
    ASSERT_EQ(std::memcmp(got[i].data(), "THRD", 4), 0);
    ASSERT_EQ(rd32(got[i].data() + 4), i);
  }
  EXPECT_TRUE(h.slot->unload());
  EXPECT_GE(h.slot->stats().sent, 20000u);
}

TEST(PluginHost, TickCadence) {
  Harness h;
  std::string err;
  const auto before = Clock::now();  // load() starts the tick clock after this
  ASSERT_TRUE(h.slot->load(probe(), R"({"tickSend":true})", &err)) << err;
  // However loaded the machine, ticks keep coming.
  const auto got = h.receive_n(20);
  EXPECT_TRUE(h.slot->unload());
  ASSERT_GE(got.size(), 20u);
  // The probe stamps each tick with the steady clock when on_tick ran: check the schedule
  // (10 ms) on those stamps rather than on arrival times, which a loaded machine smears.
  std::vector<Clock::time_point> at;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), 16u);
    ASSERT_EQ(std::memcmp(got[i].data(), "TICK", 4), 0);
    EXPECT_EQ(rd32(got[i].data() + 4), i + 1);
    uint64_t ns;
    std::memcpy(&ns, got[i].data() + 8, 8);
    at.emplace_back(std::chrono::nanoseconds(ns));
  }
  constexpr auto kInterval = 10ms;
  for (size_t i = 0; i < at.size(); ++i) {
    // Never ahead of the schedule: tick n runs at least n intervals after the load began.
    EXPECT_GE(at[i] - before, static_cast<int64_t>(i + 1) * kInterval) << i;
    // No catch-up bursts after a late tick: at most two ticks in any one interval.
    if (i >= 2) {
      EXPECT_GE(at[i] - at[i - 2], kInterval) << i;
    }
  }
  EXPECT_GE(h.slot->stats().ticks, got.size());
}

TEST(PluginHost, FailStopsDeliveryUntilUnloaded) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.slot->load(probe(), R"({"failOnMessage":true})", &err)) << err;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(h.js->send(as_span(text("x"))), Errc::ok);
  const Deadline end = Deadline::in(10s);
  while (h.slot->stats().delivered + h.slot->stats().dropped < 10 && !end.passed()) {
    std::this_thread::sleep_for(1ms);
  }
  PluginStats s = h.slot->stats();
  EXPECT_TRUE(s.failed);
  EXPECT_EQ(s.failure, "probe was told to fail");
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.dropped, 9u);
  {
    std::lock_guard g(h.log_mu);
    bool logged = false;
    for (auto& l : h.logs) logged |= contains(l, "probe: failed: probe was told to fail");
    EXPECT_TRUE(logged);
  }
  EXPECT_TRUE(h.slot->unload());
  EXPECT_FALSE(h.slot->stats().failed);
}

TEST(PluginHost, UnloadInterruptsAPluginBlockedOnAFullRing) {
  Harness h;
  std::string err;
  // The JS side never reads: the plugin's thread fills the ring and blocks in send().
  ASSERT_TRUE(h.slot->load(probe(), R"({"threadMessages":100000000})", &err)) << err;
  ASSERT_TRUE(h.wait_until_ring_full());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(h.slot->unload());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_GT(h.slot->stats().send_errors, 0u);  // the blocked send returned SMC_ERR_STOPPING
}

TEST(PluginHost, ChannelCloseStopsAPluginBlockedOnAFullRing) {
  auto h = std::make_unique<Harness>();
  std::string err;
  ASSERT_TRUE(h->slot->load(probe(), R"({"threadMessages":100000000})", &err)) << err;
  ASSERT_TRUE(h->wait_until_ring_full());
  auto slot = h->slot;
  h.reset();  // Responder::stop closes the endpoint; on_stop unloads
  EXPECT_FALSE(slot->stats().loaded);
  EXPECT_EQ(slot->stats().unloads, 1u);
}

// Load / unload / reload while the JS side sends and receives at full speed; the probe and
// the plugin's own thread send too. Every message that reached the native side was either
// delivered to a plugin or dropped, and nothing ever runs inside an unloaded plugin (the
// probe aborts on a call after destroy; ThreadSanitizer checks the hand-offs).
TEST(PluginHost, LoadUnloadReloadUnderFullSpeedTraffic) {
  Harness h;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, received{0};
  std::thread producer([&] {
    const Bytes small = pattern(24, 1), large = pattern(50000, 2);
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const Bytes& m = i % 97 == 0 ? large : small;
      if (h.js->send(as_span(m), Deadline::in(5ms)) == Errc::ok) sent.fetch_add(1);
    }
  });
  std::thread consumer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      size_t n = 0;
      h.js->receive([&](std::span<const std::byte>) {}, 4096, &n, Deadline::in(5ms));
      received.fetch_add(n);
    }
  });

  std::string err;
  const std::string configs[] = {"{}", R"({"threadMessages":2000})", R"({"tickSend":true})"};
  // At least kCycles, and on until real traffic ran through them (a loaded machine is slow).
  const Deadline end = Deadline::in(60s);
  for (int i = 0; i < kCycles || (sent.load() <= 1000 && !end.passed()); ++i) {
    ASSERT_TRUE(h.slot->load(probe(), configs[i % 3], &err)) << err;
    std::this_thread::sleep_for(2ms);
    if (i % 2 == 0) {
      ASSERT_TRUE(h.slot->reload(&err)) << err;
      std::this_thread::sleep_for(1ms);
    }
#ifdef SMC_HAVE_EXAMPLE_PLUGINS
    if (i % 4 == 1) {
      ASSERT_TRUE(h.slot->load(example("echo"), "{}", &err)) << err;  // replaces the probe
      std::this_thread::sleep_for(1ms);
    }
#endif
    if (i % 3 != 2) {
      EXPECT_TRUE(h.slot->unload());
      std::this_thread::sleep_for(1ms);
    }
  }
  h.slot->unload();
  stop = true;
  producer.join();
  consumer.join();
  EXPECT_GT(sent.load(), 1000u);
  EXPECT_GT(received.load(), 0u);
  h.responder->stop();
  const PluginStats s = h.slot->stats();
  EXPECT_EQ(s.delivered + s.dropped, h.native->stats().messages_received);
  EXPECT_EQ(s.loads, s.unloads);
  EXPECT_GE(s.loads, static_cast<uint64_t>(kCycles));
}

// The image plugins render pixels straight into a reserved record and then encode the BPG
// header around them: encode_into must leave a payload that is already in place untouched
// (and must not memcpy it onto itself, which ASan reports).
TEST(BpgInPlace, EncodeIntoKeepsAPayloadAlreadyInPlace) {
  const std::string meta = R"({"w":3})";
  const Bytes payload = pattern(300, 5);
  std::vector<uint8_t> buf(bpg::kHeaderSize + meta.size() + payload.size(), 0xEE);
  uint8_t* at = buf.data() + bpg::kHeaderSize + meta.size();
  std::memcpy(at, payload.data(), payload.size());
  const bpg::PacketView p{bpg::kTagImage, true, bpg::kVersion, 1, 2, meta, {at, payload.size()}};
  auto n = bpg::encode_into(p, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), buf.size());
  std::vector<uint8_t> copy(payload.size());
  std::memcpy(copy.data(), payload.data(), payload.size());
  auto want = bpg::encode({bpg::kTagImage, true, bpg::kVersion, 1, 2, meta, copy});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(buf, want.value());
}

// ---- example plugins ---------------------------------------------------------------------

#ifdef SMC_HAVE_EXAMPLE_PLUGINS

bpg::Packet decode(const Bytes& b) {
  auto d = bpg::decode_one({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  bpg::Packet p;
  if (!d.ok()) return p;
  const bpg::PacketView& v = d.value().packet;
  p.tag = v.tag;
  p.end_of_group = v.end_of_group;
  p.target_id = v.target_id;
  p.group_id = v.group_id;
  p.metadata = std::string(v.metadata);
  p.binary.assign(v.binary.begin(), v.binary.end());
  return p;
}

void check_source_frames(uint32_t w, uint32_t hgt) {
  Harness h;
  std::string err;
  const std::string cfg = "{\"width\":" + std::to_string(w) + ",\"height\":" + std::to_string(hgt) +
                          ",\"fps\":200,\"frames\":4,\"targetId\":9}";
  ASSERT_TRUE(h.slot->load(example("image-source"), cfg, &err)) << err;
  auto got = h.receive_n(4);
  ASSERT_EQ(got.size(), 4u);
  for (uint32_t n = 0; n < 4; ++n) {
    bpg::Packet p = decode(got[n]);
    EXPECT_EQ(p.tag, bpg::kTagImage);
    EXPECT_EQ(p.target_id, 9u);
    EXPECT_EQ(p.group_id, n);
    EXPECT_TRUE(contains(p.metadata, "\"width\":" + std::to_string(w))) << p.metadata;
    EXPECT_TRUE(contains(p.metadata, "\"frame\":" + std::to_string(n))) << p.metadata;
    EXPECT_TRUE(contains(p.metadata, "\"format\":\"rgba8\"")) << p.metadata;
    ASSERT_EQ(p.binary.size(), size_t{w} * hgt * 4);
    const uint32_t x = w - 1, y = hgt - 1;
    const uint8_t* px = p.binary.data() + (size_t{y} * w + x) * 4;
    EXPECT_EQ(px[0], static_cast<uint8_t>(x + 3 * n));
    EXPECT_EQ(px[1], static_cast<uint8_t>(y + 2 * n));
    EXPECT_EQ(px[2], static_cast<uint8_t>(x + y + n));
    EXPECT_EQ(px[3], 255);
  }
}

TEST(ExamplePlugins, ImageSourceInPlaceFrames) {
  check_source_frames(40, 30);  // 4800 B + header: fits one record of a 64 KiB ring
}

TEST(ExamplePlugins, ImageSourceFragmentedFrames) {
  check_source_frames(160, 120);  // 76800 B: larger than the ring, sent by copy in fragments
}

TEST(ExamplePlugins, ImageFilterInvertAndErrors) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.slot->load(example("image-filter"), "{}", &err)) << err;
  const uint8_t px[] = {0, 10, 200, 255, 1, 2, 3, 4};
  const std::string meta = R"({"width":2,"height":1,"channels":4,"filter":"invert"})";
  auto req = bpg::encode({bpg::kTagImage, true, bpg::kVersion, 5, 77, meta, px});
  ASSERT_TRUE(req.ok());
  ASSERT_EQ(h.js->send(std::as_bytes(std::span(req.value()))), Errc::ok);
  const std::string bad = R"({"width":2,"height":1,"filter":"sepia"})";
  auto req2 = bpg::encode({bpg::kTagImage, true, bpg::kVersion, 5, 78, bad, px});
  ASSERT_EQ(h.js->send(std::as_bytes(std::span(req2.value()))), Errc::ok);
  auto got = h.receive_n(2);
  ASSERT_EQ(got.size(), 2u);
  bpg::Packet p = decode(got[0]);
  EXPECT_EQ(p.tag, bpg::kTagImage);
  EXPECT_EQ(p.group_id, 77u);
  EXPECT_EQ(p.target_id, 5u);
  EXPECT_EQ(p.metadata, meta);
  const std::vector<uint8_t> want = {255, 245, 55, 255, 254, 253, 252, 4};
  EXPECT_EQ(p.binary, want);
  bpg::Packet e = decode(got[1]);
  EXPECT_EQ(e.tag, bpg::kTagError);
  EXPECT_EQ(e.group_id, 78u);
  EXPECT_TRUE(contains(e.metadata, "sepia")) << e.metadata;
}

#endif

}  // namespace
