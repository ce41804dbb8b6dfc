// The platform layer's park/wake primitive: sleep on a 32-bit word of the shared region
// until another thread of this process changes it and calls wake_all, or a timeout passes.
// One implementation is compiled in, chosen at build time (CMake SMC_WAIT, see
// cmake/SmcPlatform.cmake):
//   futex          Linux FUTEX_WAIT/WAKE_PRIVATE on the word itself
//   waitonaddress  Windows 8+ WaitOnAddress / WakeByAddressAll
//   ulock          macOS os_sync_wait_on_address (14.4+), else __ulock_wait
//   portable       C++20 only: condition variables hashed by address (any OS)
// Contract shared by all of them (docs/protocol.md, section 5): a waker first stores a new
// value into the word, then calls wake_all(word); a sleeper that passed the value it last
// read as `expected` cannot miss that wake-up. Spurious returns are allowed.
#pragma once

#include <chrono>
#include <cstdint>

namespace smc {

// Sleeps while *word == expected, at most `timeout` (the caller re-checks its condition).
void park_on(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout);

// Wakes every thread parked on `word`. Callers ring only when a parked flag says someone
// sleeps, because even an empty wake is a system call on most platforms.
void wake_all(const uint32_t* word);

// The SMC_WAIT implementation built in ("futex", "waitonaddress", "ulock", "portable").
const char* wait_primitive();

}  // namespace smc
