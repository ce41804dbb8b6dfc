// The platform layer's thread services: placement and naming (benchmarks, diagnostics),
// and clean-up at thread exit (the plugin host's per-thread reservations).
#pragma once

namespace smc::platform {

// Restricts the calling thread to one CPU. False where the OS has no such call (macOS) or
// refused it; the caller then runs unpinned.
bool pin_current_thread(unsigned cpu);

// Names the calling thread for debuggers and profilers (truncated to the OS's limit: 15
// bytes on Linux). Best effort: silently does nothing where unsupported.
void name_current_thread(const char* name);

// Runs fn(arg) on the calling thread when it exits (registrations run in reverse order).
// Use this, not a thread_local object with a destructor: MinGW emulates thread_local, and
// its destructors can run after the variable's storage was freed at thread exit (a
// use-after-free that corrupted the heap under Wine). A trivially destructible
// thread_local pointer plus this hook is safe everywhere.
void at_thread_exit(void (*fn)(void*), void* arg);

}  // namespace smc::platform
