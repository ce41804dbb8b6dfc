// libFuzzer target: a script of reads, legitimate sends and hostile writes against one
// region with both sides attached in one thread.
//
// Input: [config byte][max_message byte][init flags byte][10 x u32 initial control words]
// then operations, each an opcode byte followed by its operands (missing bytes read as 0):
//   0 poll(side, max)              1 write u32 at any 4-aligned offset of the region
//   2 forge a record header        3 move a ring's write_index by a signed delta
//   4 send(side, size) non-blocking 5 wait_readable(side) non-blocking
//   6 flush / reserve+commit        7 close or fail a side
// The region is an exact-size heap allocation, so any access outside it trips ASan. All
// waits use Deadline::now(): nothing may block or hang.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"

namespace {

using namespace smc;

class Script {
 public:
  Script(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool done() const { return pos_ >= n_; }
  uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "region_fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

uint32_t mutable_word_offset(unsigned i) {
  switch (i % 10) {
    case 0:
      return state_offset(Side::r);
    case 1:
      return state_offset(Side::n);
    default: {
      const unsigned k = i % 10 - 2;  // 0..7
      const Dir d = k < 4 ? Dir::r2n : Dir::n2r;
      switch (k % 4) {
        case 0:
          return write_index_offset(d);
        case 1:
          return read_index_offset(d);
        case 2:
          return consumer_parked_offset(d);
        default:
          return producer_parked_offset(d);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script s(data, size);
  const uint8_t cfg = s.u8();
  RegionConfig rc;
  rc.r2n_capacity = 4096u << (cfg & 3u);
  rc.n2r_capacity = 4096u << ((cfg >> 2) & 3u);
  const uint64_t region_size = Region::size_for(rc);
  // Exactly the region: one byte past it is outside the allocation.
  std::unique_ptr<std::byte[]> mem(new std::byte[region_size]);
  std::memset(mem.get(), 0, region_size);
  const std::span<std::byte> span(mem.get(), region_size);
  Region region;
  check(Region::initialize(span, rc, &region) == Errc::ok, "initialize");

  // A receiver's reassembly buffer is sized by the peer's FIRST record: bound it here (the
  // library's default accepts up to 4 GiB, more than the fuzzer's malloc limit).
  const uint32_t max_message = 1u << (4 + s.u8() % 17);  // 16 B .. 1 MiB
  const uint8_t init = s.u8();
  for (unsigned i = 0; i < 10; ++i) {
    uint32_t v = s.u32();
    if (init & 1u) {
      // Keep the indices attachable most of the time so the script reaches the rings.
      const unsigned k = i >= 2 ? (i - 2) % 4 : 4;
      if (k == 0 || k == 1) v &= ~7u;
      if (k == 1) {
        const uint32_t w =
            SharedWord(mem.get() + mutable_word_offset(i - 1)).load(std::memory_order_relaxed);
        const uint32_t cap = i < 6 ? rc.r2n_capacity : rc.n2r_capacity;
        v = (w - v % (cap + 8)) & ~7u;
      }
    }
    if ((init & 2u) && i < 2) v &= 3u;  // a valid state word
    SharedWord(mem.get() + mutable_word_offset(i)).store(v, std::memory_order_relaxed);
  }

  // Both sides live in this thread and never sleep (every wait has Deadline::now()); a
  // doorbell that only counts keeps close()/fail() from re-ringing futexes for parked words
  // the script scribbled.
  struct CountingDoorbell : Doorbell {
    void ring(const uint32_t*) override { ++rings; }
    uint64_t rings = 0;
  } doorbell;
  EndpointOptions o;
  o.doorbell = &doorbell;
  o.max_message = max_message;
  o.idle.spin_iterations = 2;
  o.idle.yield_iterations = 0;
  o.idle.park_timeout = std::chrono::milliseconds(1);
  std::unique_ptr<Endpoint> ep[2];
  ep[0] = Endpoint::attach(region, Side::r, o);
  ep[1] = Endpoint::attach(region, Side::n, o);
  if (!ep[0] && !ep[1]) return 0;

  std::vector<std::byte> msg(3u * (1u << 15));
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::byte>(i * 7);
  const uint32_t total = static_cast<uint32_t>(region_size);

  for (int ops = 0; ops < 512 && !s.done(); ++ops) {
    const uint8_t op = s.u8();
    Endpoint* e = ep[op >> 7].get();
    switch (op & 7u) {
      case 0: {  // poll
        const size_t max = 1 + s.u8();
        if (!e) break;
        size_t n = 0;
        const uint32_t limit =
            std::max(e->region().capacity(incoming(e->side())) / 4 - 8, max_message);
        const Errc r = e->poll(
            [&](std::span<const std::byte> m) {
              check(m.size() <= limit, "delivered message above max_message/max_payload");
            },
            max, &n);
        check(n <= max, "poll delivered more than asked");
        if (r == Errc::failed) check(e->failure() != Reason::none, "failed without a reason");
        break;
      }
      case 1: {  // hostile write anywhere in the region (4-aligned word)
        const uint32_t off = (s.u32() % total) & ~3u;
        SharedWord(mem.get() + off).store(s.u32(), std::memory_order_relaxed);
        break;
      }
      case 2: {  // forge a record header in a ring, at an 8-aligned offset
        const Dir d = (op & 8u) ? Dir::n2r : Dir::r2n;
        const RingWords w = region.ring(d);
        const uint32_t off = (s.u16() * 8u) & (w.capacity - 1);
        uint32_t len = s.u8() & 1u ? s.u32() : s.u16() % 1100u;
        const uint32_t kind = s.u8() & 0x80u ? s.u32() : 1u + s.u8() % 6u;
        if (kind == 5 && (op & 16u)) len = w.capacity - off - 8;  // a valid PAD
        SharedWord(w.data + off).store(len, std::memory_order_relaxed);
        SharedWord(w.data + off + 4).store(kind, std::memory_order_relaxed);
        if (kind == 2 && off + 16 <= w.capacity) {  // FIRST: total, zero
          SharedWord(w.data + off + 8).store(s.u16(), std::memory_order_relaxed);
          SharedWord(w.data + off + 12).store(s.u8() < 250 ? 0 : 1, std::memory_order_relaxed);
        }
        break;
      }
      case 3: {  // move a write_index (publish forged records, or regress)
        const Dir d = (op & 8u) ? Dir::n2r : Dir::r2n;
        const SharedWord wi = region.ring(d).write_index;
        const auto delta = static_cast<int16_t>(s.u16());
        const uint32_t scale = (op & 16u) ? 1u : 8u;
        wi.store(
            wi.load(std::memory_order_relaxed) +
                static_cast<uint32_t>(static_cast<int32_t>(delta) * static_cast<int32_t>(scale)),
            std::memory_order_relaxed);
        break;
      }
      case 4: {  // a legitimate (non-blocking) send, possibly fragmented and cancelled
        const size_t n = s.u16() % msg.size();
        const bool flush = (op & 8u) == 0;
        if (!e) break;
        const Errc r = e->send(std::span(msg.data(), n), Deadline::now(), flush);
        if (r == Errc::failed) check(e->failure() != Reason::none, "send failed, no reason");
        break;
      }
      case 5: {
        if (!e) break;
        const Errc r = e->wait_readable(Deadline::now());
        if (r == Errc::failed) check(e->failure() != Reason::none, "wait failed, no reason");
        break;
      }
      case 6: {
        const uint32_t n = s.u16() % 1100u;
        if (!e) break;
        if (op & 8u) {
          (void)e->flush();
        } else {
          Endpoint::Reservation res;
          if (e->reserve(n, &res, Deadline::now()) == Errc::ok) {
            check(res.data().size() == n, "reservation size");
            std::memset(res.data().data(), 0x42, n);
            if (op & 16u) (void)res.commit(n / 2);
          }
        }
        break;
      }
      case 7: {
        const uint8_t what = s.u8();
        if (!e) break;
        if (what < 8) e->close();
        if (what >= 8 && what < 16) e->fail(static_cast<Reason>(1 + what % 13));
        break;
      }
    }
  }
  ep[0].reset();
  ep[1].reset();
  return 0;
}
