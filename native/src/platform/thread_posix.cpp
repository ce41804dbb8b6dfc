// Thread placement on POSIX systems: affinity on Linux; names on Linux and macOS.
#include <pthread.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "smc/platform/thread.hpp"

namespace smc::platform {

bool pin_current_thread(unsigned cpu) {
#if defined(__linux__)
  if (cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#else
  (void)cpu;  // macOS has affinity hints only, not pinning
  return false;
#endif
}

void name_current_thread(const char* name) {
#if defined(__linux__)
  const std::string n = std::string(name).substr(0, 15);  // the kernel's limit, NUL aside
  pthread_setname_np(pthread_self(), n.c_str());
#elif defined(__APPLE__)
  pthread_setname_np(name);
#else
  (void)name;
#endif
}

namespace {
// Native TLS here (ELF, Mach-O): a thread_local's destructor runs on the exiting thread,
// while its storage is still valid.
struct ExitHooks {
  std::vector<std::pair<void (*)(void*), void*>> hooks;
  ~ExitHooks() {
    while (!hooks.empty()) {
      const auto [fn, arg] = hooks.back();
      hooks.pop_back();
      fn(arg);
    }
  }
};
}  // namespace

void at_thread_exit(void (*fn)(void*), void* arg) {
  thread_local ExitHooks exit_hooks;
  exit_hooks.hooks.emplace_back(fn, arg);
}

}  // namespace smc::platform
