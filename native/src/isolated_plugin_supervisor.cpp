// Supervision of an isolated plugin's child: the watcher thread turns a child that dies,
// makes no progress within IsolateOptions::timeout, or closes its ring without exiting
// into a failure of the channel, with the reason (fail_channel).
#include <optional>

#include "isolated_plugin_internal.hpp"

namespace smc {

using namespace isolate;
namespace plat = platform;
using std::chrono::milliseconds;

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

}  // namespace smc
