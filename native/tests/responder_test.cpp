// A Responder that stops because of its peer's state must say so in its own state word and
// ring the peer: otherwise a peer whose state word was overwritten (a hostile or buggy
// writer) waits forever on a native side that looks attached and never consumes again.
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <thread>

#include "smc/handler.hpp"
#include "smc/layout.hpp"
#include "test_support.hpp"

namespace {

using namespace smc;
using namespace smc::test;
using namespace std::chrono_literals;

// The JS-side stand-in parks for this long: a wake-up that never comes shows up as a
// receive that returns timeout (or takes this long), not as a fast peer_* status.
constexpr auto kLongPark = std::chrono::milliseconds(10'000);

struct Case {
  const char* name;
  uint32_t forged;     // written into side R's state word behind its back
  Errc js_sees;        // what R's parked receive returns
  uint32_t nat_state;  // what N publishes
  Errc nat_exit;       // why N's loop ended
};

// gtest prints a parameter it cannot format as raw bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class ResponderPeerStateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ResponderPeerStateTest, PublishesItsOwnStateAndRingsThePeer) {
  const Case c = GetParam();
  CanaryArena arena({4096, 4096});
  Region region = init_region(arena.span(), {4096, 4096});
  EndpointOptions jo;
  jo.idle = parking(0, 0, kLongPark);
  auto js = attach(region, Side::r, jo);
  EndpointOptions no;
  no.idle = parking(100, 2, 50ms);  // N re-checks R's state at least every 50 ms
  Responder responder(attach(region, Side::n, no), make_echo_handler());

  const Bytes hello = pattern(40, 1);
  ASSERT_EQ(js->send(as_span(hello), Deadline::in(5s)), Errc::ok);
  Bytes back;
  ASSERT_EQ(recv_one(*js, &back, Deadline::in(5s)), Errc::ok);
  ASSERT_EQ(back, hello);

  Errc got = Errc::ok;
  double ms = 0;
  std::thread reader([&] {
    const auto t0 = Clock::now();
    got = recv_one(*js, nullptr, Deadline::in(kLongPark));
    ms = ms_since(t0);
  });
  // R is parked as consumer (its parked word is set) before the forgery.
  wait_for_word(region.ring(Dir::n2r).consumer_parked, 1);
  region.state(Side::r).store(c.forged, std::memory_order_seq_cst);
  reader.join();

  EXPECT_EQ(got, c.js_sees) << c.name;
  EXPECT_LT(ms, 2'000.0) << c.name << ": R was not rung; it waited for its park timeout";
  EXPECT_EQ(state_word(region, Side::n), c.nat_state) << c.name;
  const auto t0 = Clock::now();
  while (responder.running() && ms_since(t0) < 5'000) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(responder.running());
  EXPECT_EQ(responder.exit_status(), c.nat_exit) << c.name;
  js.reset();
  responder.stop();
  EXPECT_TRUE(arena.intact());
}

INSTANTIATE_TEST_SUITE_P(
    ForgedStates, ResponderPeerStateTest,
    ::testing::Values(Case{"closed", make_state_word(SideState::closed), Errc::peer_closed,
                           make_state_word(SideState::closed), Errc::peer_closed},
                      Case{"failed", make_state_word(SideState::failed, Reason::index_misaligned),
                           Errc::peer_closed, make_state_word(SideState::closed),
                           Errc::peer_failed},
                      Case{"invalid", 0x7777u, Errc::peer_failed,
                           make_state_word(SideState::failed, Reason::peer_state_invalid),
                           Errc::failed}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
