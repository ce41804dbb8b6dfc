// The Node-API binding: translation only. It pins the JS-allocated SharedArrayBuffer,
// attaches the native side of the protocol to it, runs a Handler on a Responder thread,
// and turns "the JS consumer/producer parked" into a ThreadSafeFunction doorbell. All
// protocol logic lives in the core (native/include/smc); the JS side of the protocol
// runs in JavaScript over the same memory (js/src/protocol), so no N-API call happens
// per message in either direction. Over 400 lines because each N-API entry point
// validates its arguments first and names what it got (node-addon-examples' rule).
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "smc/handler.hpp"
#include "smc/isolated_plugin.hpp"
#include "smc/plugin_host.hpp"

namespace {

class NativeChannel;

// Per-environment state (worker_threads, Electron page reloads): never globals.
struct AddonData {
  std::unordered_set<NativeChannel*> live;
  bool tearing_down = false;
};

struct DoorbellContext;
void call_js_doorbell(Napi::Env env, Napi::Function cb, DoorbellContext* ctx, void* data);
using DoorbellTsfn = Napi::TypedThreadSafeFunction<DoorbellContext, void, call_js_doorbell>;

// Native -> JS wake-up. Rung only when the JS side has declared itself parked (the core
// checks the parked word), and coalesced: while one call is queued, further rings are
// absorbed, because the JS drain it triggers handles everything pending.
struct DoorbellContext final : smc::Doorbell {
  DoorbellTsfn tsfn;
  std::atomic<bool> queued{false};
  std::atomic<uint64_t> calls{0};
  // Fault injection for tests (loseNextDoorbellCall): the next call is counted and marked
  // queued but never made, as if Node never dispatched it.
  std::atomic<bool> lose_next{false};

  void ring(const uint32_t*) override {
    // SYNC: doorbell-queued (partner: call_js_doorbell's and rearm()'s release stores of
    // false, made before the JS drain runs: a ring after them queues a fresh call).
    if (queued.exchange(true, std::memory_order_acq_rel)) return;
    calls.fetch_add(1, std::memory_order_relaxed);
    if (lose_next.exchange(false, std::memory_order_relaxed)) return;
    // NonBlockingCall: the ringing thread never waits on the JS thread (a finalizer on
    // the JS thread may be joining it).
    if (tsfn.NonBlockingCall() != napi_ok) queued.store(false, std::memory_order_release);
  }

  // The JS side's park timeout ran and is about to drain: a call this context still
  // believes queued may be late (an event loop saturated for seconds) or never arrive
  // (a runtime that drops it); meanwhile every ring is absorbed and JS would move one
  // park timeout at a time. Clearing the flag lets the next ring make a fresh call; if
  // the old one arrives after all, it is one extra, harmless drain.
  void rearm() {
    // SYNC: doorbell-queued (partner: ring()'s acq_rel exchange).
    queued.store(false, std::memory_order_release);
  }
};

void call_js_doorbell(Napi::Env env, Napi::Function cb, DoorbellContext* ctx, void*) {
  // env == nullptr: Node is emptying the queue of a TSFN being deleted; the context may
  // already be gone (the TSFN finalizer deletes it first), so touch nothing.
  if (env == nullptr) return;
  // Cleared before the call: a ring during the JS drain queues a fresh call.
  // SYNC: doorbell-queued (partner: ring()'s acq_rel exchange).
  ctx->queued.store(false, std::memory_order_release);
  if (cb.IsEmpty()) return;
  // Raw call, not cb.Call(): when JS cannot run any more (a call still queued while the
  // environment tears down, e.g. the doorbell rung by cleanup() just before exit),
  // cb.Call() throws a C++ Napi::Error that node-addon-api cannot rethrow into JS, and
  // the process dies in std::terminate. A JS exception thrown by the callback stays
  // pending and Node reports it as uncaught, as before.
  napi_value recv = nullptr;
  napi_value result = nullptr;
  if (napi_get_undefined(env, &recv) != napi_ok) return;
  (void)napi_call_function(env, recv, cb, 0, nullptr, &result);
}

// The TSFN owns its context: queued calls may still be dispatched after the channel
// released the TSFN and was destroyed (a finalizer after GC), so the context lives
// until the TSFN is finalized.
void finalize_doorbell(Napi::Env, void*, DoorbellContext* ctx) {
  delete ctx;
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "the string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsFunction()) return "a function";
  if (v.IsArray()) return "an array";
  return "a value of type " + std::string(v.IsObject() ? "object" : "other");
}

class NativeChannel : public Napi::ObjectWrap<NativeChannel> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "NativeChannel",
        {InstanceMethod<&NativeChannel::Wake>("wake"),
         InstanceMethod<&NativeChannel::Close>("close"),
         InstanceMethod<&NativeChannel::Stats>("stats"), InstanceMethod<&NativeChannel::Ref>("ref"),
         InstanceMethod<&NativeChannel::Unref>("unref"),
         InstanceMethod<&NativeChannel::RearmDoorbell>("rearmDoorbell"),
         InstanceMethod<&NativeChannel::LoseNextDoorbellCall>("loseNextDoorbellCall"),
         InstanceMethod<&NativeChannel::LoadPlugin>("loadPlugin"),
         InstanceMethod<&NativeChannel::UnloadPlugin>("unloadPlugin")});
  }

  // new NativeChannel(view: Uint8Array over the SharedArrayBuffer, options, doorbell)
  explicit NativeChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeChannel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3) {
      throw Napi::TypeError::New(env,
                                 "NativeChannel(view, options, doorbell): expected 3 "
                                 "arguments, got " +
                                     std::to_string(info.Length()));
    }
    if (!info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(
          env, "view must be a Uint8Array over the SharedArrayBuffer, not " + describe(info[0]));
    }
    if (!info[1].IsObject()) {
      throw Napi::TypeError::New(env, "options must be an object, not " + describe(info[1]));
    }
    if (!info[2].IsFunction()) {
      throw Napi::TypeError::New(env, "doorbell must be a function, not " + describe(info[2]));
    }
    auto view = info[0].As<Napi::Uint8Array>();
    auto opts = info[1].As<Napi::Object>();

    smc::Region region;
    const char* detail = "unknown";
    std::span<std::byte> memory(reinterpret_cast<std::byte*>(view.Data()), view.ByteLength());
    if (smc::Region::attach(memory, &region, &detail) != smc::Errc::ok) {
      throw Napi::Error::New(env, std::string("cannot attach to the shared region: ") + detail);
    }

    smc::EndpointOptions eo;
    eo.idle.park = !GetBool(opts, "spin", false);
    eo.idle.spin_iterations = GetU32(opts, "spinIterations", eo.idle.spin_iterations);
    eo.idle.yield_iterations = GetU32(opts, "yieldIterations", eo.idle.yield_iterations);
    eo.idle.park_timeout =
        std::chrono::milliseconds(GetU32(opts, "parkTimeoutMs", 100, /*min=*/1, 60'000));
    eo.max_message = GetU32(opts, "maxMessage", UINT32_MAX);
    eo.keep_assembly = GetU32(opts, "keepAssembly", smc::FrameReader::kDefaultKeepAssembly);

    // The handler is chosen and checked by the core (smc::make_handler): the binding only
    // translates the JS options into its spec.
    smc::HandlerSpec spec;
    spec.name = GetString(opts, "handler", "echo");
    spec.checksum = GetString(opts, "checksum", "fnv1a");
    spec.stream = GetBool(opts, "stream", false);
    spec.source.count = GetU32(opts, "sourceCount", 0);
    spec.source.size = GetU32(opts, "sourceSize", 64);
    spec.isolate = GetBool(opts, "isolate", false);
    spec.plugin_host_path = GetString(opts, "pluginHostPath", "");
    spec.isolate_timeout =
        std::chrono::milliseconds(GetU32(opts, "isolateTimeoutMs", 5000, /*min=*/10, 3'600'000));
    std::string spec_error;
    smc::MadeHandler made = smc::make_handler(spec, &spec_error);
    if (!made.handler) throw Napi::RangeError::New(env, spec_error);
    totals_ = made.totals ? made.totals : std::make_shared<smc::SinkTotals>();
    plugin_ = made.plugin;
    isolated_ = made.isolated;

    view_ = Napi::Persistent(view);  // pins the SharedArrayBuffer for the channel's life
    doorbell_ = new DoorbellContext();
    doorbell_->tsfn = DoorbellTsfn::New(env, info[2].As<Napi::Function>(), "smc-doorbell", 0, 1,
                                        doorbell_, finalize_doorbell, static_cast<void*>(nullptr));
    // An idle channel must not keep the process alive (like an unref'd handle); JS
    // calls ref() while it expects messages, if the user asked for it.
    doorbell_->tsfn.Unref(env);
    eo.doorbell = doorbell_;

    smc::Errc err = smc::Errc::ok;
    auto ep = smc::Endpoint::attach(region, smc::Side::n, eo, &err);
    if (!ep) {
      ReleaseDoorbell();
      throw Napi::Error::New(
          env, std::string("cannot attach the native endpoint: ") + smc::to_string(err));
    }
    if (plugin_) {
      plugin_->bind(ep.get());
      const std::string path = GetString(opts, "pluginPath", "");
      std::string error;
      if (!path.empty() && !plugin_->load(path, GetString(opts, "pluginConfig", "{}"), &error)) {
        plugin_->close();
        ReleaseDoorbell();
        throw Napi::Error::New(env, error);  // names the path and the cause
      }
    }
    if (isolated_) {
      isolated_->bind(ep.get());
      const std::string path = GetString(opts, "pluginPath", "");
      std::string error;
      if (!path.empty() && !isolated_->load(path, GetString(opts, "pluginConfig", "{}"), &error)) {
        isolated_->close();
        ReleaseDoorbell();
        throw Napi::Error::New(env, error);  // names the path and the cause
      }
    }
    responder_ = std::make_unique<smc::Responder>(std::move(ep), std::move(made.handler));
    data_ = env.GetInstanceData<AddonData>();
    data_->live.insert(this);
  }

  ~NativeChannel() override {
    Shutdown();
    if (data_) data_->live.erase(this);
  }

  // Stops the thread and lets go of the TSFN and the SAB. Safe to call repeatedly.
  void Shutdown() {
    if (responder_) {
      responder_->stop();  // closes the endpoint: the thread wakes and is joined
    }
    ReleaseDoorbell();
    if (!view_.IsEmpty() && !(data_ && data_->tearing_down)) view_.Reset();
  }

  // Lets go of the TSFN (its finalizer deletes doorbell_). During environment teardown
  // Node closes TSFNs itself, so it is not released twice.
  void ReleaseDoorbell() {
    if (!doorbell_) return;
    doorbell_calls_ = doorbell_->calls.load();
    if (!data_ || !data_->tearing_down) doorbell_->tsfn.Release();
    doorbell_ = nullptr;
  }

 private:
  // wake(word): JS produced into a parked native consumer (word = R2N consumer_wake_seq)
  // or released space to a parked native producer (word = N2R producer_wake_seq): one
  // futex wake on that word. JS calls it only when the matching parked word was set, after
  // bumping the word (docs/protocol.md 5.2).
  Napi::Value Wake(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!responder_) return env.Undefined();
    const auto& region = responder_->endpoint().region();
    const uint32_t* data_word = region.ring(smc::Dir::r2n).consumer_wake_seq.address();
    const uint32_t* space_word = region.ring(smc::Dir::n2r).producer_wake_seq.address();
    const auto index_of = [&](const uint32_t* w) {
      return static_cast<double>(reinterpret_cast<const std::byte*>(w) - region.memory().data()) /
             4;
    };
    const double word = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (word == index_of(data_word)) {
      smc::wake_all(data_word);
    } else if (word == index_of(space_word)) {
      smc::wake_all(space_word);
    } else {
      throw Napi::RangeError::New(
          env, "wake(word): word must be the Int32 index of R2N consumer_wake_seq (" +
                   std::to_string(static_cast<int>(index_of(data_word))) +
                   ") or N2R producer_wake_seq (" +
                   std::to_string(static_cast<int>(index_of(space_word))) + "), not " +
                   describe(info[0]));
    }
    wakes_ += 1;
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!responder_) return o;
    smc::Endpoint& ep = responder_->endpoint();
    const smc::EndpointStats s = ep.stats();
    o.Set("messagesSent", static_cast<double>(s.messages_sent));
    o.Set("bytesSent", static_cast<double>(s.bytes_sent));
    o.Set("messagesReceived", static_cast<double>(s.messages_received));
    o.Set("bytesReceived", static_cast<double>(s.bytes_received));
    o.Set("doorbellsRung", static_cast<double>(s.doorbells_rung));
    o.Set("doorbellQueued", doorbell_ != nullptr && doorbell_->queued.load());
    o.Set("doorbellCalls",
          static_cast<double>(doorbell_ ? doorbell_->calls.load() : doorbell_calls_));
    o.Set("parks", static_cast<double>(s.parks));
    o.Set("wakesFromJs", static_cast<double>(wakes_));
    // SYNC: sink-totals (partner: the sink's release store of `messages`): loaded first, so
    // the bytes and checksum below cover at least that many messages.
    o.Set("sinkMessages", static_cast<double>(totals_->messages.load(std::memory_order_acquire)));
    o.Set("sinkBytes", static_cast<double>(totals_->bytes.load()));
    o.Set("sinkChecksum", static_cast<double>(totals_->checksum.load()));
    o.Set("running", responder_->running());
    o.Set("exitStatus", smc::to_string(responder_->exit_status()));
    o.Set("failure", smc::to_string(ep.failure()));
    if (plugin_ || isolated_) {
      const smc::PluginStats ps = plugin_ ? plugin_->stats() : isolated_->stats();
      o.Set("pluginLoaded", ps.loaded);
      o.Set("pluginPath", ps.path);
      o.Set("pluginName", ps.name);
      o.Set("pluginVersion", ps.version);
      o.Set("pluginFailed", ps.failed);
      o.Set("pluginFailure", ps.failure);
      o.Set("pluginDelivered", static_cast<double>(ps.delivered));
      o.Set("pluginDropped", static_cast<double>(ps.dropped));
      o.Set("pluginTicks", static_cast<double>(ps.ticks));
      o.Set("pluginSent", static_cast<double>(ps.sent));
      o.Set("pluginSendErrors", static_cast<double>(ps.send_errors));
      o.Set("pluginLoads", static_cast<double>(ps.loads));
      o.Set("pluginUnloads", static_cast<double>(ps.unloads));
    }
    if (isolated_) {
      // Why the isolated plugin failed the channel (empty reason: it did not).
      const smc::IsolateFailure f = isolated_->failure();
      o.Set("isolated", true);
      o.Set("pluginPid", static_cast<double>(isolated_->child_pid()));
      o.Set("isolateReason", f.reason);
      o.Set("isolateMessage", f.message);
      o.Set("isolateSignal", f.signal);
      o.Set("isolateSignalName", f.signal_name);
      o.Set("isolateExitCode", f.exit_code);
      o.Set("isolatePid", static_cast<double>(f.pid));
    }
    return o;
  }

  // loadPlugin(path, configJson = "{}"): replaces the loaded plugin (handler 'plugin' only).
  // Throws an Error naming the path when loading fails; the slot is then empty.
  Napi::Value LoadPlugin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) {
      throw Napi::TypeError::New(
          env, "loadPlugin(path, configJson): path must be a string, not " + describe(info[0]));
    }
    std::string config = "{}";
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsString()) {
        throw Napi::TypeError::New(
            env,
            "loadPlugin(path, configJson): configJson must be a string, not " + describe(info[1]));
      }
      config = info[1].As<Napi::String>().Utf8Value();
    }
    if (isolated_) {
      std::string error;
      if (!isolated_->load(info[0].As<Napi::String>().Utf8Value(), config, &error)) {
        throw Napi::Error::New(env, error);
      }
      return env.Undefined();
    }
    if (!plugin_) {
      throw Napi::Error::New(env,
                             "loadPlugin(): this channel's native handler is not 'plugin' "
                             "(create the channel with handler 'plugin')");
    }
    std::string error;
    if (!plugin_->load(info[0].As<Napi::String>().Utf8Value(), config, &error)) {
      throw Napi::Error::New(env, error);
    }
    return env.Undefined();
  }

  // unloadPlugin(): true if a plugin was loaded. Messages are then dropped and counted.
  Napi::Value UnloadPlugin(const Napi::CallbackInfo& info) {
    if (isolated_) return Napi::Boolean::New(info.Env(), isolated_->unload());
    return Napi::Boolean::New(info.Env(), plugin_ && plugin_->unload());
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (doorbell_) doorbell_->tsfn.Ref(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (doorbell_) doorbell_->tsfn.Unref(info.Env());
    return info.Env().Undefined();
  }
  // rearmDoorbell(): see DoorbellContext::rearm.
  Napi::Value RearmDoorbell(const Napi::CallbackInfo& info) {
    if (doorbell_) doorbell_->rearm();
    return info.Env().Undefined();
  }
  // loseNextDoorbellCall(): fault injection for the tests of rearmDoorbell().
  Napi::Value LoseNextDoorbellCall(const Napi::CallbackInfo& info) {
    if (doorbell_) doorbell_->lose_next.store(true, std::memory_order_relaxed);
    return info.Env().Undefined();
  }

  static bool GetBool(Napi::Object o, const char* key, bool def) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return def;
    if (!v.IsBoolean()) {
      throw Napi::TypeError::New(
          o.Env(), std::string("options.") + key + " must be a boolean, not " + describe(v));
    }
    return v.As<Napi::Boolean>().Value();
  }
  static uint32_t GetU32(Napi::Object o, const char* key, uint32_t def, uint32_t min = 0,
                         uint32_t max = UINT32_MAX) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return def;
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!v.IsNumber() || d != static_cast<double>(static_cast<uint64_t>(d < 0 ? 0 : d)) ||
        d < min || d > max) {
      throw Napi::RangeError::New(
          o.Env(), std::string("options.") + key + " must be an integer in [" +
                       std::to_string(min) + ", " + std::to_string(max) + "], not " + describe(v));
    }
    return static_cast<uint32_t>(d);
  }
  static std::string GetString(Napi::Object o, const char* key, const char* def) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return def;
    if (!v.IsString()) {
      throw Napi::TypeError::New(
          o.Env(), std::string("options.") + key + " must be a string, not " + describe(v));
    }
    return v.As<Napi::String>().Utf8Value();
  }

  Napi::Reference<Napi::Uint8Array> view_;
  DoorbellContext* doorbell_ = nullptr;  // owned by its TSFN (finalize_doorbell)
  uint64_t doorbell_calls_ = 0;
  std::unique_ptr<smc::Responder> responder_;
  std::shared_ptr<smc::SinkTotals> totals_;
  std::shared_ptr<smc::PluginSlot> plugin_;            // handler 'plugin' only
  std::shared_ptr<smc::IsolatedPluginSlot> isolated_;  // handler 'plugin' with isolate
  AddonData* data_ = nullptr;
  uint64_t wakes_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  // Environment teardown (process exit, worker exit, page reload): stop every channel's
  // thread before Node frees anything it could touch.
  env.AddCleanupHook([data]() {
    data->tearing_down = true;
    for (NativeChannel* ch : data->live) ch->Shutdown();
  });
  exports.Set("NativeChannel", NativeChannel::Init(env));
  exports.Set("protocolVersion", Napi::Number::New(env, smc::kVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(smc, Init)
