// Special files for the plugin loader's tests (a FIFO, a socket, a device, a Windows named
// pipe): the one piece of test code that includes OS headers, as the platform layer is for
// the product.
#pragma once

#include <string>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#endif

namespace smc::test {

#if defined(_WIN32)

// A named pipe server instance at \\.\pipe\<name>, listening until destroyed.
class TempNamedPipe {
 public:
  explicit TempNamedPipe(const std::string& name) : path_("\\\\.\\pipe\\" + name) {
    handle_ = CreateNamedPipeA(path_.c_str(), PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 1,
                               4096, 4096, 0, nullptr);
  }
  ~TempNamedPipe() {
    if (ok()) CloseHandle(handle_);
  }
  bool ok() const { return handle_ != INVALID_HANDLE_VALUE; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  HANDLE handle_ = INVALID_HANDLE_VALUE;
};

#else

// A FIFO at `path`, removed when destroyed.
class TempFifo {
 public:
  explicit TempFifo(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    ok_ = ::mkfifo(path_.c_str(), 0600) == 0;
  }
  ~TempFifo() { ::unlink(path_.c_str()); }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  // Releases a reader blocked opening or reading the FIFO: opening it read-write never
  // blocks (Linux, macOS), and the bytes written end a blocked read.
  void release_a_blocked_reader() const {
    const int fd = ::open(path_.c_str(), O_RDWR | O_NONBLOCK);
    if (fd < 0) return;
    const char junk[16] = "not a library";
    [[maybe_unused]] const auto n = ::write(fd, junk, sizeof junk);
    ::close(fd);
  }

 private:
  std::string path_;
  bool ok_ = false;
};

// A bound unix-domain socket at `path`, closed and removed when destroyed.
class TempUnixSocket {
 public:
  explicit TempUnixSocket(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TempUnixSocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

#endif

}  // namespace smc::test
