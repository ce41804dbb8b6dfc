// What the isolated plugin's files share (not installed): access to the control block
// both processes map (smc/isolated_plugin.hpp), and one running child. The files, one job
// each:
//   isolated_plugin_slot.cpp        IsolatedPluginSlot: spawn a child and wait for it to load
//                                   the plugin, unload / reload / close, stats, the handler
//   isolated_plugin_supervisor.cpp  the watcher thread: a child that dies, hangs or leaves
//                                   fails the channel with the reason
//   isolated_plugin_relay.cpp       messages between the channel and the child's region
//   isolated_plugin_host.cpp        the child's side (smc_plugin_host's main)
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "smc/isolated_plugin.hpp"
#include "smc/platform/process.hpp"

namespace smc {

namespace isolate {

// The control block's words are plain memory shared with the other process.
template <class T>
std::atomic_ref<T> word(T& w) {
  return std::atomic_ref<T>(w);
}

// Untrusted text from the other process: at most n bytes, up to a NUL, printable ASCII
// only (anything else becomes '?').
inline std::string read_text(char* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const char c = std::atomic_ref<char>(p[i]).load(std::memory_order_relaxed);
    if (c == '\0') break;
    s.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return s;
}

inline void write_text(char* p, size_t n, const std::string& s) {
  const size_t len = std::min(s.size(), n - 1);
  for (size_t i = 0; i < len; ++i)
    std::atomic_ref<char>(p[i]).store(s[i], std::memory_order_relaxed);
  std::atomic_ref<char>(p[len]).store('\0', std::memory_order_relaxed);
}

constexpr size_t page_align(size_t n) {
  return (n + 4095u) & ~size_t{4095};
}

}  // namespace isolate

struct IsolatedPluginSlot::Child {
  platform::SharedMemory mem;
  isolate::ControlBlock* ctl = nullptr;
  Region region;
  std::unique_ptr<Endpoint> ep;  // side R of the plugin region
  std::unique_ptr<platform::ChildProcess> proc;
  std::thread relay, watcher;
  std::string path, name, version;
  int64_t pid = -1;
  // Flags only (relaxed): they publish no data.
  std::atomic<bool> stopping{false};       // unload in progress: not a failure
  std::atomic<bool> failed{false};         // the plugin failed the channel
  std::atomic<bool> relay_sending{false};  // the relay waits on the channel (JS not reading)
  std::atomic<bool> peer_closed{false};    // the child closed its side without being asked

  ~Child() {
    ep.reset();
    proc.reset();  // kills if still running, reaps
    platform::close_shared_memory(&mem);
  }
};

}  // namespace smc
