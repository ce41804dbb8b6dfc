// Windows only, linked into the Node-API addon (cmake/NodeAddon.cmake). The addon's
// napi_* imports name "node.exe" (the import library is generated from node-api-headers'
// node_api.def) and are delay-loaded; this hook resolves them against the executable that
// is running instead, so the addon loads in electron.exe or a renamed node.exe, as
// node-gyp's win_delay_load_hook.cc does for MSVC builds.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// windows.h first: delayimp.h relies on its types.
#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI load_exe_hook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// The names the delay-load helper looks up. MSVC's delayimp.h declares them const,
// mingw-w64's does not; mingw-w64 defines both in one object, so both are defined here.
#if defined(_MSC_VER)
#define SMC_DELAY_HOOK_CONST const
#else
#define SMC_DELAY_HOOK_CONST
#endif
extern "C" {
SMC_DELAY_HOOK_CONST PfnDliHook __pfnDliNotifyHook2 = load_exe_hook;
SMC_DELAY_HOOK_CONST PfnDliHook __pfnDliFailureHook2 = nullptr;
}
