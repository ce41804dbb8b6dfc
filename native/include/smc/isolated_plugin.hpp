// Out-of-process plugins (docs/plugins.md, "Isolated plugins"): the plugin runs in a child
// process, the plugin host executable (native/plugin-host, `smc_plugin_host`), which loads
// it with the same PluginSlot and C ABI as in-process and serves it over a second region
// of the same ring protocol in a shared mapping. The parent relays between the channel's
// endpoint and that region: one extra copy per message and direction.
//
//   mapping: [ control block, 4 KiB ][ config JSON, page-aligned ][ region: header + rings ]
//   parent = side R of the plugin region (like JS), child = side N (like the addon thread)
//
// A plugin that crashes (the child dies), hangs (a callback, or a pending message, makes
// no progress within IsolateOptions::timeout) or corrupts its ring (the ring's checks,
// docs/protocol.md 7.2) fails the channel: the channel's endpoint fails with local_error,
// and failure() says why (plugin_crashed with the signal or exit code,
// plugin_unresponsive, or the ring's reason). The child is killed and reaped; the app
// process is untouched; load() starts a fresh child.
//
// Nothing in the mapping is trusted by either process: the parent reads the child's
// words as hints and its texts bounded and sanitized; the child validates the layout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "smc/handler.hpp"
#include "smc/plugin_host.hpp"

namespace smc {

namespace isolate {

inline constexpr uint32_t kControlMagic = 0x48434D53u;  // bytes "SMCH"
inline constexpr uint32_t kControlVersion = 1;
inline constexpr uint32_t kControlSize = 4096;
inline constexpr uint32_t kTextSize = 1024;
inline constexpr uint32_t kNameSize = 128;
// The descriptor number the child finds the mapping on.
inline constexpr int kChildHandle = 3;

// Child states (ControlBlock::state).
inline constexpr uint32_t kStarting = 0, kReady = 1, kLoadFailed = 2;

// The control block at offset 0 of the mapping. Plain words, accessed with
// std::atomic_ref; every field is read as untrusted by the other process.
struct ControlBlock {
  uint32_t magic;          // parent, before the child starts
  uint32_t version;        // parent
  uint32_t config_offset;  // parent: the config JSON (config_length bytes, no NUL)
  uint32_t config_length;  // parent
  uint32_t region_offset;  // parent: the plugin region (page-aligned)
  uint32_t region_size;    // parent
  uint32_t state;          // child: kStarting -> kReady or kLoadFailed (a futex word)
  uint32_t busy;           // child: +1 entering and +1 leaving a plugin callback (odd: inside)
  uint32_t plugin_failed;  // child: the plugin called fail(); `text` says why
  uint32_t reserved;
  uint64_t delivered, dropped, sent, send_errors, ticks;  // child: its PluginStats
  char name[kNameSize];                                   // child, before kReady
  char version_text[kNameSize];
  char text[kTextSize];  // child: the load error (kLoadFailed) or the fail() message
};
static_assert(sizeof(ControlBlock) <= kControlSize);

// The child's main (native/plugin-host/main.cpp): smc_plugin_host --fd N --parent PID
// --plugin PATH. Returns the process exit code: 0 after the parent closed the ring, 2 on a
// bad command line or mapping, 3 when the plugin failed to load, 4 when the parent is gone.
int run_plugin_host(int argc, char** argv);

}  // namespace isolate

struct IsolateOptions {
  std::string host_path;  // the smc_plugin_host executable
  // A plugin callback running, or a message waiting for the plugin, this long without
  // progress fails the channel with plugin_unresponsive; also the limit on loading.
  std::chrono::milliseconds timeout{5000};
};

// Why an isolated plugin failed the channel.
struct IsolateFailure {
  std::string reason;   // "" (none), "plugin_crashed", "plugin_unresponsive", or a ring
                        // reason (docs/protocol.md 7.2, e.g. "record_kind_invalid")
  std::string message;  // a sentence naming the plugin, the cause and the pid
  bool signaled = false;
  int signal = 0;           // plugin_crashed by a signal: its number
  std::string signal_name;  // "SIGSEGV"
  int exit_code = -1;       // plugin_crashed by exiting: the code
  int64_t pid = -1;         // the plugin process
};

// The isolated twin of PluginSlot, with the same admin API (load / unload / reload / close
// / stats) for the addon's handler 'plugin' with `isolate`.
class IsolatedPluginSlot {
 public:
  explicit IsolatedPluginSlot(IsolateOptions options);
  ~IsolatedPluginSlot();  // closes
  IsolatedPluginSlot(const IsolatedPluginSlot&) = delete;
  IsolatedPluginSlot& operator=(const IsolatedPluginSlot&) = delete;

  // The channel's endpoint (this process's side): replies are relayed into it, and it is
  // failed when the plugin fails. Must be bound before load().
  void bind(Endpoint* ep);
  // Starts a plugin host child for `path` (unloading the current one first). False with
  // *error naming the path and the cause: the loader's own errors (as in-process), the
  // child crashing or timing out while loading, or no isolation on this platform.
  bool load(const std::string& path, const std::string& config_json, std::string* error);
  bool unload();
  bool reload(std::string* error);
  void close();

  PluginStats stats() const;
  IsolateFailure failure() const;
  int64_t child_pid() const;  // -1 when no child runs
  // The child says it is inside a plugin callback (its busy word is odd): a hint.
  bool child_in_callback() const;

  // Called by the handler on the channel's receive thread.
  void deliver(std::span<const std::byte> message);
  void batch_end();

  struct Child;  // internal

 private:
  bool unload_locked();
  void relay_loop(Child* c);
  void watch_loop(Child* c);
  void fail_channel(Child* c, IsolateFailure f);

  IsolateOptions options_;
  mutable std::mutex admin_mu_;  // load / unload / close / stats
  std::unique_ptr<Child> current_;
  bool closed_ = false;
  std::string path_, config_;  // of the current (or last) plugin, for reload

  std::mutex call_mu_;       // deliver / batch_end against unload
  Child* active_ = nullptr;  // guarded by call_mu_

  std::atomic<Endpoint*> ep_{nullptr};  // SYNC: isolated-endpoint (bind's release store)

  mutable std::mutex failure_mu_;
  IsolateFailure failure_;  // guarded by failure_mu_

  std::atomic<uint64_t> delivered_{0}, dropped_{0}, loads_{0}, unloads_{0};
};

// Runs an IsolatedPluginSlot as a channel's handler (as make_plugin_slot_handler).
std::unique_ptr<Handler> make_isolated_plugin_handler(std::shared_ptr<IsolatedPluginSlot> slot);

}  // namespace smc
