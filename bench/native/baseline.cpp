// Baselines and limits for `npm run bench` (bench/run.mjs): what a user would build
// instead of SharedMemoryChannel, written the straightforward way with node-addon-api,
// plus bare-metal limits. Not part of the product; built only with SMC_BUILD_BENCH.
//
//   tsfnFlood(count, size, cb) -> Promise     native thread -> JS: one TSFN call per
//                                              message carrying a `size`-byte Buffer
//   new MutexQueue()                           JS -> native: push(u8) copies into a
//     .push(u8) .drained() .close()            mutex-protected deque; a native thread
//                                              drains it (condvar wake when it was empty)
//   new TsfnPinger(cb) .ping() .close()        round trip: JS calls ping(), a native
//                                              thread sleeping on a condvar wakes and
//                                              replies through a TSFN (cb)
//   new SpinPartner(u8) .stop()                bare spin ping-pong over a SAB: the native
//                                              thread copies word 0 to word 32 (other line)
//   new SpinPartner(u8, recordBytes)           the same ping-pong carrying a record: before
//                                              storing word 0 = v, JS writes recordBytes at
//                                              byte 4096 + slot(v) of the ping area; the native
//                                              thread copies them to the same place of the pong
//                                              area (4096 + 64 KiB) before storing word 32 = v.
//                                              slot(v) = (v % 910) * 72: records advance through
//                                              64 KiB as a channel's 64 B records (+ 8 B header)
//                                              do through its 64 KiB rings. No framing, no checks
//   new SpinPartner(u8, recordBytes, true)     the record ping-pong with no index word: each
//                                              record's first 4 bytes are its sequence number v,
//                                              stored last (release); the reader spins on that
//                                              word at the slot it expects next, then copies
//                                              bytes 8 .. 8 + recordBytes (a channel record:
//                                              8 B header, then the payload). What a protocol
//                                              whose records carry their own publication costs
//   new SlotSink(u8, slots, size) .stop()      bare JS -> native hand-over over a SAB: JS
//     -> checksum                              copies a message into slot i % slots and
//                                              stores i + 1 to word 0; the native thread
//                                              sums the slot (smc::sum32, as the channel's
//                                              sink does) and stores i + 1 to word 32
//   memcpyBench(size, iters) -> seconds        memcpy of `size` bytes, `iters` times
#include <napi.h>

#include "smc/handler.hpp"  // smc::sum32, the sink's checksum

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_PAUSE() _mm_pause()
#else
#define BENCH_PAUSE() ((void)0)
#endif

namespace {

// ---- TSFN flood -----------------------------------------------------------------------
struct FloodCtx {
  explicit FloodCtx(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  uint64_t count = 0;
  uint32_t size = 64;
  std::thread thread;
};
struct FloodMsg {
  std::vector<uint8_t> bytes;
};
void flood_call_js(Napi::Env env, Napi::Function cb, FloodCtx* ctx, FloodMsg* msg) {
  if (env != nullptr && !cb.IsEmpty()) {
    cb.Call({Napi::Buffer<uint8_t>::Copy(env, msg->bytes.data(), ctx->size)});
  }
  delete msg;
}
using FloodTsfn = Napi::TypedThreadSafeFunction<FloodCtx, FloodMsg, flood_call_js>;

Napi::Value TsfnFlood(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ctx = new FloodCtx(env);
  ctx->count = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  ctx->size = info[1].As<Napi::Number>().Uint32Value();
  Napi::Promise promise = ctx->deferred.Promise();
  FloodTsfn tsfn = FloodTsfn::New(env, info[2].As<Napi::Function>(), "bench-flood", 4096, 1, ctx,
                                  [](Napi::Env e, void*, FloodCtx* c) {
                                    c->thread.join();
                                    c->deferred.Resolve(e.Undefined());
                                    delete c;
                                  });
  ctx->thread = std::thread([tsfn, ctx]() mutable {
    for (uint64_t i = 0; i < ctx->count; ++i) {
      auto* m = new FloodMsg{std::vector<uint8_t>(ctx->size, static_cast<uint8_t>(i))};
      if (tsfn.BlockingCall(m) != napi_ok) {
        delete m;
        break;
      }
    }
    tsfn.Release();
  });
  return promise;
}

// ---- mutex queue + drain thread -----------------------------------------------------------
class MutexQueue : public Napi::ObjectWrap<MutexQueue> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "MutexQueue",
        {InstanceMethod<&MutexQueue::Push>("push"), InstanceMethod<&MutexQueue::Drained>("drained"),
         InstanceMethod<&MutexQueue::Close>("close")});
  }
  explicit MutexQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MutexQueue>(info) {
    thread_ = std::thread([this] { Run(); });
  }
  ~MutexQueue() override { Stop(); }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    auto u8 = info[0].As<Napi::Uint8Array>();
    const uint8_t* p = u8.Data();
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_empty = q_.empty();
      q_.emplace_back(p, p + u8.ByteLength());
    }
    if (was_empty) cv_.notify_one();
    return info.Env().Undefined();
  }
  Napi::Value Drained(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(drained_.load()));
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    std::deque<std::vector<uint8_t>> batch;
    uint64_t n = 0, sum = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !q_.empty(); });
        if (q_.empty() && stop_) break;
        batch.swap(q_);
      }
      for (auto& m : batch) {
        sum += m.empty() ? 0 : m[0];  // the receiver touches its data
        ++n;
      }
      batch.clear();
      drained_.store(n, std::memory_order_relaxed);
    }
    sink_ = sum;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<uint8_t>> q_;
  bool stop_ = false;
  std::atomic<uint64_t> drained_{0};
  uint64_t sink_ = 0;
  std::thread thread_;
};

// ---- TSFN round trip, native thread sleeping on a condvar -----------------------------------
struct PingCtx {};
void ping_call_js(Napi::Env env, Napi::Function cb, PingCtx*, void*) {
  if (env != nullptr && !cb.IsEmpty()) cb.Call({});
}
using PingTsfn = Napi::TypedThreadSafeFunction<PingCtx, void, ping_call_js>;

class TsfnPinger : public Napi::ObjectWrap<TsfnPinger> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "TsfnPinger",
        {InstanceMethod<&TsfnPinger::Ping>("ping"), InstanceMethod<&TsfnPinger::Close>("close")});
  }
  explicit TsfnPinger(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TsfnPinger>(info) {
    tsfn_ = PingTsfn::New(info.Env(), info[0].As<Napi::Function>(), "bench-ping", 0, 1, &ctx_);
    thread_ = std::thread([this] { Run(); });
  }
  ~TsfnPinger() override { Stop(); }

 private:
  Napi::Value Ping(const Napi::CallbackInfo& info) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
    }
    cv_.notify_one();
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    tsfn_.Release();
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || pending_; });
      if (stop_) return;
      pending_ = false;
      tsfn_.NonBlockingCall();
    }
  }
  PingCtx ctx_;
  PingTsfn tsfn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// ---- bare spin ping-pong over a SAB ----------------------------------------------------------
class SpinPartner : public Napi::ObjectWrap<SpinPartner> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SpinPartner", {InstanceMethod<&SpinPartner::Stop>("stop")});
  }
  explicit SpinPartner(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SpinPartner>(info) {
    // A Uint8Array over the SAB (Data() returns the shared pointer; platform notes).
    auto view = info[0].As<Napi::Uint8Array>();
    if (info.Length() > 1) record_ = info[1].As<Napi::Number>().Uint32Value();
    stamped_ = info.Length() > 2 && info[2].ToBoolean().Value();
    const uint64_t need = record_ == 0 ? 256 : kPingArea + 2 * uint64_t{kArea};
    if (record_ > kStride - (stamped_ ? 8 : 0) || view.ByteLength() < need) {
      throw Napi::RangeError::New(info.Env(),
                                  "SpinPartner: need >= 256 bytes (record mode: "
                                  "record <= 72 bytes, 4096 + 128 KiB bytes)");
    }
    ref_ = Napi::Persistent(view);
    words_ = reinterpret_cast<uint32_t*>(view.Data());
    thread_ = std::thread([this] { Run(); });
  }
  ~SpinPartner() override { Join(); }

  static constexpr uint32_t kPingArea = 4096;
  static constexpr uint32_t kArea = 64 * 1024;
  static constexpr uint32_t kStride = 72;
  static constexpr uint32_t kSlots = kArea / kStride;  // 910

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Join();
    return info.Env().Undefined();
  }
  void Join() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    if (stamped_) return RunStamped();
    std::atomic_ref<uint32_t> in(words_[0]);
    std::atomic_ref<uint32_t> out(words_[32]);  // 128 bytes away: its own line pair
    uint32_t last =
        out.load(std::memory_order_relaxed);  // copy whatever differs, even if JS stored first
    while (!stop_.load(std::memory_order_relaxed)) {
      // SYNC: spin-ping (partner: JS's Atomics.store of word 0, after its record write).
      const uint32_t v = in.load(std::memory_order_acquire);
      if (v != last) {
        last = v;
        if (record_ != 0) {
          auto* base = reinterpret_cast<unsigned char*>(words_);
          const uint32_t at = (v % kSlots) * kStride;
          std::memcpy(base + kPingArea + kArea + at, base + kPingArea + at, record_);
        }
        // SYNC: spin-pong (partner: JS's Atomics.load of word 32, then its record read).
        out.store(v, std::memory_order_release);
      } else {
        BENCH_PAUSE();
      }
    }
  }
  // Sequence numbers start at 1; the record of v sits at slot(v) of each area.
  void RunStamped() {
    auto* base = reinterpret_cast<unsigned char*>(words_);
    for (uint32_t v = 1; !stop_.load(std::memory_order_relaxed); ++v) {
      const uint32_t at = (v % kSlots) * kStride;
      std::atomic_ref<uint32_t> in(words_[(kPingArea + at) / 4]);
      // SYNC: stamped-ping (partner: JS's Atomics.store of the record's stamp, after its bytes).
      while (in.load(std::memory_order_acquire) != v) {
        if (stop_.load(std::memory_order_relaxed)) return;
        BENCH_PAUSE();
      }
      std::memcpy(base + kPingArea + kArea + at + 8, base + kPingArea + at + 8, record_);
      // SYNC: stamped-pong (partner: JS's Atomics.load of the reply's stamp, then its bytes).
      std::atomic_ref<uint32_t>(words_[(kPingArea + kArea + at) / 4])
          .store(v, std::memory_order_release);
    }
  }
  Napi::Reference<Napi::Uint8Array> ref_;
  uint32_t* words_ = nullptr;
  bool stamped_ = false;
  uint32_t record_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- bare JS -> native hand-over over a SAB ---------------------------------------------------
// The reference for the channel's JS -> native large-message figure: the same copy in
// (JS u8.set into the SAB) and the same read out (sum32 of every byte), with nothing but
// two counters between them. Slots start at byte 4096.
class SlotSink : public Napi::ObjectWrap<SlotSink> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SlotSink", {InstanceMethod<&SlotSink::Stop>("stop")});
  }
  explicit SlotSink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SlotSink>(info) {
    auto view = info[0].As<Napi::Uint8Array>();
    slots_ = info[1].As<Napi::Number>().Uint32Value();
    size_ = info[2].As<Napi::Number>().Uint32Value();
    if (slots_ == 0 || view.ByteLength() < 4096 + uint64_t{slots_} * size_) {
      throw Napi::RangeError::New(info.Env(),
                                  "SlotSink: the view must hold 4096 + slots * size bytes");
    }
    if (reinterpret_cast<uintptr_t>(view.Data()) % 4 != 0) {
      throw Napi::RangeError::New(info.Env(), "SlotSink: the view must start 4-byte aligned");
    }
    ref_ = Napi::Persistent(view);
    base_ = view.Data();
    thread_ = std::thread([this] { Run(); });
  }
  ~SlotSink() override { Join(); }

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Join();
    return Napi::Number::New(info.Env(), checksum_);
  }
  void Join() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    std::atomic_ref<uint32_t> written(*reinterpret_cast<uint32_t*>(base_));
    std::atomic_ref<uint32_t> consumed(*reinterpret_cast<uint32_t*>(base_ + 128));
    uint32_t next = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      // SYNC: slot-written (partner: JS's Atomics.store of word 0 after u8.set).
      if (written.load(std::memory_order_acquire) == next) {
        BENCH_PAUSE();
        continue;
      }
      const std::byte* slot =
          reinterpret_cast<const std::byte*>(base_) + 4096 + uint64_t{next % slots_} * size_;
      checksum_ += smc::sum32({slot, size_});
      ++next;
      // SYNC: slot-consumed (partner: JS's Atomics.load of word 32 before reusing a slot).
      consumed.store(next, std::memory_order_release);
    }
  }
  Napi::Reference<Napi::Uint8Array> ref_;
  uint8_t* base_ = nullptr;
  uint32_t slots_ = 0, size_ = 0;
  uint32_t checksum_ = 0;  // read by Stop() after the join
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- memcpy -------------------------------------------------------------------------------
Napi::Value MemcpyBench(const Napi::CallbackInfo& info) {
  const size_t size = info[0].As<Napi::Number>().Uint32Value();
  const uint32_t iters = info[1].As<Napi::Number>().Uint32Value();
  std::vector<uint8_t> src(size, 1), dst(size, 0);
  for (int w = 0; w < 4; ++w) std::memcpy(dst.data(), src.data(), size);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < iters; ++i) {
    src[i % size] = static_cast<uint8_t>(i);
    std::memcpy(dst.data(), src.data(), size);
    asm volatile("" : : "r"(dst.data()) : "memory");
  }
  const auto t1 = std::chrono::steady_clock::now();
  return Napi::Number::New(info.Env(), std::chrono::duration<double>(t1 - t0).count());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("tsfnFlood", Napi::Function::New<TsfnFlood>(env, "tsfnFlood"));
  exports.Set("memcpyBench", Napi::Function::New<MemcpyBench>(env, "memcpyBench"));
  exports.Set("MutexQueue", MutexQueue::Init(env));
  exports.Set("TsfnPinger", TsfnPinger::Init(env));
  exports.Set("SpinPartner", SpinPartner::Init(env));
  exports.Set("SlotSink", SlotSink::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(smc_bench_baseline, Init)
