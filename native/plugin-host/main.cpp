// smc_plugin_host: the child process of an isolated plugin (smc/isolated_plugin.hpp,
// docs/plugins.md). Started by the addon, never by hand.
#include "smc/isolated_plugin.hpp"

// A plugin's crash must end this process with the crash's own signal, so the parent can
// name it: sanitizer builds keep their reports for everything else.
extern "C" const char* __asan_default_options() {
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0";
}
extern "C" const char* __tsan_default_options() {
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0";
}

int main(int argc, char** argv) {
  return smc::isolate::run_plugin_host(argc, argv);
}
