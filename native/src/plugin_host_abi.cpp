// The host table a plugin gets (smc_host in smc/plugin.h): its C callbacks, the
// per-thread reservation they manage, and the bracket around every host -> plugin call.
#include <chrono>
#include <cstring>
#include <span>

#include "plugin_slot_internal.hpp"
#include "smc/platform/thread.hpp"

namespace smc {

namespace {

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

// Blocking host calls wait in slices so an unload can interrupt them: a send blocked on a
// full ring (the JS side is not reading, or is itself waiting for the unload) notices
// SMC_ERR_STOPPING within one slice. Reserving has no partial state, so its slice is short;
// a fragmented send restarts from scratch after a slice times out, so its slice is longer.
constexpr auto kReserveSlice = std::chrono::milliseconds(10);
constexpr auto kFragmentedSlice = std::chrono::milliseconds(250);

// The reservation a thread holds (a plugin thread, the receive thread or the tick
// thread): Endpoint::Reservation holds the send lock, so it lives on its thread.
struct ThreadReservation {
  Endpoint::Reservation res;
  const PluginSlot::Loaded* owner = nullptr;
};
ThreadReservation& tls() {
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
const PluginSlot::Loaded*& dispatching() {
  thread_local const PluginSlot::Loaded* d = nullptr;
  return d;
}

using Loaded = PluginSlot::Loaded;

Loaded* of(const smc_host* h) {
  return static_cast<Loaded*>(h->host_data);
}

Deadline overall(uint32_t timeout_ms) {
  return timeout_ms == SMC_WAIT_FOREVER ? Deadline::never()
                                        : Deadline::in(std::chrono::milliseconds(timeout_ms));
}
Deadline slice(Deadline all, std::chrono::milliseconds s) {
  Deadline d = Deadline::in(s);
  return all.at < d.at ? all : d;
}

}  // namespace

smc_host PluginHostAccess::host_table(Loaded* lp) {
  smc_host host{};
  host.abi_version = SMC_PLUGIN_ABI_VERSION;
  host.size = sizeof(smc_host);
  host.send = &PluginHostAccess::send;
  host.reserve = &PluginHostAccess::reserve;
  host.commit = &PluginHostAccess::commit;
  host.abort = &PluginHostAccess::abort;
  host.max_reserve = &PluginHostAccess::max_reserve;
  host.log = &PluginHostAccess::log;
  host.fail = &PluginHostAccess::fail;
  host.host_data = lp;
  return host;
}

void PluginHostAccess::begin_dispatch(const Loaded* lp) {
  dispatching() = lp;
}

void PluginHostAccess::end_dispatch(const Loaded* lp) {
  dispatching() = nullptr;
  ThreadReservation& t = tls();
  if (t.owner == lp) {
    t.owner = nullptr;
    t.res.abort();
  }
}

int32_t PluginHostAccess::refuse(Loaded* lp, int32_t status) {
  lp->slot->send_errors_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

int32_t PluginHostAccess::may_send(Loaded* lp, Endpoint** ep) {
  if (lp->failed.load(std::memory_order_relaxed)) return SMC_ERR_FAILED;
  if (lp->stopping.load(std::memory_order_relaxed)) return SMC_ERR_STOPPING;
  // SYNC: slot-endpoint (partner: PluginSlot::bind's release store of ep_).
  *ep = lp->slot->ep_.load(std::memory_order_acquire);
  if (*ep == nullptr) return SMC_ERR_NOT_READY;
  return SMC_OK;
}

int32_t PluginHostAccess::reserve_into(Loaded* lp, Endpoint* ep, size_t len, uint32_t timeout_ms,
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

int32_t PluginHostAccess::send(const smc_host* h, const void* data, size_t len,
                               uint32_t timeout_ms) {
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

void* PluginHostAccess::reserve(const smc_host* h, size_t len, uint32_t timeout_ms,
                                int32_t* status) {
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

int32_t PluginHostAccess::commit(const smc_host* h, size_t used) {
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

void PluginHostAccess::abort(const smc_host* h) {
  ThreadReservation& t = tls();
  if (t.owner != of(h)) return;
  t.owner = nullptr;
  t.res.abort();
}

size_t PluginHostAccess::max_reserve(const smc_host* h) {
  // SYNC: slot-endpoint (partner: PluginSlot::bind's release store of ep_).
  Endpoint* ep = of(h)->slot->ep_.load(std::memory_order_acquire);
  return ep ? ep->max_payload() : 0;
}

void PluginHostAccess::log(const smc_host* h, int32_t level, const char* message) {
  Loaded* lp = of(h);
  lp->slot->emit_log(level, lp->name, message ? message : "");
}

void PluginHostAccess::fail(const smc_host* h, const char* message) {
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

}  // namespace smc
