// Unit tests of the region header, the SPSC rings and the endpoint's single-record paths:
// header validation, capacities, full and empty, reserve/commit/abort, batch publication,
// and indices wrapping past 2^32 (the bytes of docs/protocol.md section 8 are checked by
// ring_vectors_test against test-vectors/ring.json). Every
// test runs on a region placed inside a larger buffer whose canary bytes must stay intact.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "smc/prefetch.hpp"
#include "smc/ring.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

constexpr RegionConfig kSmall{4096, 4096};

class RingTest : public ::testing::Test {
 protected:
  void make(RegionConfig c = kSmall) {
    arena_ = std::make_unique<CanaryArena>(c);
    region_ = init_region(arena_->span(), c);
  }
  void TearDown() override {
    if (arena_) {
      EXPECT_TRUE(arena_->intact()) << "a canary byte around the region changed";
    }
  }
  std::byte* mem() { return arena_->region_bytes(); }
  // Sets both shared indices of a ring, as an earlier session would have left them.
  void set_indices(Dir d, uint32_t write, uint32_t read) {
    region_.ring(d).write_index.store(write, std::memory_order_relaxed);
    region_.ring(d).read_index.store(read, std::memory_order_relaxed);
  }

  std::unique_ptr<CanaryArena> arena_;
  Region region_;
};

// ---- header ---------------------------------------------------------------------------

TEST_F(RingTest, InitializeWritesTheHeaderOfSection21) {
  make(RegionConfig{8192, 16384});
  const std::byte* m = mem();
  EXPECT_EQ(rd32(m + 0), 0x31434D53u);
  EXPECT_EQ(std::memcmp(m, "SMC1", 4), 0);
  EXPECT_EQ(rd32(m + 4), 2u);
  EXPECT_EQ(rd32(m + 8), 2048u);
  EXPECT_EQ(rd32(m + 12), 0u);
  EXPECT_EQ(rd32(m + 16), 2048u);
  EXPECT_EQ(rd32(m + 20), 8192u);
  EXPECT_EQ(rd32(m + 24), 2048u + 8192u);
  EXPECT_EQ(rd32(m + 28), 16384u);
  EXPECT_EQ(rd32(m + 32), 2048u + 8192u + 16384u);
  for (uint32_t off = 36; off < 2048; off += 4) EXPECT_EQ(rd32(m + off), 0u) << "offset " << off;
  EXPECT_EQ(region_.capacity(Dir::r2n), 8192u);
  EXPECT_EQ(region_.capacity(Dir::n2r), 16384u);
  EXPECT_EQ(region_.memory().size(), 2048u + 8192u + 16384u);
  EXPECT_EQ(region_.ring(Dir::r2n).data, m + 2048);
  EXPECT_EQ(region_.ring(Dir::n2r).data, m + 2048 + 8192);
}

TEST_F(RingTest, SharedWordOffsetsFollowTheLayoutTable) {
  make();
  const auto off = [&](SharedWord w) { return reinterpret_cast<std::byte*>(w.address()) - mem(); };
  EXPECT_EQ(off(region_.state(Side::r)), 128);
  EXPECT_EQ(off(region_.generation(Side::r)), 132);
  EXPECT_EQ(off(region_.state(Side::n)), 256);
  EXPECT_EQ(off(region_.generation(Side::n)), 260);
  EXPECT_EQ(off(region_.ring(Dir::r2n).write_index), 384);
  EXPECT_EQ(off(region_.ring(Dir::r2n).read_index), 512);
  EXPECT_EQ(off(region_.ring(Dir::r2n).consumer_parked), 640);
  EXPECT_EQ(off(region_.ring(Dir::r2n).producer_parked), 768);
  EXPECT_EQ(off(region_.ring(Dir::n2r).write_index), 896);
  EXPECT_EQ(off(region_.ring(Dir::n2r).read_index), 1024);
  EXPECT_EQ(off(region_.ring(Dir::n2r).consumer_parked), 1152);
  EXPECT_EQ(off(region_.ring(Dir::n2r).producer_parked), 1280);
  EXPECT_EQ(off(region_.ring(Dir::r2n).consumer_wake_seq), 644);
  EXPECT_EQ(off(region_.ring(Dir::r2n).producer_wake_seq), 772);
  EXPECT_EQ(off(region_.ring(Dir::n2r).consumer_wake_seq), 1156);
  EXPECT_EQ(off(region_.ring(Dir::n2r).producer_wake_seq), 1284);
}

struct BadHeader {
  const char* name;  // what the detail must mention
  uint32_t offset;   // header field to corrupt
  uint32_t value;    // bad value
};

TEST_F(RingTest, AttachRejectsEveryBadHeaderFieldAndNamesIt) {
  const BadHeader cases[] = {
      {"magic", hdr::magic, 0x31434D54},
      {"magic", hdr::magic, 0},
      {"version", hdr::version, 1},  // the layout before the wake sequences
      {"version", hdr::version, 3},
      {"version", hdr::version, 0},
      {"header_size", hdr::header_size, 4096},
      {"flags", hdr::flags, 1},
      {"flags", hdr::flags, 0x80000000u},
      {"r2n_offset", hdr::r2n_offset, 2056},
      {"r2n_capacity", hdr::r2n_capacity, 6000},      // not a power of two
      {"r2n_capacity", hdr::r2n_capacity, 2048},      // too small
      {"r2n_capacity", hdr::r2n_capacity, 0},         // zero
      {"r2n_capacity", hdr::r2n_capacity, 1u << 31},  // too large
      {"n2r_offset", hdr::n2r_offset, 2048},
      {"n2r_offset", hdr::n2r_offset, 2048 + 4096 + 8},
      {"n2r_capacity", hdr::n2r_capacity, 4097},
      {"n2r_capacity", hdr::n2r_capacity, 1024},
      {"n2r_capacity", hdr::n2r_capacity, 1u << 31},
      {"total_size", hdr::total_size, 2048 + 4096 + 4096 + 8},
      {"total_size", hdr::total_size, 2048 + 4096},
  };
  make();
  for (const BadHeader& c : cases) {
    SCOPED_TRACE(std::string(c.name) + " = " + std::to_string(c.value));
    const uint32_t saved = rd32(mem() + c.offset);
    wr32(mem() + c.offset, c.value);
    Region r;
    const char* detail = nullptr;
    EXPECT_EQ(Region::attach(arena_->span(), &r, &detail), Errc::invalid_argument);
    ASSERT_NE(detail, nullptr);
    EXPECT_NE(std::string(detail).find(c.name), std::string::npos) << detail;
    wr32(mem() + c.offset, saved);
    detail = nullptr;
    EXPECT_EQ(Region::attach(arena_->span(), &r, &detail), Errc::ok) << (detail ? detail : "");
  }
}

// A region of another protocol version (another release of the other implementation):
// the refusal names both versions.
TEST_F(RingTest, AttachRefusesAnotherVersionNamingBoth) {
  make();
  wr32(mem() + hdr::version, 1);
  Region r;
  const char* detail = nullptr;
  EXPECT_EQ(Region::attach(arena_->span(), &r, &detail), Errc::invalid_argument);
  ASSERT_NE(detail, nullptr);
  EXPECT_NE(std::string(detail).find("version is 1"), std::string::npos) << detail;
  EXPECT_NE(std::string(detail).find("speaks version 2"), std::string::npos) << detail;
}

TEST_F(RingTest, AttachChecksTheRegionLengthAndAlignment) {
  make();
  Region r;
  const char* detail = nullptr;
  EXPECT_EQ(Region::attach(arena_->span().first(arena_->size() - 8), &r, &detail),
            Errc::invalid_argument);
  ASSERT_NE(detail, nullptr);
  EXPECT_NE(std::string(detail).find("total_size"), std::string::npos) << detail;
  detail = nullptr;
  EXPECT_EQ(Region::attach(arena_->span().first(100), &r, &detail), Errc::invalid_argument);
  ASSERT_NE(detail, nullptr);
  EXPECT_NE(std::string(detail).find("header"), std::string::npos) << detail;
  detail = nullptr;
  EXPECT_EQ(Region::attach(arena_->span().subspan(4), &r, &detail), Errc::invalid_argument);
  ASSERT_NE(detail, nullptr);
  EXPECT_NE(std::string(detail).find("aligned"), std::string::npos) << detail;
  // A longer buffer is fine; the region is clipped to total_size.
  std::vector<std::byte> big(arena_->size() + 4096);
  std::memcpy(big.data(), mem(), arena_->size());
  ASSERT_EQ(Region::attach(big, &r), Errc::ok);
  EXPECT_EQ(r.memory().size(), arena_->size());
}

TEST_F(RingTest, InitializeRejectsBadCapacitiesAndSmallMemory) {
  make();
  const uint32_t bad[] = {0, 8, 2048, 4095, 4097, 6000, 3 * 4096, (1u << 30) + 4096, 1u << 31};
  std::vector<std::byte> buf(64 * 1024);
  for (uint32_t c : bad) {
    SCOPED_TRACE(c);
    EXPECT_EQ(Region::size_for({c, 4096}), 0u);
    EXPECT_EQ(Region::size_for({4096, c}), 0u);
    Region r;
    EXPECT_EQ(Region::initialize(buf, {c, 4096}, &r), Errc::invalid_argument);
    EXPECT_EQ(Region::initialize(buf, {4096, c}, &r), Errc::invalid_argument);
  }
  EXPECT_EQ(Region::size_for({4096, 1u << 30}), 2048u + 4096u + (1u << 30));
  EXPECT_EQ(Region::size_for({1u << 30, 1u << 30}), 2048u + (2ull << 30));
  Region r;
  EXPECT_EQ(Region::initialize(std::span(buf).first(2048 + 4096 + 4096 - 1), kSmall, &r),
            Errc::invalid_argument);
  EXPECT_EQ(Region::initialize(std::span(buf).subspan(4, 2048 + 8192), kSmall, &r),
            Errc::invalid_argument);
  EXPECT_EQ(Region::initialize(std::span(buf).first(2048 + 8192), kSmall, &r), Errc::ok);
}

// ---- full and empty -------------------------------------------------------------------

TEST_F(RingTest, FullAndEmptyRing) {
  make();
  const RingWords w = region_.ring(Dir::n2r);
  RingWriter writer(w, 0);
  RingReader reader(w, 0);
  EXPECT_FALSE(reader.peek().has_value());  // empty
  EXPECT_EQ(reader.failure(), Reason::none);
  EXPECT_FALSE(reader.has_data());
  const uint32_t max = writer.max_payload();
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(writer.write(as_span(pattern(max, i)))) << i;
  EXPECT_EQ(writer.free_bytes(), 0u);
  EXPECT_FALSE(writer.write(as_span(pattern(0, 9)))) << "a full ring takes not even 8 bytes";
  EXPECT_FALSE(writer.reserve(0).has_value());
  EXPECT_EQ(writer.failure(), Reason::none);
  writer.publish();
  for (uint32_t i = 0; i < 4; ++i) {
    auto r = reader.peek();
    ASSERT_TRUE(r);
    EXPECT_EQ(Bytes(r->payload.begin(), r->payload.end()), pattern(max, i));
    reader.consume();
    if (i == 0) {
      // Consumed but not released: still full for the producer.
      EXPECT_EQ(writer.free_bytes(), 0u);
      reader.release();
      EXPECT_EQ(writer.free_bytes(), 1024u);
    }
  }
  EXPECT_FALSE(reader.peek().has_value());
  reader.release();
  EXPECT_EQ(writer.free_bytes(), 4096u);
  EXPECT_EQ(reader.failure(), Reason::none);
  EXPECT_EQ(writer.failure(), Reason::none);
}

TEST_F(RingTest, EndpointFullAndEmpty) {
  make();
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  std::vector<Bytes> got;
  size_t n = 99;
  EXPECT_EQ(nat->poll([&](std::span<const std::byte>) { ADD_FAILURE(); }, 10, &n), Errc::ok);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(recv_one(*nat, nullptr, Deadline::now()), Errc::timeout);
  const uint32_t max = js->max_payload();
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(js->send(as_span(pattern(max, i))), Errc::ok);
  EXPECT_EQ(js->outgoing_fill(), 4096u);
  EXPECT_EQ(nat->incoming_fill(), 4096u);
  EXPECT_EQ(js->send(as_span(pattern(0, 0)), Deadline::now()), Errc::timeout);
  EXPECT_EQ(js->send(as_span(pattern(1, 0)), Deadline::in(20ms)), Errc::timeout);
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 4u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(got[i], pattern(max, i));
  EXPECT_EQ(js->outgoing_fill(), 0u);
  EXPECT_EQ(js->send(as_span(pattern(0, 0)), Deadline::now()), Errc::ok);
  got.clear();
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].empty());
}

// ---- reserve / commit / abort ---------------------------------------------------------

TEST_F(RingTest, WriterReserveCommitAndAbort) {
  make();
  const RingWords w = region_.ring(Dir::r2n);
  RingWriter writer(w, 0);
  RingReader reader(w, 0);
  EXPECT_FALSE(writer.reserve(writer.max_payload() + 1).has_value());
  EXPECT_EQ(writer.failure(), Reason::none);

  auto span = writer.reserve(100);
  ASSERT_TRUE(span);
  ASSERT_EQ(span->size(), 100u);
  EXPECT_EQ(span->data(), w.data + 8);
  const Bytes p = pattern(100, 7);
  std::memcpy(span->data(), p.data(), 100);
  writer.commit(37);  // uses fewer bytes than reserved
  EXPECT_EQ(rd32(w.data), 37u);
  EXPECT_EQ(rd32(w.data + 4), 1u);

  // Abort: a reservation that is never committed leaves no record behind.
  auto aborted = writer.reserve(200, RecordKind::message);
  ASSERT_TRUE(aborted);
  std::memset(aborted->data(), 0xEE, 200);
  const Bytes q = pattern(12, 8);
  ASSERT_TRUE(writer.write(as_span(q)));  // reuses the aborted space
  writer.publish();
  EXPECT_EQ(w.write_index.load(std::memory_order_relaxed), 48u + 24u);

  auto r = reader.peek();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bytes(r->payload.begin(), r->payload.end()), Bytes(p.begin(), p.begin() + 37));
  reader.consume();
  r = reader.peek();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bytes(r->payload.begin(), r->payload.end()), q);
  reader.consume();
  EXPECT_FALSE(reader.peek().has_value());
  EXPECT_EQ(reader.failure(), Reason::none);
}

TEST_F(RingTest, AbortAfterPadStillLeavesAValidStream) {
  make();
  set_indices(Dir::r2n, 4000, 4000);
  const RingWords w = region_.ring(Dir::r2n);
  RingWriter writer(w, 4000);
  RingReader reader(w, 4000);
  auto span = writer.reserve(500);  // does not fit in 96 bytes: PAD, then offset 0
  ASSERT_TRUE(span);
  EXPECT_EQ(span->data(), w.data + 8);
  // Aborted: never committed. The next record starts where the aborted one would have.
  ASSERT_TRUE(writer.write(as_span(pattern(3, 1))));
  writer.publish();
  auto r = reader.peek();
  ASSERT_TRUE(r);
  EXPECT_EQ(Bytes(r->payload.begin(), r->payload.end()), pattern(3, 1));
  reader.consume();
  EXPECT_FALSE(reader.peek().has_value());
  EXPECT_EQ(reader.failure(), Reason::none);
}

TEST_F(RingTest, EndpointReservationCommitAbortAndLimits) {
  make();
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  Endpoint::Reservation res;
  EXPECT_EQ(js->reserve(js->max_payload() + 1, &res), Errc::too_large);
  EXPECT_FALSE(res);

  ASSERT_EQ(js->reserve(64, &res), Errc::ok);
  ASSERT_TRUE(res);
  ASSERT_EQ(res.data().size(), 64u);
  const Bytes p = pattern(64, 5);
  std::memcpy(res.data().data(), p.data(), 64);
  EXPECT_EQ(res.commit(65), Errc::invalid_argument);
  ASSERT_EQ(res.commit(40), Errc::ok);
  EXPECT_FALSE(res);
  EXPECT_EQ(res.commit(1), Errc::invalid_argument) << "a committed reservation is spent";

  {  // aborted by destruction
    Endpoint::Reservation gone;
    ASSERT_EQ(js->reserve(300, &gone), Errc::ok);
    std::memset(gone.data().data(), 0xAB, 300);
  }
  Endpoint::Reservation explicit_abort;
  ASSERT_EQ(js->reserve(16, &explicit_abort), Errc::ok);
  explicit_abort.abort();
  EXPECT_FALSE(explicit_abort);

  ASSERT_EQ(js->send(as_span(pattern(9, 6))), Errc::ok);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], Bytes(p.begin(), p.begin() + 40));
  EXPECT_EQ(got[1], pattern(9, 6));
  EXPECT_EQ(nat->failure(), Reason::none);
  EXPECT_EQ(js->stats().messages_sent, 2u);
}

TEST_F(RingTest, ReservationHoldsOffOtherSenders) {
  make();
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  Endpoint::Reservation res;
  ASSERT_EQ(js->reserve(8, &res), Errc::ok);
  std::atomic<bool> sent{false};
  std::thread other([&] {
    EXPECT_EQ(js->send(as_span(pattern(5, 1))), Errc::ok);
    sent = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(sent.load()) << "a second sender must wait while a reservation is open";
  std::memcpy(res.data().data(), "reserved", 8);
  ASSERT_EQ(res.commit(8), Errc::ok);
  other.join();
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::memcmp(got[0].data(), "reserved", 8), 0);
  EXPECT_EQ(got[1], pattern(5, 1));
}

// ---- batch publication ----------------------------------------------------------------

TEST_F(RingTest, BatchIsPublishedWithOneIndexStore) {
  make(RegionConfig{65536, 4096});
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  const SharedWord wi = region_.ring(Dir::r2n).write_index;
  uint32_t expected_end = 0;
  for (uint32_t i = 0; i < 200; ++i) {
    ASSERT_EQ(js->send(as_span(pattern(i % 50, i)), Deadline::now(), false), Errc::ok);
    expected_end += 8 + align8(i % 50);
    ASSERT_EQ(wi.load(std::memory_order_relaxed), 0u) << "published before flush, at " << i;
  }
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  EXPECT_TRUE(got.empty()) << "the consumer must see nothing before publication";
  ASSERT_EQ(js->flush(), Errc::ok);
  EXPECT_EQ(wi.load(std::memory_order_relaxed), expected_end);
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 200u);
  for (uint32_t i = 0; i < 200; ++i) EXPECT_EQ(got[i], pattern(i % 50, i)) << i;
  // A flushing send publishes earlier unflushed records along with its own.
  ASSERT_EQ(js->send(as_span(pattern(3, 1)), Deadline::now(), false), Errc::ok);
  ASSERT_EQ(js->send(as_span(pattern(4, 2)), Deadline::now(), true), Errc::ok);
  got.clear();
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 2u);
}

// Endpoint::Batch: send and zero-copy reserve/commit mixed, nothing visible before end(),
// an uncommitted reservation dropped unsent, misuse refused with invalid_argument.
TEST_F(RingTest, EndpointBatchSendsAndReservesWithOnePublication) {
  make(RegionConfig{65536, 4096});
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  const SharedWord wi = region_.ring(Dir::r2n).write_index;
  std::span<std::byte> dst;
  {
    auto b = js->batch();
    ASSERT_TRUE(b);
    EXPECT_EQ(b.commit(1), Errc::invalid_argument) << "commit without a reservation";
    for (uint32_t i = 0; i < 30; ++i) {
      if (i % 2 == 0) {
        ASSERT_EQ(b.send(as_span(pattern(i, i))), Errc::ok);
        continue;
      }
      ASSERT_EQ(b.reserve(40, &dst), Errc::ok);
      ASSERT_EQ(dst.size(), 40u);
      const Bytes want = pattern(i, i);  // i <= 40 bytes of the 40 reserved
      std::memcpy(dst.data(), want.data(), want.size());
      EXPECT_EQ(b.commit(41), Errc::invalid_argument) << "more than reserved";
      ASSERT_EQ(b.commit(want.size()), Errc::ok);
      EXPECT_EQ(b.commit(0), Errc::invalid_argument) << "committed twice";
    }
    ASSERT_EQ(b.reserve(16, &dst), Errc::ok);  // never committed: dropped by the send
    std::memset(dst.data(), 0xEE, dst.size());
    ASSERT_EQ(b.send(as_span(pattern(7, 99))), Errc::ok);
    ASSERT_EQ(b.reserve(16, &dst), Errc::ok);  // never committed: dropped by end()
    EXPECT_EQ(b.reserve(js->max_payload() + 1, &dst), Errc::too_large);
    EXPECT_EQ(wi.load(std::memory_order_relaxed), 0u) << "published before end()";
  }  // ~Batch: end()
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 31u);
  for (uint32_t i = 0; i < 30; ++i) EXPECT_EQ(got[i], pattern(i, i)) << i;
  EXPECT_EQ(got[30], pattern(7, 99));
  EXPECT_EQ(js->stats().messages_sent, 31u);
  EXPECT_EQ(js->failure(), Reason::none);
  EXPECT_EQ(nat->failure(), Reason::none);
}

TEST_F(RingTest, WriterBatchNeedsPublish) {
  make();
  const RingWords w = region_.ring(Dir::r2n);
  RingWriter writer(w, 0);
  RingReader reader(w, 0);
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(writer.write(as_span(pattern(i, i))));
  EXPECT_TRUE(writer.has_unpublished());
  EXPECT_FALSE(reader.peek().has_value());
  EXPECT_FALSE(reader.refill());
  writer.publish();
  EXPECT_FALSE(writer.has_unpublished());
  EXPECT_FALSE(writer.publish()) << "nothing new: no store, no doorbell";
  for (uint32_t i = 0; i < 10; ++i) {
    auto r = reader.peek();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->payload.size(), i);
    reader.consume();
  }
  EXPECT_FALSE(reader.peek().has_value());
}

// ---- indices past 2^32 ----------------------------------------------------------------

TEST_F(RingTest, IndicesWrapPast2To32) {
  make(RegionConfig{4096, 8192});
  // Start both rings just below 2^32 (one with an offset that is not a multiple of the
  // capacity, so PADs land around the wrap).
  set_indices(Dir::r2n, 0xFFFFF000u, 0xFFFFF000u);
  set_indices(Dir::n2r, 0xFFFFEF28u, 0xFFFFEF28u);
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  uint64_t bytes_r2n = 0;
  for (uint32_t i = 0; i < 300; ++i) {
    const Bytes m = pattern((i * 37) % 900, i);
    ASSERT_EQ(js->send(as_span(m), Deadline::now()), Errc::ok);
    const Bytes back = pattern((i * 53) % 1900, ~i);
    ASSERT_EQ(nat->send(as_span(back), Deadline::now()), Errc::ok);
    Bytes got;
    ASSERT_EQ(recv_one(*nat, &got, Deadline::now()), Errc::ok);
    ASSERT_EQ(got, m) << i;
    ASSERT_EQ(recv_one(*js, &got, Deadline::now()), Errc::ok);
    ASSERT_EQ(got, back) << i;
    bytes_r2n += m.size();
  }
  const uint32_t w = region_.ring(Dir::r2n).write_index.load(std::memory_order_relaxed);
  EXPECT_LT(w, 0x80000000u) << "r2n write_index must have wrapped past 2^32";
  EXPECT_EQ(region_.ring(Dir::r2n).read_index.load(std::memory_order_relaxed), w);
  EXPECT_LT(region_.ring(Dir::n2r).write_index.load(std::memory_order_relaxed), 0x80000000u);
  EXPECT_EQ(nat->failure(), Reason::none);
  EXPECT_EQ(js->failure(), Reason::none);
  EXPECT_EQ(nat->stats().bytes_received, bytes_r2n);
}

TEST_F(RingTest, FragmentedMessageAcross2To32) {
  make();
  set_indices(Dir::r2n, 0xFFFFFC00u, 0xFFFFFC00u);
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  const Bytes big = pattern(20000, 77);
  std::thread tx([&] { EXPECT_EQ(js->send(as_span(big)), Errc::ok); });
  Bytes got;
  ASSERT_EQ(recv_one(*nat, &got, Deadline::in(30s)), Errc::ok);
  tx.join();
  EXPECT_EQ(got, big);
}

TEST_F(RingTest, AttachValidatesStartIndices) {
  make();
  struct Case {
    Dir d;
    uint32_t write, read;
    Reason why;
  };
  const Case bad[] = {
      {Dir::r2n, 4, 0, Reason::index_misaligned},                 // A1: misaligned write
      {Dir::n2r, 8, 4, Reason::index_misaligned},                 // A1: misaligned read
      {Dir::r2n, 4096 + 8, 0, Reason::index_out_of_range},        // A2: more than capacity
      {Dir::n2r, 0, 8, Reason::index_out_of_range},               // A2: read ahead of write
      {Dir::r2n, 0x10, 0xFFFFF000u, Reason::index_out_of_range},  // A2: 4112 across the wrap
  };
  for (const Case& c : bad) {
    SCOPED_TRACE(std::to_string(c.write) + "/" + std::to_string(c.read));
    set_indices(c.d, c.write, c.read);
    for (Side s : {Side::r, Side::n}) {
      Errc e = Errc::ok;
      Reason why = Reason::none;
      EXPECT_EQ(Endpoint::attach(region_, s, {}, &e, &why), nullptr);
      EXPECT_EQ(e, Errc::invalid_argument);
      EXPECT_EQ(why, c.why);
      EXPECT_EQ(state_word(region_, s), 0u) << "a refused attach writes nothing";
      EXPECT_EQ(region_.generation(s).load(std::memory_order_relaxed), 0u);
    }
    set_indices(c.d, 0, 0);
  }
  set_indices(Dir::r2n, 0x8, 0xFFFFF008u);  // 4096 ahead across the wrap: full, valid
  auto js = attach(region_, Side::r);
  EXPECT_EQ(state_word(region_, Side::r), 1u);
  EXPECT_EQ(region_.generation(Side::r).load(std::memory_order_relaxed), 1u);
  // The writer must take the consumer's index from shared memory too: the ring is full.
  EXPECT_EQ(js->send(as_span(pattern(1, 1)), Deadline::now()), Errc::timeout);
  EXPECT_EQ(js->outgoing_fill(), 4096u);
  EXPECT_EQ(js->failure(), Reason::none);
}

// A side that attaches again (new endpoint, same region) continues from the shared indices
// and neither loses nor overwrites what its previous incarnation left unread.
TEST_F(RingTest, ReattachContinuesWithoutOverwritingUnreadRecords) {
  make();
  auto nat = attach(region_, Side::n);
  {
    auto js = attach(region_, Side::r);
    for (uint32_t i = 0; i < 3; ++i) ASSERT_EQ(js->send(as_span(pattern(1016, i))), Errc::ok);
  }  // destroyed: closed
  EXPECT_EQ(state_word(region_, Side::r), 2u);
  auto js = attach(region_, Side::r);
  EXPECT_EQ(state_word(region_, Side::r), 1u);
  EXPECT_EQ(region_.generation(Side::r).load(std::memory_order_relaxed), 2u);
  // 1024 bytes free: one more maximal record fits, a second one does not.
  ASSERT_EQ(js->send(as_span(pattern(1016, 3)), Deadline::now()), Errc::ok);
  EXPECT_EQ(js->send(as_span(pattern(1016, 4)), Deadline::now()), Errc::timeout);
  std::vector<Bytes> got;
  ASSERT_EQ(poll_all(*nat, &got), Errc::ok);
  ASSERT_EQ(got.size(), 4u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(got[i], pattern(1016, i)) << i;
  ASSERT_EQ(js->send(as_span(pattern(1016, 4)), Deadline::now()), Errc::ok);
  EXPECT_EQ(js->failure(), Reason::none);
  EXPECT_EQ(nat->failure(), Reason::none);
}

// for_each_block hands every byte over exactly once, in order, in blocks of at most one
// page, whatever the length relative to the block and the read-ahead distance.
TEST(ForEachBlock, VisitsEveryByteOnceInOrder) {
  for (size_t n : {size_t{0}, size_t{1}, kReadAheadBlock - 1, kReadAheadBlock, kReadAheadBlock + 1,
                   size_t{kReadAheadBytes} - 3, size_t{kReadAheadBytes} + 5, size_t{1} << 20,
                   (size_t{1} << 20) + 3}) {
    const Bytes data = pattern(static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    Bytes seen;
    size_t calls = 0;
    const std::byte* expected_next = data.data();
    for_each_block(as_span(data), [&](std::span<const std::byte> b) {
      ++calls;
      EXPECT_EQ(b.data(), expected_next) << "n=" << n;
      EXPECT_LE(b.size(), kReadAheadBlock) << "n=" << n;
      EXPECT_FALSE(b.empty()) << "n=" << n;
      expected_next = b.data() + b.size();
      seen.insert(seen.end(), b.begin(), b.end());
    });
    EXPECT_EQ(seen, data) << "n=" << n;
    EXPECT_EQ(calls, (n + kReadAheadBlock - 1) / kReadAheadBlock) << "n=" << n;
  }
}

// The writer's write-ahead (prefetch.hpp) must not change what is written: many small
// records through a small ring, lapping it many times, each checked against its pattern,
// with the canaries around the region intact (TearDown).
TEST_F(RingTest, SmallRecordsLappingTheRingArriveIntactWithWriteAhead) {
  make();
  auto js = attach(region_, Side::r);
  auto nat = attach(region_, Side::n);
  uint32_t sent = 0, got = 0;
  for (int lap = 0; lap < 200; ++lap) {
    while (true) {
      const uint32_t len = (sent * 37) % (kWriteAheadMaxPayload / 16 + 1);
      if (js->send(as_span(pattern(len, sent)), Deadline::now(), /*flush=*/false) != Errc::ok)
        break;
      ++sent;
    }
    ASSERT_EQ(js->flush(), Errc::ok);
    std::vector<Bytes> msgs;
    ASSERT_EQ(poll_all(*nat, &msgs), Errc::ok);
    for (const Bytes& m : msgs) {
      const uint32_t len = (got * 37) % (kWriteAheadMaxPayload / 16 + 1);
      ASSERT_EQ(m, pattern(len, got)) << got;
      ++got;
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_GT(sent, 200u * 10u);
  EXPECT_EQ(js->failure(), Reason::none);
  EXPECT_EQ(nat->failure(), Reason::none);
}

}  // namespace
