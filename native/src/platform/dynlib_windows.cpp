// Dynamic libraries and the pre-load file check on Windows. Paths arrive as UTF-8 and go
// to the wide (UTF-16) API, so non-ASCII paths load; error texts come back as UTF-8.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <string>

#include "smc/platform/dynlib.hpp"

namespace smc::platform {

namespace {

std::wstring widen(const std::string& s) {
  if (s.empty()) return {};
  const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
  return w;
}

std::string narrow(const wchar_t* w, size_t len) {
  if (len == 0) return {};
  const int n =
      WideCharToMultiByte(CP_UTF8, 0, w, static_cast<int>(len), nullptr, 0, nullptr, nullptr);
  std::string s(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, w, static_cast<int>(len), s.data(), n, nullptr, nullptr);
  return s;
}

// FormatMessageW's text for `code`, without its trailing line break, plus the code itself
// (the text alone can be empty or localized).
std::string os_error_text(DWORD code) {
  wchar_t* buf = nullptr;
  const DWORD len = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string text = buf ? narrow(buf, len) : std::string();
  if (buf) LocalFree(buf);
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.')) {
    text.pop_back();
  }
  if (text.empty()) text = "unknown error";
  return text + " (Windows error " + std::to_string(code) + ")";
}

FileProbe failed(DWORD code) {
  FileProbe p;
  p.kind = (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND ||
            code == ERROR_INVALID_NAME || code == ERROR_BAD_NETPATH)
               ? FileKind::missing
               : FileKind::unreadable;
  p.os_error = os_error_text(code);
  return p;
}

}  // namespace

FileProbe probe_file(const std::string& path) {
  const std::wstring wpath = widen(path);
  WIN32_FILE_ATTRIBUTE_DATA attrs;
  FileProbe p;
  if (GetFileAttributesExW(wpath.c_str(), GetFileExInfoStandard, &attrs)) {
    if (attrs.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
      p.kind = FileKind::directory;
      return p;
    }
  } else {
    const DWORD code = GetLastError();
    // Pipes and devices (\\.\pipe\x, NUL) have no attributes to read: the handle's type
    // below tells what they are. Anything else that failed is missing or unreadable.
    if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND) return failed(code);
  }
  // Opening never blocks on Windows, whatever the path names: a busy named pipe fails with
  // ERROR_PIPE_BUSY, a device (NUL, CON) opens at once. What is read is decided below, by
  // the handle's type, before any read.
  HANDLE h = CreateFileW(wpath.c_str(), GENERIC_READ,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return failed(GetLastError());
  switch (GetFileType(h)) {
    case FILE_TYPE_DISK:
      p.kind = FileKind::regular;
      break;
    case FILE_TYPE_CHAR:
      p.kind = FileKind::char_device;
      break;
    case FILE_TYPE_PIPE:
      p.kind = FileKind::fifo;
      break;
    default:
      p.kind = FileKind::other;
      break;
  }
  if (p.kind == FileKind::regular) {
    DWORD n = 0;
    if (!ReadFile(h, p.head, static_cast<DWORD>(sizeof p.head), &n, nullptr)) {
      const DWORD code = GetLastError();
      CloseHandle(h);
      return failed(code);
    }
    p.head_size = n;
  }
  CloseHandle(h);
  return p;
}

LibraryHandle open_library(const std::string& path, std::string* error) {
  // No "cannot load" dialog box for a broken DLL: the caller reports the error instead.
  DWORD old_mode = 0;
  SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
  // LOAD_WITH_ALTERED_SEARCH_PATH: the DLLs a plugin depends on are found next to it.
  HMODULE h = LoadLibraryExW(widen(path).c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  const DWORD code = GetLastError();
  SetThreadErrorMode(old_mode, nullptr);
  if (!h) *error = os_error_text(code);
  return reinterpret_cast<LibraryHandle>(h);
}

void* find_symbol(LibraryHandle lib, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(lib), name));
}

void close_library(LibraryHandle lib) {
  FreeLibrary(static_cast<HMODULE>(lib));
}

const char* library_suffix() {
  return ".dll";
}

}  // namespace smc::platform
