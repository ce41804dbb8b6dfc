// Loads native plugins (smc/plugin.h, docs/plugins.md) at run time and runs them as the
// Handler of a channel's native side. No Node dependency: the addon, the tests and any
// C++ embedder use the same loader.
//
//   auto slot = std::make_shared<smc::PluginSlot>();
//   slot->bind(ep.get());                                   // before the Responder starts
//   std::string err;
//   if (!slot->load("build/release/plugins/libsmc_echo.so", "{}", &err)) report(err);
//   smc::Responder r(std::move(ep), smc::make_plugin_slot_handler(slot));
//   ...
//   slot->reload(&err);     // unload, then load the same file and config again
//   slot->unload();         // messages are now dropped and counted
//
// Lifecycle guarantees (tested under ThreadSanitizer, native/tests/plugin_test.cpp):
//   - nothing is delivered to a plugin before its create() succeeded;
//   - unload (also reload, load over a loaded plugin, close) first closes dispatch, makes
//     the plugin's blocked sends return SMC_ERR_STOPPING, stops the tick thread, waits
//     for the on_message / on_tick call in flight, then calls destroy(), then closes the
//     library: no call enters a plugin during or after its unload;
//   - a message arriving while no plugin is loaded (or while one is unloading, or has
//     called fail()) is dropped and counted in PluginStats::dropped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "smc/handler.hpp"
#include "smc/plugin.h"

namespace smc {

struct PluginStats {
  bool loaded = false;
  bool failed = false;       // the plugin called fail()
  std::string path;          // of the loaded plugin (empty when none)
  std::string name;          // from its descriptor
  std::string version;       // from its descriptor
  std::string failure;       // the message given to fail()
  uint64_t delivered = 0;    // messages handed to on_message (all plugins, ever)
  uint64_t dropped = 0;      // messages that arrived with no plugin able to take them
  uint64_t ticks = 0;        // on_tick calls
  uint64_t sent = 0;         // messages the plugins sent (send + commit) successfully
  uint64_t send_errors = 0;  // send / reserve / commit calls that returned an error
  uint64_t loads = 0;        // successful loads
  uint64_t unloads = 0;      // plugins destroyed and unloaded
};

// (level: SMC_LOG_*, plugin name, message). The default writes to stderr.
using PluginLogger = std::function<void(int level, const std::string& plugin, const std::string&)>;

class PluginSlot {
 public:
  PluginSlot();
  ~PluginSlot();  // unloads
  PluginSlot(const PluginSlot&) = delete;
  PluginSlot& operator=(const PluginSlot&) = delete;

  // The endpoint plugins send to. Until it is bound, sends return SMC_ERR_NOT_READY. It
  // must outlive the slot's use of it: close() (run by the handler's on_stop) unbinds.
  void bind(Endpoint* ep);

  // Loads `path` and creates an instance with `config_json` (must be a JSON text; "" is
  // passed as "{}"). A plugin already loaded is unloaded first. On failure returns false
  // with *error naming the path and the cause, and the slot is left empty.
  bool load(const std::string& path, const std::string& config_json, std::string* error);
  // Destroys the plugin and closes its library; returns whether one was loaded.
  bool unload();
  // Unloads the current plugin, then loads the same file with the same config again
  // (picking up a rebuilt library). False with *error if none was loaded or loading failed.
  bool reload(std::string* error);
  // Unloads and refuses further loads; unbinds the endpoint. Idempotent.
  void close();

  void set_logger(PluginLogger logger);
  PluginStats stats() const;

  // ---- called by the handler on the channel's receive thread ---------------------------
  void deliver(std::span<const std::byte> message);

  struct Loaded;  // internal

 private:
  bool load_locked(const std::string& path, const std::string& config_json, std::string* error);
  bool unload_locked();
  // The tick thread (plugin_ticker.cpp): started after a load, stopped by unload.
  void start_ticker(Loaded* lp, uint32_t interval_ms);
  void stop_ticker();
  void tick_loop(Loaded* lp, uint32_t interval_ms);
  void emit_log(int level, const std::string& plugin, const std::string& message);
  friend struct PluginHostAccess;

  mutable std::mutex admin_mu_;  // load / unload / reload / close / stats
  std::unique_ptr<Loaded> current_;
  bool closed_ = false;

  // Dispatch: every call into a plugin (on_message, on_tick) holds call_mu_, so unload can
  // wait for the one in flight by taking it. That is the whole per-message cost of the
  // unload guarantee: one lock, uncontended except against a tick or an unload; no
  // allocation. dispatch_open_ (a relaxed hint) lets the receive thread drop without taking
  // the lock while no plugin is loaded or an unload waits for it.
  std::mutex call_mu_;
  Loaded* active_ = nullptr;  // guarded by call_mu_
  std::atomic<bool> dispatch_open_{false};

  std::atomic<Endpoint*> ep_{nullptr};  // SYNC: slot-endpoint (bind() publishes the endpoint)

  std::thread ticker_;
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_stop_ = false;  // guarded by tick_mu_

  mutable std::mutex log_mu_;
  PluginLogger logger_;

  std::atomic<uint64_t> delivered_{0}, dropped_{0}, ticks_{0}, sent_{0}, send_errors_{0}, loads_{0},
      unloads_{0};
};

// Runs a PluginSlot as a channel's handler: binds the endpoint on start, delivers every
// message, flushes replies per batch, and closes the slot (unloading its plugin) on stop.
std::unique_ptr<Handler> make_plugin_slot_handler(std::shared_ptr<PluginSlot> slot);

// Convenience: a new slot with `path` loaded. nullptr with *error on failure. The plugin is
// created at once, but its sends return SMC_ERR_NOT_READY until the Responder starts.
std::unique_ptr<Handler> make_plugin_handler(const std::string& path,
                                             const std::string& config_json, std::string* error);

// Where the build puts plugin `name` (e.g. "image-source"), inside `dir`:
// dir/libsmc_image_source.so (Linux), .dylib (macOS), dir/smc_image_source.dll (Windows).
std::string plugin_file_name(const std::string& name);

}  // namespace smc
