// The relay between the channel and an isolated plugin's region: the channel's messages
// into the child's ring (deliver, on the channel's receive thread), the child's replies
// into the channel (the relay thread). One copy per message and direction.
#include "isolated_plugin_internal.hpp"

namespace smc {

using namespace isolate;
namespace plat = platform;
using std::chrono::milliseconds;

namespace {
// The plugin's ring broke a check (or its state word is garbage): the ring's reason.
IsolateFailure ring_corrupted(const IsolatedPluginSlot::Child* c) {
  IsolateFailure f;
  f.reason = to_string(c->ep->failure());
  f.message = "plugin '" + c->path + "': " + f.reason + ": the isolated plugin (pid " +
              std::to_string(c->pid) + ") corrupted its ring (docs/protocol.md 7.2)";
  return f;
}
}  // namespace

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
      fail_channel(c, ring_corrupted(c));
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
    if (e == Errc::failed) fail_channel(c, ring_corrupted(c));
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
}

void IsolatedPluginSlot::batch_end() {
  std::lock_guard k(call_mu_);
  if (active_ != nullptr) active_->ep->flush();
}

}  // namespace smc
