#!/usr/bin/env node
// `npm run bench`: the channel (JS <-> native) next to what users would pick instead
// (TSFN, a mutex queue behind an N-API call, worker_threads postMessage) and next to the
// limits of the machine (SAB copy, memcpy, a bare spin ping-pong). Each case runs in a
// child process of its own (bench/cases.mjs), one after another; every figure is the
// median of several runs; targets are ratios measured in this one run.
//
//   node bench/run.mjs [--quick] [--json] [--out=bench-results] [--scaling] [--no-build] [--only=WORD,...]
//
// --scaling: afterwards, the size and ring-size sweep of bench/scaling.mjs (several
// minutes more; its table on stdout, scaling-*.svg and scaling.json beside bench.svg).
//
// Human output: a table (stdout), progress (stderr), an SVG bar chart of the ratios
// (bench-results/bench.svg) and all figures (bench-results/results.json).
// --json: one {"metric","value","unit"} object per line on stdout, nothing else.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const quick = flag('quick');
const json = flag('json');
const outDir = path.resolve(root, opt('out', 'bench-results'));
const log = (s) => process.stderr.write(s);

// ---- prerequisites ------------------------------------------------------------------------
function ensureBuilt() {
  // --no-build: measure the binaries and js/dist as they are (a checkout shared with
  // others, whose half-done edits a rebuild would pick up); they must exist.
  if (flag('no-build')) {
    const missing = ['build/release/smc.node', 'build/release/bench_baseline.node', 'js/dist/cjs/index.js'].filter((f) => !existsSync(path.join(root, f)));
    if (missing.length) {
      log(`bench: --no-build, but ${missing.join(', ')} not built\n`);
      process.exit(1);
    }
    return;
  }
  // Measure what is in the tree: `npm run build` first (incremental, a no-op when up to
  // date; its release preset also builds the baseline addon), so an edited source is
  // never benchmarked stale.
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
  const built = ['build/release/smc.node', 'build/release/bench_baseline.node', 'js/dist/cjs/index.js'].every((f) => existsSync(path.join(root, f)));
  if (r.status !== 0 || !built) {
    log('bench: `npm run build` failed or did not build the addon and the baseline addon\n');
    process.exit(1);
  }
}

// ---- plan -----------------------------------------------------------------------------------
const R = quick ? 3 : 5; // runs per case (medians)
const K = quick ? 1 : 4; // scale of message counts
const MiB = 1 << 20;
const plan = [
  // [label, case, params, (runs) => {metric: [value, unit]}]
  ['channel JS->native 64 B', 'chanJ2N', { size: 64, n: 500_000 * K, reps: R }, (r) => ({ 'channel.js_to_native.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel JS->native 64 B, sendMany batches', 'chanJ2N', { size: 64, n: 500_000 * K, reps: R, sendMany: true }, (r) => ({ 'channel.js_to_native.64B.batch.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel JS->native 4 KiB', 'chanJ2N', { size: 4096, n: 50_000 * K, reps: R }, (r) => ({ 'channel.js_to_native.4KiB.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel JS->native 1 MiB (sendDirect)', 'chanJ2N', { size: MiB, n: 400 * K, reps: R, direct: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 1 MiB (send, paced)', 'chanJ2N', { size: MiB, n: 400 * K, reps: R }, (r) => ({ 'channel.js_to_native.1MiB.send_paced.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 64 B', 'chanN2J', { size: 64, n: 1_000_000 * K, reps: R }, (r) => ({ 'channel.native_to_js.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel native->JS 64 B, JS reads 8 bytes', 'chanN2JRead8', { size: 64, n: 1_000_000 * K, reps: R }, (r) => ({ 'channel.native_to_js.64B.read8.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel native->JS 64 B, JS reads 8 bytes in place', 'chanN2JRead8', { size: 64, n: 1_000_000 * K, reps: R, inPlace: true }, (r) => ({ 'channel.native_to_js.64B.read8.in_place.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel native->JS 4 KiB', 'chanN2J', { size: 4096, n: 100_000 * K, reps: R }, (r) => ({ 'channel.native_to_js.4KiB.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['channel native->JS 1 MiB', 'chanN2J', { size: MiB, n: 400 * K, reps: R }, (r) => ({ 'channel.native_to_js.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  // Issue #14 items 3 and 7: a consumer that reads every byte, and 256 MiB messages through
  // the same 8 MiB rings as the 1 MiB figures (fragmented into 2 MiB records, reassembled).
  // Every 256 / 512 MiB case is timed after one untimed message on the same channel (warm):
  // the native source's first message includes the first touch of its own scratch buffer
  // (a producer's cost, which the JS producer's message, made once per process, never
  // pays) and the ring's first lap; the scaling sweep reports first use separately.
  ['channel native->JS 1 MiB, JS reads every byte', 'chanN2JRead', { size: MiB, n: 400 * K, reps: R }, (r) => ({ 'channel.native_to_js.1MiB.read_all.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 256 MiB (sendDirect, 8 MiB ring)', 'chanJ2N', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true, direct: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.256MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 256 MiB (8 MiB ring)', 'chanN2J', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true }, (r) => ({ 'channel.native_to_js.256MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 256 MiB, JS reads every byte', 'chanN2JRead', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true }, (r) => ({ 'channel.native_to_js.256MiB.read_all.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  // The same with keepAssembly raised to the message's size: the reassembly buffer the warm-up
  // message touched is reused, where the default keep limit (64 MiB) frees it after each.
  ['channel JS->native 256 MiB (sendDirect, 8 MiB ring), keepAssembly 256 MiB, warm', 'chanJ2N', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, direct: true, ring: 8 * MiB, keepAssembly: 256 * MiB, warm: true }, (r) => ({ 'channel.js_to_native.256MiB.kept.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 256 MiB, JS reads every byte, keepAssembly 256 MiB, warm', 'chanN2JRead', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, keepAssembly: 256 * MiB, warm: true }, (r) => ({ 'channel.native_to_js.256MiB.read_all.kept.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  // Issue #14 item 7: 512 MiB, the streaming receive in both directions (no reassembly),
  // sendAsync (no copy into the JS queue for a fragmented message) through the same 8 MiB
  // ring and through a 1 MiB ring (256 KiB fragments: the per-fragment wake), and what
  // populating the rings at creation costs.
  ['channel JS->native 512 MiB (sendDirect, 8 MiB ring)', 'chanJ2N', { size: 512 * MiB, n: quick ? 1 : 2, reps: R, warm: true, direct: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.512MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 512 MiB, JS reads every byte', 'chanN2JRead', { size: 512 * MiB, n: quick ? 1 : 2, reps: R, warm: true }, (r) => ({ 'channel.native_to_js.512MiB.read_all.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 256 MiB, native streaming sink', 'chanJ2N', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true, direct: true, stream: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.256MiB.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 512 MiB, native streaming sink', 'chanJ2N', { size: 512 * MiB, n: quick ? 1 : 2, reps: R, warm: true, direct: true, stream: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.512MiB.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 256 MiB, JS streaming receive reads every byte', 'chanN2JRead', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true, stream: true }, (r) => ({ 'channel.native_to_js.256MiB.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel native->JS 512 MiB, JS streaming receive reads every byte', 'chanN2JRead', { size: 512 * MiB, n: quick ? 1 : 2, reps: R, warm: true, stream: true }, (r) => ({ 'channel.native_to_js.512MiB.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 1 MiB (sendAsync, 8 MiB ring)', 'chanJ2N', { size: MiB, n: 400 * K, reps: R, async: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.1MiB.send_async.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 256 MiB (sendAsync, 8 MiB ring, streaming sink)', 'chanJ2N', { size: 256 * MiB, n: quick ? 1 : 4, reps: R, warm: true, async: true, stream: true, ring: 8 * MiB }, (r) => ({ 'channel.js_to_native.256MiB.send_async.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 1 MiB (sendAsync, 1 MiB ring: 256 KiB fragments)', 'chanJ2N', { size: MiB, n: 400 * K, reps: R, async: true, ring: MiB }, (r) => ({ 'channel.js_to_native.1MiB.send_async.ring1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel JS->native 256 MiB (sendAsync, 1 MiB ring, streaming sink)', 'chanJ2N', { size: 256 * MiB, n: quick ? 1 : 2, reps: R, warm: true, async: true, stream: true, ring: MiB }, (r) => ({ 'channel.js_to_native.256MiB.send_async.ring1MiB.stream.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['channel creation, 8 MiB rings', 'chanCreate', { ring: 8 * MiB, reps: R, prefault: false }, (r) => ({ 'channel.create.8MiB.ms': [med(r, 'ms'), 'ms'] })],
  ['channel creation, 8 MiB rings, prefault', 'chanCreate', { ring: 8 * MiB, reps: R, prefault: true }, (r) => ({ 'channel.create.8MiB.prefault.ms': [med(r, 'ms'), 'ms'] })],
  ['channel creation, 512 MiB rings, prefault', 'chanCreate', { ring: 512 * MiB, reps: quick ? 1 : 3, prefault: true }, (r) => ({ 'channel.create.512MiB.prefault.ms': [med(r, 'ms'), 'ms'] })],
  ['channel spin round trip', 'chanRttSpin', { iters: 20_000 * K, reps: R }, (r) => ({
    'channel.rtt.spin.p50_ns': [med(r, 'p50_ns'), 'ns'], 'channel.rtt.spin.p99_ns': [med(r, 'p99_ns'), 'ns'] })],
  // Issue #14 item 4: where the spin round trip's time goes, every piece in one process
  // (bench/breakdown-cases.mjs): cross-core p50s, then one-thread CPU costs (means).
  ['channel spin round trip, breakdown', 'chanRttBreakdown', { iters: 20_000 * K, oneThreadIters: 200_000 * K, reps: R }, (r) => Object.fromEntries(
    Object.keys(r[0] ?? {}).map((k) => (k.endsWith('_vs_raw') ? [`channel.rtt.breakdown.${k}`, [med(r, k), 'x']] : [`channel.rtt.breakdown.${k}_ns`, [med(r, k), 'ns']])))],
  ['channel doorbell round trip', 'chanRttDoorbell', { iters: 1000 * K, reps: R }, (r) => ({
    'channel.rtt.doorbell.p50_ns': [med(r, 'p50_ns'), 'ns'], 'channel.rtt.doorbell.p99_ns': [med(r, 'p99_ns'), 'ns'] })],
  ['channel close() with a parked native peer', 'chanClose', { iters: 100 * K, reps: R }, (r) => ({
    'channel.close.latency_us.p50': [med(r, 'p50_us'), 'us'], 'channel.close.latency_us.p99': [med(r, 'p99_us'), 'us'] })],
  ['channel idle CPU', 'chanIdle', { ms: quick ? 1000 : 3000, reps: quick ? 2 : 3 }, (r) => ({ 'channel.idle_cpu_percent': [med(r, 'cpu_percent'), '%'] })],
  ['baseline TSFN flood native->JS 64 B', 'tsfnFlood', { n: 200_000 * K, reps: R }, (r) => ({ 'baseline.tsfn.native_to_js.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['baseline mutex queue JS->native 64 B', 'mutexQueue', { n: 500_000 * K, reps: R }, (r) => ({ 'baseline.queue.js_to_native.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['baseline postMessage flood 64 B', 'pmFlood', { n: 100_000 * K, reps: R }, (r) => ({ 'baseline.postmessage.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['baseline postMessage round trip', 'pmRtt', { iters: 1000 * K, reps: R }, (r) => ({ 'baseline.postmessage.rtt.p50_ns': [med(r, 'p50_ns'), 'ns'] })],
  ['baseline TSFN round trip', 'tsfnRtt', { iters: 1000 * K, reps: R }, (r) => ({ 'baseline.tsfn.rtt.p50_ns': [med(r, 'p50_ns'), 'ns'] })],
  ['limit JS u8.set 1 MiB into a SAB', 'sabSet', { size: MiB, iters: 1000 * K, reps: R }, (r) => ({ 'limit.sab_set.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  // A reassembled 256 MiB message is at least one copy of 256 MiB out of cache: this is that
  // copy alone, into fresh pages and into warm ones (and a page's first touch).
  ['limit JS u8.set 256 MiB into a fresh / a warm SAB', 'firstTouch', { size: 256 * MiB, reps: R }, (r) => ({
    'limit.sab_set.256MiB.fresh.bytes_per_s': [med(r, 'fresh_set_bytes_per_s'), 'B/s'], 'limit.sab_set.256MiB.warm.bytes_per_s': [med(r, 'warm_set_bytes_per_s'), 'B/s'],
    'limit.first_touch.us_per_page': [med(r, 'us_per_page'), 'us'] })],
  ['limit bare JS->native hand-over 1 MiB', 'handover', { size: MiB, slots: 8, n: 400 * K, reps: R }, (r) => ({ 'limit.handover.js_to_native.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['limit JS u32 sum of 1 MiB in cache (the read_all consumer)', 'jsSum', { size: MiB, iters: 500 * K, reps: R }, (r) => ({ 'limit.js_sum32.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['limit memcpy 1 MiB', 'memcpy', { size: MiB, iters: 1000 * K, reps: R }, (r) => ({ 'limit.memcpy.1MiB.bytes_per_s': [med(r, 'bytes_per_s'), 'B/s'] })],
  ['limit raw spin round trip', 'rawSpin', { iters: 20_000 * K, reps: R }, (r) => ({ 'limit.raw_spin.rtt.p50_ns': [med(r, 'p50_ns'), 'ns'] })],
  ['peer ringbuf.js worker->main 64 B', 'peerRing', { kind: 'ringbufjs', size: 64, n: 1_000_000 * K, reps: R }, (r) => ({ 'peer.ringbufjs.worker_to_main.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['peer ringbuf.js worker->main 4 KiB', 'peerRing', { kind: 'ringbufjs', size: 4096, n: 100_000 * K, reps: R }, (r) => ({ 'peer.ringbufjs.worker_to_main.4KiB.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['peer TS protocol both ends worker->main 64 B', 'peerRing', { kind: 'ts_protocol', size: 64, n: 1_000_000 * K, reps: R }, (r) => ({ 'peer.ts_protocol.worker_to_main.64B.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['peer TS protocol both ends worker->main 4 KiB', 'peerRing', { kind: 'ts_protocol', size: 4096, n: 100_000 * K, reps: R }, (r) => ({ 'peer.ts_protocol.worker_to_main.4KiB.msgs_per_s': [med(r, 'msgs_per_s'), 'msg/s'] })],
  ['timer cost (hrtime pair)', 'timerCost', { iters: 100_000, reps: 1 }, (r) => ({ 'limit.timer.p50_ns': [med(r, 'p50_ns'), 'ns'] })],
];

function med(runs, key) {
  const v = runs.map((x) => x[key]).filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

// [name, numerator metric, denominator metric, target test, target text]
const ratios = [
  ['native->JS 64 B vs TSFN flood', 'channel.native_to_js.64B.msgs_per_s', 'baseline.tsfn.native_to_js.64B.msgs_per_s', (x) => x >= 20, '>= 20x'],
  ['native->JS 64 B read 8 bytes: in place vs views', 'channel.native_to_js.64B.read8.in_place.msgs_per_s', 'channel.native_to_js.64B.read8.msgs_per_s', null, '(info)'],
  ['JS->native 64 B sendMany vs send()', 'channel.js_to_native.64B.batch.msgs_per_s', 'channel.js_to_native.64B.msgs_per_s', (x) => x >= 2, '>= 2x'],
  ['JS->native 64 B vs mutex queue', 'channel.js_to_native.64B.msgs_per_s', 'baseline.queue.js_to_native.64B.msgs_per_s', (x) => x >= 2, '>= 2x'],
  ['JS->native 64 B vs postMessage', 'channel.js_to_native.64B.msgs_per_s', 'baseline.postmessage.64B.msgs_per_s', (x) => x >= 20, '>= 20x'],
  ['JS->native 1 MiB vs u8.set into SAB', 'channel.js_to_native.1MiB.bytes_per_s', 'limit.sab_set.1MiB.bytes_per_s', (x) => x >= 0.8, '>= 0.8x'],
  ['JS->native 1 MiB send() paced vs u8.set', 'channel.js_to_native.1MiB.send_paced.bytes_per_s', 'limit.sab_set.1MiB.bytes_per_s', null, '(info)'],
  ['JS->native 1 MiB vs bare hand-over', 'channel.js_to_native.1MiB.bytes_per_s', 'limit.handover.js_to_native.1MiB.bytes_per_s', null, '(info)'],
  ['native->JS 1 MiB vs memcpy', 'channel.native_to_js.1MiB.bytes_per_s', 'limit.memcpy.1MiB.bytes_per_s', null, '(info)'],
  ['native->JS 1 MiB, every byte read vs JS u32 sum in cache', 'channel.native_to_js.1MiB.read_all.bytes_per_s', 'limit.js_sum32.1MiB.bytes_per_s', null, '(info)'],
  ['native->JS 1 MiB, every byte read vs one byte read', 'channel.native_to_js.1MiB.read_all.bytes_per_s', 'channel.native_to_js.1MiB.bytes_per_s', null, '(info)'],
  ['JS->native 256 MiB vs 1 MiB (same ring)', 'channel.js_to_native.256MiB.bytes_per_s', 'channel.js_to_native.1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 256 MiB vs 1 MiB (same ring, every byte read)', 'channel.native_to_js.256MiB.read_all.bytes_per_s', 'channel.native_to_js.1MiB.read_all.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 512 MiB vs 1 MiB (same ring)', 'channel.js_to_native.512MiB.bytes_per_s', 'channel.js_to_native.1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 512 MiB vs 1 MiB (same ring, every byte read)', 'channel.native_to_js.512MiB.read_all.bytes_per_s', 'channel.native_to_js.1MiB.read_all.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 256 MiB, keepAssembly 256 MiB, vs 1 MiB (same ring)', 'channel.js_to_native.256MiB.kept.bytes_per_s', 'channel.js_to_native.1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 256 MiB, keepAssembly 256 MiB, vs 1 MiB (same ring, every byte read)', 'channel.native_to_js.256MiB.read_all.kept.bytes_per_s', 'channel.native_to_js.1MiB.read_all.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 256 MiB: keepAssembly 256 MiB vs the default', 'channel.js_to_native.256MiB.kept.bytes_per_s', 'channel.js_to_native.256MiB.bytes_per_s', null, '(info)'],
  ['native->JS 256 MiB every byte read: keepAssembly 256 MiB vs the default', 'channel.native_to_js.256MiB.read_all.kept.bytes_per_s', 'channel.native_to_js.256MiB.read_all.bytes_per_s', null, '(info)'],
  ['JS->native 256 MiB, keepAssembly 256 MiB, vs u8.set of 256 MiB into a warm SAB', 'channel.js_to_native.256MiB.kept.bytes_per_s', 'limit.sab_set.256MiB.warm.bytes_per_s', null, '(info)'],
  ['1 MiB u8.set vs 256 MiB u8.set into a warm SAB', 'limit.sab_set.1MiB.bytes_per_s', 'limit.sab_set.256MiB.warm.bytes_per_s', null, '(info)'],
  ['JS->native 256 MiB streamed vs u8.set of 256 MiB into a warm SAB', 'channel.js_to_native.256MiB.stream.bytes_per_s', 'limit.sab_set.256MiB.warm.bytes_per_s', null, '(info)'],
  ['JS->native 256 MiB streamed vs 1 MiB (same ring)', 'channel.js_to_native.256MiB.stream.bytes_per_s', 'channel.js_to_native.1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 512 MiB streamed vs 1 MiB (same ring)', 'channel.js_to_native.512MiB.stream.bytes_per_s', 'channel.js_to_native.1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 256 MiB streamed vs 1 MiB (same ring, every byte read)', 'channel.native_to_js.256MiB.stream.bytes_per_s', 'channel.native_to_js.1MiB.read_all.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 512 MiB streamed vs 1 MiB (same ring, every byte read)', 'channel.native_to_js.512MiB.stream.bytes_per_s', 'channel.native_to_js.1MiB.read_all.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 256 MiB sendAsync (streamed) vs 1 MiB sendAsync (same ring)', 'channel.js_to_native.256MiB.send_async.stream.bytes_per_s', 'channel.js_to_native.1MiB.send_async.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['JS->native 1 MiB sendAsync, 1 MiB ring vs 8 MiB ring', 'channel.js_to_native.1MiB.send_async.ring1MiB.bytes_per_s', 'channel.js_to_native.1MiB.send_async.bytes_per_s', null, '(info)'],
  ['JS->native 256 MiB sendAsync (streamed), 1 MiB ring vs 1 MiB sendAsync, 1 MiB ring', 'channel.js_to_native.256MiB.send_async.ring1MiB.stream.bytes_per_s', 'channel.js_to_native.1MiB.send_async.ring1MiB.bytes_per_s', (x) => x >= 0.5, '>= 0.5x'],
  ['native->JS 256 MiB vs 1 MiB (same ring, one byte read)', 'channel.native_to_js.256MiB.bytes_per_s', 'channel.native_to_js.1MiB.bytes_per_s', null, '(info)'],
  ['spin RTT p50 vs raw spin p50', 'channel.rtt.spin.p50_ns', 'limit.raw_spin.rtt.p50_ns', (x) => x <= 3, '<= 3x'],
  // null denominator: the metric is already a ratio (here the median of per-rep ratios).
  ['breakdown: channel spin RTT vs raw spin (same rep)', 'channel.rtt.breakdown.channel_vs_raw', null, (x) => x <= 2, '<= 2x'],
  ['breakdown: 64 B record ping-pong vs raw spin (same rep)', 'channel.rtt.breakdown.record_vs_raw', null, null, '(info)'],
  ['breakdown: 64 B record ping-pong, records stamped (no index word), vs raw spin (same rep)', 'channel.rtt.breakdown.stamped_record_vs_raw', null, null, '(info)'],
  ['doorbell RTT p50 vs TSFN RTT p50', 'channel.rtt.doorbell.p50_ns', 'baseline.tsfn.rtt.p50_ns', (x) => x <= 1.1, '<= 1.1x'],
  ['native->JS 64 B vs ringbuf.js worker->main 64 B', 'channel.native_to_js.64B.msgs_per_s', 'peer.ringbufjs.worker_to_main.64B.msgs_per_s', (x) => x >= 1, '>= 1x'],
  ['native->JS 4 KiB vs ringbuf.js worker->main 4 KiB', 'channel.native_to_js.4KiB.msgs_per_s', 'peer.ringbufjs.worker_to_main.4KiB.msgs_per_s', (x) => x >= 1, '>= 1x'],
  ['JS->native 64 B vs ringbuf.js worker->main 64 B', 'channel.js_to_native.64B.msgs_per_s', 'peer.ringbufjs.worker_to_main.64B.msgs_per_s', (x) => x >= 1, '>= 1x'],
  ['TS protocol both ends vs ringbuf.js, 64 B', 'peer.ts_protocol.worker_to_main.64B.msgs_per_s', 'peer.ringbufjs.worker_to_main.64B.msgs_per_s', null, '(info)'],
  ['TS protocol both ends vs ringbuf.js, 4 KiB', 'peer.ts_protocol.worker_to_main.4KiB.msgs_per_s', 'peer.ringbufjs.worker_to_main.4KiB.msgs_per_s', null, '(info)'],
  ['doorbell RTT p50 vs postMessage RTT p50', 'channel.rtt.doorbell.p50_ns', 'baseline.postmessage.rtt.p50_ns', null, '(info)'],
];

// ---- run -------------------------------------------------------------------------------------
ensureBuilt();
const metrics = {};
const raw = {};
const started = Date.now();
// --only=a,b: only the cases whose label contains one of the words (e.g. --only=MiB).
const only = opt('only', '').split(',').filter(Boolean);
const chosen = only.length ? plan.filter(([label]) => only.some((w) => label.includes(w))) : plan;
chosen.forEach(([label, name, params, extract], i) => {
  log(`[${i + 1}/${chosen.length}] ${label} ... `);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'bench/cases.mjs'), name, JSON.stringify(params)], {
    cwd: root, encoding: 'utf8', timeout: quick ? 30_000 : 180_000, maxBuffer: 1 << 24,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    log(`FAILED (${r.signal ?? `exit ${r.status}`})\n${(r.stderr ?? '').slice(-2000)}\n`);
    return;
  }
  const { runs } = JSON.parse(line);
  raw[name + ':' + JSON.stringify(params)] = runs;
  for (const [m, [v, unit]] of Object.entries(extract(runs))) metrics[m] = { value: v, unit };
  log(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});
const elapsed = (Date.now() - started) / 1000;
log(`done in ${elapsed.toFixed(1)} s\n`);

const ratioRows = ratios.map(([name, a, b, test, target]) => {
  const x = b === null ? metrics[a]?.value : metrics[a]?.value / metrics[b]?.value;
  const ok = test === null || !Number.isFinite(x) ? null : test(x);
  return { name, ratio: x, target, pass: ok };
});
const idle = metrics['channel.idle_cpu_percent']?.value;
ratioRows.push({ name: 'idle CPU (absolute, %)', ratio: idle, target: '< 1%', pass: Number.isFinite(idle) ? idle < 1 : null, absolute: true });

if (json) {
  for (const [metric, { value, unit }] of Object.entries(metrics)) process.stdout.write(JSON.stringify({ metric, value, unit }) + '\n');
  for (const r of ratioRows) {
    if (!r.absolute) process.stdout.write(JSON.stringify({ metric: `ratio.${r.name}`, value: r.ratio, unit: 'x' }) + '\n');
  }
}

// ---- human output --------------------------------------------------------------------------
function fmt(v, unit) {
  if (!Number.isFinite(v)) return 'n/a';
  if (unit === 'msg/s') return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M msg/s` : `${(v / 1e3).toFixed(1)} k msg/s`;
  if (unit === 'B/s') return `${(v / 1e9).toFixed(2)} GB/s`;
  if (unit === 'ns') return v >= 1e4 ? `${(v / 1e3).toFixed(1)} us` : `${Math.round(v)} ns`;
  if (unit === '%') return `${v.toFixed(2)} %`;
  if (unit === 'x') return `${v.toFixed(2)}x`;
  if (unit === 'us') return `${v.toFixed(1)} us`;
  return String(v);
}
const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${os.platform()} ${os.release()}, Node ${process.version}, load avg ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
const lines = [];
lines.push(`SharedMemoryChannel bench${quick ? ' (--quick)' : ''}: medians of ${R} runs; ${machine}`);
lines.push('');
lines.push('| metric | median |');
lines.push('|---|---|');
for (const [m, { value, unit }] of Object.entries(metrics)) lines.push(`| ${m} | ${fmt(value, unit)} |`);
lines.push('');
lines.push('| comparison | ratio | target | result |');
lines.push('|---|---|---|---|');
for (const r of ratioRows) {
  const v = r.absolute ? fmt(r.ratio, '%') : Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : 'n/a';
  lines.push(`| ${r.name} | ${v} | ${r.target} | ${r.pass === null ? '-' : r.pass ? 'PASS' : 'MISS'} |`);
}
if (!json) process.stdout.write(lines.join('\n') + '\n');

function svg(rows) {
  const shown = rows.filter((r) => !r.absolute && Number.isFinite(r.ratio));
  const W = 760, rowH = 34, left = 300, top = 40, barMax = W - left - 90;
  const maxLog = Math.max(2, ...shown.map((r) => Math.abs(Math.log10(r.ratio)))) ;
  const scale = (x) => (Math.log10(x) / maxLog) * (barMax / 2);
  const mid = left + barMax / 2;
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${top + rowH * shown.length + 40}" font-family="sans-serif" font-size="12">\n`;
  s += `<text x="10" y="20" font-size="14" font-weight="bold">SharedMemoryChannel vs alternatives (ratio, log scale; green = target met)</text>\n`;
  s += `<line x1="${mid}" y1="${top - 6}" x2="${mid}" y2="${top + rowH * shown.length}" stroke="#444"/>\n`;
  s += `<text x="${mid}" y="${top + rowH * shown.length + 16}" text-anchor="middle">1x</text>\n`;
  shown.forEach((r, i) => {
    const y = top + i * rowH;
    const w = scale(r.ratio);
    const color = r.pass === null ? '#7a8fa6' : r.pass ? '#3a9d4a' : '#c8463d';
    s += `<text x="${left - 8}" y="${y + 20}" text-anchor="end">${esc(r.name)}</text>\n`;
    s += `<rect x="${w >= 0 ? mid : mid + w}" y="${y + 6}" width="${Math.max(1, Math.abs(w))}" height="${rowH - 12}" fill="${color}"/>\n`;
    s += `<text x="${(w >= 0 ? mid + w : mid) + 6}" y="${y + 20}">${r.ratio.toFixed(2)}x (${esc(r.target)})</text>\n`;
  });
  return s + '</svg>\n';
}
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'bench.svg'), svg(ratioRows));
writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ machine, quick, runs: R, elapsed_s: elapsed, metrics, ratios: ratioRows, raw }, null, 1));
log(`wrote ${path.relative(root, path.join(outDir, 'bench.svg'))} and results.json\n`);

if (flag('scaling')) {
  const args = [path.join(root, 'bench/scaling.mjs'), `--out=${outDir}`, ...(quick ? ['--quick'] : []), ...(json ? ['--json'] : [])];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) process.exitCode = 1;
}
