// Opening a plugin: the file check before the OS loader sees it, the shared library, its
// entry symbol and a descriptor this host can run (smc/plugin.h, docs/plugins.md).
#include <cstring>
#include <string>

#include "plugin_slot_internal.hpp"
#include "smc/platform/dynlib.hpp"

namespace smc {

namespace {

// Why `path` cannot be a plugin, judged before the OS loader sees it (its errors are
// generic, and opening a FIFO would block the calling JS thread forever); empty if it may
// be one. Only a regular file is ever opened, and only its first bytes are read.
std::string refuse_file(const std::string& path) {
  using platform::FileKind;
  const platform::FileProbe p = platform::probe_file(path);
  switch (p.kind) {
    case FileKind::missing:
      return "file not found";
    case FileKind::directory:
      return "is a directory, not a shared library";
    case FileKind::unreadable:
      return "cannot read the file: " + p.os_error;
    case FileKind::fifo:
    case FileKind::socket:
    case FileKind::char_device:
    case FileKind::block_device:
    case FileKind::other:
      return std::string("is ") + platform::describe(p.kind) +
             ", not a regular file (a plugin must be a shared library file; not opened)";
    case FileKind::regular:
      break;
  }
  const unsigned char* m = p.head;
  if (p.head_size >= 4) {
    const uint32_t be =
        (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) | (uint32_t{m[2]} << 8) | m[3];
    if (be == 0x7F454C46u) return {};  // ELF
    if (be == 0xFEEDFACEu || be == 0xFEEDFACFu || be == 0xCEFAEDFEu || be == 0xCFFAEDFEu ||
        be == 0xCAFEBABEu) {
      return {};  // Mach-O (thin, 32/64-bit, either byte order; fat)
    }
  }
  if (p.head_size >= 2 && m[0] == 'M' && m[1] == 'Z') return {};  // PE
  return "not a shared library (no ELF, Mach-O or PE header)";
}

}  // namespace

bool open_plugin_library(const std::string& path, OpenedPlugin* out, std::string* why) {
  using platform::close_library;
  if (std::string why_not = refuse_file(path); !why_not.empty()) {
    *why = std::move(why_not);
    return false;
  }
  std::string os_error;
  const platform::LibraryHandle lib = platform::open_library(path, &os_error);
  if (!lib) {
    *why = "cannot load the shared library: " + os_error;
    return false;
  }
  const auto refuse = [&](std::string text) {
    close_library(lib);
    *why = std::move(text);
    return false;
  };
  void* sym = platform::find_symbol(lib, SMC_PLUGIN_ENTRY_NAME);
  if (!sym) {
    return refuse("entry symbol '" SMC_PLUGIN_ENTRY_NAME
                  "' not found (export it with SMC_PLUGIN_EXPORT and C linkage)");
  }
  smc_plugin_entry_fn entry;
  static_assert(sizeof entry == sizeof sym);
  std::memcpy(&entry, &sym, sizeof entry);
  const smc_plugin_descriptor* desc = entry();
  if (!desc) return refuse(SMC_PLUGIN_ENTRY_NAME "() returned no descriptor");
  if (desc->abi_version != SMC_PLUGIN_ABI_VERSION) {
    return refuse("ABI version mismatch: the plugin was built for ABI version " +
                  std::to_string(desc->abi_version) + ", this host implements ABI version " +
                  std::to_string(SMC_PLUGIN_ABI_VERSION) +
                  " (rebuild it against this smc/plugin.h)");
  }
  if (desc->size < sizeof(smc_plugin_descriptor)) {
    return refuse("descriptor size " + std::to_string(desc->size) + " is smaller than " +
                  std::to_string(sizeof(smc_plugin_descriptor)) + " (ABI version 1)");
  }
  if (!desc->create || !desc->on_message || !desc->destroy) {
    return refuse(std::string("the descriptor lacks ") + (!desc->create       ? "create"
                                                          : !desc->on_message ? "on_message"
                                                                              : "destroy"));
  }
  out->lib = lib;
  out->desc = desc;
  return true;
}

}  // namespace smc
