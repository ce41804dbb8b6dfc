#include <algorithm>
#include <cstring>
#include <vector>

#include "smc/handler.hpp"
#include "smc/isolated_plugin.hpp"
#include "smc/plugin_host.hpp"
#include "smc/prefetch.hpp"

namespace smc {

uint32_t fnv1a(std::span<const std::byte> data, uint32_t h) {
  for_each_block(data, [&](std::span<const std::byte> block) {
    uint32_t x = h;  // a local: the loop must not re-load h through the byte pointer
    for (std::byte b : block) {
      x ^= static_cast<uint32_t>(b);
      x *= 16777619u;
    }
    h = x;
  });
  return h;
}

// u32 words in one accumulator: the compiler vectorizes this (memory speed). A local
// accumulator, so no store can alias the bytes being read.
static uint32_t sum32_block(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  const size_t n = block.size();
  uint32_t s = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    s += w;
  }
  if (i < n) {
    uint32_t w = 0;
    std::memcpy(&w, p + i, n - i);
    s += w;
  }
  return s;
}

uint32_t sum32(std::span<const std::byte> data) {
  // Blocks are multiples of 4 bytes, so word boundaries match an unblocked sum.
  uint32_t s = 0;
  for_each_block(data, [&](std::span<const std::byte> block) { s += sum32_block(block); });
  return s;
}

namespace {

class EchoHandler final : public Handler {
 public:
  void on_message(std::span<const std::byte> message, Endpoint& ep) override {
    // flush=false: the batch's replies go out with one index store in on_batch_end.
    ep.send(message, Deadline::never(), /*flush=*/false);
  }
};

class SinkHandler final : public Handler, public FragmentSink {
 public:
  explicit SinkHandler(std::shared_ptr<SinkTotals> t, SinkChecksum how = SinkChecksum::fnv1a,
                       bool stream = false)
      : totals_(std::move(t)), how_(how), stream_(stream) {}
  void on_message(std::span<const std::byte> message, Endpoint&) override {
    messages_ += 1;
    bytes_ += message.size();
    checksum_ += how_ == SinkChecksum::sum32 ? sum32(message) : fnv1a(message);
  }
  FragmentSink* fragment_sink() override { return stream_ ? this : nullptr; }
  // Fragments start at multiples of 4 bytes (max_payload is), so sum32 of the parts adds
  // up to sum32 of the message; fnv1a carries its state from part to part.
  void on_fragment(uint32_t offset, uint32_t total, std::span<const std::byte> bytes) override {
    if (offset == 0) partial_ = how_ == SinkChecksum::sum32 ? 0 : kFnv1aBasis;
    partial_ = how_ == SinkChecksum::sum32 ? partial_ + sum32(bytes) : fnv1a(bytes, partial_);
    if (offset + bytes.size() < total) return;
    messages_ += 1;
    bytes_ += total;
    checksum_ += partial_;
  }
  void on_abort(StreamEnd) override { partial_ = 0; }
  void on_batch_end(Endpoint&) override {
    // Publish per batch, not per message. `messages` goes last: a reader that sees a count
    // also sees the bytes and checksum of at least those messages.
    totals_->bytes.store(bytes_, std::memory_order_relaxed);
    totals_->checksum.store(checksum_, std::memory_order_relaxed);
    // SYNC: sink-totals (partner: the acquire load of `messages` in the addon's stats()).
    totals_->messages.store(messages_, std::memory_order_release);
  }

 private:
  std::shared_ptr<SinkTotals> totals_;
  SinkChecksum how_;
  bool stream_;
  uint32_t partial_ = 0;  // checksum of the streamed message so far
  uint64_t messages_ = 0, bytes_ = 0, checksum_ = 0;
};

void fill_source_message(std::span<std::byte> dst, uint64_t i) {
  const size_t head = std::min<size_t>(8, dst.size());
  std::memcpy(dst.data(), &i, head);
  if (dst.size() > 8) std::memset(dst.data() + 8, static_cast<int>(i & 0xFF), dst.size() - 8);
}

class SourceHandler final : public Handler {
 public:
  SourceHandler(SourceConfig cfg, std::shared_ptr<SinkTotals> t) : cfg_(cfg), sink_(std::move(t)) {}
  ~SourceHandler() override { join(); }

  void on_start(Endpoint& ep) override {
    thread_ = std::thread([this, &ep] { stream(ep); });
  }
  void on_message(std::span<const std::byte> m, Endpoint& ep) override { sink_.on_message(m, ep); }
  void on_batch_end(Endpoint& ep) override { sink_.on_batch_end(ep); }
  void on_stop(Endpoint&) override { join(); }

 private:
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Writes in place through a Batch, ended (published, unlocked) every 64 messages: one
  // send lock per 64 messages instead of one per message (docs/api.md, Batch).
  void stream(Endpoint& ep) {
    std::vector<std::byte> scratch;
    Endpoint::Batch batch;
    for (uint64_t i = 0; i < cfg_.count; ++i) {
      if (!batch) batch = ep.batch();
      if (cfg_.size <= ep.max_payload()) {
        std::span<std::byte> dst;
        if (batch.reserve(cfg_.size, &dst) != Errc::ok) return;  // closed or failed
        fill_source_message(dst, i);
        batch.commit(cfg_.size);
      } else {
        scratch.resize(cfg_.size);
        fill_source_message(scratch, i);
        if (batch.send(scratch) != Errc::ok) return;
      }
      if ((i & 63u) == 63u) batch.end();
    }
    batch.end();
  }

  SourceConfig cfg_;
  SinkHandler sink_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Handler> make_echo_handler() {
  return std::make_unique<EchoHandler>();
}
std::unique_ptr<Handler> make_sink_handler(std::shared_ptr<SinkTotals> totals, SinkChecksum how,
                                           bool stream) {
  return std::make_unique<SinkHandler>(std::move(totals), how, stream);
}
std::unique_ptr<Handler> make_source_handler(SourceConfig cfg, std::shared_ptr<SinkTotals> totals) {
  return std::make_unique<SourceHandler>(cfg, std::move(totals));
}

namespace {

// "'a', 'b' or 'c'": the allowed values, for an error message.
template <size_t N>
std::string one_of(const std::array<std::string_view, N>& names) {
  std::string s;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) s += i + 1 == N ? " or " : ", ";
    // Appended piece by piece: GCC 12's -Wrestrict misreads `"'" + std::string(...)`
    // inlined here as an overlapping memcpy (a false positive that -Werror turns fatal).
    s += '\'';
    s.append(names[i]);
    s += '\'';
  }
  return s;
}

}  // namespace

MadeHandler make_handler(const HandlerSpec& spec, std::string* error) {
  MadeHandler made;
  const auto refuse = [&](const std::string& what, const std::string& allowed,
                          const std::string& value) {
    if (error) *error = what + " must be " + allowed + ", not \"" + value + "\"";
    return MadeHandler{};
  };
  if (spec.name == "echo") {
    made.handler = make_echo_handler();
  } else if (spec.name == "sink") {
    if (spec.checksum != "fnv1a" && spec.checksum != "sum32") {
      return refuse("checksum", one_of(kSinkChecksumNames), spec.checksum);
    }
    made.totals = std::make_shared<SinkTotals>();
    made.handler = make_sink_handler(
        made.totals, spec.checksum == "sum32" ? SinkChecksum::sum32 : SinkChecksum::fnv1a,
        spec.stream);
  } else if (spec.name == "source") {
    made.totals = std::make_shared<SinkTotals>();
    made.handler = make_source_handler(spec.source, made.totals);
  } else if (spec.name == "plugin" && spec.isolate) {
    if (spec.plugin_host_path.empty()) {
      if (error) *error = "isolate needs the path of the smc_plugin_host executable";
      return MadeHandler{};
    }
    made.isolated = std::make_shared<IsolatedPluginSlot>(
        IsolateOptions{spec.plugin_host_path, spec.isolate_timeout});
    made.handler = make_isolated_plugin_handler(made.isolated);
  } else if (spec.name == "plugin") {
    made.plugin = std::make_shared<PluginSlot>();
    made.handler = make_plugin_slot_handler(made.plugin);
  } else {
    return refuse("handler", one_of(kHandlerNames), spec.name);
  }
  return made;
}

Responder::Responder(std::unique_ptr<Endpoint> ep, std::unique_ptr<Handler> handler)
    : ep_(std::move(ep)), handler_(std::move(handler)) {
  thread_ = std::thread([this] { run(); });
}

Responder::~Responder() {
  stop();
}

void Responder::stop() {
  ep_->close();  // wakes the receive thread (and any sender parked on our words)
  if (thread_.joinable()) thread_.join();
}

void Responder::run() {
  handler_->on_start(*ep_);
  ep_->set_fragment_sink(handler_->fragment_sink());
  Errc e = Errc::ok;
  while (e == Errc::ok) {
    size_t n = 0;
    e = ep_->receive([&](std::span<const std::byte> m) { handler_->on_message(m, *ep_); }, 1024,
                     &n);
    if (n > 0) handler_->on_batch_end(*ep_);
  }
  // Left because of the peer (it closed or failed): say so in our own state word and ring
  // it. Without this a peer whose state word was forged (or that failed and is still
  // sending) sees an `attached` native side that never consumes again: a silent stall.
  // close() publishes `closed` and wakes the peer's parked waiters; a failure of our own
  // (Errc::failed, S1 included) was already published by Endpoint::fail.
  if (e == Errc::peer_closed || e == Errc::peer_failed) ep_->close();
  // SYNC: responder-exit (partner: the acquire loads in exit_status() and running()).
  exit_.store(e, std::memory_order_release);
  handler_->on_stop(*ep_);
  done_.store(true, std::memory_order_release);
}

}  // namespace smc
