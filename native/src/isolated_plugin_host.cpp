// The child's side of an isolated plugin (smc_plugin_host, native/plugin-host/main.cpp):
// validate the control block the parent wrote, attach side N of the plugin region, load
// the plugin into an in-process PluginSlot, say ready (or why not), serve the ring and
// publish the plugin's stats until the parent closes.
#include <cstdio>
#include <cstdlib>

#include "isolated_plugin_internal.hpp"

namespace smc {

namespace plat = platform;

namespace isolate {

namespace {

void publish_stats(ControlBlock& ctl, const PluginStats& s) {
  word(ctl.delivered).store(s.delivered, std::memory_order_relaxed);
  word(ctl.dropped).store(s.dropped, std::memory_order_relaxed);
  word(ctl.sent).store(s.sent, std::memory_order_relaxed);
  word(ctl.send_errors).store(s.send_errors, std::memory_order_relaxed);
  word(ctl.ticks).store(s.ticks, std::memory_order_relaxed);
  if (s.failed && word(ctl.plugin_failed).load(std::memory_order_relaxed) == 0) {
    write_text(ctl.text, kTextSize, s.failure);
    // SYNC: host-failed (partner: the parent's acquire load in IsolatedPluginSlot::stats).
    word(ctl.plugin_failed).store(1, std::memory_order_release);
  }
}

void set_state(ControlBlock& ctl, uint32_t st) {
  // SYNC: host-state (partner: the parent's acquire load in IsolatedPluginSlot::load).
  word(ctl.state).store(st, std::memory_order_release);
  plat::wake_all_shared(&ctl.state);
}

}  // namespace

int run_plugin_host(int argc, char** argv) {
  long long fd = -1, parent = -1;
  std::string path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--fd") {
      fd = std::atoll(argv[i + 1]);
    } else if (k == "--parent") {
      parent = std::atoll(argv[i + 1]);
    } else if (k == "--plugin") {
      path = argv[i + 1];
    }
  }
  if (fd < 0 || parent <= 0 || path.empty()) {
    std::fprintf(stderr,
                 "smc_plugin_host: started by the SharedMemoryChannel addon for isolated plugins "
                 "(usage: smc_plugin_host --fd N --parent PID --plugin PATH)\n");
    return 2;
  }
  if (!plat::bind_lifetime_to_parent(parent)) return 4;
  plat::SharedMemory mem;
  std::string why;
  if (!plat::map_shared_memory(static_cast<intptr_t>(fd), &mem, &why)) {
    std::fprintf(stderr, "smc_plugin_host: %s\n", why.c_str());
    return 2;
  }
  // The parent's words are validated like any shared memory before use.
  if (mem.size < kControlSize) return 2;
  ControlBlock& ctl = *reinterpret_cast<ControlBlock*>(mem.base);
  const uint32_t magic = word(ctl.magic).load(std::memory_order_relaxed);
  const uint32_t version = word(ctl.version).load(std::memory_order_relaxed);
  const uint64_t cfg_off = word(ctl.config_offset).load(std::memory_order_relaxed);
  const uint64_t cfg_len = word(ctl.config_length).load(std::memory_order_relaxed);
  const uint64_t reg_off = word(ctl.region_offset).load(std::memory_order_relaxed);
  const uint64_t reg_size = word(ctl.region_size).load(std::memory_order_relaxed);
  const auto fail_load = [&](const std::string& text) {
    write_text(ctl.text, kTextSize, text);
    set_state(ctl, kLoadFailed);
    return 3;
  };
  if (magic != kControlMagic || version != kControlVersion) {
    return fail_load("plugin '" + path + "': the plugin host found no control block it knows");
  }
  if (cfg_off < kControlSize || cfg_off + cfg_len > mem.size || reg_off % 4096 != 0 ||
      reg_off < cfg_off + cfg_len || reg_off + reg_size > mem.size) {
    return fail_load("plugin '" + path + "': the plugin host found an invalid layout");
  }
  std::string config(cfg_len, '\0');
  for (uint64_t i = 0; i < cfg_len; ++i) {
    config[i] = std::atomic_ref<char>(reinterpret_cast<char*>(mem.base)[cfg_off + i])
                    .load(std::memory_order_relaxed);
  }
  Region region;
  const char* detail = "";
  if (Region::attach(std::span<std::byte>(mem.base + reg_off, reg_size), &region, &detail) !=
      Errc::ok) {
    return fail_load("plugin '" + path + "': the plugin host cannot attach: " + detail);
  }
  EndpointOptions eo;
  eo.process_shared = true;
  Errc e = Errc::ok;
  std::unique_ptr<Endpoint> ep = Endpoint::attach(region, Side::n, eo, &e);
  if (!ep)
    return fail_load("plugin '" + path + "': the plugin host cannot attach: " + to_string(e));

  {
    PluginSlot slot;
    slot.bind(ep.get());
    std::string err;
    if (!slot.load(path, config, &err)) {
      slot.close();
      ep->close();
      return fail_load(err);
    }
    const PluginStats first = slot.stats();
    write_text(ctl.name, kNameSize, first.name);
    write_text(ctl.version_text, kNameSize, first.version);
    set_state(ctl, kReady);

    auto next_stats = Clock::now();
    for (;;) {
      size_t n = 0;
      e = ep->receive(
          [&](std::span<const std::byte> m) {
            word(ctl.busy).fetch_add(1, std::memory_order_relaxed);  // odd: inside the plugin
            slot.deliver(m);
            word(ctl.busy).fetch_add(1, std::memory_order_relaxed);
          },
          1024, &n, Deadline::in(std::chrono::milliseconds(50)));
      if (n > 0) ep->flush();
      if (Clock::now() >= next_stats) {
        publish_stats(ctl, slot.stats());
        next_stats = Clock::now() + std::chrono::milliseconds(10);
      }
      if (e != Errc::ok && e != Errc::timeout) break;
    }
    // Unload the plugin (destroy, dlclose) before the endpoint goes: the parent waits.
    slot.close();
    publish_stats(ctl, slot.stats());
  }
  ep->close();
  ep.reset();
  plat::close_shared_memory(&mem);
  return 0;
}

}  // namespace isolate

}  // namespace smc
