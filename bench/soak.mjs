#!/usr/bin/env node
// `npm run soak`: minutes of mixed traffic through the real addon and plugins, then a
// check that nothing was lost, reordered, corrupted or leaked (issue #13 item 7).
//
//   node bench/soak.mjs [--minutes=10] [--seeds=4000] [--seed=N] [--only=echo,sink,...]
//                       [--gc-drop-modes=doorbell,poll] [--allocator=fixed|default] [--json]
//
// Concurrent actors, all on this process's event loop and the addon's native threads:
//   echo     long-lived echo channels (renewed every ~20 s); random sizes from 8 B to 4 MiB
//            (fragmented through small rings), sent through send / sendAsync / sendDirect /
//            reserve+commit at random; every echo checked in order and byte for byte,
//            plus a running sum32 of everything sent and received.
//   sink     fresh 'sink' channels (fnv1a or sum32): the native totals must equal what JS sent.
//   source   fresh 'source' channels: every message i of every size checked (head = i, rest = i & 0xff).
//   plugin   one 'plugin' channel at a time whose plugin is loaded, reloaded, swapped
//            (echo, image-filter, image-source) and unloaded while messages are in flight;
//            every reply must be explicable (an in-order echo, a correctly inverted image
//            for an outstanding request, a correct image-source frame, an error for a
//            non-image message), and delivered + dropped must equal what was sent.
//   churn    thousands of channels created and cleaned up (random rings, handlers, wake
//            modes; some with a round trip; some dropped without cleanup(), which the
//            garbage collector must finalize: --gc-drop-modes=doorbell,poll picks the modes).
//   workers  worker_threads that open echo channels and are terminated mid-traffic, or
//            finish and report checked counts.
//   hostile  the seeded hostile-memory test (build/js-test/test/hostile-memory.test.js,
//            compiled by the js test stage) with --seeds seeds, as a child process
//            running beside the traffic; skipped, with a message, when not compiled.
// At the end: RSS, open fds (/proc/self/fd) and threads (/proc/self/status) against the
// values after warm-up. Exit 0 only when every check held; otherwise exit 1 with one
// `SOAK FAIL <reason>: <detail>` line per violation. The run stops by itself: each actor
// finishes its cycle after the deadline; a watchdog fails any actor without progress for
// 30 s and the whole run 120 s past its deadline.
//
// --allocator=fixed (the default, Linux): the run re-executes itself with glibc's mmap
// threshold fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_), so the RSS check finds leaks rather
// than the allocator's policy: with glibc's dynamic threshold, every freed multi-MiB ring
// or reassembly buffer raises the threshold, later ones come from the heap, and the freed
// blocks stay resident (measured in docs/reliability.md). --allocator=default measures
// that too.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n, d) => argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const minutes = Number(opt('minutes', 10));
const seeds = Number(opt('seeds', 4000));
const seed = Number(opt('seed', (Date.now() ^ (process.pid << 12)) >>> 0));
const json = argv.includes('--json');
const allocator = opt('allocator', 'fixed');
if (!(minutes > 0) || !Number.isInteger(seeds) || seeds < 0 || !Number.isInteger(seed) || !['fixed', 'default'].includes(allocator)) {
  console.error('usage: node bench/soak.mjs [--minutes=N (> 0)] [--seeds=N (>= 0)] [--seed=N] [--only=echo,sink,source,plugin,churn,workers] [--gc-drop-modes=doorbell,poll] [--allocator=fixed|default] [--json]');
  process.exit(2);
}
const MMAP_THRESHOLD = '131072';
if (allocator === 'fixed' && process.platform === 'linux' && process.env.MALLOC_MMAP_THRESHOLD_ === undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD } });
  process.exit(r.status ?? 1);
}
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const lib = require('shared-memory-channel');
const { SharedMemoryChannel, AddonTransport, pluginPath, bpg, protocol } = lib;
const libPath = require.resolve('shared-memory-channel');

const t0 = Date.now();
const deadline = t0 + minutes * 60_000;
const log = (s) => process.stderr.write(`[soak ${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const running = () => Date.now() < deadline;

// ---- seeded PRNG (mulberry32): one stream per actor, all derived from the printed seed ----
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// Actors start over after a finding; each start draws a stream of its own, so the run
// goes on exploring instead of replaying the case that failed.
const restarts = {};
const rngFor = (k) => mulberry32((seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0);
const pick = (rand, xs) => xs[Math.floor(rand() * xs.length)];
const int = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive

// ---- violations, progress, counters -----------------------------------------------------
// A violation is recorded and the run goes on (the actor that found it starts over with a
// new channel), so one run reports everything it finds; any violation makes the exit 1.
const violations = [];
const violationCounts = {};
function violate(reason, detail) {
  violationCounts[reason] = (violationCounts[reason] ?? 0) + 1;
  if (violationCounts[reason] <= 3) violations.push({ reason, detail: String(detail) });
  log(`VIOLATION ${reason}: ${detail}`);
}
class Violation extends Error {
  constructor(reason, detail) {
    super(detail);
    this.reason = reason;
  }
}
const check = (ok, reason, detail) => {
  if (!ok) throw new Violation(reason, typeof detail === 'function' ? detail() : detail);
};
const progress = {};
// Each long-running actor's current channel: its ring indices moving count as progress.
const watched = {};
const watchedSeen = {};
// Event-loop lag: a stall report must say whether this thread itself was starved.
const lag = { max: 0, last: performance.now() };
setInterval(() => {
  const now = performance.now();
  lag.max = Math.max(lag.max, now - lag.last - 100);
  lag.last = now;
}, 100).unref();
const counts = {};
const bump = (k, n = 1) => (counts[k] = (counts[k] ?? 0) + n);

// ---- process resources ------------------------------------------------------------------
function resources() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  // Where RSS went: V8's heap, and ArrayBuffers / external memory (message copies,
  // reassembly buffers, SharedArrayBuffers of open channels) as V8 accounts them.
  const m = process.memoryUsage();
  const MiB = (b) => b / 1048576;
  return {
    rssMiB: field('VmRSS') / 1024, fds: readdirSync('/proc/self/fd').length - 1, threads: field('Threads'),
    heapUsedMiB: MiB(m.heapUsed), externalMiB: MiB(m.external), arrayBuffersMiB: MiB(m.arrayBuffers),
  };
}

function threadNames() {
  const byName = {};
  for (const t of readdirSync('/proc/self/task')) {
    let n = '?';
    try {
      n = readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    } catch {}
    byName[n] = (byName[n] ?? 0) + 1;
  }
  return Object.entries(byName).map(([n, c]) => `${n} x${c}`).join(', ');
}

// ---- payloads: views into one seeded pool, so checking an echo is one memcmp -------------
const POOL = 8 << 20;
const pool = new Uint8Array(POOL + 4096);
{
  const r = rngFor(99);
  const w = new Uint32Array(pool.buffer);
  for (let i = 0; i < w.length; i++) w[i] = (r() * 2 ** 32) >>> 0;
}
const MAGIC = 0x5041_4b53; // never BPG's magic, so image-filter answers these with ER
const HEADER = 12; // magic, seq, pool offset
function messageSize(rand, maxBig) {
  const r = rand();
  if (r < 0.55) return int(rand, HEADER, 64);
  if (r < 0.85) return int(rand, 65, 4096);
  if (r < 0.98) return int(rand, 4097, 256 << 10);
  return int(rand, 256 << 10, maxBig);
}
function makeMessage(rand, seq, size) {
  const off = int(rand, 0, POOL - size) & ~3;
  const m = new Uint8Array(size);
  m.set(pool.subarray(off + HEADER, off + size), HEADER);
  const dv = new DataView(m.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, seq, true);
  dv.setUint32(8, off, true);
  return m;
}
function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
function sum32(u8) {
  let s = 0;
  const n4 = u8.length & ~3;
  if ((u8.byteOffset & 3) === 0) {
    const w = new Uint32Array(u8.buffer, u8.byteOffset, n4 >> 2);
    for (let i = 0; i < w.length; i++) s = (s + w[i]) >>> 0;
  } else {
    for (let i = 0; i < n4; i += 4) s = (s + (u8[i] | (u8[i + 1] << 8) | (u8[i + 2] << 16) | (u8[i + 3] << 24))) >>> 0;
  }
  let tail = 0;
  for (let i = n4; i < u8.length; i++) tail |= u8[i] << (8 * (i - n4));
  return (s + (tail >>> 0)) >>> 0;
}
function fnv1a(u8) {
  let h = 2166136261;
  for (let i = 0; i < u8.length; i++) h = Math.imul(h ^ u8[i], 16777619) >>> 0;
  return h;
}
// Waits for `cond`. Without a channel, `ms` bounds the whole wait. With one, `ms` bounds
// the time without progress: a stall is a channel whose four ring indices all stand still
// while the wait lasts, not a slow one. On this 2-core VM at load 8-10 a turn of the event
// loop can take seconds, and a message many times the ring's size needs one JS wake per
// ring-full, so a healthy channel can take longer than any fixed deadline. Waits that
// outlast `ms` while progressing are counted (slow.*) with their longest gap, never
// hidden; SLOW_CEILING_MS still fails a channel that progresses forever without finishing.
const SLOW_CEILING_MS = 180_000;
const slow = {};
function ringIndices(ch) {
  const w = new Int32Array(ch.buffer);
  const p = protocol;
  return `${w[p.W_R2N_WRITE_INDEX]}/${w[p.W_R2N_READ_INDEX]}/${w[p.W_N2R_WRITE_INDEX]}/${w[p.W_N2R_READ_INDEX]}`;
}
async function until(cond, ms, reason, detail, ch = null) {
  const start = Date.now();
  let moved = start;
  let seen = ch ? ringIndices(ch) : '';
  let gap = 0;
  while (!cond()) {
    const t = Date.now();
    if (ch) {
      const now = ringIndices(ch);
      if (now !== seen) {
        gap = Math.max(gap, t - moved);
        seen = now;
        moved = t;
      }
      check(t - moved < ms, reason, () => `no ring index moved for ${((t - moved) / 1000).toFixed(1)} s (${((t - start) / 1000).toFixed(1)} s into the wait): ${typeof detail === 'function' ? detail() : detail}`);
      check(t - start < SLOW_CEILING_MS, reason, () => `not done after ${SLOW_CEILING_MS / 1000} s although progressing: ${typeof detail === 'function' ? detail() : detail}`);
    } else {
      check(t - start < ms, reason, detail);
    }
    await sleep(2);
  }
  const took = Date.now() - start;
  if (ch && took >= ms) {
    const k = (slow[reason] ??= { waits: 0, longestMs: 0, longestGapMs: 0 });
    k.waits++;
    k.longestMs = Math.max(k.longestMs, took);
    k.longestGapMs = Math.max(k.longestGapMs, gap, Date.now() - moved);
  }
}
const RINGS = [4096, 16384, 65536, 1 << 20, 4 << 20];

// The four parked words (who asked to be rung) and both state words, for stall reports.
function parkedWords(ch) {
  const w = new Int32Array(ch.buffer);
  const p = protocol;
  return `parked r2nConsumer ${w[p.W_R2N_CONSUMER_PARKED]} r2nProducer ${w[p.W_R2N_PRODUCER_PARKED]} n2rConsumer ${w[p.W_N2R_CONSUMER_PARKED]} n2rProducer ${w[p.W_N2R_PRODUCER_PARKED]}; states R ${w[p.W_R_STATE]} N ${w[p.W_N_STATE]}`;
}

// For a stall report: both sides' counters, then whether a direct poll() delivers what the
// event loop did not (a missed wake-up) or nothing (the peer is stuck).
// The JS side's private state (diagnostics only: TS-private fields, read at run time).
function internals(ch) {
  try {
    const core = ch.core, dl = core.drainLoop, ep = core.endpoint, r = ep.reader, fr = ep.frameReader, b = dl.backstop, h = b.handle;
    return JSON.stringify({
      draining: dl.draining, drainScheduled: dl.drainScheduled, polling: dl.polling,
      backstop: { armed: b.armed, handle: h === null ? null : { destroyed: h._destroyed, idleStart: h._idleStart, idleTimeout: h._idleTimeout, now: Math.round(performance.now()), linked: h._idleNext !== null && h._idleNext !== undefined } },
      reader: { read: r.read, released: r.released, cachedWrite: r.cachedWrite, failed: r.failedError !== null },
      frame: { inMsg: fr.inMsg, ended: fr.ended, have: fr.have, total: fr.total, polling: fr.polling },
      state: ep._state,
    });
  } catch (e) {
    return `unavailable (${e.message})`;
  }
}

function stallState(ch) {
  const words = parkedWords(ch);
  const { peer, ...st } = ch.getStats();
  let polled;
  try {
    polled = ch.poll();
  } catch (e) {
    polled = `threw ${e.message}`;
  }
  const after = ch.getStats();
  return `; JS ${JSON.stringify(st)}; peer ${JSON.stringify(peer)}; ${words}; internals ${internals(ch)}; a direct poll() then delivered ${polled} (received ${after.messagesReceived}, n2rFill ${after.n2rFill}); event-loop lag max ${lag.max.toFixed(0)} ms`;
}

// ---- actor: echo ------------------------------------------------------------------------
async function echoActor() {
  const rand = rngFor(1 + 100 * (restarts[1] = (restarts[1] ?? -1) + 1)); // a new stream after a finding
  while (running()) {
    const ring = pick(rand, RINGS);
    const wakeMode = rand() < 0.85 ? 'doorbell' : 'poll';
    const ch = new SharedMemoryChannel(ring, pick(rand, RINGS), { wakeMode });
    watched.echo = ch;
    const errors = [];
    ch.on('error', (e) => errors.push(e));
    const inflight = [];
    let head = 0;
    let seq = 0;
    let sentSum = 0, recvSum = 0, recvCount = 0, inflightBytes = 0;
    let bad = null;
    ch.startReceiving((m) => {
      const want = inflight[head];
      if (!want) return void (bad ??= `echo of ${m.length} bytes with nothing in flight`);
      if (!sameBytes(m, want)) {
        const got = m.length >= 8 ? new DataView(m.buffer, m.byteOffset).getUint32(4, true) : -1;
        return void (bad ??= `echo ${recvCount}: expected seq ${new DataView(want.buffer).getUint32(4, true)} (${want.length} B), got seq ${got} (${m.length} B) or different bytes`);
      }
      inflight[head++] = undefined;
      inflightBytes -= m.length;
      recvSum = (recvSum + sum32(m)) >>> 0;
      recvCount++;
      bump('echo.messages');
      bump('echo.bytes', m.length);
      progress.echo = Date.now();
    });
    const life = Date.now() + int(rand, 5_000, 20_000);
    try {
      while (running() && Date.now() < life) {
        const burst = int(rand, 1, 200);
        for (let b = 0; b < burst; b++) {
          // Bound what is in flight: the echo blocks when JS does not read, by design.
          while (seq - recvCount >= 256 || inflightBytes > 8 << 20) {
            check(!bad, 'echo_mismatch', bad);
            await until(() => seq - recvCount < 256 && inflightBytes <= 8 << 20 || bad || errors.length, 30_000, 'echo_stall', () => `${seq - recvCount} echoes outstanding${stallState(ch)}`, ch);
            check(errors.length === 0, 'echo_channel_error', () => errors[0]?.message);
          }
          const m = makeMessage(rand, seq, messageSize(rand, 4 << 20));
          inflight.push(m);
          seq++;
          inflightBytes += m.length;
          sentSum = (sentSum + sum32(m)) >>> 0;
          const api = rand();
          if (api < 0.1) {
            await ch.sendAsync(m);
            bump('echo.sendAsync');
          } else if (api < 0.2 && seq - 1 === recvCount) {
            // Only with nothing else in flight: sendDirect blocks this thread, so no echo
            // is read meanwhile, and replies of earlier messages could fill the reply ring.
            ch.sendDirect(m, 10_000);
            bump('echo.sendDirect');
          } else if (api < 0.3 && m.length <= ring / 4 - 8) {
            const r = ch.reserve(m.length);
            if (r) {
              r.view.set(m);
              r.commit();
              bump('echo.reserve');
            } else {
              ch.send(m);
              bump('echo.send');
            }
          } else {
            check(ch.send(m), 'echo_send_refused', `send() returned false with ${inflightBytes} bytes in flight`);
            bump('echo.send');
          }
        }
        await tick();
        check(!bad, 'echo_mismatch', bad);
        check(errors.length === 0, 'echo_channel_error', () => errors[0]?.message);
      }
      await until(() => recvCount === seq || bad || errors.length, 30_000, 'echo_stall', () => `${seq - recvCount} echoes missing at the end of a channel${stallState(ch)}`, ch);
      check(!bad, 'echo_mismatch', bad);
      check(errors.length === 0, 'echo_channel_error', () => errors[0]?.message);
      check(sentSum === recvSum, 'echo_checksum', `sum32 sent ${sentSum} != received ${recvSum}`);
      const st = ch.getStats();
      check(st.messagesSent === seq && st.messagesReceived === seq, 'echo_counts', `sent ${st.messagesSent}, received ${st.messagesReceived}, expected ${seq}`);
      bump('echo.channels');
    } finally {
      ch.cleanup();
    }
  }
}

// ---- actor: sink (JS -> native, checked by the native totals) ------------------------------
async function sinkActor() {
  const rand = rngFor(2 + 100 * (restarts[2] = (restarts[2] ?? -1) + 1)); // a new stream after a finding
  while (running()) {
    const ring = pick(rand, RINGS);
    const how = rand() < 0.5 ? 'sum32' : 'fnv1a';
    const ch = new SharedMemoryChannel(ring, 4096, { transport: new AddonTransport({ handler: 'sink', checksum: how }) });
    watched.sink = ch;
    const errors = [];
    ch.on('error', (e) => errors.push(e));
    try {
      const n = int(rand, 1, 3000);
      let bytes = 0, sum = 0;
      for (let i = 0; i < n; i++) {
        const m = makeMessage(rand, i, how === 'fnv1a' ? int(rand, HEADER, 2048) : messageSize(rand, 1 << 20));
        bytes += m.length;
        sum += how === 'sum32' ? sum32(m) : fnv1a(m);
        if (rand() < 0.2) ch.sendDirect(m, 10_000);
        else if (!ch.send(m)) await new Promise((r) => ch.once('drain', r));
        if ((i & 63) === 63) await tick();
      }
      await until(() => ch.getStats().peer.sinkMessages >= n || errors.length, 30_000, 'sink_stall', () => `sink counted ${ch.getStats().peer.sinkMessages} of ${n}${stallState(ch)}`, ch);
      check(errors.length === 0, 'sink_channel_error', () => errors[0]?.message);
      const p = ch.getStats().peer;
      check(p.sinkMessages === n && p.sinkBytes === bytes, 'sink_counts', `native counted ${p.sinkMessages} messages / ${p.sinkBytes} B, JS sent ${n} / ${bytes}`);
      check(p.sinkChecksum === sum, 'sink_checksum', `native ${how} total ${p.sinkChecksum}, JS ${sum}`);
      bump('sink.channels');
      bump('sink.messages', n);
      bump('sink.bytes', bytes);
      progress.sink = Date.now();
    } finally {
      ch.cleanup();
    }
    await sleep(int(rand, 0, 50));
  }
}

// ---- actor: source (native -> JS) ---------------------------------------------------------
async function sourceActor() {
  const rand = rngFor(3 + 100 * (restarts[3] = (restarts[3] ?? -1) + 1)); // a new stream after a finding
  while (running()) {
    const size = rand() < 0.9 ? int(rand, 0, 8192) : int(rand, 8193, 2 << 20);
    const drawn = Math.max(1, Math.min(int(rand, 1, 20_000), Math.floor((256 << 20) / Math.max(1, size))));
    const ring = pick(rand, RINGS);
    // At most 4096 ring-fulls per channel: each costs a JS wake, and at a few ms per wake on
    // a loaded event loop, 256 MiB through a 4 KiB ring (65,536 wakes) outlasts any bound.
    const count = Math.max(1, Math.min(drawn, Math.floor((ring * 4096) / Math.max(1, size))));
    let got = 0;
    let bad = null;
    const ch = new SharedMemoryChannel(4096, ring, { handler: 'source', sourceCount: count, sourceSize: size });
    watched.source = ch;
    const errors = [];
    ch.on('error', (e) => errors.push(e));
    try {
      ch.startReceiving((m) => {
        const i = got++;
        if (m.length !== size) return void (bad ??= `message ${i}: ${m.length} bytes, expected ${size}`);
        const head = Math.min(8, size);
        for (let k = 0; k < head; k++) {
          if (m[k] !== (k < 4 ? (i >>> (8 * k)) & 0xff : 0)) return void (bad ??= `message ${i}: head byte ${k} is ${m[k]}`);
        }
        const fill = i & 0xff;
        for (let k = 8; k < size; k++) if (m[k] !== fill) return void (bad ??= `message ${i}: byte ${k} is ${m[k]}, expected ${fill}`);
        progress.source = Date.now();
      });
      await until(() => got >= count || bad || errors.length, 60_000, 'source_stall', () => `${got} of ${count} source messages of ${size} B${stallState(ch)}`, ch);
      await sleep(5); // nothing may follow the last one
      check(!bad, 'source_mismatch', bad);
      check(errors.length === 0, 'source_channel_error', () => errors[0]?.message);
      check(got === count, 'source_counts', `${got} messages, the source sent ${count}`);
      bump('source.channels');
      bump('source.messages', count);
      bump('source.bytes', count * size);
    } finally {
      ch.cleanup();
    }
  }
}

// ---- actor: plugins loaded, reloaded, swapped and unloaded under traffic --------------------
const PLUGINS = ['echo', 'image-filter', 'image-source'];
function sourcePixelsOk(px, w, h, n) {
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += 4) {
      if (px[i] !== ((x + 3 * n) & 255) || px[i + 1] !== ((y + 2 * n) & 255) || px[i + 2] !== ((x + y + n) & 255) || px[i + 3] !== 255) return false;
    }
  }
  return true;
}
async function pluginActor() {
  const rand = rngFor(4 + 100 * (restarts[4] = (restarts[4] ?? -1) + 1)); // a new stream after a finding
  const paths = Object.fromEntries(PLUGINS.map((p) => [p, pluginPath(p)]));
  while (running()) {
    const ring = pick(rand, [16384, 65536, 1 << 20]);
    const ch = new SharedMemoryChannel(ring, ring, { handler: 'plugin' });
    watched.plugin = ch;
    const errors = [];
    ch.on('error', (e) => errors.push(e));
    const echoes = new Map(); // seq -> bytes, echo-kind messages sent and not yet explained
    const requests = new Map(); // targetId -> request bytes (image-filter)
    let lastEcho = -1, seq = 0, reqId = 1, loads = 0, current = null;
    // image-source frames per load (its targetId): numbers rise within a load, loads never go back.
    let frameEpoch = -1, lastFrame = -1;
    let bad = null;
    const seen = { echo: 0, filtered: 0, frames: 0, errors: 0, echoedRequests: 0 };
    ch.startReceiving((m) => {
      progress.plugin = Date.now();
      const dv = new DataView(m.buffer, m.byteOffset, m.length);
      if (m.length >= HEADER && dv.getUint32(0, true) === MAGIC) {
        const s = dv.getUint32(4, true);
        const want = echoes.get(s);
        if (!(s > lastEcho) || !want || !sameBytes(m, want)) return void (bad ??= `echo of seq ${s} after ${lastEcho}: unknown, out of order or changed`);
        for (const k of echoes.keys()) if (k <= s) echoes.delete(k);
        lastEcho = s;
        seen.echo++;
        return;
      }
      let p;
      try {
        p = bpg.decodeOne(m).packet;
      } catch (e) {
        return void (bad ??= `reply is neither an echo nor BPG: ${e.message}`);
      }
      if (p.tag === 'ER') {
        const why = JSON.parse(p.metadata).error;
        if (!/^not a BPG packet/.test(why)) bad ??= `image-filter error for a request of ours: ${why}`;
        seen.errors++;
        return;
      }
      if (p.tag !== 'IM') return void (bad ??= `unexpected BPG tag ${p.tag}`);
      const meta = JSON.parse(p.metadata);
      if (meta.format === 'rgba8') {
        if (p.targetId < frameEpoch || (p.targetId === frameEpoch && !(meta.frame > lastFrame))) {
          return void (bad ??= `image-source load ${p.targetId} frame ${meta.frame} after load ${frameEpoch} frame ${lastFrame}`);
        }
        if (p.targetId !== frameEpoch) lastFrame = -1;
        frameEpoch = p.targetId;
        if (!sourcePixelsOk(p.binary, meta.width, meta.height, meta.frame)) return void (bad ??= `image-source frame ${meta.frame}: wrong pixels`);
        lastFrame = meta.frame;
        seen.frames++;
        return;
      }
      const req = requests.get(p.targetId);
      if (!req) return void (bad ??= `image reply for unknown request ${p.targetId}`);
      if (sameBytes(m, req.bytes)) {
        seen.echoedRequests++; // an image request that reached the echo plugin
      } else {
        const c = req.channels;
        const colour = c === 4 ? 3 : c;
        for (let i = 0; i < req.pixels.length; i++) {
          const want = i % c < colour ? 255 - req.pixels[i] : req.pixels[i];
          if (p.binary[i] !== want) return void (bad ??= `request ${p.targetId}: pixel byte ${i} is ${p.binary[i]}, expected ${want}`);
        }
        seen.filtered++;
      }
      requests.delete(p.targetId);
    });
    // send() refuses (returns false, queues nothing) above the JS queue's high-water mark.
    const put = async (m) => {
      while (!ch.send(m)) {
        check(errors.length === 0 && !ch.isClosed, 'plugin_channel_error', () => errors[0]?.message ?? 'closed');
        await new Promise((r) => ch.once('drain', r));
      }
    };
    const sendEcho = async () => {
      const m = makeMessage(rand, seq, messageSize(rand, 64 << 10));
      echoes.set(seq++, m);
      await put(m);
    };
    const sendImage = async () => {
      const w = int(rand, 1, 48), h = int(rand, 1, 32), c = pick(rand, [1, 3, 4]);
      const off = int(rand, 0, POOL - w * h * c);
      const pixels = pool.slice(off, off + w * h * c);
      const id = reqId++;
      const bytes = bpg.encode({ tag: 'IM', endOfGroup: true, targetId: id, groupId: id, metadata: JSON.stringify({ width: w, height: h, channels: c, filter: 'invert' }), binary: pixels });
      requests.set(id, { bytes, pixels, channels: c });
      await put(bytes);
    };
    const traffic = async (n) => {
      for (let i = 0; i < n; i++) await (rand() < 0.5 ? sendEcho : sendImage)();
    };
    // For a stall report: the channel's state, then whether a direct poll() delivers what
    // the event-loop delivery did not (a missed wake-up) or nothing (a stuck reader).
    const state = () => {
      const words = parkedWords(ch);
      const { peer, ...st } = ch.getStats();
      let polled;
      try {
        polled = ch.poll();
      } catch (e) {
        polled = `threw ${e.message}`;
      }
      const after = ch.getStats();
      return `; ring ${ring} B; JS ${JSON.stringify(st)}; peer ${JSON.stringify(peer)}; ${words}; internals ${internals(ch)}; a direct poll() then delivered ${polled} (received ${after.messagesReceived}, n2rFill ${after.n2rFill}); current plugin ${current}; event-loop lag max ${lag.max.toFixed(0)} ms`;
    };
    try {
      const epochs = int(rand, 5, 30);
      for (let e = 0; e < epochs && running(); e++) {
        await traffic(int(rand, 0, 100)); // in flight while the slot changes
        const next = rand() < 0.15 ? null : pick(rand, PLUGINS);
        if (next === null) {
          ch.unloadPlugin();
          bump('plugin.unloads');
        } else {
          const config = next === 'image-source' ? { width: int(rand, 1, 64), height: int(rand, 1, 32), fps: int(rand, 50, 1000), targetId: 1_000_000 + loads } : {};
          ch.loadPlugin(paths[next], config);
          loads++;
          bump(next === current ? 'plugin.reloads' : 'plugin.loads');
        }
        current = next;
        await traffic(int(rand, 0, 100)); // after the swap
        // The new plugin must answer within a bound: a probe that only it explains.
        if (current === 'echo') {
          const probe = seq;
          await sendEcho();
          await until(() => lastEcho >= probe || bad || errors.length, 10_000, 'plugin_stall', () => `echo plugin did not echo a probe${state()}`, ch);
        } else if (current === 'image-filter') {
          const before = seen.filtered;
          await sendImage();
          await until(() => seen.filtered > before || bad || errors.length, 10_000, 'plugin_stall', () => `image-filter did not answer a probe${state()}`, ch);
        } else if (current === 'image-source') {
          const before = seen.frames;
          await until(() => seen.frames >= before + 2 || bad || errors.length, 10_000, 'plugin_stall', () => `image-source sent no 2 frames within 10 s${state()}`);
        } else {
          const before = ch.getStats().peer.pluginDropped;
          await sendEcho();
          await until(() => ch.getStats().peer.pluginDropped > before || bad || errors.length, 10_000, 'plugin_stall', () => `a message to an empty slot was not counted as dropped within 10 s${state()}`);
        }
        check(!bad, 'plugin_reply', bad);
        check(errors.length === 0, 'plugin_channel_error', () => errors[0]?.message);
        await sleep(int(rand, 0, 100));
      }
      ch.unloadPlugin(); // nothing may be in flight at the count below
      // What is still in the JS queue is written later: count only once it is empty.
      await until(() => ch.getStats().queueLength === 0 || errors.length, 30_000, 'plugin_stall', () => `the JS queue did not empty after the unload${state()}`, ch);
      const sent = ch.getStats().messagesSent;
      await until(() => { const p = ch.getStats().peer; return p.pluginDelivered + p.pluginDropped >= sent; }, 10_000, 'plugin_counts', () => `delivered + dropped short of ${sent}`);
      const p = ch.getStats().peer;
      check(p.pluginDelivered + p.pluginDropped === sent, 'plugin_counts', `delivered ${p.pluginDelivered} + dropped ${p.pluginDropped} != sent ${sent}`);
      check(p.pluginLoads === loads, 'plugin_counts', `addon counted ${p.pluginLoads} loads, the soak made ${loads}`);
      check(!bad, 'plugin_reply', bad);
      bump('plugin.channels');
      bump('plugin.messages', sent);
      for (const [k, v] of Object.entries(seen)) bump(`plugin.replies.${k}`, v);
    } finally {
      ch.cleanup();
    }
  }
}

// ---- actor: channel churn -----------------------------------------------------------------
// Channels dropped without cleanup() must be collected (docs/api.md): checked at the end.
const gcDropModes = opt('gc-drop-modes', 'doorbell,poll').split(',');
const droppedToGc = [];
async function churnActor() {
  const rand = rngFor(5 + 100 * (restarts[5] = (restarts[5] ?? -1) + 1)); // a new stream after a finding
  const echoPlugin = pluginPath('echo');
  while (running()) {
    const kind = pick(rand, ['echo', 'echo', 'sink', 'source', 'plugin', 'bare']);
    const wakeMode = pick(rand, ['doorbell', 'doorbell', 'poll', 'spin']);
    const opts = { wakeMode };
    if (kind === 'sink' || kind === 'source') opts.handler = kind;
    if (kind === 'source') Object.assign(opts, { sourceCount: int(rand, 0, 3), sourceSize: int(rand, 0, 100) });
    if (kind === 'plugin') opts.plugin = echoPlugin;
    const ch = new SharedMemoryChannel(pick(rand, [4096, 8192, 65536, 262144]), pick(rand, [4096, 8192, 65536]), opts);
    const errors = [];
    ch.on('error', (e) => errors.push(e));
    if ((kind === 'echo' || kind === 'plugin') && rand() < 0.5) {
      const m = makeMessage(rand, 7, int(rand, HEADER, 3000));
      let back = null;
      ch.startReceiving((r) => void (back = r.slice()));
      ch.send(m);
      await until(() => back || errors.length, 10_000, 'churn_stall', `no echo within 10 s (${kind}, ${wakeMode})`);
      check(errors.length === 0 && sameBytes(back, m), 'churn_echo', `${kind}/${wakeMode}: ${errors[0]?.message ?? 'echo differs'}`);
      bump('churn.roundTrips');
    }
    if (gcDropModes.includes(wakeMode) && kind !== 'source' && rand() < 0.05) {
      ch.stopReceiving();
      droppedToGc.push({ ref: new WeakRef(ch), wakeMode, kind });
      bump(`churn.droppedToGc.${wakeMode}`); // docs/api.md: the finalizer stops its native thread
    } else {
      ch.cleanup();
    }
    bump('churn.channels');
    progress.churn = Date.now();
    if ((counts['churn.channels'] & 255) === 0) gc();
    if ((counts['churn.channels'] & 15) === 0) await sleep(1);
    else await tick();
  }
}

// ---- actor: worker_threads opening channels, terminated mid-traffic -------------------------
const WORKER_CODE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const { SharedMemoryChannel } = require(w.libPath);
const chans = [];
let echoed = 0, bytes = 0, bad = null;
const total = w.channels * w.messages;
for (let c = 0; c < w.channels; c++) {
  const ch = new SharedMemoryChannel(w.ring, w.ring);
  const expect = [];
  let head = 0;
  const state = { ch, expect, pending: () => expect.length - head };
  ch.startReceiving((m) => {
    const e = expect[head];
    expect[head++] = undefined;
    if (!e || Buffer.compare(Buffer.from(m.buffer, m.byteOffset, m.length), Buffer.from(e)) !== 0) bad = bad || 'echo ' + echoed + ' differs';
    echoed++; bytes += m.length;
    if (w.finish && echoed === total) {
      for (const c of chans) c.ch.cleanup();
      parentPort.postMessage({ done: true, echoed, bytes, bad });
    }
  });
  chans.push(state);
}
let sent = 0;
function pump() {
  for (let k = 0; k < 64 && (!w.finish || sent < total); k++, sent++) {
    const c = chans[sent % chans.length];
    if (c.pending() > 512) break;
    const m = new Uint8Array(8 + (sent * 37) % 3000);
    m.fill(sent & 0xff); new DataView(m.buffer).setUint32(0, sent, true);
    c.expect.push(m);
    c.ch.send(m);
  }
  parentPort.postMessage({ echoed });
  if (!w.finish || sent < total) setTimeout(pump, 1);
}
pump();
`;
async function workerActor() {
  const rand = rngFor(6 + 100 * (restarts[6] = (restarts[6] ?? -1) + 1)); // a new stream after a finding
  while (running()) {
    const finish = rand() < 0.25;
    const wd = { libPath, channels: int(rand, 1, 3), ring: pick(rand, [4096, 65536, 1 << 20]), finish, messages: int(rand, 100, 2000) };
    const w = new Worker(WORKER_CODE, { eval: true, workerData: wd });
    let echoed = 0, result = null, error = null;
    w.on('message', (m) => {
      echoed = m.echoed;
      if (m.done) result = m;
    });
    w.on('error', (e) => (error = e));
    const exited = new Promise((r) => w.once('exit', r));
    try {
      if (finish) {
        await until(() => result || error, 60_000, 'worker_stall', `a worker did not finish ${wd.channels * wd.messages} echoes within 60 s`);
        check(!error, 'worker_error', () => error.message);
        check(!result.bad && result.echoed === wd.channels * wd.messages, 'worker_echo', () => result.bad ?? `${result.echoed} echoes, expected ${wd.channels * wd.messages}`);
        bump('workers.completed');
        bump('workers.echoes', result.echoed);
      } else {
        await sleep(int(rand, 20, 400));
        check(!error, 'worker_error', () => error.message);
        bump('workers.terminated');
        bump('workers.echoes', echoed);
      }
      await w.terminate();
      await Promise.race([exited, sleep(10_000).then(() => check(false, 'worker_exit', 'a terminated worker did not exit within 10 s'))]);
      progress.workers = Date.now();
    } finally {
      await w.terminate();
    }
  }
}

// ---- hostile memory: the seeded test as a child process ------------------------------------
function hostileSection() {
  const file = path.join(root, 'build/js-test/test/hostile-memory.test.js');
  if (seeds === 0) return Promise.resolve({ skipped: '--seeds=0' });
  if (!existsSync(file)) {
    log(`hostile: ${path.relative(root, file)} not compiled (the js test stage compiles it): skipped`);
    return Promise.resolve({ skipped: 'not compiled' });
  }
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--expose-gc', '--test', file], { cwd: root, env: { ...process.env, SMC_HOSTILE_SEEDS: String(seeds) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const killer = setTimeout(() => c.kill('SIGKILL'), minutes * 60_000 + 300_000);
    c.on('exit', (code, signal) => {
      clearTimeout(killer);
      const outcomes = out.split('\n').filter((l) => /^# \d+ x (ended|continued)/.test(l)).map((l) => l.slice(2));
      resolve({ code, signal, outcomes, tail: out.slice(-3000) });
    });
  });
}

// ---- run ----------------------------------------------------------------------------------
const startRes = resources();
log(`seed ${seed} (reproduce: --seed=${seed}); ${minutes} min; hostile seeds ${seeds}; allocator ${process.env.MALLOC_MMAP_THRESHOLD_ === undefined ? 'glibc default' : `MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_}`}; start: RSS ${startRes.rssMiB.toFixed(1)} MiB, ${startRes.fds} fds, ${startRes.threads} threads; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

const allActors = { echo: echoActor, sink: sinkActor, source: sourceActor, plugin: pluginActor, churn: churnActor, workers: workerActor };
const only = opt('only', null)?.split(',');
const unknown = only?.filter((n) => !(n in allActors)) ?? [];
if (unknown.length) {
  console.error(`--only: unknown actor(s) ${unknown.join(', ')}; the actors are ${Object.keys(allActors).join(', ')}`);
  process.exit(2);
}
const actors = only ? Object.fromEntries(only.map((n) => [n, allActors[n]])) : allActors;
const actorDone = {};
const samples = [];
let rssCheck = null;
let warm = null;
const watchdog = setInterval(() => {
  const now = Date.now();
  for (const name of Object.keys(actors)) {
    const ch = watched[name];
    if (ch && !ch.isClosed) {
      const seen = ringIndices(ch);
      if (seen !== watchedSeen[name]) progress[name] = now;
      watchedSeen[name] = seen;
    }
    if (!actorDone[name] && now - (progress[name] ?? t0) > 30_000) {
      violate('stall', `actor ${name} made no progress for ${((now - (progress[name] ?? t0)) / 1000).toFixed(0)} s`);
      progress[name] = now; // report once per 30 s
    }
  }
  if (now > deadline + 120_000) {
    violate('no_stop', 'the run did not end within 120 s of its deadline');
    finish();
  }
}, 1000);
const sampler = setInterval(() => {
  const r = resources();
  samples.push({ t: (Date.now() - t0) / 1000, ...r });
  if (samples.length % 6 === 0) log(`RSS ${r.rssMiB.toFixed(0)} MiB, ${r.fds} fds, ${r.threads} threads; echo ${counts['echo.messages'] ?? 0} msgs, churn ${counts['churn.channels'] ?? 0} channels, workers ${(counts['workers.terminated'] ?? 0) + (counts['workers.completed'] ?? 0)}, plugin loads ${counts['plugin.loads'] ?? 0}`);
}, 5000);

let hostileResult = null;
let finishing = false;
const hostile = hostileSection();
const runs = Object.entries(actors).map(async ([name, fn]) => {
  while (running()) {
    try {
      await fn();
    } catch (e) {
      violate(e instanceof Violation ? e.reason : `${name}_exception`, e instanceof Violation ? e.message : e?.stack ?? e);
    }
  }
  actorDone[name] = true;
});
// Warm-up: the resources every actor needs once (libuv pool, V8 worker isolates, plugin
// images) are in place after the first 20 s; leaks are measured from there.
const warmTimer = setTimeout(async () => {
  gc();
  warm = resources();
  log(`warm (20 s): RSS ${warm.rssMiB.toFixed(1)} MiB, ${warm.fds} fds, ${warm.threads} threads`);
}, Math.min(20_000, minutes * 30_000));

await Promise.all(runs);
hostileResult = await hostile;
await finish();

async function finish() {
  if (finishing) return;
  finishing = true;
  clearInterval(watchdog);
  clearInterval(sampler);
  clearTimeout(warmTimer);
  const ref = warm ?? startRes;
  // Threads of terminated workers and finalized channels go away asynchronously: settle.
  let end = resources();
  for (let i = 0; i < 50; i++) {
    gc();
    await sleep(200);
    end = resources();
    if (end.fds <= ref.fds && end.threads <= ref.threads) break;
  }
  if (hostileResult && !hostileResult.skipped && hostileResult.code !== 0) {
    violate('hostile_memory', `the seeded hostile-memory test failed (exit ${hostileResult.code ?? hostileResult.signal}):\n${hostileResult.tail}`);
  }
  const uncollected = droppedToGc.filter((d) => d.ref.deref() !== undefined);
  if (uncollected.length) {
    const by = {};
    for (const d of uncollected) by[`${d.wakeMode}/${d.kind}`] = (by[`${d.wakeMode}/${d.kind}`] ?? 0) + 1;
    violate('gc_drop_not_collected', `${uncollected.length} of ${droppedToGc.length} channels dropped without cleanup() were never collected (their native threads keep running): ${JSON.stringify(by)}`);
  }
  // A leak grows with the traffic: RSS above warm-up by more than RSS_LIMIT_MIB *and* still
  // rising in the second half of the run (end against the sample nearest the midpoint).
  // Retention that plateaus (freed memory glibc keeps, worker isolates' arenas) is not one.
  const RSS_LIMIT_MIB = 64;
  const RSS_SECOND_HALF_LIMIT_MIB = 32;
  const midT = (Date.now() - t0) / 2000;
  const mid = samples.reduce((best, s) => (best === null || Math.abs(s.t - midT) < Math.abs(best.t - midT) ? s : best), null) ?? ref;
  rssCheck = { warmMiB: ref.rssMiB, midMiB: mid.rssMiB, midT: mid.t, endMiB: end.rssMiB };
  if (end.rssMiB - ref.rssMiB > RSS_LIMIT_MIB && end.rssMiB - mid.rssMiB > RSS_SECOND_HALF_LIMIT_MIB) {
    violate('rss_growth', `RSS grew ${(end.rssMiB - ref.rssMiB).toFixed(1)} MiB since warm-up (limit ${RSS_LIMIT_MIB}), ${(end.rssMiB - mid.rssMiB).toFixed(1)} MiB of it after ${mid.t.toFixed(0)} s, the middle of the run (limit ${RSS_SECOND_HALF_LIMIT_MIB})`);
  }
  if (end.fds > ref.fds) violate('fd_leak', `${end.fds} open fds at the end, ${ref.fds} after warm-up`);
  if (end.threads > ref.threads) violate('thread_leak', `${end.threads} threads at the end, ${ref.threads} after warm-up; by name now: ${threadNames()}`);
  const summary = {
    seed, minutes, elapsed_s: (Date.now() - t0) / 1000, load: os.loadavg(),
    start: startRes, warm: ref, end, peakRssMiB: Math.max(...samples.map((s) => s.rssMiB), end.rssMiB),
    eventLoopLagMaxMs: lag.max, counts, slow, rssCheck, violationCounts, hostile: hostileResult ? { seeds, exit: hostileResult.code, skipped: hostileResult.skipped, outcomes: hostileResult.outcomes } : null,
    violations,
  };
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    const lines = [`soak: seed ${seed}, ${summary.elapsed_s.toFixed(0)} s, load avg ${summary.load.map((l) => l.toFixed(1)).join(' ')}`];
    for (const k of Object.keys(counts).sort()) lines.push(`  ${k.padEnd(32)} ${counts[k]}`);
    for (const [r, k] of Object.entries(slow)) lines.push(`  slow but progressing: ${r.padEnd(14)} ${k.waits} waits past their bound, the longest ${(k.longestMs / 1000).toFixed(1)} s, longest time without a ring index moving ${(k.longestGapMs / 1000).toFixed(1)} s`);
    lines.push(`  V8 memory        warm / end: heap used ${ref.heapUsedMiB.toFixed(1)} / ${end.heapUsedMiB.toFixed(1)} MiB, external ${ref.externalMiB.toFixed(1)} / ${end.externalMiB.toFixed(1)} MiB (ArrayBuffers ${ref.arrayBuffersMiB.toFixed(1)} / ${end.arrayBuffersMiB.toFixed(1)})`);
    lines.push(`  RSS check        warm ${rssCheck.warmMiB.toFixed(1)} MiB, middle (${rssCheck.midT.toFixed(0)} s) ${rssCheck.midMiB.toFixed(1)} MiB, end ${rssCheck.endMiB.toFixed(1)} MiB: +${(rssCheck.endMiB - rssCheck.warmMiB).toFixed(1)} since warm-up, ${(rssCheck.endMiB - rssCheck.midMiB).toFixed(1)} in the second half`);
    lines.push(`  resources        start / warm / end: RSS ${startRes.rssMiB.toFixed(1)} / ${ref.rssMiB.toFixed(1)} / ${end.rssMiB.toFixed(1)} MiB (peak ${summary.peakRssMiB.toFixed(1)}), event-loop lag max ${lag.max.toFixed(0)} ms, fds ${startRes.fds} / ${ref.fds} / ${end.fds}, threads ${startRes.threads} / ${ref.threads} / ${end.threads}`);
    if (summary.hostile) lines.push(`  hostile memory   ${summary.hostile.skipped ? `skipped (${summary.hostile.skipped})` : `${seeds} seeds, exit ${summary.hostile.exit}: ${summary.hostile.outcomes.join('; ')}`}`);
    if (violations.length) lines.push(`  violations       ${Object.entries(violationCounts).map(([r, n]) => `${r} x${n}`).join(', ')} (the first 3 of each below)`);
    lines.push(violations.length ? violations.map((v) => `SOAK FAIL ${v.reason}: ${v.detail}`).join('\n') : 'SOAK PASS');
    process.stdout.write(lines.join('\n') + '\n');
  }
  process.exit(violations.length ? 1 : 0);
}
