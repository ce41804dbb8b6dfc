// Full-duplex stress: each side runs a sender thread and a receiver thread, both rings are
// small (4 KiB and 16 KiB) so fragmentation and wrap-around are constant, and every
// message carries a sequence number and a checksum. The receiver replays the sender's
// deterministic generator, so it knows the exact size and content of message i and
// detects loss, duplication, reordering and corruption.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

#if defined(SMC_UNDER_SANITIZER) || defined(SMC_REDUCED_STRESS)
constexpr uint64_t kMessagesPerDirection = 100'000;
#else
constexpr uint64_t kMessagesPerDirection = 5'000'000;
#endif

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Message sizes: 99% 0..64 bytes, 1% 65..3x the ring capacity (fragmented most of the time).
class SizeGen {
 public:
  SizeGen(uint64_t seed, uint32_t capacity) : state_(seed), capacity_(capacity) {}
  size_t next() {
    const uint64_t r = splitmix(state_);
    if (r % 100 < 99) return static_cast<size_t>((r >> 8) % 65);
    return 65 + static_cast<size_t>((r >> 8) % (3ull * capacity_ - 64));
  }

 private:
  uint64_t state_;
  uint32_t capacity_;
};

uint32_t checksum(const std::byte* p, size_t n) {
  uint32_t h = 2166136261u;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = (h ^ static_cast<uint32_t>(v)) * 16777619u;
    h = (h ^ static_cast<uint32_t>(v >> 32)) * 16777619u;
  }
  for (; i < n; ++i) h = (h ^ static_cast<uint32_t>(p[i])) * 16777619u;
  return h;
}

// Layout of message `seq` with `size` bytes: sizes >= 12 carry [u64 seq][u32 checksum of
// the rest][filler]; shorter ones are filler only. Filler byte j = f(seq, j).
constexpr size_t kHead = 12;
inline std::byte filler(uint64_t seq, size_t j) {
  return static_cast<std::byte>((seq * 131 + j * 7 + (j >> 8)) & 0xFF);
}

void build(uint64_t seq, size_t size, Bytes* out) {
  out->resize(size);
  std::byte* p = out->data();
  const size_t start = size >= kHead ? kHead : 0;
  for (size_t j = start; j < size; ++j) p[j] = filler(seq, j);
  if (size >= kHead) {
    std::memcpy(p, &seq, 8);
    const uint32_t c = checksum(p + kHead, size - kHead);
    std::memcpy(p + 8, &c, 4);
  }
}

// Returns an empty string when message `seq` of expected `size` arrived intact.
bool verify(uint64_t seq, size_t size, std::span<const std::byte> m, char* why, size_t why_n) {
  if (m.size() != size) {
    std::snprintf(why, why_n, "message %llu: size %zu, expected %zu",
                  static_cast<unsigned long long>(seq), m.size(), size);
    return false;
  }
  if (size >= kHead) {
    uint64_t s;
    uint32_t c;
    std::memcpy(&s, m.data(), 8);
    std::memcpy(&c, m.data() + 8, 4);
    if (s != seq) {
      std::snprintf(why, why_n, "expected message %llu, got %llu (loss, duplicate or reorder)",
                    static_cast<unsigned long long>(seq), static_cast<unsigned long long>(s));
      return false;
    }
    if (checksum(m.data() + kHead, size - kHead) != c) {
      std::snprintf(why, why_n, "message %llu: checksum mismatch (corruption)",
                    static_cast<unsigned long long>(seq));
      return false;
    }
    // Spot-check the filler too: the checksum only proves the transport kept what was sent.
    for (size_t j = kHead; j < size; j += 61) {
      if (m[j] != filler(seq, j)) {
        std::snprintf(why, why_n, "message %llu: byte %zu wrong",
                      static_cast<unsigned long long>(seq), j);
        return false;
      }
    }
    return true;
  }
  for (size_t j = 0; j < size; ++j) {
    if (m[j] != filler(seq, j)) {
      std::snprintf(why, why_n, "message %llu (%zu bytes): byte %zu wrong",
                    static_cast<unsigned long long>(seq), size, j);
      return false;
    }
  }
  return true;
}

struct DirectionResult {
  uint64_t received = 0;
  uint64_t bytes = 0;
  bool ok = true;
  char why[160] = {};
};

void run_sender(Endpoint* tx, uint64_t seed, uint32_t capacity, uint64_t count,
                std::atomic<bool>* abort_flag, Errc* result) {
  SizeGen sizes(seed, capacity);
  Bytes buf;
  uint64_t gen = seed;
  for (uint64_t seq = 0; seq < count; ++seq) {
    build(seq, sizes.next(), &buf);
    // Batch: publish at least every 16 messages (and always on the last one).
    const bool flush = (splitmix(gen) & 15u) == 0 || seq + 1 == count;
    const Errc e = tx->send(as_span(buf), Deadline::in(60s), flush);
    if (e != Errc::ok || abort_flag->load(std::memory_order_relaxed)) {
      *result = e;
      return;
    }
  }
  *result = tx->flush();
}

void run_receiver(Endpoint* rx, uint64_t seed, uint32_t capacity, uint64_t count,
                  std::atomic<bool>* abort_flag, DirectionResult* res) {
  SizeGen sizes(seed, capacity);
  while (res->received < count && res->ok) {
    size_t n = 0;
    const Errc e = rx->receive(
        [&](std::span<const std::byte> m) {
          if (!res->ok) return;
          const uint64_t seq = res->received;
          if (seq >= count) {
            res->ok = false;
            std::snprintf(res->why, sizeof res->why, "more messages than were sent");
            return;
          }
          if (!verify(seq, sizes.next(), m, res->why, sizeof res->why)) res->ok = false;
          res->bytes += m.size();
          ++res->received;
        },
        256, &n, Deadline::in(60s));
    if (e != Errc::ok) {
      res->ok = false;
      std::snprintf(res->why, sizeof res->why, "receive returned %s after %llu messages",
                    to_string(e), static_cast<unsigned long long>(res->received));
    }
  }
  if (!res->ok) abort_flag->store(true);
}

void stress(RegionConfig c, IdleOptions idle, uint64_t per_direction, uint64_t seed) {
  CanaryArena arena(c);
  Region region = init_region(arena.span(), c);
  EndpointOptions o;
  o.idle = idle;
  auto js = attach(region, Side::r, o);
  auto nat = attach(region, Side::n, o);
  std::atomic<bool> abort_flag{false};
  Errc tx_js = Errc::ok, tx_nat = Errc::ok;
  DirectionResult rx_js, rx_nat;
  const uint64_t seed_r2n = seed, seed_n2r = seed ^ 0xABCDEF12345ull;
  const auto t0 = Clock::now();
  std::thread t1(run_sender, js.get(), seed_r2n, c.r2n_capacity, per_direction, &abort_flag,
                 &tx_js);
  std::thread t2(run_receiver, nat.get(), seed_r2n, c.r2n_capacity, per_direction, &abort_flag,
                 &rx_nat);
  std::thread t3(run_sender, nat.get(), seed_n2r, c.n2r_capacity, per_direction, &abort_flag,
                 &tx_nat);
  std::thread t4(run_receiver, js.get(), seed_n2r, c.n2r_capacity, per_direction, &abort_flag,
                 &rx_js);
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(tx_js, Errc::ok);
  EXPECT_EQ(tx_nat, Errc::ok);
  EXPECT_TRUE(rx_nat.ok) << "R2N: " << rx_nat.why;
  EXPECT_TRUE(rx_js.ok) << "N2R: " << rx_js.why;
  EXPECT_EQ(rx_nat.received, per_direction);
  EXPECT_EQ(rx_js.received, per_direction);
  // Nothing extra is left in either ring.
  size_t extra = 0;
  EXPECT_EQ(nat->poll([&](std::span<const std::byte>) { ++extra; }, 16, nullptr), Errc::ok);
  EXPECT_EQ(js->poll([&](std::span<const std::byte>) { ++extra; }, 16, nullptr), Errc::ok);
  EXPECT_EQ(extra, 0u) << "duplicated or extra messages";
  EXPECT_EQ(js->stats().messages_sent, per_direction);
  EXPECT_EQ(nat->stats().messages_received, per_direction);
  EXPECT_EQ(nat->stats().bytes_received, rx_nat.bytes);
  EXPECT_EQ(js->stats().bytes_sent, rx_nat.bytes);
  EXPECT_EQ(js->failure(), Reason::none);
  EXPECT_EQ(nat->failure(), Reason::none);
  const unsigned long long parks_js = js->stats().parks, parks_nat = nat->stats().parks;
  js.reset();
  nat.reset();
  EXPECT_TRUE(arena.intact());
  std::printf("  %llu messages in %.2f s (%.2f M msg/s), %.1f MB; parks js %llu nat %llu\n",
              static_cast<unsigned long long>(2 * per_direction), secs,
              2.0 * static_cast<double>(per_direction) / secs / 1e6,
              static_cast<double>(rx_js.bytes + rx_nat.bytes) / 1e6, parks_js, parks_nat);
}

uint64_t per_direction() {
  // SMC_STRESS_MESSAGES overrides the total (both directions) for local experiments.
  if (const char* env = std::getenv("SMC_STRESS_MESSAGES"))
    return std::strtoull(env, nullptr, 10) / 2;
  return kMessagesPerDirection;
}

// Two threads per side on a 2-core machine: spin briefly, then park, so a spinning thread
// does not starve the peer it waits for.
IdleOptions stress_idle() {
  return parking(200, 4, 10s);
}

TEST(StressTest, FullDuplexSmallRings) {
  stress({4096, 16384}, stress_idle(), per_direction(), 0x5EED0001);
}

// The library's default idle options (long spins): slow with four threads on two cores,
// so fewer messages.
TEST(StressTest, FullDuplexDefaultIdle) {
  stress({8192, 4096}, IdleOptions{}, per_direction() / 40, 0x5EED0003);
}

// Parking early and often: exercises the park/wake paths under load.
TEST(StressTest, FullDuplexParkingEarly) {
  stress({16384, 4096}, parking(16, 1, 10s), per_direction() / 20, 0x5EED0002);
}

}  // namespace
