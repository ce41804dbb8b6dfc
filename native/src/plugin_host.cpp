// The plugin loader and host table (smc/plugin_host.hpp, docs/plugins.md).
#include "smc/plugin_host.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "smc/platform/dynlib.hpp"
#include "smc/platform/thread.hpp"

namespace smc {

namespace {

using platform::close_library;
using platform::find_symbol;
using platform::LibraryHandle;
using platform::open_library;

// Why `path` cannot be a plugin, judged before the OS loader sees it (its errors are
// generic, and opening a FIFO would block the calling JS thread forever); empty if it may
// be one. Only a regular file is ever opened, and only its first bytes are read.
std::string refuse_file(const std::string& path) {
  using platform::FileKind;
  const platform::FileProbe p = platform::probe_file(path);
  switch (p.kind) {
    case FileKind::missing:
      return "file not found";
    case FileKind::directory:
      return "is a directory, not a shared library";
    case FileKind::unreadable:
      return "cannot read the file: " + p.os_error;
    case FileKind::fifo:
    case FileKind::socket:
    case FileKind::char_device:
    case FileKind::block_device:
    case FileKind::other:
      return std::string("is ") + platform::describe(p.kind) +
             ", not a regular file (a plugin must be a shared library file; not opened)";
    case FileKind::regular:
      break;
  }
  const unsigned char* m = p.head;
  if (p.head_size >= 4) {
    const uint32_t be =
        (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) | (uint32_t{m[2]} << 8) | m[3];
    if (be == 0x7F454C46u) return {};  // ELF
    if (be == 0xFEEDFACEu || be == 0xFEEDFACFu || be == 0xCEFAEDFEu || be == 0xCFFAEDFEu ||
        be == 0xCAFEBABEu) {
      return {};  // Mach-O (thin, 32/64-bit, either byte order; fat)
    }
  }
  if (p.head_size >= 2 && m[0] == 'M' && m[1] == 'Z') return {};  // PE
  return "not a shared library (no ELF, Mach-O or PE header)";
}

// ---- errors ------------------------------------------------------------------------------

int32_t to_status(Errc e) {
  switch (e) {
    case Errc::ok:
      return SMC_OK;
    case Errc::timeout:
    case Errc::would_block:
      return SMC_ERR_TIMEOUT;
    case Errc::closed:
    case Errc::peer_closed:
      return SMC_ERR_CLOSED;
    case Errc::peer_failed:
    case Errc::failed:
      return SMC_ERR_FAILED;
    case Errc::too_large:
      return SMC_ERR_TOO_LARGE;
    case Errc::invalid_argument:
      return SMC_ERR_INVALID;
  }
  return SMC_ERR_INVALID;
}

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

// Blocking host calls wait in slices so an unload can interrupt them: a send blocked on a
// full ring (the JS side is not reading, or is itself waiting for the unload) notices
// SMC_ERR_STOPPING within one slice. Reserving has no partial state, so its slice is short;
// a fragmented send restarts from scratch after a slice times out, so its slice is longer.
constexpr auto kReserveSlice = std::chrono::milliseconds(10);
constexpr auto kFragmentedSlice = std::chrono::milliseconds(250);

}  // namespace

// ---- one loaded plugin -------------------------------------------------------------------

struct PluginSlot::Loaded {
  PluginSlot* slot = nullptr;
  smc_host host{};
  LibraryHandle lib{};
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

// The host table's functions, and the per-thread reservation they manage.
struct PluginHostAccess {
  using Loaded = PluginSlot::Loaded;

  // The reservation a thread holds (a plugin thread, the receive thread or the tick
  // thread): Endpoint::Reservation holds the send lock, so it lives on its thread.
  struct ThreadReservation {
    Endpoint::Reservation res;
    const Loaded* owner = nullptr;
  };
  static ThreadReservation& tls() {
    // A pointer, not a ThreadReservation: a thread_local with a destructor is unsafe under
    // MinGW (smc/platform/thread.hpp). The exit hook aborts a reservation the thread left
    // open (its send lock), on that thread.
    thread_local ThreadReservation* r = nullptr;
    if (r == nullptr) {
      r = new ThreadReservation;
      platform::at_thread_exit([](void* p) { delete static_cast<ThreadReservation*>(p); }, r);
    }
    return *r;
  }
  // The plugin whose on_message / on_tick this thread is running (replies from there are
  // published per batch, not per message).
  static const Loaded*& dispatching() {
    thread_local const Loaded* d = nullptr;
    return d;
  }

  static Loaded* of(const smc_host* h) { return static_cast<Loaded*>(h->host_data); }

  static int32_t refuse(Loaded* lp, int32_t status) {
    lp->slot->send_errors_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  // Why this plugin may not send now (SMC_OK if it may), and its endpoint.
  static int32_t may_send(Loaded* lp, Endpoint** ep) {
    if (lp->failed.load(std::memory_order_relaxed)) return SMC_ERR_FAILED;
    if (lp->stopping.load(std::memory_order_relaxed)) return SMC_ERR_STOPPING;
    // SYNC: slot-endpoint (partner: PluginSlot::bind's release store of ep_).
    *ep = lp->slot->ep_.load(std::memory_order_acquire);
    if (*ep == nullptr) return SMC_ERR_NOT_READY;
    return SMC_OK;
  }

  static Deadline overall(uint32_t timeout_ms) {
    return timeout_ms == SMC_WAIT_FOREVER ? Deadline::never()
                                          : Deadline::in(std::chrono::milliseconds(timeout_ms));
  }
  static Deadline slice(Deadline all, std::chrono::milliseconds s) {
    Deadline d = Deadline::in(s);
    return all.at < d.at ? all : d;
  }

  // Reserves `len` bytes, waiting in slices. SMC_OK with the reservation in `r`.
  static int32_t reserve_into(Loaded* lp, Endpoint* ep, size_t len, uint32_t timeout_ms,
                              Endpoint::Reservation* r) {
    if (len > ep->max_payload()) return SMC_ERR_TOO_LARGE;
    const Deadline all = overall(timeout_ms);
    for (;;) {
      const Errc e = ep->reserve(static_cast<uint32_t>(len), r, slice(all, kReserveSlice));
      if (e != Errc::timeout) return to_status(e);
      if (lp->stopping.load(std::memory_order_relaxed)) return SMC_ERR_STOPPING;
      if (lp->failed.load(std::memory_order_relaxed)) return SMC_ERR_FAILED;
      if (all.passed()) return SMC_ERR_TIMEOUT;
    }
  }

  static int32_t send(const smc_host* h, const void* data, size_t len, uint32_t timeout_ms) {
    Loaded* lp = of(h);
    Endpoint* ep = nullptr;
    if (int32_t s = may_send(lp, &ep); s != SMC_OK) return refuse(lp, s);
    if (tls().owner != nullptr) return refuse(lp, SMC_ERR_INVALID);  // would self-deadlock
    if (len > UINT32_MAX) return refuse(lp, SMC_ERR_TOO_LARGE);
    if (len > 0 && data == nullptr) return refuse(lp, SMC_ERR_INVALID);
    const bool flush = dispatching() != lp;
    int32_t status;
    if (len <= ep->max_payload()) {
      Endpoint::Reservation r;
      status = reserve_into(lp, ep, len, timeout_ms, &r);
      if (status == SMC_OK) {
        if (len > 0) std::memcpy(r.data().data(), data, len);
        status = to_status(r.commit(len, flush));
      }
    } else {
      const std::span<const std::byte> msg(static_cast<const std::byte*>(data), len);
      const Deadline all = overall(timeout_ms);
      for (;;) {
        const Errc e = ep->send(msg, slice(all, kFragmentedSlice), flush);
        status = to_status(e);
        if (e != Errc::timeout) break;
        if (lp->stopping.load(std::memory_order_relaxed)) {
          status = SMC_ERR_STOPPING;
          break;
        }
        if (all.passed()) break;
      }
    }
    if (status != SMC_OK) return refuse(lp, status);
    lp->slot->sent_.fetch_add(1, std::memory_order_relaxed);
    return SMC_OK;
  }

  static void* reserve(const smc_host* h, size_t len, uint32_t timeout_ms, int32_t* status) {
    Loaded* lp = of(h);
    int32_t st = SMC_OK;
    Endpoint* ep = nullptr;
    ThreadReservation& t = tls();
    if (st = may_send(lp, &ep); st == SMC_OK) {
      if (t.owner != nullptr) {
        st = SMC_ERR_INVALID;  // one open reservation per thread
      } else {
        st = reserve_into(lp, ep, len, timeout_ms, &t.res);
      }
    }
    if (status) *status = st;
    if (st != SMC_OK) {
      refuse(lp, st);
      return nullptr;
    }
    t.owner = lp;
    return t.res.data().data();
  }

  static int32_t commit(const smc_host* h, size_t used) {
    Loaded* lp = of(h);
    ThreadReservation& t = tls();
    if (t.owner != lp) return refuse(lp, SMC_ERR_INVALID);
    t.owner = nullptr;
    if (used > t.res.data().size()) {
      t.res.abort();
      return refuse(lp, SMC_ERR_INVALID);
    }
    const int32_t st = to_status(t.res.commit(used, dispatching() != lp));
    if (st != SMC_OK) return refuse(lp, st);
    lp->slot->sent_.fetch_add(1, std::memory_order_relaxed);
    return SMC_OK;
  }

  static void abort(const smc_host* h) {
    ThreadReservation& t = tls();
    if (t.owner != of(h)) return;
    t.owner = nullptr;
    t.res.abort();
  }

  static size_t max_reserve(const smc_host* h) {
    // SYNC: slot-endpoint (partner: PluginSlot::bind's release store of ep_).
    Endpoint* ep = of(h)->slot->ep_.load(std::memory_order_acquire);
    return ep ? ep->max_payload() : 0;
  }

  static void log(const smc_host* h, int32_t level, const char* message) {
    Loaded* lp = of(h);
    lp->slot->emit_log(level, lp->name, message ? message : "");
  }

  static void fail(const smc_host* h, const char* message) {
    Loaded* lp = of(h);
    {
      std::lock_guard g(lp->failure_mu);
      if (lp->failed.load(std::memory_order_relaxed)) return;  // the first reason sticks
      lp->failure = message ? message : "";
      lp->failed.store(true, std::memory_order_relaxed);
    }
    lp->slot->emit_log(SMC_LOG_ERROR, lp->name,
                       std::string("failed: ") + (message ? message : "(no message)"));
  }

  // Runs one host -> plugin call (caller holds call_mu_). Replies sent during it are
  // published per batch, not per message; a reservation it left open is aborted (rule 5).
  template <class Call>
  static void dispatch(const Loaded* lp, Call&& call) {
    dispatching() = lp;
    call();
    dispatching() = nullptr;
    ThreadReservation& t = tls();
    if (t.owner == lp) {
      t.owner = nullptr;
      t.res.abort();
    }
  }
};

// ---- PluginSlot --------------------------------------------------------------------------

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
  if (const std::string why_not = refuse_file(path); !why_not.empty()) {
    err = who + ": " + why_not;
    return false;
  }
  std::string why;
  LibraryHandle lib = open_library(path, &why);
  if (!lib) {
    err = who + ": cannot load the shared library: " + why;
    return false;
  }
  struct LibGuard {
    LibraryHandle h;
    ~LibGuard() {
      if (h) close_library(h);
    }
  } guard{lib};

  void* sym = find_symbol(lib, SMC_PLUGIN_ENTRY_NAME);
  if (!sym) {
    err = who + ": entry symbol '" SMC_PLUGIN_ENTRY_NAME
                "' not found (export it with SMC_PLUGIN_EXPORT and C linkage)";
    return false;
  }
  smc_plugin_entry_fn entry;
  static_assert(sizeof entry == sizeof sym);
  std::memcpy(&entry, &sym, sizeof entry);
  const smc_plugin_descriptor* desc = entry();
  if (!desc) {
    err = who + ": " SMC_PLUGIN_ENTRY_NAME "() returned no descriptor";
    return false;
  }
  if (desc->abi_version != SMC_PLUGIN_ABI_VERSION) {
    err = who + ": ABI version mismatch: the plugin was built for ABI version " +
          std::to_string(desc->abi_version) + ", this host implements ABI version " +
          std::to_string(SMC_PLUGIN_ABI_VERSION) + " (rebuild it against this smc/plugin.h)";
    return false;
  }
  if (desc->size < sizeof(smc_plugin_descriptor)) {
    err = who + ": descriptor size " + std::to_string(desc->size) + " is smaller than " +
          std::to_string(sizeof(smc_plugin_descriptor)) + " (ABI version 1)";
    return false;
  }
  if (!desc->create || !desc->on_message || !desc->destroy) {
    err = who + ": the descriptor lacks " +
          (!desc->create       ? "create"
           : !desc->on_message ? "on_message"
                               : "destroy");
    return false;
  }

  auto lp = std::make_unique<Loaded>();
  lp->slot = this;
  lp->lib = lib;
  lp->desc = desc;
  lp->path = path;
  lp->name = desc->name ? desc->name : "(unnamed)";
  lp->version = desc->version ? desc->version : "";
  lp->config = config_json.empty() ? "{}" : config_json;
  lp->host.abi_version = SMC_PLUGIN_ABI_VERSION;
  lp->host.size = sizeof(smc_host);
  lp->host.send = &PluginHostAccess::send;
  lp->host.reserve = &PluginHostAccess::reserve;
  lp->host.commit = &PluginHostAccess::commit;
  lp->host.abort = &PluginHostAccess::abort;
  lp->host.max_reserve = &PluginHostAccess::max_reserve;
  lp->host.log = &PluginHostAccess::log;
  lp->host.fail = &PluginHostAccess::fail;
  lp->host.host_data = lp.get();

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
  if (desc->on_tick && desc->tick_interval_ms > 0) {
    {
      std::lock_guard t(tick_mu_);
      tick_stop_ = false;
    }
    ticker_ = std::thread([this, p = lp.get(), ms = desc->tick_interval_ms] { tick_loop(p, ms); });
  }
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
  if (ticker_.joinable()) {
    {
      std::lock_guard t(tick_mu_);
      tick_stop_ = true;
    }
    tick_cv_.notify_all();
    ticker_.join();
  }
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

void PluginSlot::tick_loop(Loaded* lp, uint32_t interval_ms) {
  const auto interval = std::chrono::milliseconds(interval_ms);
  auto next = Clock::now() + interval;
  std::unique_lock t(tick_mu_);
  for (;;) {
    if (tick_cv_.wait_until(t, next, [&] { return tick_stop_; })) return;
    t.unlock();
    {
      std::lock_guard c(call_mu_);
      if (active_ == lp && !lp->failed.load(std::memory_order_relaxed)) {
        PluginHostAccess::dispatch(lp, [lp] { lp->desc->on_tick(lp->instance); });
        ticks_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    // Replies made during the tick were not flushed per message: publish them now.
    // SYNC: slot-endpoint (partner: PluginSlot::bind's release store of ep_).
    if (Endpoint* ep = ep_.load(std::memory_order_acquire)) ep->flush();
    next += interval;
    const auto now = Clock::now();
    if (next < now) next = now + interval;  // late (a slow tick): skip, do not burst
    t.lock();
  }
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
