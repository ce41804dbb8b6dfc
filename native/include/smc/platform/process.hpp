// The platform layer of out-of-process plugins (smc/isolated_plugin.hpp): a shared memory
// mapping a child process attaches to, park/wake on its words across processes, and a
// child process the parent can watch, kill and reap. Linux: memfd + mmap, process-shared
// futexes, posix_spawn + pidfd (native/src/platform/process_linux.cpp). Elsewhere every
// function reports "isolate is not supported on this platform yet"
// (process_unsupported.cpp) until a port follows (Windows: CreateFileMapping,
// WaitOnAddress cannot cross processes, so an event pair; CreateProcess with a job object).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smc::platform {

// False where the functions below are stubs; `why` then says so.
bool isolation_supported(std::string* why = nullptr);

// A mapping of shared memory, inheritable by a child through `handle` (a file descriptor).
struct SharedMemory {
  intptr_t handle = -1;
  std::byte* base = nullptr;
  size_t size = 0;
};
// Creates `size` zeroed bytes of anonymous shared memory named `name` (a debugging label).
bool create_shared_memory(size_t size, const char* name, SharedMemory* out, std::string* error);
// Maps the memory behind an inherited handle (its size is the object's size).
bool map_shared_memory(intptr_t handle, SharedMemory* out, std::string* error);
// Unmaps and closes; idempotent.
void close_shared_memory(SharedMemory* m);

// park_on / wake_all (smc/platform/wait.hpp) for words of a SharedMemory that threads of
// two processes wait on (process-shared futexes; the private ones cannot reach the peer).
void park_on_shared(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout);
void wake_all_shared(const uint32_t* word);

// How a child ended.
struct ExitStatus {
  bool signaled = false;  // killed by signal `value`; else exited with code `value`
  int value = 0;
};
// "killed by signal 11 (SIGSEGV)", "exited with code 3".
std::string describe(ExitStatus s);
// "SIGSEGV" (empty for an unknown number).
std::string signal_name(int signal);

// A child process. Only one thread at a time may call wait_exit; kill() may be called from
// any thread at any time (it never reaches another process, even after the child was
// reaped). The destructor kills the child if it still runs and reaps it: no zombie.
class ChildProcess {
 public:
  // Starts `exe` with `args` (argv[1..]), the parent's environment, stdin from /dev/null,
  // stdout and stderr inherited, default signal dispositions and an empty signal mask,
  // and `pass` (a SharedMemory handle) as the child's descriptor `child_handle`; no other
  // descriptor of this process is inherited that was opened close-on-exec.
  static std::unique_ptr<ChildProcess> spawn(const std::string& exe,
                                             const std::vector<std::string>& args, intptr_t pass,
                                             intptr_t child_handle, std::string* error);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int64_t pid() const { return pid_; }
  // Waits up to `timeout` for the child to end and reaps it; the status once it has (and on
  // every later call), nullopt while it runs.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
  // SIGKILL (TerminateProcess).
  void kill();

 private:
  ChildProcess() = default;
  int64_t pid_ = -1;
  intptr_t pidfd_ = -1;
  std::optional<ExitStatus> status_;
};

// The calling process's id.
int64_t current_process_id();

// In a child started by ChildProcess::spawn: die with the parent (the kernel kills it when
// the parent thread that spawned it exits, even by SIGKILL: no orphan), write no core files.
// False when the parent (`parent_pid`) is already gone.
bool bind_lifetime_to_parent(int64_t parent_pid);

}  // namespace smc::platform
