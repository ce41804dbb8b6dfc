// What the in-process plugin host's files share (not installed): one loaded plugin
// (PluginSlot::Loaded), the host table's C callbacks (PluginHostAccess) and the library
// opener. The files, one job each:
//   plugin_library.cpp   the file check, the shared library, the entry and its descriptor
//   plugin_host_abi.cpp  the smc_host callbacks a plugin calls, and the per-thread reservation
//   plugin_slot.cpp      PluginSlot: load / unload / reload / close, deliver, stats, the handler
//   plugin_ticker.cpp    the tick thread that calls on_tick
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "smc/platform/dynlib.hpp"
#include "smc/plugin_host.hpp"

namespace smc {

struct PluginSlot::Loaded {
  PluginSlot* slot = nullptr;
  smc_host host{};
  platform::LibraryHandle lib{};
  const smc_plugin_descriptor* desc = nullptr;
  void* instance = nullptr;
  std::string path, name, version, config;
  // Flags only, read and written relaxed: they publish no data. The hand-off of a call is
  // call_mu_ (active_), and the failure text is read under failure_mu.
  std::atomic<bool> stopping{false};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  std::string failure;  // guarded by failure_mu
};

// A plugin library opened and checked: its entry returned a descriptor of this ABI with
// the required functions. The caller owns `lib`.
struct OpenedPlugin {
  platform::LibraryHandle lib{};
  const smc_plugin_descriptor* desc = nullptr;
};
// Opens `path` as a plugin (plugin_library.cpp). False with *why (the cause, without the
// path) when it is not one; nothing is left open then.
bool open_plugin_library(const std::string& path, OpenedPlugin* out, std::string* why);

// The host table's functions, and the per-thread reservation they manage
// (plugin_host_abi.cpp). A friend of PluginSlot: the callbacks count into its stats.
struct PluginHostAccess {
  using Loaded = PluginSlot::Loaded;

  // The smc_host a plugin gets: this ABI's callbacks, with `lp` as host_data.
  static smc_host host_table(Loaded* lp);

  // Runs one host -> plugin call (caller holds call_mu_). Replies sent during it are
  // published per batch, not per message; a reservation it left open is aborted (rule 5).
  template <class Call>
  static void dispatch(const Loaded* lp, Call&& call) {
    begin_dispatch(lp);
    call();
    end_dispatch(lp);
  }
  static void begin_dispatch(const Loaded* lp);
  static void end_dispatch(const Loaded* lp);

  // smc_host's callbacks (smc/plugin.h).
  static int32_t send(const smc_host* h, const void* data, size_t len, uint32_t timeout_ms);
  static void* reserve(const smc_host* h, size_t len, uint32_t timeout_ms, int32_t* status);
  static int32_t commit(const smc_host* h, size_t used);
  static void abort(const smc_host* h);
  static size_t max_reserve(const smc_host* h);
  static void log(const smc_host* h, int32_t level, const char* message);
  static void fail(const smc_host* h, const char* message);

 private:
  static int32_t refuse(Loaded* lp, int32_t status);
  // Why this plugin may not send now (SMC_OK if it may), and its endpoint.
  static int32_t may_send(Loaded* lp, Endpoint** ep);
  // Reserves `len` bytes, waiting in slices. SMC_OK with the reservation in `r`.
  static int32_t reserve_into(Loaded* lp, Endpoint* ep, size_t len, uint32_t timeout_ms,
                              Endpoint::Reservation* r);
};

}  // namespace smc
