// The platform layer's dynamic libraries and the file check that precedes loading one.
// Paths are UTF-8 on every platform (converted to UTF-16 for the Windows API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace smc::platform {

// What a path names. Only `regular` may be opened: a FIFO would block the opener until a
// writer appears, a device or socket can block or have side effects when read.
enum class FileKind {
  missing,
  regular,
  directory,
  fifo,
  socket,
  char_device,
  block_device,
  other,
  unreadable
};

// "a directory", "a FIFO (named pipe)", ... for error messages.
inline const char* describe(FileKind kind) {
  switch (kind) {
    case FileKind::missing:
      return "a missing file";
    case FileKind::regular:
      return "a regular file";
    case FileKind::directory:
      return "a directory";
    case FileKind::fifo:
      return "a FIFO (named pipe)";
    case FileKind::socket:
      return "a socket";
    case FileKind::char_device:
      return "a character device";
    case FileKind::block_device:
      return "a block device";
    case FileKind::other:
      return "a special file";
    case FileKind::unreadable:
      return "an unreadable file";
  }
  return "a special file";
}

struct FileProbe {
  FileKind kind = FileKind::missing;
  std::string os_error;     // set for `unreadable` (and `missing` when the OS said more)
  unsigned char head[8]{};  // the file's first bytes, for `regular`
  size_t head_size = 0;     // how many of them the file had (at most sizeof head)
};

// Classifies `path` from its metadata alone (stat, following symlinks), then,
// only for a regular file, opens it without blocking, confirms on the open handle that it
// is still a regular file, and reads at most sizeof FileProbe::head bytes.
FileProbe probe_file(const std::string& path);

// A loaded library: an opaque handle (void* from dlopen, HMODULE on Windows).
using LibraryHandle = void*;

// nullptr with *error set to the loader's text (dlerror / FormatMessageW) on failure.
LibraryHandle open_library(const std::string& path, std::string* error);
void* find_symbol(LibraryHandle lib, const char* name);
void close_library(LibraryHandle lib);

// The file name suffix of a loadable library here: ".so", ".dylib" or ".dll".
const char* library_suffix();

}  // namespace smc::platform
