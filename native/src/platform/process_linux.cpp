// smc/platform/process.hpp on Linux: memfd + mmap, process-shared futexes, posix_spawn +
// pidfd.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "smc/platform/process.hpp"

extern char** environ;

namespace smc::platform {

namespace {

std::string os_error(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

int sys_pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

int sys_pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

bool isolation_supported(std::string* why) {
  if (why) why->clear();
  return true;
}

bool create_shared_memory(size_t size, const char* name, SharedMemory* out, std::string* error) {
  // Close-on-exec: only the child it is handed to (spawn's dup2) inherits it.
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    if (error) *error = os_error("memfd_create", errno);
    return false;
  }
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (error) *error = os_error("ftruncate of the shared memory", errno);
    close(fd);
    return false;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    if (error) *error = os_error("mmap of the shared memory", errno);
    close(fd);
    return false;
  }
  out->handle = fd;
  out->base = static_cast<std::byte*>(p);
  out->size = size;
  return true;
}

bool map_shared_memory(intptr_t handle, SharedMemory* out, std::string* error) {
  const int fd = static_cast<int>(handle);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    if (error) *error = os_error("fstat of the inherited shared memory", errno);
    return false;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    if (error) *error = "the inherited descriptor is not a shared memory object";
    return false;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    if (error) *error = os_error("mmap of the inherited shared memory", errno);
    return false;
  }
  out->handle = fd;
  out->base = static_cast<std::byte*>(p);
  out->size = size;
  return true;
}

void close_shared_memory(SharedMemory* m) {
  if (m->base) munmap(m->base, m->size);
  if (m->handle >= 0) close(static_cast<int>(m->handle));
  *m = SharedMemory{};
}

// FUTEX_WAIT / FUTEX_WAKE without _PRIVATE: keyed by the shared page, so a thread of the
// other process mapping the same memory wakes it.
void park_on_shared(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  const auto ns = std::max<int64_t>(0, timeout.count());
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void wake_all_shared(const uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGSYS:
      return "SIGSYS";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return {};
  }
}

std::string describe(ExitStatus s) {
  if (!s.signaled) return "exited with code " + std::to_string(s.value);
  const std::string name = signal_name(s.value);
  return "killed by signal " + std::to_string(s.value) + (name.empty() ? "" : " (" + name + ")");
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::string& exe,
                                                  const std::vector<std::string>& args,
                                                  intptr_t pass, intptr_t child_handle,
                                                  std::string* error) {
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(exe);
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  // dup2 onto child_handle clears close-on-exec there (also when pass == child_handle).
  posix_spawn_file_actions_adddup2(&fa, static_cast<int>(pass), static_cast<int>(child_handle));
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // Node ignores SIGPIPE and blocks signals on its threads: the plugin host starts clean,
  // so a crash is the crash's own signal.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (error) *error = os_error(("cannot start '" + exe + "'").c_str(), rc);
    return nullptr;
  }
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = pid;
  // Not reaped yet, so the pid is still this child's: the pidfd names it for good.
  const int pfd = sys_pidfd_open(pid);
  if (pfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    if (error) *error = os_error("pidfd_open", e);
    return nullptr;
  }
  fcntl(pfd, F_SETFD, FD_CLOEXEC);
  child->pidfd_ = pfd;
  return child;
}

std::optional<ExitStatus> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  pollfd p{static_cast<int>(pidfd_), POLLIN, 0};
  const int ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, INT_MAX));
  const int r = poll(&p, 1, ms);
  if (r <= 0) return std::nullopt;  // still running (or EINTR: the caller asks again)
  siginfo_t si{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0) {
    return std::nullopt;
  }
  ExitStatus s;
  s.signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
  s.value = si.si_status;
  status_ = s;
  return status_;
}

void ChildProcess::kill() {
  // Through the pidfd: after the child was reaped this fails with ESRCH instead of
  // reaching a process that reused the pid.
  if (pidfd_ >= 0) sys_pidfd_send_signal(static_cast<int>(pidfd_), SIGKILL);
}

ChildProcess::~ChildProcess() {
  if (!status_) {
    kill();
    while (!wait_exit(std::chrono::milliseconds(1000))) {
    }
  }
  if (pidfd_ >= 0) close(static_cast<int>(pidfd_));
}

int64_t current_process_id() {
  return getpid();
}

bool bind_lifetime_to_parent(int64_t parent_pid) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  // The parent may have died before PR_SET_PDEATHSIG: then we were re-parented already.
  return getppid() == static_cast<pid_t>(parent_pid);
}

}  // namespace smc::platform
