// Example plugin "echo": replies to every message with the same bytes (docs/plugins.md).
// Config: none ("{}").
#include <new>

#include "smc/plugin.h"

namespace {

struct Echo {
  const smc_host* host;
};

void* create(const smc_host* host, const char*, char*, size_t) {
  return new (std::nothrow) Echo{host};
}

void on_message(void* instance, const uint8_t* data, size_t len) {
  const smc_host* h = static_cast<Echo*>(instance)->host;
  // From on_message the host batches: the reply is published with the batch.
  h->send(h, data, len, SMC_WAIT_FOREVER);
}

void destroy(void* instance) {
  delete static_cast<Echo*>(instance);
}

const smc_plugin_descriptor kDescriptor = {
    SMC_PLUGIN_ABI_VERSION,
    sizeof(smc_plugin_descriptor),
    "echo",
    "1.0.0",
    create,
    on_message,
    nullptr,
    0,
    destroy,
};

}  // namespace

extern "C" SMC_PLUGIN_EXPORT const smc_plugin_descriptor* smc_plugin_entry(void) {
  return &kDescriptor;
}
