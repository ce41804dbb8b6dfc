// Helpers shared by the core's test suites (not a test itself: only *_test.cpp are built).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <ostream>
#include <span>
#include <thread>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"

namespace smc {
// Readable gtest output for status codes and reasons.
inline void PrintTo(Errc e, std::ostream* os) {
  *os << to_string(e);
}
inline void PrintTo(Reason r, std::ostream* os) {
  *os << to_string(r);
}
}  // namespace smc

namespace smc::test {

using Bytes = std::vector<std::byte>;

inline Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = static_cast<std::byte>(x);
  }
  return b;
}

inline std::span<const std::byte> as_span(const Bytes& b) {
  return {b.data(), b.size()};
}

inline uint32_t rd32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void wr32(std::byte* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}

// A region placed at an offset inside a larger buffer whose surroundings hold canary bytes;
// intact() tells whether anything wrote outside the region.
class CanaryArena {
 public:
  static constexpr size_t kGuard = 4096;
  static constexpr std::byte kCanary{0xC5};

  explicit CanaryArena(RegionConfig c) : size_(static_cast<size_t>(Region::size_for(c))) {
    buf_.reset(new std::byte[size_ + 2 * kGuard]);
    std::memset(buf_.get(), static_cast<int>(kCanary), size_ + 2 * kGuard);
    std::memset(region_bytes(), 0, size_);
  }
  std::byte* region_bytes() { return buf_.get() + kGuard; }
  std::span<std::byte> span() { return {region_bytes(), size_}; }
  size_t size() const { return size_; }
  bool intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      if (buf_[i] != kCanary || buf_[kGuard + size_ + i] != kCanary) return false;
    }
    return true;
  }

 private:
  size_t size_;
  std::unique_ptr<std::byte[]> buf_;
};

// A region that ends exactly at the end of its own heap allocation, so any overread past
// it (or underread before it) trips AddressSanitizer.
class ExactArena {
 public:
  explicit ExactArena(RegionConfig c) : size_(static_cast<size_t>(Region::size_for(c))) {
    buf_.reset(new std::byte[size_]);
    std::memset(buf_.get(), 0, size_);
  }
  std::byte* bytes() { return buf_.get(); }
  std::span<std::byte> span() { return {buf_.get(), size_}; }
  size_t size() const { return size_; }

 private:
  size_t size_;
  std::unique_ptr<std::byte[]> buf_;
};

inline Region init_region(std::span<std::byte> mem, RegionConfig c) {
  Region r;
  EXPECT_EQ(Region::initialize(mem, c, &r), Errc::ok);
  return r;
}

inline std::unique_ptr<Endpoint> attach(const Region& r, Side s, EndpointOptions o = {}) {
  Errc e = Errc::invalid_argument;
  auto ep = Endpoint::attach(r, s, o, &e);
  EXPECT_EQ(e, Errc::ok);
  EXPECT_NE(ep, nullptr);
  return ep;
}

// Polls once, collecting every delivered message.
inline Errc poll_all(Endpoint& ep, std::vector<Bytes>* out, size_t max = SIZE_MAX) {
  size_t n = 0;
  return ep.poll([&](std::span<const std::byte> m) { out->emplace_back(m.begin(), m.end()); }, max,
                 &n);
}

// Receives exactly one message (blocking until `deadline`); `out` may be null.
inline Errc recv_one(Endpoint& ep, Bytes* out, Deadline deadline = Deadline::never()) {
  size_t n = 0;
  Errc e = ep.receive(
      [&](std::span<const std::byte> m) {
        if (out) out->assign(m.begin(), m.end());
      },
      1, &n, deadline);
  if (e == Errc::ok && n != 1) return Errc::invalid_argument;
  return e;
}

inline uint32_t state_word(const Region& r, Side s) {
  return r.state(s).load(std::memory_order_acquire);
}

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Waits up to 20 s for a shared word (e.g. a parked word) to read `value`.
inline void wait_for_word(SharedWord w, uint32_t value) {
  const auto t0 = Clock::now();
  while (w.load(std::memory_order_seq_cst) != value && ms_since(t0) < 20'000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(w.load(std::memory_order_seq_cst), value);
}

// Idle options that poll `spins` times, yield `yields` times, then park for up to
// `park_timeout` at a time.
inline IdleOptions parking(uint32_t spins, uint32_t yields,
                           std::chrono::milliseconds park_timeout) {
  IdleOptions o;
  o.spin_iterations = spins;
  o.yield_iterations = yields;
  o.park = true;
  o.park_timeout = park_timeout;
  return o;
}

// Both endpoints of one region in a canary-guarded arena; checks the canaries when done.
struct EndpointPair {
  EndpointPair(RegionConfig c, IdleOptions idle) : arena(c) {
    region = init_region(arena.span(), c);
    EndpointOptions o;
    o.idle = idle;
    js = attach(region, Side::r, o);
    nat = attach(region, Side::n, o);
  }
  ~EndpointPair() {
    js.reset();
    nat.reset();
    EXPECT_TRUE(arena.intact());
  }
  CanaryArena arena;
  Region region;
  std::unique_ptr<Endpoint> js, nat;
};

// Aborts the process if the scope is not left within `limit`: a hang (a lost wake-up, a
// deadlock) fails loudly instead of stalling the CI job.
class Watchdog {
 public:
  Watchdog(const char* what, std::chrono::seconds limit) : what_(what) {
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
        std::fprintf(stderr,
                     "watchdog: '%s' still running after %lld s: lost wake-up or deadlock\n", what_,
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  const char* what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace smc::test
