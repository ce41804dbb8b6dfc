// Thread placement on Windows.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <string>
#include <utility>
#include <vector>

#include "smc/platform/thread.hpp"

namespace smc::platform {

bool pin_current_thread(unsigned cpu) {
  if (cpu >= sizeof(DWORD_PTR) * 8) return false;
  return SetThreadAffinityMask(GetCurrentThread(), DWORD_PTR{1} << cpu) != 0;
}

void name_current_thread(const char* name) {
  // SetThreadDescription exists from Windows 10 1607 on: looked up at run time so the
  // binaries still load on older systems.
  using SetDescription = HRESULT(WINAPI*)(HANDLE, PCWSTR);
  HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
  if (!k32) return;
  FARPROC f = GetProcAddress(k32, "SetThreadDescription");
  if (!f) return;
  const std::string n(name);
  const int len = MultiByteToWideChar(CP_UTF8, 0, n.c_str(), -1, nullptr, 0);
  std::wstring w(static_cast<size_t>(len), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, n.c_str(), -1, w.data(), len);
  reinterpret_cast<SetDescription>(reinterpret_cast<void*>(f))(GetCurrentThread(), w.c_str());
}

namespace {

using ExitHooks = std::vector<std::pair<void (*)(void*), void*>>;

// Fiber-local storage: its callback runs on the exiting thread with the thread's value,
// independently of the C++ runtime's emulated thread_local. The index lives as long as
// the process (an addon is never unloaded).
void WINAPI run_exit_hooks(void* value) {
  auto* hooks = static_cast<ExitHooks*>(value);
  if (!hooks) return;
  while (!hooks->empty()) {
    const auto [fn, arg] = hooks->back();
    hooks->pop_back();
    fn(arg);
  }
  delete hooks;
}

DWORD exit_hooks_index() {
  static const DWORD index = FlsAlloc(&run_exit_hooks);
  return index;
}

}  // namespace

void at_thread_exit(void (*fn)(void*), void* arg) {
  const DWORD index = exit_hooks_index();
  auto* hooks = static_cast<ExitHooks*>(FlsGetValue(index));
  if (!hooks) {
    hooks = new ExitHooks;
    FlsSetValue(index, hooks);
  }
  hooks->emplace_back(fn, arg);
}

}  // namespace smc::platform
