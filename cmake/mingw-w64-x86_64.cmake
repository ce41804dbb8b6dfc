# Cross toolchain: Debian's mingw-w64 with the posix thread model (std::thread,
# std::mutex) -> Windows x64. Tests run through Wine (ctest prefixes each command with
# CMAKE_CROSSCOMPILING_EMULATOR). Used by scripts/stages/windows.mjs and
# scripts/build-windows.mjs:
#   cmake -S . -B build/win64 -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(SMC_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${SMC_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${SMC_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${SMC_MINGW_PREFIX}-windres)
set(CMAKE_DLLTOOL ${SMC_MINGW_PREFIX}-dlltool)
set(CMAKE_FIND_ROOT_PATH /usr/${SMC_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# `wine`, not `wine64`: Debian's wine64 package installs the loader as `wine`.
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
