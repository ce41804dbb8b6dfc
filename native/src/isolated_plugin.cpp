// Out-of-process plugins: the parent's relay and watchdog (IsolatedPluginSlot) and the
// child's main (isolate::run_plugin_host). smc/isolated_plugin.hpp describes the design.
#include "smc/isolated_plugin.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "smc/platform/process.hpp"

namespace smc {

namespace isolate {
namespace {

using std::chrono::milliseconds;

template <class T>
std::atomic_ref<T> word(T& w) {
  return std::atomic_ref<T>(w);
}

// Untrusted text from the other process: at most n bytes, up to a NUL, printable ASCII
// only (anything else becomes '?').
std::string read_text(char* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const char c = std::atomic_ref<char>(p[i]).load(std::memory_order_relaxed);
    if (c == '\0') break;
    s.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return s;
}

void write_text(char* p, size_t n, const std::string& s) {
  const size_t len = std::min(s.size(), n - 1);
  for (size_t i = 0; i < len; ++i)
    std::atomic_ref<char>(p[i]).store(s[i], std::memory_order_relaxed);
  std::atomic_ref<char>(p[len]).store('\0', std::memory_order_relaxed);
}

constexpr size_t page_align(size_t n) {
  return (n + 4095u) & ~size_t{4095};
}

}  // namespace
}  // namespace isolate

using namespace isolate;
namespace plat = platform;

// ---- one running child --------------------------------------------------------------------

struct IsolatedPluginSlot::Child {
  plat::SharedMemory mem;
  ControlBlock* ctl = nullptr;
  Region region;
  std::unique_ptr<Endpoint> ep;  // side R of the plugin region
  std::unique_ptr<plat::ChildProcess> proc;
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
    plat::close_shared_memory(&mem);
  }
};

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
  c->ep = Endpoint::attach(c->region, Side::js, eo, &e);
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

void IsolatedPluginSlot::fail_channel(Child* c, IsolateFailure f) {
  {
    std::lock_guard g(failure_mu_);
    if (c->failed.load(std::memory_order_relaxed) || c->stopping.load(std::memory_order_relaxed)) {
      return;
    }
    c->failed.store(true, std::memory_order_relaxed);
    f.pid = c->pid;
    if (f.message.empty()) f.message = "plugin '" + c->path + "': " + f.reason;
    failure_ = std::move(f);
  }
  c->proc->kill();  // the watcher reaps it
  c->ep->close();   // wakes a deliver blocked on the plugin's ring, ends the relay
  // The failure is recorded (under failure_mu_) before the channel's state word says
  // failed: whoever sees `failed` there and asks failure() gets the reason.
  // SYNC: isolated-endpoint (partner: bind's release store).
  if (Endpoint* ep = ep_.load(std::memory_order_acquire)) ep->fail(Reason::local_error);
}

void IsolatedPluginSlot::relay_loop(Child* c) {
  // SYNC: isolated-endpoint (partner: bind's release store).
  Endpoint* channel = ep_.load(std::memory_order_acquire);
  bool channel_open = channel != nullptr;
  const auto relay_one = [&](std::span<const std::byte> m) {
    if (!channel_open) return;  // the channel ended: nothing more reaches JS
    c->relay_sending.store(true, std::memory_order_relaxed);
    for (;;) {
      const Errc e = channel->send(m, Deadline::in(milliseconds(10)), /*flush=*/false);
      if (e == Errc::ok) break;
      if (e != Errc::timeout) {
        channel_open = false;
        break;
      }
      if (c->stopping.load(std::memory_order_relaxed) ||
          c->failed.load(std::memory_order_relaxed)) {
        break;  // dropped, as a plugin's blocked send is on unload
      }
    }
    c->relay_sending.store(false, std::memory_order_relaxed);
  };
  for (;;) {
    size_t n = 0;
    const Errc e = c->ep->receive(relay_one, 256, &n);
    if (n > 0 && channel_open) channel->flush();
    if (e == Errc::ok) continue;
    if (e == Errc::failed) {
      // The plugin's ring broke a check (or its state word is garbage): the ring's reason.
      IsolateFailure f;
      f.reason = to_string(c->ep->failure());
      f.message = "plugin '" + c->path + "': " + f.reason + ": the isolated plugin (pid " +
                  std::to_string(c->pid) + ") corrupted its ring (docs/protocol.md 7.2)";
      fail_channel(c, std::move(f));
    } else if (e == Errc::peer_failed) {
      IsolateFailure f;
      f.reason = to_string(c->ep->peer_reason());
      f.message = "plugin '" + c->path + "': " + f.reason + ": the isolated plugin host (pid " +
                  std::to_string(c->pid) + ") declared its ring failed";
      fail_channel(c, std::move(f));
    } else if (e == Errc::peer_closed) {
      c->peer_closed.store(true, std::memory_order_relaxed);  // the watcher decides
    }
    return;  // closed: unload or a failure closed our side
  }
}

void IsolatedPluginSlot::watch_loop(Child* c) {
  const auto timeout = options_.timeout;
  const auto period = std::clamp<milliseconds>(timeout / 8, milliseconds(5), milliseconds(100));
  const auto grace = std::min<milliseconds>(timeout, milliseconds(2000));
  RingWords to_plugin = c->region.ring(Dir::r2n);
  uint32_t last_busy = word(c->ctl->busy).load(std::memory_order_relaxed);
  uint32_t last_read = to_plugin.read_index.load(std::memory_order_relaxed);
  auto last_progress = Clock::now();
  std::optional<Clock::time_point> stop_seen, closed_seen;
  bool killed = false;
  for (;;) {
    if (auto ex = c->proc->wait_exit(period)) {
      if (!c->stopping.load(std::memory_order_relaxed)) {
        IsolateFailure f;
        f.reason = "plugin_crashed";
        f.signaled = ex->signaled;
        if (ex->signaled) {
          f.signal = ex->value;
          f.signal_name = plat::signal_name(ex->value);
        } else {
          f.exit_code = ex->value;
        }
        f.message = "plugin '" + c->path + "': plugin_crashed: the isolated plugin (pid " +
                    std::to_string(c->pid) + ") " + plat::describe(*ex);
        fail_channel(c, std::move(f));
      }
      return;
    }
    const auto now = Clock::now();
    if (c->stopping.load(std::memory_order_relaxed) || c->failed.load(std::memory_order_relaxed)) {
      if (!stop_seen) stop_seen = now;
      if (!killed && (c->failed.load(std::memory_order_relaxed) || now - *stop_seen >= grace)) {
        c->proc->kill();
        killed = true;
      }
      continue;
    }
    if (c->peer_closed.load(std::memory_order_relaxed)) {
      // It closed its side unasked (a plugin that scribbled `closed` into its state word,
      // or a host that left): it must exit now; if it does, that is a crash with its code.
      if (!closed_seen) closed_seen = now;
      if (now - *closed_seen >= grace) {
        IsolateFailure f;
        f.reason = "plugin_unresponsive";
        f.message = "plugin '" + c->path + "': plugin_unresponsive: the isolated plugin (pid " +
                    std::to_string(c->pid) + ") closed its ring but did not exit";
        fail_channel(c, std::move(f));
      }
      continue;
    }
    // Progress: the busy word moved, or the plugin's ring was consumed, or nothing waits
    // for the plugin, or we are the ones waiting (the JS side does not read).
    const uint32_t busy = word(c->ctl->busy).load(std::memory_order_relaxed);
    const uint32_t read = to_plugin.read_index.load(std::memory_order_relaxed);
    const uint32_t written = to_plugin.write_index.load(std::memory_order_relaxed);
    const bool waiting_on_plugin = (busy & 1u) != 0 || written != read;
    if (busy != last_busy || read != last_read || !waiting_on_plugin ||
        c->relay_sending.load(std::memory_order_relaxed)) {
      last_busy = busy;
      last_read = read;
      last_progress = now;
      continue;
    }
    if (now - last_progress >= timeout) {
      IsolateFailure f;
      f.reason = "plugin_unresponsive";
      f.message = "plugin '" + c->path + "': plugin_unresponsive: the isolated plugin (pid " +
                  std::to_string(c->pid) + ") made no progress for " +
                  std::to_string(timeout.count()) + " ms (" +
                  ((busy & 1u) ? "inside a callback" : "messages waiting unread") +
                  "; isolateTimeoutMs); killed";
      fail_channel(c, std::move(f));
    }
  }
}

void IsolatedPluginSlot::deliver(std::span<const std::byte> message) {
  std::lock_guard k(call_mu_);
  Child* c = active_;
  if (c == nullptr || c->failed.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (;;) {
    const Errc e = c->ep->send(message, Deadline::in(milliseconds(10)), /*flush=*/false);
    if (e == Errc::ok) {
      delivered_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (e == Errc::timeout && !c->stopping.load(std::memory_order_relaxed) &&
        !c->failed.load(std::memory_order_relaxed)) {
      continue;  // the plugin is slow: wait (the watcher bounds it)
    }
    if (e == Errc::failed) {
      IsolateFailure f;
      f.reason = to_string(c->ep->failure());
      f.message = "plugin '" + c->path + "': " + f.reason + ": the isolated plugin (pid " +
                  std::to_string(c->pid) + ") corrupted its ring (docs/protocol.md 7.2)";
      fail_channel(c, std::move(f));
    }
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
}

void IsolatedPluginSlot::batch_end() {
  std::lock_guard k(call_mu_);
  if (active_ != nullptr) active_->ep->flush();
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

// ---- the child ----------------------------------------------------------------------------

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
  std::unique_ptr<Endpoint> ep = Endpoint::attach(region, Side::native, eo, &e);
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
