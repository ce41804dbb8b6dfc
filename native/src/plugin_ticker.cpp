// The tick thread of a plugin slot: calls the loaded plugin's on_tick every
// tick_interval_ms, under the same call lock as on_message, and publishes its replies.
#include <chrono>

#include "plugin_slot_internal.hpp"

namespace smc {

void PluginSlot::start_ticker(Loaded* lp, uint32_t interval_ms) {
  {
    std::lock_guard t(tick_mu_);
    tick_stop_ = false;
  }
  ticker_ = std::thread([this, lp, interval_ms] { tick_loop(lp, interval_ms); });
}

void PluginSlot::stop_ticker() {
  if (!ticker_.joinable()) return;
  {
    std::lock_guard t(tick_mu_);
    tick_stop_ = true;
  }
  tick_cv_.notify_all();
  ticker_.join();  // after the tick in flight
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

}  // namespace smc
