// Example plugin "echo": replies to every message with the same bytes (docs/plugins.md).
// Config: none ("{}").
#include <memory>

#include "plugin_util.hpp"

namespace {

class Echo {
 public:
  static constexpr const char* kName = "echo";
  static constexpr const char* kVersion = "1.0.0";

  static std::unique_ptr<Echo> create(const smc_host* host, const char*, std::string*) {
    return std::make_unique<Echo>(host);
  }
  explicit Echo(const smc_host* host) : host_(host) {}

  void on_message(const uint8_t* data, size_t len) {
    // From on_message the host batches: the reply is published with the batch.
    host_->send(host_, data, len, SMC_WAIT_FOREVER);
  }

 private:
  const smc_host* host_;
};

}  // namespace

SMC_PLUGIN_CLASS(Echo)
