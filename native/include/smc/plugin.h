/* SharedMemoryChannel native plugin ABI, version 1 (docs/plugins.md).
 *
 * A plugin is a shared library that exports one C function, SMC_PLUGIN_ENTRY_NAME
 * ("smc_plugin_entry"), returning a static descriptor. The host (native/include/smc/
 * plugin_host.hpp) loads it at run time, checks the ABI version, calls create() once,
 * then delivers every message the JS side sends to on_message() and, if asked for, calls
 * on_tick() periodically. The plugin answers through the host table it got in create():
 * send() (copy), reserve()/commit() (zero-copy, in place in the native -> JS ring), log()
 * and fail(). Sending is allowed from any thread, including the plugin's own.
 *
 * Pure C (C99) and C++: no C++ types cross this boundary. Only fixed-size integers,
 * pointers and function pointers; structs carry their size so later versions can append
 * fields without breaking old plugins or hosts.
 *
 * Threading rules (the host guarantees 1-3, the plugin must do 4-6):
 *  1. create() happens before any other call; nothing is delivered before it returns an
 *     instance.
 *  2. on_message() and on_tick() are never called concurrently for one instance (the host
 *     serializes them); on_message() runs on the channel's receive thread, on_tick() on a
 *     host timer thread.
 *  3. destroy() is called once, after every on_message()/on_tick() call has returned and
 *     no new one can start; the library is unloaded (dlclose) only after destroy returns.
 *  4. destroy() must stop and join every thread the plugin started; no thread may call the
 *     host table after destroy() returns (the table and the library's code are gone).
 *  5. A reservation belongs to the thread that made it: commit() or abort() it on that
 *     thread, before any other send from that thread. A reservation still open when
 *     on_message()/on_tick() returns is aborted by the host.
 *  6. The `data` of on_message() is valid only during the call.
 */
#ifndef SMC_PLUGIN_H_
#define SMC_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change. The host rejects any other value. */
#define SMC_PLUGIN_ABI_VERSION 1u

/* The one symbol a plugin exports. */
#define SMC_PLUGIN_ENTRY_NAME "smc_plugin_entry"

/* SMC_PLUGIN_EXPORT puts the entry point in the library's export table (dllexport on
 * Windows, default visibility elsewhere). Every function of this ABI, the entry point,
 * the descriptor's and the host table's, uses the platform's default C calling
 * convention: the one Microsoft x64 convention on Windows x64, System V on Linux and
 * macOS (x86-64, arm64). Do not build a plugin with another default (no MSVC /Gz, /Gr). */
#if defined(_WIN32)
#define SMC_PLUGIN_EXPORT __declspec(dllexport)
#else
#define SMC_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Status codes returned by the host table. */
#define SMC_OK 0
#define SMC_ERR_TIMEOUT (-1)   /* no room in the ring within the timeout */
#define SMC_ERR_CLOSED (-2)    /* the channel is closed (or its JS side went away) */
#define SMC_ERR_STOPPING (-3)  /* the plugin is being unloaded: stop sending */
#define SMC_ERR_TOO_LARGE (-4) /* reserve() above max_reserve(), or send() above 2^32-1 */
#define SMC_ERR_INVALID (-5)   /* misuse: commit() without reserve(), used > reserved ... */
#define SMC_ERR_FAILED (-6)    /* the channel or this plugin (fail()) is in the failed state */
#define SMC_ERR_NOT_READY (-7) /* the channel thread has not attached yet */

/* timeout_ms value: wait as long as it takes (still interrupted by unload and close). */
#define SMC_WAIT_FOREVER 0xFFFFFFFFu

/* log() levels. */
#define SMC_LOG_DEBUG 0
#define SMC_LOG_INFO 1
#define SMC_LOG_WARN 2
#define SMC_LOG_ERROR 3

typedef struct smc_host smc_host;

/* The host table, given to create(). Valid until destroy() returns. Every function takes
 * the table itself as its first argument and may be called from any thread. */
struct smc_host {
  uint32_t abi_version; /* SMC_PLUGIN_ABI_VERSION of the host */
  uint32_t size;        /* sizeof(smc_host) of the host; fields are only ever appended */

  /* Copies `len` bytes into the native -> JS ring as one message (fragmented when larger
   * than max_reserve()). Blocks for room up to timeout_ms. SMC_OK or an SMC_ERR_*. */
  int32_t (*send)(const smc_host* host, const void* data, size_t len, uint32_t timeout_ms);

  /* Zero-copy send, step 1: room for `len` bytes (len <= max_reserve()) inside the ring.
   * Returns the writable bytes, or NULL with *status (may be NULL) set to the reason. */
  void* (*reserve)(const smc_host* host, size_t len, uint32_t timeout_ms, int32_t* status);
  /* Step 2: sends the first `used` bytes of this thread's reservation. After the channel
   * closed (even while the reservation was open): SMC_ERR_CLOSED, nothing is sent. */
  int32_t (*commit)(const smc_host* host, size_t used);
  /* Or gives the reservation up; nothing is sent. No-op without one. */
  void (*abort)(const smc_host* host);
  /* Largest reserve() (one ring record): the ring's capacity / 4 - 8 bytes. */
  size_t (*max_reserve)(const smc_host* host);

  /* A log line (NUL-terminated, UTF-8). The host prefixes the plugin's name. */
  void (*log)(const smc_host* host, int32_t level, const char* message);
  /* Tells the host this plugin failed for `message`: the host stops delivering to it,
   * refuses its sends (SMC_ERR_FAILED) and reports the message until it is unloaded.
   * Does not unload it (call from anywhere, including on_message). */
  void (*fail)(const smc_host* host, const char* message);

  void* host_data; /* the host's; plugins must not touch it */
};

typedef struct smc_plugin_descriptor {
  uint32_t abi_version; /* must be SMC_PLUGIN_ABI_VERSION */
  uint32_t size;        /* sizeof(smc_plugin_descriptor) */
  const char* name;     /* e.g. "echo" */
  const char* version;  /* the plugin's own version, e.g. "1.0.0" */

  /* Creates an instance. `config_json` is the configuration (a JSON text, "{}" when none
   * was given). On failure returns NULL after writing a NUL-terminated message of at most
   * err_len bytes (including the NUL) into err_buf. `host` stays valid until destroy(). */
  void* (*create)(const smc_host* host, const char* config_json, char* err_buf, size_t err_len);

  /* One whole message from the JS side; `data` is valid only during the call. Required. */
  void (*on_message)(void* instance, const uint8_t* data, size_t len);

  /* Optional (may be NULL): called every tick_interval_ms (> 0) on a host timer thread,
   * first one interval after create() returned. */
  void (*on_tick)(void* instance);
  uint32_t tick_interval_ms;

  /* Releases the instance. Must stop and join every thread the plugin started. Required. */
  void (*destroy)(void* instance);
} smc_plugin_descriptor;

/* The entry function's type. Returns a descriptor valid while the library is loaded. */
typedef const smc_plugin_descriptor* (*smc_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* SMC_PLUGIN_H_ */
