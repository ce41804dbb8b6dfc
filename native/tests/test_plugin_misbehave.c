/* Test-only plugin for isolated plugins (isolated_plugin_test.cpp, js/test/
 * isolated-plugin.test.ts), built by native/tests/CMakeLists.txt as smc_test_misbehave.
 * It echoes every message, except:
 *   a message "segv"            stores to a page mapped without access (SIGSEGV)
 *   a message "abort"           calls abort() (SIGABRT)
 *   a message "exit"            calls exit(7)
 *   a message "spin"            spins forever inside on_message
 *   a message "garbage-index"   makes its ring's N2R write_index misaligned (index_misaligned)
 *   a message "garbage-record"  publishes a record of an unknown kind (record_kind_invalid)
 *   a message "garbage-control" fills its plugin host's control block with 0xFF, then echoes
 * Linux only (isolated plugins are). Config (found with strstr; test-only):
 *   "crashInCreate":true        create() does the same SIGSEGV (a plugin that kills its loader)
 *   "spinInCreate":true         create() spins forever (a load that never ends)
 */
#define _GNU_SOURCE /* syscall */
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "smc/plugin.h"

typedef struct misbehave {
  const smc_host* host;
} misbehave;

/* A real SIGSEGV without undefined behaviour a sanitizer would report first: a store to a
 * page mapped without access. */
static void segv(void) {
  volatile int* page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) abort();
  *page = 1;
}

static int is(const uint8_t* data, size_t len, const char* word) {
  return len == strlen(word) && memcmp(data, word, len) == 0;
}

static uint32_t rd32(const unsigned char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The region this plugin's ring lives in: reserve a record, then walk back page by page
 * to the header's magic ("SMC1", protocol version 2, header size 2048). The plugin host maps the
 * region page-aligned after its control block and config pages. */
static unsigned char* find_region(const smc_host* h) {
  int32_t status = 0;
  unsigned char* p = (unsigned char*)h->reserve(h, 8, 1000, &status);
  if (p == NULL) return NULL;
  h->abort(h);
  unsigned char* page = (unsigned char*)((uintptr_t)p & ~(uintptr_t)4095);
  for (int i = 0; i < 1 << 20; ++i, page -= 4096) {
    if (rd32(page) == 0x31434D53u && rd32(page + 4) == 2 && rd32(page + 8) == 2048) return page;
  }
  return NULL;
}

/* Writes the garbage, wakes the parent sleeping for N2R data (it waits on the ring's
 * consumer wake sequence, a process-shared futex: bump it, then wake), and keeps it there:
 * the plugin host's own endpoint puts an overwritten index of its side back after a park
 * (endpoint_sender.cpp, EndpointSender::restore_published), so the plugin holds the receive
 * thread (inside on_message) and rewrites it until the parent, which fails the channel on
 * the first look, kills this process. */
static void garbage(const smc_host* h, int record) {
  unsigned char* base = find_region(h);
  if (base == NULL) abort();
  const uint32_t r2n_cap = rd32(base + 20);
  const uint32_t n2r_cap = rd32(base + 28);
  uint32_t* write_index = (uint32_t*)(base + 896);                   /* N2R write_index */
  uint32_t* wake_seq = (uint32_t*)(base + 1156);                     /* N2R consumer_wake_seq */
  const uint32_t w = __atomic_load_n(write_index, __ATOMIC_RELAXED); /* our side's own word */
  for (int i = 0; i < 10000; ++i) {                                  /* 10 s at most */
    if (record) {
      unsigned char* rec = base + 2048 + r2n_cap + (w & (n2r_cap - 1));
      const uint32_t len = 8, kind = 0x77; /* no such kind */
      memcpy(rec, &len, 4);
      memcpy(rec + 4, &kind, 4);
      memset(rec + 8, 0xAB, 8);
      /* SYNC: ring-publish (partner: RingReader::refill's acquire load of write_index, in
       * the parent), so the bogus record is what the parent checks. */
      __atomic_store_n(write_index, w + 16, __ATOMIC_RELEASE);
    } else {
      __atomic_store_n(write_index, w + 4, __ATOMIC_RELAXED); /* not a multiple of 8 */
    }
    __atomic_fetch_add(wake_seq, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, wake_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    const struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

/* Scribbles over the plugin host's control block (the mapping's first page, magic
 * "SMCH", before the config pages and the region): every byte after the parent's layout
 * words becomes 0xFF, so texts have no NUL and no ASCII, counters and flags are huge. */
static void garbage_control(const smc_host* h) {
  unsigned char* page = find_region(h);
  if (page == NULL) abort();
  for (int i = 0; i < 1 << 20; ++i) {
    page -= 4096;
    if (rd32(page) == 0x48434D53u) {
      memset(page + 24, 0xFF, 4096 - 24);
      return;
    }
  }
  abort();
}

static void* create(const smc_host* host, const char* config, char* err, size_t err_len) {
  if (config != NULL && strstr(config, "\"crashInCreate\":true") != NULL) segv();
  if (config != NULL && strstr(config, "\"spinInCreate\":true") != NULL) {
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  }
  misbehave* m = calloc(1, sizeof *m);
  if (m == NULL) {
    strncpy(err, "out of memory", err_len - 1);
    err[err_len - 1] = '\0';
    return NULL;
  }
  m->host = host;
  return m;
}

static void on_message(void* instance, const uint8_t* data, size_t len) {
  misbehave* m = instance;
  if (is(data, len, "segv")) segv();
  if (is(data, len, "abort")) abort();
  if (is(data, len, "exit")) exit(7);
  if (is(data, len, "spin")) {
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  }
  if (is(data, len, "garbage-index")) {
    garbage(m->host, 0);
    return;
  }
  if (is(data, len, "garbage-control")) {
    garbage_control(m->host);
    m->host->send(m->host, data, len, SMC_WAIT_FOREVER);
    return;
  }
  if (is(data, len, "garbage-record")) {
    garbage(m->host, 1);
    return;
  }
  m->host->send(m->host, data, len, SMC_WAIT_FOREVER);
}

static void destroy(void* instance) {
  free(instance);
}

static const smc_plugin_descriptor descriptor = {
    SMC_PLUGIN_ABI_VERSION,
    sizeof(smc_plugin_descriptor),
    "misbehave",
    "1.0.0",
    create,
    on_message,
    NULL,
    0,
    destroy,
};

SMC_PLUGIN_EXPORT const smc_plugin_descriptor* smc_plugin_entry(void) {
  return &descriptor;
}
