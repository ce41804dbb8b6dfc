// Example plugin "image-source": streams synthetic RGBA frames from a thread of its own,
// each as one BPG `IM` packet (docs/plugins.md, docs/bpg.md).
//
// Config (all optional): { "width": 640, "height": 480, "fps": 30, "frames": 0 (0 = no
// limit), "targetId": 0, "timeoutMs": 2 frame periods (at least 100) }.
//
// Packet: tag IM, end of group, target id = config.targetId, group id = frame number mod
// 2^32, metadata {"width","height","channels":4,"format":"rgba8","frame","timestamp"}
// (timestamp: ms since the Unix epoch, fractional), binary = width*height*4 bytes, row-major
// RGBA. Pixel (x, y) of frame n: R = (x + 3n) & 255, G = (y + 2n) & 255,
// B = (x + y + n) & 255, A = 255, so consecutive frames differ everywhere.
//
// A frame that fits one ring record is rendered straight into the ring (reserve/commit)
// and the BPG header is encoded around it; a larger frame is rendered into a buffer and
// sent with the copying, fragmenting send(). A frame that finds no room within timeoutMs
// is dropped (counted, logged every 100 drops): a live source does not queue.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "plugin_util.hpp"
#include "smc/bpg.hpp"

namespace {

namespace bpg = smc::bpg;
using Clock = std::chrono::steady_clock;

struct Config {
  uint32_t width = 640, height = 480, fps = 30, target_id = 0, timeout_ms = 0;
  uint64_t frames = 0;
};

void render(uint8_t* px, uint32_t w, uint32_t h, uint64_t n) {
  const auto n8 = static_cast<uint32_t>(n & 0xFF);
  for (uint32_t y = 0; y < h; ++y) {
    uint8_t* row = px + size_t{y} * w * 4;
    const auto g = static_cast<uint8_t>(y + 2 * n8);
    for (uint32_t x = 0; x < w; ++x) {
      row[4 * x + 0] = static_cast<uint8_t>(x + 3 * n8);
      row[4 * x + 1] = g;
      row[4 * x + 2] = static_cast<uint8_t>(x + y + n8);
      row[4 * x + 3] = 255;
    }
  }
}

class Source {
 public:
  static constexpr const char* kName = "image-source";
  static constexpr const char* kVersion = "1.0.0";

  static std::unique_ptr<Source> create(const smc_host* host, const char* config_json,
                                        std::string* error) {
    auto cfg = smc_plugin::parse_config(config_json, error);
    if (!cfg) return nullptr;
    Config c;
    uint64_t w, h, fps, frames, target, timeout;
    if (!smc_plugin::get_uint(*cfg, "config", "width", 640, 1, 16384, &w, error) ||
        !smc_plugin::get_uint(*cfg, "config", "height", 480, 1, 16384, &h, error) ||
        !smc_plugin::get_uint(*cfg, "config", "fps", 30, 1, 1000, &fps, error) ||
        !smc_plugin::get_uint(*cfg, "config", "frames", 0, 0, UINT64_MAX >> 12, &frames, error) ||
        !smc_plugin::get_uint(*cfg, "config", "targetId", 0, 0, UINT32_MAX, &target, error) ||
        !smc_plugin::get_uint(*cfg, "config", "timeoutMs", 0, 0, 600'000, &timeout, error)) {
      return nullptr;
    }
    c.width = static_cast<uint32_t>(w);
    c.height = static_cast<uint32_t>(h);
    c.fps = static_cast<uint32_t>(fps);
    c.frames = frames;
    c.target_id = static_cast<uint32_t>(target);
    c.timeout_ms =
        timeout != 0 ? static_cast<uint32_t>(timeout) : std::max<uint32_t>(100, 2000 / c.fps);
    return std::make_unique<Source>(host, c);
  }

  Source(const smc_host* host, Config c) : host_(host), cfg_(c) {
    thread_ = std::thread([this] { run(); });
  }
  ~Source() {
    {
      std::lock_guard g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();  // rule 4: our thread ends before destroy returns
  }

  void on_message(const uint8_t*, size_t) {
    // A source ignores what the JS side sends.
  }

 private:
  void log(int level, const std::string& m) { host_->log(host_, level, m.c_str()); }

  void run() {
    const auto period = std::chrono::nanoseconds(1'000'000'000 / cfg_.fps);
    auto next = Clock::now();
    for (uint64_t n = 0; cfg_.frames == 0 || n < cfg_.frames; ++n) {
      {
        std::unique_lock l(mu_);
        if (cv_.wait_until(l, next, [&] { return stop_; })) return;
      }
      const int32_t st = send_frame(n);
      if (st == SMC_ERR_STOPPING || st == SMC_ERR_CLOSED || st == SMC_ERR_FAILED) return;
      if (st != SMC_OK && ++dropped_ % 100 == 1) {
        log(SMC_LOG_WARN, "frame " + std::to_string(n) + " dropped (status " + std::to_string(st) +
                              "), " + std::to_string(dropped_) + " so far");
      }
      next += period;
      const auto now = Clock::now();
      if (next + period < now) next = now;  // fell behind: do not burst to catch up
    }
  }

  int32_t send_frame(uint64_t n) {
    const double ts = std::chrono::duration<double, std::milli>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    char meta[256];
    const int m = std::snprintf(meta, sizeof meta,
                                "{\"width\":%u,\"height\":%u,\"channels\":4,\"format\":\"rgba8\","
                                "\"frame\":%llu,\"timestamp\":%.3f}",
                                cfg_.width, cfg_.height, static_cast<unsigned long long>(n), ts);
    const std::string_view metadata(meta, static_cast<size_t>(m));
    const size_t pixels = size_t{cfg_.width} * cfg_.height * 4;
    const size_t total = bpg::kHeaderSize + metadata.size() + pixels;
    const size_t binary_at = bpg::kHeaderSize + metadata.size();

    smc_plugin::OutgoingMessage out(host_, &buffer_);
    int32_t st = SMC_OK;
    uint8_t* dst = out.begin(total, cfg_.timeout_ms, &st);
    if (!dst) return st;
    render(dst + binary_at, cfg_.width, cfg_.height, n);
    const bpg::PacketView p{bpg::kTagImage,
                            true,
                            bpg::kVersion,
                            cfg_.target_id,
                            static_cast<uint32_t>(n),
                            metadata,
                            {dst + binary_at, pixels}};
    auto r = bpg::encode_into(p, {dst, total});  // pixels are in place: header only
    if (!r.ok()) {
      out.abort();
      host_->fail(host_, ("cannot encode a frame: " + r.error().message).c_str());
      return SMC_ERR_FAILED;
    }
    return out.send();
  }

  const smc_host* host_;
  Config cfg_;
  std::vector<uint8_t> buffer_;
  uint64_t dropped_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

SMC_PLUGIN_CLASS(Source)
