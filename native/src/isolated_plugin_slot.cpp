// IsolatedPluginSlot (smc/isolated_plugin.hpp): spawns the plugin host child for a plugin
// and waits until it loaded it, unloads / reloads / closes, reports stats, and runs as a
// channel's Handler. The watcher is isolated_plugin_supervisor.cpp, the message relay
// isolated_plugin_relay.cpp, the child's side isolated_plugin_host.cpp.
#include <cstring>

#include "isolated_plugin_internal.hpp"

namespace smc {

using namespace isolate;
namespace plat = platform;
using std::chrono::milliseconds;

IsolatedPluginSlot::IsolatedPluginSlot(IsolateOptions options) : options_(std::move(options)) {}

IsolatedPluginSlot::~IsolatedPluginSlot() {
  close();
}

void IsolatedPluginSlot::bind(Endpoint* ep) {
  // SYNC: isolated-endpoint (partner: the acquire loads of ep_ in load, relay_loop and
  // fail_channel, on the threads that then use *ep).
  ep_.store(ep, std::memory_order_release);
}

bool IsolatedPluginSlot::load(const std::string& path, const std::string& config_json,
                              std::string* error) {
  std::string scratch;
  std::string& err = error ? *error : scratch;
  const std::string who = "plugin '" + path + "'";
  std::lock_guard g(admin_mu_);
  unload_locked();
  if (closed_) {
    err = who + ": cannot load: the channel is closed";
    return false;
  }
  std::string why;
  if (!plat::isolation_supported(&why)) {
    err = who + ": " + why;
    return false;
  }
  // SYNC: isolated-endpoint (partner: bind's release store).
  Endpoint* channel = ep_.load(std::memory_order_acquire);
  if (channel == nullptr) {
    err = who + ": cannot load: the channel's endpoint is not bound yet";
    return false;
  }
  {
    std::lock_guard f(failure_mu_);
    failure_ = IsolateFailure{};
  }
  const std::string config = config_json.empty() ? "{}" : config_json;
  const RegionConfig rc{channel->region().capacity(Dir::r2n), channel->region().capacity(Dir::n2r)};
  const uint64_t region_size = Region::size_for(rc);
  const size_t config_area = page_align(config.size() + 1);
  const uint64_t total = kControlSize + config_area + region_size;
  if (region_size == 0 || total > UINT32_MAX) {
    err = who + ": cannot isolate: the channel's rings are too large to mirror (" +
          std::to_string(total) + " bytes; at most 4 GiB)";
    return false;
  }

  auto c = std::make_unique<Child>();
  c->path = path;
  if (!plat::create_shared_memory(total, "smc-plugin", &c->mem, &why)) {
    err = who + ": cannot isolate: " + why;
    return false;
  }
  c->ctl = reinterpret_cast<ControlBlock*>(c->mem.base);
  ControlBlock& ctl = *c->ctl;  // fresh and private until the child starts: plain stores
  ctl.magic = kControlMagic;
  ctl.version = kControlVersion;
  ctl.config_offset = kControlSize;
  ctl.config_length = static_cast<uint32_t>(config.size());
  ctl.region_offset = static_cast<uint32_t>(kControlSize + config_area);
  ctl.region_size = static_cast<uint32_t>(region_size);
  std::memcpy(c->mem.base + kControlSize, config.data(), config.size());
  const std::span<std::byte> rmem(c->mem.base + ctl.region_offset, region_size);
  if (Region::initialize(rmem, rc, &c->region) != Errc::ok) {
    err = who + ": cannot isolate: the plugin region could not be initialized";
    return false;
  }
  EndpointOptions eo;
  eo.process_shared = true;
  Errc e = Errc::ok;
  c->ep = Endpoint::attach(c->region, Side::r, eo, &e);
  if (!c->ep) {
    err = who + ": cannot isolate: attaching to the plugin region failed: " + to_string(e);
    return false;
  }
  c->proc =
      plat::ChildProcess::spawn(options_.host_path,
                                {"--fd", std::to_string(kChildHandle), "--parent",
                                 std::to_string(plat::current_process_id()), "--plugin", path},
                                c->mem.handle, kChildHandle, &why);
  if (!c->proc) {
    err = who + ": cannot start the plugin host: " + why +
          " (the smc_plugin_host executable; isolate needs it)";
    return false;
  }
  c->pid = c->proc->pid();

  // Wait for the child to load the plugin: ready, a load error, death or the timeout.
  const auto deadline = Clock::now() + options_.timeout;
  for (;;) {
    // SYNC: host-state (partner: the child's release store of `state` in run_plugin_host,
    // after it wrote name, version_text or text).
    const uint32_t st = word(ctl.state).load(std::memory_order_acquire);
    if (st == kReady) break;
    if (st == kLoadFailed) {
      const std::string text = read_text(ctl.text, kTextSize);
      err = text.empty() ? who + ": the plugin host could not load it (no message)" : text;
      c->proc->kill();
      return false;  // ~Child reaps
    }
    if (st != kStarting) {
      err = who + ": the plugin host wrote an invalid state " + std::to_string(st) +
            " into its control block";
      c->proc->kill();
      return false;
    }
    if (auto ex = c->proc->wait_exit(milliseconds(0))) {
      err = who + ": the isolated plugin host " + plat::describe(*ex) + " while loading it (pid " +
            std::to_string(c->pid) + "; the app is unaffected)";
      return false;
    }
    if (Clock::now() >= deadline) {
      err = who +
            ": plugin_unresponsive: the isolated plugin host did not finish loading it "
            "within " +
            std::to_string(options_.timeout.count()) + " ms (isolateTimeoutMs; pid " +
            std::to_string(c->pid) + " killed)";
      c->proc->kill();
      return false;
    }
    plat::park_on_shared(&ctl.state, kStarting, milliseconds(5));
  }
  c->name = read_text(ctl.name, kNameSize);
  c->version = read_text(ctl.version_text, kNameSize);

  Child* raw = c.get();
  c->relay = std::thread([this, raw] { relay_loop(raw); });
  c->watcher = std::thread([this, raw] { watch_loop(raw); });
  {
    std::lock_guard k(call_mu_);
    active_ = raw;
  }
  current_ = std::move(c);
  path_ = path;
  config_ = config;
  loads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool IsolatedPluginSlot::unload() {
  std::lock_guard g(admin_mu_);
  return unload_locked();
}

bool IsolatedPluginSlot::reload(std::string* error) {
  std::string path, config;
  {
    std::lock_guard g(admin_mu_);
    if (!current_) {
      if (error) *error = "reload: no plugin is loaded";
      return false;
    }
    path = path_;
    config = config_;
  }
  return load(path, config, error);
}

void IsolatedPluginSlot::close() {
  std::lock_guard g(admin_mu_);
  unload_locked();
  closed_ = true;
  // Every thread that used the endpoint (relay, watcher) was joined by unload_locked().
  ep_.store(nullptr, std::memory_order_relaxed);
}

bool IsolatedPluginSlot::unload_locked() {
  if (!current_) return false;
  Child* c = current_.get();
  // 1. Not a failure from now on; the relay and a blocked deliver give up.
  c->stopping.store(true, std::memory_order_relaxed);
  // 2. Closing our side tells the child to destroy its plugin and exit (its receive loop
  // sees peer_closed); the watcher kills it if it has not within the grace period.
  c->ep->close();
  // 3. No deliver in flight, none can start.
  {
    std::lock_guard k(call_mu_);
    active_ = nullptr;
  }
  if (c->relay.joinable()) c->relay.join();
  if (c->watcher.joinable()) c->watcher.join();  // returns once the child is reaped
  current_.reset();
  unloads_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

PluginStats IsolatedPluginSlot::stats() const {
  PluginStats s;
  {
    std::lock_guard g(admin_mu_);
    if (current_) {
      Child& c = *current_;
      ControlBlock& ctl = *c.ctl;
      s.loaded = true;
      s.path = c.path;
      s.name = c.name;
      s.version = c.version;
      // Counters from the child: hints, shown as they are.
      s.ticks = word(ctl.ticks).load(std::memory_order_relaxed);
      s.sent = word(ctl.sent).load(std::memory_order_relaxed);
      s.send_errors = word(ctl.send_errors).load(std::memory_order_relaxed);
      // SYNC: host-failed (partner: the child's release store of plugin_failed, after
      // it wrote the text).
      if (word(ctl.plugin_failed).load(std::memory_order_acquire) != 0) {
        s.failed = true;
        s.failure = read_text(ctl.text, kTextSize);
      }
    }
  }
  {
    // Sticky until the next load: the channel's thread unloads the failed child as soon as
    // it stops, possibly before anyone asked why.
    std::lock_guard f(failure_mu_);
    if (!failure_.reason.empty()) {
      s.failed = true;
      s.failure = failure_.message;
    }
  }
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.loads = loads_.load(std::memory_order_relaxed);
  s.unloads = unloads_.load(std::memory_order_relaxed);
  return s;
}

IsolateFailure IsolatedPluginSlot::failure() const {
  std::lock_guard f(failure_mu_);
  return failure_;
}

int64_t IsolatedPluginSlot::child_pid() const {
  std::lock_guard g(admin_mu_);
  return current_ ? current_->pid : -1;
}

bool IsolatedPluginSlot::child_in_callback() const {
  std::lock_guard g(admin_mu_);
  return current_ && (word(current_->ctl->busy).load(std::memory_order_relaxed) & 1u) != 0;
}

// ---- the handler --------------------------------------------------------------------------

namespace {

class IsolatedPluginHandler final : public Handler {
 public:
  explicit IsolatedPluginHandler(std::shared_ptr<IsolatedPluginSlot> slot)
      : slot_(std::move(slot)) {}
  void on_start(Endpoint& ep) override { slot_->bind(&ep); }
  void on_message(std::span<const std::byte> message, Endpoint&) override {
    slot_->deliver(message);
  }
  void on_batch_end(Endpoint& ep) override {
    slot_->batch_end();
    ep.flush();
  }
  void on_stop(Endpoint&) override { slot_->close(); }

 private:
  std::shared_ptr<IsolatedPluginSlot> slot_;
};

}  // namespace

std::unique_ptr<Handler> make_isolated_plugin_handler(std::shared_ptr<IsolatedPluginSlot> slot) {
  return std::make_unique<IsolatedPluginHandler>(std::move(slot));
}

}  // namespace smc
