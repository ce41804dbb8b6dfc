# The core's platform layer (native/include/smc/platform, native/src/platform): sets
#   SMC_WAIT_IMPL          the park/wake primitive built in (futex, waitonaddress, ulock,
#                          portable), from the cache option SMC_WAIT (auto picks the OS's)
#   SMC_PLATFORM_SOURCES   the files of that primitive and of the target OS's dynamic
#                          library and thread code
#   SMC_PLATFORM_LIBS      the system libraries they need
include_guard(GLOBAL)

set(SMC_WAIT "auto" CACHE STRING
    "Park/wake primitive: auto (the OS's own), futex (Linux), waitonaddress (Windows 8+), ulock (macOS), portable (standard C++ condition variables, any OS)")
set(_smc_wait_allowed auto futex waitonaddress ulock portable)
set_property(CACHE SMC_WAIT PROPERTY STRINGS ${_smc_wait_allowed})
if(NOT SMC_WAIT IN_LIST _smc_wait_allowed)
  message(FATAL_ERROR "SMC_WAIT='${SMC_WAIT}' is not one of: ${_smc_wait_allowed}")
endif()

if(SMC_WAIT STREQUAL "auto")
  if(WIN32)
    set(SMC_WAIT_IMPL waitonaddress)
  elseif(APPLE)
    set(SMC_WAIT_IMPL ulock)
  elseif(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(SMC_WAIT_IMPL futex)
  else()
    set(SMC_WAIT_IMPL portable)
  endif()
else()
  set(SMC_WAIT_IMPL ${SMC_WAIT})
endif()

set(_smc_wait_needs_futex Linux)
set(_smc_wait_needs_waitonaddress Windows)
set(_smc_wait_needs_ulock Darwin)
if(DEFINED _smc_wait_needs_${SMC_WAIT_IMPL}
   AND NOT CMAKE_SYSTEM_NAME STREQUAL _smc_wait_needs_${SMC_WAIT_IMPL})
  message(FATAL_ERROR "SMC_WAIT='${SMC_WAIT_IMPL}' needs a ${_smc_wait_needs_${SMC_WAIT_IMPL}} "
                      "target, not ${CMAKE_SYSTEM_NAME}; use 'auto' or 'portable'")
endif()
message(STATUS "smc: park/wake primitive: ${SMC_WAIT_IMPL}")

set(SMC_PLATFORM_SOURCES ${PROJECT_SOURCE_DIR}/native/src/platform/wait_${SMC_WAIT_IMPL}.cpp)
set(SMC_PLATFORM_LIBS "")
if(WIN32)
  list(APPEND SMC_PLATFORM_SOURCES ${PROJECT_SOURCE_DIR}/native/src/platform/dynlib_windows.cpp
       ${PROJECT_SOURCE_DIR}/native/src/platform/thread_windows.cpp)
  if(SMC_WAIT_IMPL STREQUAL "waitonaddress")
    list(APPEND SMC_PLATFORM_LIBS synchronization)
  endif()
else()
  list(APPEND SMC_PLATFORM_SOURCES ${PROJECT_SOURCE_DIR}/native/src/platform/dynlib_posix.cpp
       ${PROJECT_SOURCE_DIR}/native/src/platform/thread_posix.cpp)
  list(APPEND SMC_PLATFORM_LIBS ${CMAKE_DL_LIBS})
endif()
