// smc_isolate_bench: what isolation costs. The same echo plugin (native/plugins/echo.cpp)
// as the channel's native side, in-process (PluginSlot) and isolated (IsolatedPluginSlot:
// a child process and one extra copy per message and direction); this process plays the
// JS side with a C++ Endpoint, so only the plugin's side differs. Figures: docs/plugins.md.
//
//   build/release/smc_isolate_bench [--quick]   (finds plugins/ and smc_plugin_host beside
//                                                itself; the round trip is the median of
//                                                each round, the echoes count replies)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "smc/isolated_plugin.hpp"
#include "smc/plugin_host.hpp"

namespace {

using namespace smc;
using namespace std::chrono_literals;
using Secs = std::chrono::duration<double>;

struct Channel {
  std::vector<std::byte> memory;
  std::unique_ptr<Endpoint> js;
  std::unique_ptr<Responder> responder;
};

std::unique_ptr<Channel> open_channel(bool isolated, const std::string& dir, uint32_t ring) {
  auto ch = std::make_unique<Channel>();
  const RegionConfig rc{ring, ring};
  ch->memory.resize(Region::size_for(rc) + 128);
  // 128-aligned start inside the vector.
  auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(ch->memory.data()) + 127) &
                                            ~uintptr_t{127});
  Region region;
  if (Region::initialize({base, Region::size_for(rc)}, rc, &region) != Errc::ok) return nullptr;
  ch->js = Endpoint::attach(region, Side::r, {});
  auto native = Endpoint::attach(region, Side::n, {});
  const std::string echo = dir + "/plugins/" + plugin_file_name("echo");
  std::string err;
  std::unique_ptr<Handler> h;
  if (isolated) {
    auto slot = std::make_shared<IsolatedPluginSlot>(
        IsolateOptions{dir + "/smc_plugin_host", std::chrono::milliseconds(5000)});
    slot->bind(native.get());
    if (!slot->load(echo, "{}", &err)) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return nullptr;
    }
    h = make_isolated_plugin_handler(slot);
  } else {
    auto slot = std::make_shared<PluginSlot>();
    slot->bind(native.get());
    if (!slot->load(echo, "{}", &err)) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return nullptr;
    }
    h = make_plugin_slot_handler(slot);
  }
  ch->responder = std::make_unique<Responder>(std::move(native), std::move(h));
  return ch;
}

// Median round trip of one 64-byte message, microseconds.
double round_trip_us(Channel& ch, int n) {
  std::vector<std::byte> m(64, std::byte{1});
  std::vector<double> t;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ch.js->send(m);
    size_t got = 0;
    while (got == 0) ch.js->receive([](std::span<const std::byte>) {}, 1, &got);
    t.push_back(Secs(std::chrono::steady_clock::now() - t0).count() * 1e6);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Echo throughput: `count` messages of `size` bytes sent from one thread while this one
// receives the echoes; messages per second.
double throughput(Channel& ch, size_t size, uint64_t count) {
  std::vector<std::byte> m(size, std::byte{7});
  const auto t0 = std::chrono::steady_clock::now();
  std::thread sender([&] {
    for (uint64_t i = 0; i < count; ++i) ch.js->send(m);
  });
  uint64_t got = 0;
  while (got < count) {
    size_t n = 0;
    ch.js->receive([](std::span<const std::byte>) {}, 4096, &n);
    got += n;
  }
  sender.join();
  return static_cast<double>(count) / Secs(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int rounds = quick ? 1 : 5;
  const std::string dir = std::filesystem::path(argv[0]).parent_path().string();
  // Both channels stay open and the rounds alternate between them, so both see the same
  // machine; the best round of each is printed (background load only ever slows a round).
  std::unique_ptr<Channel> ch[2];
  for (int m = 0; m < 2; ++m) {
    ch[m] = open_channel(m == 1, dir.empty() ? "." : dir, 1u << 22);
    if (!ch[m]) return 1;
    round_trip_us(*ch[m], 1000);  // warm up
  }
  double rt[2] = {1e30, 1e30}, small[2] = {0, 0}, big[2] = {0, 0};
  for (int r = 0; r < rounds; ++r) {
    for (int m = 0; m < 2; ++m) {
      rt[m] = std::min(rt[m], round_trip_us(*ch[m], quick ? 2000 : 10000));
      small[m] = std::max(small[m], throughput(*ch[m], 64, quick ? 200'000 : 1'000'000));
      big[m] = std::max(big[m], throughput(*ch[m], 1u << 20, quick ? 200 : 1000));
    }
  }
  std::printf("%-10s %14s %16s %16s   (best of %d rounds, ring 4 MiB each way)\n", "plugin",
              "round trip", "64 B echo", "1 MiB echo", rounds);
  for (int m = 0; m < 2; ++m) {
    std::printf("%-10s %11.2f us %10.2f M msg/s %10.2f GB/s\n", m ? "isolated" : "in-process",
                rt[m], small[m] / 1e6, big[m] * (1u << 20) / 1e9);
  }
  return 0;
}
