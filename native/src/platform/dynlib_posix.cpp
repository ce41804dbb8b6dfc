// Dynamic libraries and the pre-load file check on POSIX systems (Linux, macOS).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "smc/platform/dynlib.hpp"

namespace smc::platform {

namespace {

FileKind kind_of(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::regular;
  if (S_ISDIR(mode)) return FileKind::directory;
  if (S_ISFIFO(mode)) return FileKind::fifo;
  if (S_ISSOCK(mode)) return FileKind::socket;
  if (S_ISCHR(mode)) return FileKind::char_device;
  if (S_ISBLK(mode)) return FileKind::block_device;
  return FileKind::other;
}

FileProbe failed(int err) {
  FileProbe p;
  p.kind = (err == ENOENT || err == ENOTDIR) ? FileKind::missing : FileKind::unreadable;
  p.os_error = std::strerror(err);
  return p;
}

}  // namespace

FileProbe probe_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return failed(errno);
  FileProbe p;
  p.kind = kind_of(st.st_mode);
  if (p.kind != FileKind::regular) return p;  // never opened: a FIFO's open would block
  // O_NONBLOCK: if the path was swapped for a FIFO since the stat, open still returns at
  // once, and the fstat below refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return failed(errno);
  const bool have_stat = ::fstat(fd, &st) == 0;
  if (!have_stat || !S_ISREG(st.st_mode)) {
    p.kind = have_stat ? kind_of(st.st_mode) : FileKind::unreadable;
    ::close(fd);
    return p;
  }
  // One bounded read; a short file gives a short head, which the caller judges.
  ssize_t n;
  do {
    n = ::read(fd, p.head, sizeof p.head);
  } while (n < 0 && errno == EINTR);
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) return failed(read_errno);
  p.head_size = static_cast<size_t>(n);
  return p;
}

LibraryHandle open_library(const std::string& path, std::string* error) {
  // RTLD_LOCAL: two plugins may define the same symbols without interfering.
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    *error = e ? e : "dlopen failed without a message";
  }
  return h;
}

void* find_symbol(LibraryHandle lib, const char* name) {
  ::dlerror();
  return ::dlsym(lib, name);
}

void close_library(LibraryHandle lib) {
  ::dlclose(lib);
}

const char* library_suffix() {
#if defined(__APPLE__)
  return ".dylib";
#else
  return ".so";
#endif
}

}  // namespace smc::platform
