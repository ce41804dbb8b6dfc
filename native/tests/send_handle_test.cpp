// Batch and Reservation (the send lock's handles) against close() and threads: a commit
// after this side's close is refused and never published; close() never waits for a
// handle, whichever thread holds it, and the handle's end completes the close (publishes
// what was committed before it, then stores `closed`); a handle moved to another thread
// is used and ended there (docs/protocol.md 6, docs/api.md "Batch and Reservation").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "smc/endpoint.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

// A scope that does not end within this is a deadlock (nothing here waits for a timer).
constexpr auto kHang = 60s;

class SendHandleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const RegionConfig c{4096, 4096};
    arena_ = std::make_unique<CanaryArena>(c);
    region_ = init_region(arena_->span(), c);
    js_ = attach(region_, Side::r);
    nat_ = attach(region_, Side::n);
  }
  void TearDown() override {
    js_.reset();
    nat_.reset();
    EXPECT_TRUE(arena_->intact());
  }
  // What the peer receives from js_ until its end: the messages, then the end's code.
  Errc drain(std::vector<Bytes>* got) {
    for (;;) {
      Bytes m;
      const Errc e = recv_one(*nat_, &m, Deadline::in(5s));
      if (e != Errc::ok) return e;
      got->push_back(std::move(m));
    }
  }
  std::unique_ptr<CanaryArena> arena_;
  Region region_;
  std::unique_ptr<Endpoint> js_, nat_;
};

// ---- a commit after close (docs/protocol.md 6: close publishes what was committed) -------

TEST_F(SendHandleTest, ReservationCommittedAfterItsThreadClosedIsRefusedAndNeverPublished) {
  Endpoint::Reservation r;
  ASSERT_EQ(js_->reserve(8, &r), Errc::ok);
  const Bytes m = pattern(8, 1);
  std::memcpy(r.data().data(), m.data(), m.size());
  js_->close();
  EXPECT_EQ(r.commit(8), Errc::closed);
  EXPECT_FALSE(r) << "a refused commit ends the reservation";
  EXPECT_EQ(js_->stats().messages_sent, 0u);
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  EXPECT_TRUE(got.empty()) << "the commit after close was published";
}

TEST_F(SendHandleTest, BatchCommitAfterItsThreadClosedIsRefusedAndNeverPublished) {
  Endpoint::Batch batch = js_->batch();
  ASSERT_EQ(batch.send(as_span(pattern(10, 1))), Errc::ok);
  std::span<std::byte> dst;
  ASSERT_EQ(batch.reserve(20, &dst), Errc::ok);
  const Bytes late = pattern(20, 2);
  std::memcpy(dst.data(), late.data(), late.size());
  js_->close();
  EXPECT_EQ(batch.commit(20), Errc::closed);
  batch.end();
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  ASSERT_EQ(got.size(), 1u) << "only what was committed before the close";
  EXPECT_EQ(got[0], pattern(10, 1));
}

TEST_F(SendHandleTest, BatchCommitAfterAnotherThreadClosedIsRefused) {
  Endpoint::Batch batch = js_->batch();
  std::span<std::byte> dst;
  ASSERT_EQ(batch.reserve(20, &dst), Errc::ok);
  {
    Watchdog dog("close() on another thread while this thread's batch is open", kHang);
    std::thread closer([&] { js_->close(); });
    closer.join();
  }
  EXPECT_EQ(batch.commit(20), Errc::closed);
  batch.end();
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  EXPECT_TRUE(got.empty());
}

// ---- close() with a handle open: it does not wait; the handle's end completes it --------

TEST_F(SendHandleTest, CloseOnTheBatchThreadLeavesPublishingAndClosedToTheBatchEnd) {
  ASSERT_EQ(js_->send(as_span(pattern(10, 1)), Deadline::never(), /*flush=*/false), Errc::ok);
  Endpoint::Batch batch = js_->batch();
  ASSERT_EQ(batch.send(as_span(pattern(20, 2))), Errc::ok);
  js_->close();
  EXPECT_EQ(nat_->incoming_fill(), 0u) << "close() wrote while the batch holds the writer";
  EXPECT_EQ(nat_->peer_state(), SideState::attached) << "`closed` before what was committed";
  EXPECT_EQ(batch.send(as_span(pattern(1, 3))), Errc::closed);
  batch.end();
  EXPECT_EQ(nat_->peer_state(), SideState::closed) << "the batch's end completes the close";
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], pattern(10, 1));
  EXPECT_EQ(got[1], pattern(20, 2));
}

TEST_F(SendHandleTest, CloseFromAnotherThreadReturnsWhileABatchIsOpen) {
  std::atomic<bool> sent{false}, checked{false};
  Errc after_close = Errc::ok;
  std::thread sender([&] {
    Endpoint::Batch batch = js_->batch();
    EXPECT_EQ(batch.send(as_span(pattern(30, 1))), Errc::ok);
    sent = true;
    while (!checked) std::this_thread::yield();
    after_close = batch.send(as_span(pattern(1, 2)));
  });  // the batch ends as the thread returns: it publishes and stores `closed`
  while (!sent) std::this_thread::yield();
  {
    Watchdog dog("close() with another thread's batch open", kHang);
    js_->close();
  }
  EXPECT_EQ(nat_->peer_state(), SideState::attached) << "closed before the batch published";
  checked = true;
  sender.join();
  EXPECT_EQ(after_close, Errc::closed);
  EXPECT_EQ(nat_->peer_state(), SideState::closed);
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(30, 1));
}

TEST_F(SendHandleTest, DestroyingTheEndpointWaitsForABatchOfAnotherThread) {
  std::atomic<bool> opened{false}, ended{false};
  Endpoint* ep = js_.get();
  std::thread sender([&] {
    Endpoint::Batch batch = ep->batch();
    EXPECT_EQ(batch.send(as_span(pattern(30, 1))), Errc::ok);
    opened = true;
    // Only the destructor's close() makes this return; the destructor is running then.
    while (!ep->closed()) std::this_thread::yield();
    EXPECT_EQ(batch.send(as_span(pattern(1, 2))), Errc::closed);
    ended = true;  // before batch.end(), which the destructor waits for
  });
  while (!opened) std::this_thread::yield();
  {
    Watchdog dog("~Endpoint with another thread's batch open", kHang);
    js_.reset();
  }
  EXPECT_TRUE(ended.load()) << "the endpoint was destroyed under an open batch";
  // Only the batch's end publishes `closed` (the close left it a note): a destructor that
  // returned before the end would leave the peer reading `attached` here.
  EXPECT_EQ(nat_->peer_state(), SideState::closed);
  sender.join();
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  ASSERT_EQ(got.size(), 1u);
}

// ---- handles moved between threads ---------------------------------------------------

TEST_F(SendHandleTest, ABatchMovedToAnotherThreadIsClosedThereWithoutDeadlock) {
  Endpoint::Batch batch = js_->batch();
  ASSERT_EQ(batch.send(as_span(pattern(10, 1))), Errc::ok);
  Errc after_close = Errc::ok;
  {
    Watchdog dog("close() on the thread a batch was moved to", kHang);
    std::thread other([&, b = std::move(batch)]() mutable {
      js_->close();
      after_close = b.send(as_span(pattern(1, 2)));
      b.end();
    });
    other.join();
  }
  EXPECT_EQ(after_close, Errc::closed);
  std::vector<Bytes> got;
  EXPECT_EQ(drain(&got), Errc::peer_closed);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(10, 1));
}

// The thread that opened the batch closes while the thread it was moved to sends: close
// must neither write the ring nor publish under that thread (a data race TSan reports, and
// a publication of a record half written), and every message accepted before the close
// arrives, intact and in order.
TEST_F(SendHandleTest, ClosingOnTheOpeningThreadWhileTheBatchSendsOnAnotherIsSafe) {
  Endpoint::Batch batch = js_->batch();
  std::atomic<bool> started{false};
  uint32_t accepted = 0, arrived = 0;
  std::thread other([&, b = std::move(batch)]() mutable {
    for (uint32_t i = 0;; ++i) {
      if (b.send(as_span(pattern(24, i)), Deadline::in(5s)) != Errc::ok) break;
      accepted = i + 1;
      if (i == 0) started = true;
      if ((i & 15u) == 15u) b.flush();
    }
    b.end();
  });
  std::thread reader([&] {
    std::vector<Bytes> got;
    EXPECT_EQ(drain(&got), Errc::peer_closed);
    for (uint32_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], pattern(24, i)) << "message " << i;
    EXPECT_GT(got.size(), 0u);
    arrived = static_cast<uint32_t>(got.size());
  });
  while (!started) std::this_thread::yield();
  {
    Watchdog dog("close() while a moved batch sends", kHang);
    js_->close();
    other.join();
    reader.join();
  }
  EXPECT_EQ(arrived, accepted) << "every send accepted before the close arrives";
}

TEST_F(SendHandleTest, AReservationCommittedOnAnotherThreadReleasesTheSendLock) {
  Endpoint::Reservation r;
  ASSERT_EQ(js_->reserve(8, &r), Errc::ok);
  const Bytes m = pattern(8, 1);
  std::memcpy(r.data().data(), m.data(), m.size());
  Errc committed = Errc::invalid_argument;
  std::thread other([&, moved = std::move(r)]() mutable { committed = moved.commit(8); });
  other.join();
  EXPECT_EQ(committed, Errc::ok);
  {
    Watchdog dog("a send after a reservation ended on another thread", kHang);
    EXPECT_EQ(js_->send(as_span(pattern(9, 2))), Errc::ok);
  }
  Bytes one;
  ASSERT_EQ(recv_one(*nat_, &one, Deadline::in(5s)), Errc::ok);
  EXPECT_EQ(one, pattern(8, 1));
  ASSERT_EQ(recv_one(*nat_, &one, Deadline::in(5s)), Errc::ok);
  EXPECT_EQ(one, pattern(9, 2));
}

}  // namespace
