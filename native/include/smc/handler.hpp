// The native side of a channel as an application sees it: a thread that receives every
// message and hands it to a Handler, which may reply from that thread or from threads of
// its own. Built-in handlers (echo, sink, source, plugin) serve tests, benchmarks and
// plugins, chosen by name with make_handler(); embed your own by implementing Handler
// (docs/api.md, "Native handlers").
//
// No Node dependency: the Node binding only creates a Responder with a doorbell that
// reaches the JS event loop.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "smc/endpoint.hpp"

namespace smc {

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the receive thread before the first message. `ep` outlives the handler's
  // use of it: on_stop() runs before the endpoint is destroyed.
  virtual void on_start(Endpoint& ep) { (void)ep; }
  // One whole message; the span is valid only during the call. Runs on the receive thread.
  virtual void on_message(std::span<const std::byte> message, Endpoint& ep) = 0;
  // After each batch of messages (publish replies here when sending with flush=false).
  virtual void on_batch_end(Endpoint& ep) { ep.flush(); }
  // The receive loop ended (close, peer close or failure). Stop own threads here.
  virtual void on_stop(Endpoint& ep) { (void)ep; }
  // Opt-in streaming receive: a sink that takes messages larger than one record fragment by
  // fragment as they arrive, without reassembly (framer.hpp); nullptr (the default): they
  // come reassembled to on_message. Asked once, before the first message.
  virtual FragmentSink* fragment_sink() { return nullptr; }
};

// Replies to each message with the same bytes.
std::unique_ptr<Handler> make_echo_handler();

// Counts messages and bytes and folds every byte into a checksum (a real receiver reads
// its data), then drops them.
struct SinkTotals {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> checksum{0};  // sum over messages of fnv1a-32 of the message
};
// How the sink folds a message into `checksum`: fnv1a-32 (default; byte-serial, far slower
// than memory) or sum32, the sum mod 2^32 of the message's little-endian u32 words (last word
// zero-padded): it still reads every byte, at memory speed, for throughput benchmarks.
enum class SinkChecksum { fnv1a, sum32 };
// With `stream`, messages larger than one record are folded in fragment by fragment as
// they arrive (Handler::fragment_sink) instead of reassembled first; the totals are the same.
std::unique_ptr<Handler> make_sink_handler(std::shared_ptr<SinkTotals> totals,
                                           SinkChecksum how = SinkChecksum::fnv1a,
                                           bool stream = false);

// Streams `count` messages of `size` bytes as fast as the ring allows, from a thread of its
// own, writing in place (Reservation) when a message fits one record. Message i starts
// with i as a little-endian u64 (when size >= 8); the rest is a byte pattern of i.
// Incoming messages are sunk into `totals`.
struct SourceConfig {
  uint64_t count = 0;
  uint32_t size = 64;
};
std::unique_ptr<Handler> make_source_handler(SourceConfig cfg, std::shared_ptr<SinkTotals> totals);

class PluginSlot;          // smc/plugin_host.hpp
class IsolatedPluginSlot;  // smc/isolated_plugin.hpp

// The built-in handlers by name: what an embedder (the Node addon's `handler` option)
// chooses from. make_handler() is the one place that maps a name to a handler.
inline constexpr std::array<std::string_view, 4> kHandlerNames = {"echo", "sink", "source",
                                                                  "plugin"};
inline constexpr std::array<std::string_view, 2> kSinkChecksumNames = {"fnv1a", "sum32"};

struct HandlerSpec {
  std::string name = "echo";       // one of kHandlerNames
  std::string checksum = "fnv1a";  // sink: one of kSinkChecksumNames
  bool stream = false;             // sink: fragments as they arrive (make_sink_handler)
  SourceConfig source;             // source
  // plugin: an empty slot (load the plugin into it once the endpoint is bound), in this
  // process, or with `isolate` in a child process running `plugin_host_path`
  // (smc/isolated_plugin.hpp) with `isolate_timeout` as its IsolateOptions::timeout.
  bool isolate = false;
  std::string plugin_host_path;
  std::chrono::milliseconds isolate_timeout{5000};
};

// A handler made from a spec, with the parts of it its owner talks to afterwards.
struct MadeHandler {
  std::unique_ptr<Handler> handler;              // null when the spec was refused
  std::shared_ptr<SinkTotals> totals;            // sink and source: what they counted
  std::shared_ptr<PluginSlot> plugin;            // plugin: the slot (load / unload / stats)
  std::shared_ptr<IsolatedPluginSlot> isolated;  // plugin with isolate
};

// The built-in handler `spec` names. A spec it cannot make (an unknown name or checksum,
// isolate without a host path) gives a null handler and *error naming the bad value and
// the allowed ones, e.g. `handler must be 'echo', 'sink', 'source' or 'plugin', not "x"`.
MadeHandler make_handler(const HandlerSpec& spec, std::string* error);

// fnv1a-32 of a message: the checksum sink and tests agree on. `h` continues a hash of
// the bytes before `data` (fnv1a of a message = fnv1a of its parts in order).
inline constexpr uint32_t kFnv1aBasis = 2166136261u;
uint32_t fnv1a(std::span<const std::byte> data, uint32_t h = kFnv1aBasis);
// Sum mod 2^32 of the little-endian u32 words of a message (last word zero-padded).
uint32_t sum32(std::span<const std::byte> data);

// Runs a Handler on a receive thread over an Endpoint. stop() (or the destructor) closes
// the endpoint, which wakes the thread, and joins it.
class Responder {
 public:
  Responder(std::unique_ptr<Endpoint> ep, std::unique_ptr<Handler> handler);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void stop();
  Endpoint& endpoint() { return *ep_; }
  // Why the receive loop ended (ok while running).
  // SYNC: responder-exit (partner: the release stores at the end of Responder::run).
  Errc exit_status() const { return exit_.load(std::memory_order_acquire); }
  bool running() const { return !done_.load(std::memory_order_acquire); }

 private:
  void run();
  std::unique_ptr<Endpoint> ep_;
  std::unique_ptr<Handler> handler_;
  std::atomic<Errc> exit_{Errc::ok};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace smc
