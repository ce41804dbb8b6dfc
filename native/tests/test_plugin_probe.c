/* Test-only plugin, written in C to prove smc/plugin.h is plain C. Built three ways by
 * native/tests/CMakeLists.txt:
 *   smc_test_probe         the probe below (ABI 1, ticks every 10 ms)
 *   smc_test_abi_mismatch  -DPROBE_ABI=999: a descriptor claiming another ABI version
 *   smc_test_no_entry      -DPROBE_NO_ENTRY: exports no smc_plugin_entry
 *
 * Config (found with strstr; test-only):
 *   "failCreate":"msg"    create() fails with msg
 *   "threadMessages":N    a thread of its own sends N 8-byte messages "THRD" + u32 index
 *   "tickSend":true       each on_tick sends "TICK" + u32 tick number + u64 CLOCK_MONOTONIC ns
 *                         (the clock of std::chrono::steady_clock) read when on_tick ran
 *   "failOnMessage":true  the first message makes the plugin call fail()
 * Every message is echoed (alternating send and reserve/commit). Each call checks the
 * instance's magic and aborts the process if it runs on a destroyed instance. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smc/plugin.h"

#ifndef PROBE_ABI
#define PROBE_ABI SMC_PLUGIN_ABI_VERSION
#endif

#define PROBE_MAGIC 0x50524F42u

typedef struct probe {
  uint32_t magic;
  const smc_host* host;
  long thread_messages;
  int tick_send;
  int fail_on_message;
  uint32_t ticks;
  uint32_t messages;
  atomic_int stop;
  int has_thread;
  pthread_t thread;
} probe;

static void check(const probe* p) {
  if (p == NULL || p->magic != PROBE_MAGIC) abort(); /* a call after destroy */
}

static void put_u32(uint8_t* d, uint32_t v) {
  memcpy(d, &v, 4);
}

static void* sender(void* arg) {
  probe* p = (probe*)arg;
  for (long i = 0; i < p->thread_messages && !atomic_load(&p->stop); ++i) {
    uint8_t m[8];
    memcpy(m, "THRD", 4);
    put_u32(m + 4, (uint32_t)i);
    int32_t st = p->host->send(p->host, m, sizeof m, SMC_WAIT_FOREVER);
    if (st != SMC_OK) break; /* stopping, closed or failed */
  }
  return NULL;
}

static void* create(const smc_host* host, const char* config, char* err, size_t err_len) {
  const char* f = strstr(config, "\"failCreate\":\"");
  if (f != NULL) {
    f += strlen("\"failCreate\":\"");
    size_t n = 0;
    while (f[n] != '\0' && f[n] != '"' && n + 1 < err_len) {
      err[n] = f[n];
      ++n;
    }
    err[n] = '\0';
    return NULL;
  }
  probe* p = (probe*)calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->magic = PROBE_MAGIC;
  p->host = host;
  const char* t = strstr(config, "\"threadMessages\":");
  if (t != NULL) p->thread_messages = strtol(t + strlen("\"threadMessages\":"), NULL, 10);
  p->tick_send = strstr(config, "\"tickSend\":true") != NULL;
  p->fail_on_message = strstr(config, "\"failOnMessage\":true") != NULL;
  atomic_init(&p->stop, 0);
  if (p->thread_messages > 0) {
    if (pthread_create(&p->thread, NULL, sender, p) != 0) {
      free(p);
      strncpy(err, "pthread_create failed", err_len - 1);
      err[err_len - 1] = '\0';
      return NULL;
    }
    p->has_thread = 1;
  }
  host->log(host, SMC_LOG_DEBUG, "probe created");
  return p;
}

static void on_message(void* instance, const uint8_t* data, size_t len) {
  probe* p = (probe*)instance;
  check(p);
  if (p->fail_on_message) {
    p->host->fail(p->host, "probe was told to fail");
    return;
  }
  const smc_host* h = p->host;
  if ((p->messages++ & 1u) == 0 && len <= h->max_reserve(h)) {
    int32_t st = SMC_OK;
    void* dst = h->reserve(h, len, SMC_WAIT_FOREVER, &st);
    if (dst == NULL) return;
    if (len > 0) memcpy(dst, data, len);
    h->commit(h, len);
  } else {
    h->send(h, data, len, SMC_WAIT_FOREVER);
  }
}

static void on_tick(void* instance) {
  probe* p = (probe*)instance;
  check(p);
  ++p->ticks;
  if (p->tick_send) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint8_t m[16];
    memcpy(m, "TICK", 4);
    put_u32(m + 4, p->ticks);
    memcpy(m + 8, &ns, 8);
    p->host->send(p->host, m, sizeof m, 1000);
  }
}

static void destroy(void* instance) {
  probe* p = (probe*)instance;
  check(p);
  atomic_store(&p->stop, 1);
  if (p->has_thread) pthread_join(p->thread, NULL); /* rule 4: threads end in destroy */
  p->magic = 0;
  free(p);
}

static const smc_plugin_descriptor descriptor = {
    PROBE_ABI, sizeof(smc_plugin_descriptor), "probe", "0.1.0", create, on_message, on_tick, 10,
    destroy,
};

#ifndef PROBE_NO_ENTRY
SMC_PLUGIN_EXPORT const smc_plugin_descriptor* smc_plugin_entry(void) {
  return &descriptor;
}
#else
SMC_PLUGIN_EXPORT const smc_plugin_descriptor* smc_plugin_entry_renamed(void) {
  return &descriptor;
}
#endif
