// Example plugin "image-filter": receives a BPG `IM` frame and replies with a processed frame
// of the same size, in the same group and with the same target id (docs/plugins.md).
//
// Request metadata (JSON): width, height, channels (1, 3 or 4; default 4), filter
// ("grayscale", "invert" or "blur") and, for blur, radius (1..32, default 1). The binary is
// width*height*channels bytes, row-major. The reply has tag IM, the end-of-group bit, the
// request's metadata unchanged and the filtered pixels:
//   grayscale  Y = (77 R + 150 G + 29 B + 128) >> 8 into R, G and B; alpha kept;
//              one channel: unchanged
//   invert     255 - v for the colour channels; alpha (4th channel) kept
//   blur       box blur over every channel (alpha too): the mean of the (2r+1)^2 window
//              clipped to the image, rounded to nearest ((sum + count/2) / count)
// A request that is not a valid IM frame gets an `ER` packet (same group and target id)
// whose metadata is {"error": "..."}.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "plugin_util.hpp"
#include "smc/bpg.hpp"

namespace {

namespace bpg = smc::bpg;

enum class Filter { grayscale, invert, blur };

void apply(Filter f, const uint8_t* in, uint8_t* out, uint32_t w, uint32_t h, uint32_t c,
           uint32_t radius, std::vector<uint32_t>* scratch) {
  const size_t n = size_t{w} * h;
  const uint32_t colour = c == 4 ? 3 : c;
  switch (f) {
    case Filter::grayscale:
      if (c < 3) {
        std::copy(in, in + n * c, out);
        return;
      }
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = in + i * c;
        const auto y = static_cast<uint8_t>((77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8);
        uint8_t* q = out + i * c;
        q[0] = q[1] = q[2] = y;
        if (c == 4) q[3] = p[3];
      }
      return;
    case Filter::invert:
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t k = 0; k < c; ++k) {
          out[i * c + k] = k < colour ? static_cast<uint8_t>(255 - in[i * c + k]) : in[i * c + k];
        }
      }
      return;
    case Filter::blur: {
      // Horizontal window sums, then vertical sums of those: exact integer window sums.
      scratch->assign(n * c, 0);
      uint32_t* hs = scratch->data();
      const auto r = static_cast<int64_t>(radius);
      for (uint32_t y = 0; y < h; ++y) {
        for (uint32_t x = 0; x < w; ++x) {
          const int64_t x0 = std::max<int64_t>(0, x - r), x1 = std::min<int64_t>(w - 1, x + r);
          for (uint32_t k = 0; k < c; ++k) {
            uint32_t s = 0;
            for (int64_t xx = x0; xx <= x1; ++xx) s += in[(size_t{y} * w + xx) * c + k];
            hs[(size_t{y} * w + x) * c + k] = s;
          }
        }
      }
      for (uint32_t y = 0; y < h; ++y) {
        const int64_t y0 = std::max<int64_t>(0, y - r), y1 = std::min<int64_t>(h - 1, y + r);
        for (uint32_t x = 0; x < w; ++x) {
          const int64_t x0 = std::max<int64_t>(0, x - r), x1 = std::min<int64_t>(w - 1, x + r);
          const auto count = static_cast<uint32_t>((y1 - y0 + 1) * (x1 - x0 + 1));
          for (uint32_t k = 0; k < c; ++k) {
            uint32_t s = 0;
            for (int64_t yy = y0; yy <= y1; ++yy) s += hs[(size_t(yy) * w + x) * c + k];
            out[(size_t{y} * w + x) * c + k] = static_cast<uint8_t>((s + count / 2) / count);
          }
        }
      }
      return;
    }
  }
}

class ImageFilter {
 public:
  static constexpr const char* kName = "image-filter";
  static constexpr const char* kVersion = "1.0.0";

  // No settings: the config only has to be a JSON object.
  static std::unique_ptr<ImageFilter> create(const smc_host* host, const char* config_json,
                                             std::string* error) {
    if (!smc_plugin::parse_config(config_json, error)) return nullptr;
    return std::make_unique<ImageFilter>(host);
  }
  explicit ImageFilter(const smc_host* host) : host_(host) {}

  void on_message(const uint8_t* data, size_t len) {
    auto d = bpg::decode_one({data, len});
    if (!d.ok()) return reply_error(0, 0, "not a BPG packet: " + d.error().message);
    const bpg::PacketView& in = d.value().packet;
    if (in.tag != bpg::kTagImage) {
      return reply_error(in.group_id, in.target_id,
                         std::string("expected an IM packet, got '") + in.tag[0] + in.tag[1] + "'");
    }
    std::string e;
    auto meta = smc_plugin::FlatJsonParser::parse(in.metadata, &e);
    if (!meta) return reply_error(in.group_id, in.target_id, "metadata is not a JSON object: " + e);
    uint64_t w, h, c, radius;
    if (!smc_plugin::get_uint(*meta, "metadata", "width", 0, 1, 1u << 16, &w, &e) ||
        !smc_plugin::get_uint(*meta, "metadata", "height", 0, 1, 1u << 16, &h, &e) ||
        !smc_plugin::get_uint(*meta, "metadata", "channels", 4, 1, 4, &c, &e) ||
        !smc_plugin::get_uint(*meta, "metadata", "radius", 1, 1, 32, &radius, &e)) {
      return reply_error(in.group_id, in.target_id, e);
    }
    if (c == 2)
      return reply_error(in.group_id, in.target_id, "metadata.channels must be 1, 3 or 4");
    const std::string name = smc_plugin::get_string(*meta, "filter", "");
    Filter f;
    if (name == "grayscale") {
      f = Filter::grayscale;
    } else if (name == "invert") {
      f = Filter::invert;
    } else if (name == "blur") {
      f = Filter::blur;
    } else {
      return reply_error(in.group_id, in.target_id,
                         "metadata.filter must be \"grayscale\", \"invert\" or \"blur\", not " +
                             smc_plugin::json_quote(name));
    }
    const uint64_t expected = w * h * c;
    if (in.binary.size() != expected) {
      return reply_error(in.group_id, in.target_id,
                         "binary has " + std::to_string(in.binary.size()) + " bytes, expected " +
                             std::to_string(w) + "*" + std::to_string(h) + "*" + std::to_string(c) +
                             " = " + std::to_string(expected));
    }

    const size_t total = bpg::kHeaderSize + in.metadata.size() + in.binary.size();
    const size_t binary_at = bpg::kHeaderSize + in.metadata.size();
    smc_plugin::OutgoingMessage out(host_, &out_);
    uint8_t* dst = out.begin(total, SMC_WAIT_FOREVER, nullptr);
    if (!dst) return;  // closed or unloading
    // The request's pixels stay valid during this call (they are in the JS -> native ring).
    apply(f, in.binary.data(), dst + binary_at, static_cast<uint32_t>(w), static_cast<uint32_t>(h),
          static_cast<uint32_t>(c), static_cast<uint32_t>(radius), &scratch_);
    const bpg::PacketView reply{bpg::kTagImage,
                                true,
                                bpg::kVersion,
                                in.target_id,
                                in.group_id,
                                in.metadata,
                                {dst + binary_at, in.binary.size()}};
    auto r = bpg::encode_into(reply, {dst, total});
    if (!r.ok()) {  // cannot happen: the request had the same sizes and valid metadata
      out.abort();
      return reply_error(in.group_id, in.target_id, r.error().message);
    }
    out.send();
  }

 private:
  void reply_error(uint32_t group, uint32_t target, const std::string& message) {
    const std::string meta = "{\"error\":" + smc_plugin::json_quote(message) + "}";
    const bpg::PacketView p{bpg::kTagError, true, bpg::kVersion, target, group, meta, {}};
    auto bytes = bpg::encode(p);
    if (bytes.ok())
      host_->send(host_, bytes.value().data(), bytes.value().size(), SMC_WAIT_FOREVER);
  }

  const smc_host* host_;
  std::vector<uint8_t> out_;
  std::vector<uint32_t> scratch_;
};

}  // namespace

SMC_PLUGIN_CLASS(ImageFilter)
