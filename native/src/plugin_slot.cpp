// PluginSlot (smc/plugin_host.hpp, docs/plugins.md): the lifecycle of the plugin a slot
// runs (load, unload, reload, close), delivery to it, its stats, and the slot as a
// channel's Handler. Opening the library is plugin_library.cpp, the host table
// plugin_host_abi.cpp, the tick thread plugin_ticker.cpp.
#include <algorithm>
#include <cstdio>
#include <string>

#include "plugin_slot_internal.hpp"

namespace smc {

namespace {

using platform::close_library;
using platform::LibraryHandle;

const char* level_name(int level) {
  switch (level) {
    case SMC_LOG_DEBUG:
      return "debug";
    case SMC_LOG_INFO:
      return "info";
    case SMC_LOG_WARN:
      return "warn";
    default:
      return "error";
  }
}

}  // namespace

PluginSlot::PluginSlot() = default;

PluginSlot::~PluginSlot() {
  close();
}

void PluginSlot::bind(Endpoint* ep) {
  // SYNC: slot-endpoint (partner: the acquire loads of ep_ in PluginHostAccess::may_send,
  // max_reserve and tick_loop, on plugin, tick and receive threads that then use *ep).
  ep_.store(ep, std::memory_order_release);
}

void PluginSlot::set_logger(PluginLogger logger) {
  std::lock_guard g(log_mu_);
  logger_ = std::move(logger);
}

void PluginSlot::emit_log(int level, const std::string& plugin, const std::string& message) {
  std::lock_guard g(log_mu_);
  if (logger_) {
    logger_(level, plugin, message);
  } else {
    std::fprintf(stderr, "smc plugin %s [%s]: %s\n", plugin.c_str(), level_name(level),
                 message.c_str());
  }
}

bool PluginSlot::load(const std::string& path, const std::string& config_json, std::string* error) {
  std::lock_guard g(admin_mu_);
  return load_locked(path, config_json, error);
}

bool PluginSlot::unload() {
  std::lock_guard g(admin_mu_);
  return unload_locked();
}

bool PluginSlot::reload(std::string* error) {
  std::lock_guard g(admin_mu_);
  if (!current_) {
    if (error) *error = "reload: no plugin is loaded";
    return false;
  }
  const std::string path = current_->path, config = current_->config;
  return load_locked(path, config, error);  // unloads first
}

void PluginSlot::close() {
  std::lock_guard g(admin_mu_);
  unload_locked();
  closed_ = true;
  // No release needed: nullptr publishes nothing, and every thread that could still use
  // the endpoint (the plugin's and the tick thread) was joined by unload_locked().
  ep_.store(nullptr, std::memory_order_relaxed);
}

bool PluginSlot::load_locked(const std::string& path, const std::string& config_json,
                             std::string* error) {
  std::string scratch;
  std::string& err = error ? *error : scratch;
  const std::string who = "plugin '" + path + "'";
  unload_locked();
  if (closed_) {
    err = who + ": cannot load: the channel is closed";
    return false;
  }
  OpenedPlugin opened;
  std::string why;
  if (!open_plugin_library(path, &opened, &why)) {
    err = who + ": " + why;
    return false;
  }
  struct LibGuard {
    LibraryHandle h;
    ~LibGuard() {
      if (h) close_library(h);
    }
  } guard{opened.lib};
  const smc_plugin_descriptor* desc = opened.desc;

  auto lp = std::make_unique<Loaded>();
  lp->slot = this;
  lp->lib = opened.lib;
  lp->desc = desc;
  lp->path = path;
  lp->name = desc->name ? desc->name : "(unnamed)";
  lp->version = desc->version ? desc->version : "";
  lp->config = config_json.empty() ? "{}" : config_json;
  lp->host = PluginHostAccess::host_table(lp.get());

  char buf[1024];
  buf[0] = '\0';
  lp->instance = desc->create(&lp->host, lp->config.c_str(), buf, sizeof buf);
  if (!lp->instance) {
    buf[sizeof buf - 1] = '\0';
    err = who + " (" + lp->name + " " + lp->version +
          "): create failed: " + (buf[0] ? buf : "(the plugin gave no message)");
    return false;
  }
  guard.h = nullptr;  // the Loaded owns the library now

  {
    std::lock_guard c(call_mu_);
    active_ = lp.get();
  }
  dispatch_open_.store(true, std::memory_order_relaxed);
  if (desc->on_tick && desc->tick_interval_ms > 0) start_ticker(lp.get(), desc->tick_interval_ms);
  current_ = std::move(lp);
  loads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool PluginSlot::unload_locked() {
  if (!current_) return false;
  Loaded* lp = current_.get();
  // 1. No new dispatch; blocked sends of the plugin return SMC_ERR_STOPPING.
  dispatch_open_.store(false, std::memory_order_relaxed);
  lp->stopping.store(true, std::memory_order_relaxed);
  // 2. The tick thread finishes its tick in flight and exits.
  stop_ticker();
  // 3. Wait for the on_message in flight; none can start after this.
  {
    std::lock_guard c(call_mu_);
    active_ = nullptr;
  }
  // 4. destroy (joins the plugin's threads), 5. close the library.
  lp->desc->destroy(lp->instance);
  lp->instance = nullptr;
  LibraryHandle lib = lp->lib;
  current_.reset();
  close_library(lib);
  unloads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void PluginSlot::deliver(std::span<const std::byte> message) {
  if (!dispatch_open_.load(std::memory_order_relaxed)) {  // a hint; call_mu_ decides
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard c(call_mu_);
  Loaded* lp = active_;
  if (!lp || lp->stopping.load(std::memory_order_relaxed) ||
      lp->failed.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PluginHostAccess::dispatch(lp, [lp, message] {
    lp->desc->on_message(lp->instance, reinterpret_cast<const uint8_t*>(message.data()),
                         message.size());
  });
  delivered_.fetch_add(1, std::memory_order_relaxed);
}

PluginStats PluginSlot::stats() const {
  PluginStats s;
  {
    std::lock_guard g(admin_mu_);
    if (current_) {
      s.loaded = true;
      s.path = current_->path;
      s.name = current_->name;
      s.version = current_->version;
      std::lock_guard f(current_->failure_mu);
      s.failed = current_->failed.load(std::memory_order_relaxed);
      s.failure = current_->failure;
    }
  }
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.ticks = ticks_.load(std::memory_order_relaxed);
  s.sent = sent_.load(std::memory_order_relaxed);
  s.send_errors = send_errors_.load(std::memory_order_relaxed);
  s.loads = loads_.load(std::memory_order_relaxed);
  s.unloads = unloads_.load(std::memory_order_relaxed);
  return s;
}

// ---- the handler -------------------------------------------------------------------------

namespace {

class PluginHandler final : public Handler {
 public:
  explicit PluginHandler(std::shared_ptr<PluginSlot> slot) : slot_(std::move(slot)) {}
  void on_start(Endpoint& ep) override { slot_->bind(&ep); }
  void on_message(std::span<const std::byte> message, Endpoint&) override {
    slot_->deliver(message);
  }
  void on_stop(Endpoint&) override { slot_->close(); }

 private:
  std::shared_ptr<PluginSlot> slot_;
};

}  // namespace

std::unique_ptr<Handler> make_plugin_slot_handler(std::shared_ptr<PluginSlot> slot) {
  return std::make_unique<PluginHandler>(std::move(slot));
}

std::unique_ptr<Handler> make_plugin_handler(const std::string& path,
                                             const std::string& config_json, std::string* error) {
  auto slot = std::make_shared<PluginSlot>();
  if (!slot->load(path, config_json, error)) return nullptr;
  return make_plugin_slot_handler(std::move(slot));
}

std::string plugin_file_name(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '-', '_');
  const std::string suffix = platform::library_suffix();
  // CMake's MODULE naming: no "lib" prefix on Windows.
  return (suffix == ".dll" ? "smc_" : "libsmc_") + n + suffix;
}

}  // namespace smc
