// Software prefetch for bytes that cross between cores.
//
// Why this exists: every ring line is written by one core and read by the other, so each
// access is a cross-core transfer, and on the machine this project is measured on (a
// 2-vCPU EPYC VM: raw cross-core ping-pong 130-560 ns depending on where the host places
// the vCPUs) the hardware does not hide that latency by itself:
//
// - Writer: a store to a line the reader held last lap waits for ownership. Ordinary
//   vector stores (what memcpy uses for small copies) then fill the store buffer and the
//   writer stalls line by line. Requesting ownership of the free lines ahead (PREFETCHW)
//   overlaps those transfers: 64 B messages went from ~12 to ~21 M msg/s (core_bench's
//   64 B case, paired builds with and without it, slow placement). Large copies
//   (glibc's rep movsb, above ~2 KiB) write whole lines without reading them, and the
//   prefetch only adds traffic there (4 KiB messages: 3.3 -> 1.6 M msg/s), so the ring
//   writer requests lines only for records of at most kWriteAheadMaxPayload bytes.
// - Ring reader: a consumer that keeps up reads each batch of small records as soon as it
//   is published, one cross-core miss after another (the next header's address depends on
//   the last header's length). RingReader requests the published lines up to
//   kRingReadAheadBytes ahead into L2 as it goes, so a batch's lines travel together
//   (paired figures in docs/benchmarks.md, "Core 64 B").
// - Reader: the hardware stream prefetcher stops at each 4 KiB page, so a sequential
//   reader of a large freshly written view pays about one cross-core miss per page.
//   Requesting the lines 16 KiB ahead raised a bare two-thread 1 MiB hand-over from 7.5
//   to 11 GB/s (slow placement) and from 9.6 to 30 GB/s (fast placement) in a standalone
//   experiment (not part of `npm run bench:core`). for_each_block
//   packages that; the core uses it to copy fragments out of the ring, the built-in sink
//   to checksum, and a receiver reading large views should use it too.
//
// A prefetch is a hint: it never faults and never changes what a load returns, so it is
// safe on memory a hostile peer controls. Both uses stay inside bytes the caller owns at
// that moment (the writer's free space, the reader's published record): prefetching lines
// the other side is still using would pull them away from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace smc {

inline constexpr size_t kCacheLine = 64;
// How far ahead lines are requested: 16 KiB = 256 lines in flight, the best of 1-16 KiB
// measured for both directions.
inline constexpr uint32_t kReadAheadBytes = 16 * 1024;
inline constexpr uint32_t kWriteAheadBytes = 16 * 1024;
// Records above this size are copied with whole-line writes (see above): no write-ahead.
inline constexpr uint32_t kWriteAheadMaxPayload = 2048;
// How far past its read position the ring's reader requests published lines (RingReader).
inline constexpr uint32_t kRingReadAheadBytes = 8 * 1024;
// for_each_block's block size: one page, so each step requests one page of lines.
inline constexpr size_t kReadAheadBlock = 4096;

inline void prefetch_line(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, /*rw=*/0, /*locality=*/3);
#else
  (void)p;
#endif
}

// Requests the line into the core's L2 only (PREFETCHT1): for many lines far ahead, which
// would otherwise compete for the few L1 miss buffers the loads of the current line need.
inline void prefetch_line_to_l2(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, /*rw=*/0, /*locality=*/2);
#else
  (void)p;
#endif
}

// Requests the line in a writable state. PREFETCHW is a hint (a no-op where unsupported)
// on x86-64; GCC only emits it for __builtin_prefetch(p, 1) when built for a CPU that has
// it, hence the asm.
inline void prefetch_line_for_write(const void* p) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, /*rw=*/1, /*locality=*/3);
#else
  (void)p;
#endif
}

// Calls fn(std::span<const std::byte>) on consecutive 4 KiB blocks of `data` (the last one
// shorter) while requesting the lines 16 KiB ahead of the current block: the way to read a
// large received view at memory speed (checksums, parsers, copies out of the ring).
template <class Fn>
void for_each_block(std::span<const std::byte> data, Fn&& fn) {
  const std::byte* p = data.data();
  const size_t n = data.size();
  for (size_t k = 0; k < kReadAheadBytes && k < n; k += kCacheLine) prefetch_line(p + k);
  size_t i = 0;
  for (; i + kReadAheadBlock <= n; i += kReadAheadBlock) {
    const size_t ahead = i + kReadAheadBytes;
    for (size_t k = 0; k < kReadAheadBlock && ahead + k < n; k += kCacheLine) {
      prefetch_line(p + ahead + k);
    }
    fn(data.subspan(i, kReadAheadBlock));
  }
  if (i < n) fn(data.subspan(i));
}

}  // namespace smc
