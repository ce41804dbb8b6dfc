// smc/platform/process.hpp where out-of-process plugins are not ported yet (Windows,
// macOS): every entry point refuses with one message, so `isolate` fails clearly at load.
#include "smc/platform/process.hpp"
#include "smc/wait.hpp"

namespace smc::platform {

namespace {
constexpr const char* kWhy = "isolate is not supported on this platform yet (Linux only)";
}

bool isolation_supported(std::string* why) {
  if (why) *why = kWhy;
  return false;
}

bool create_shared_memory(size_t, const char*, SharedMemory*, std::string* error) {
  if (error) *error = kWhy;
  return false;
}

bool map_shared_memory(intptr_t, SharedMemory*, std::string* error) {
  if (error) *error = kWhy;
  return false;
}

void close_shared_memory(SharedMemory* m) {
  *m = SharedMemory{};
}

// Never reached across processes here (nothing can be mapped): the in-process primitive.
void park_on_shared(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  park_on(word, expected, timeout);
}

void wake_all_shared(const uint32_t* word) {
  wake_all(word);
}

std::string signal_name(int) {
  return {};
}

std::string describe(ExitStatus s) {
  return (s.signaled ? "killed by signal " : "exited with code ") + std::to_string(s.value);
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::string&,
                                                  const std::vector<std::string>&, intptr_t,
                                                  intptr_t, std::string* error) {
  if (error) *error = kWhy;
  return nullptr;
}

std::optional<ExitStatus> ChildProcess::wait_exit(std::chrono::milliseconds) {
  return status_;
}

void ChildProcess::kill() {}

ChildProcess::~ChildProcess() = default;

int64_t current_process_id() {
  return 0;
}

bool bind_lifetime_to_parent(int64_t) {
  return false;
}

}  // namespace smc::platform
