// One benchmark case per process: `node bench/cases.mjs <case> '<json params>'` prints
// one JSON line {case, runs: [..]} on stdout. bench/run.mjs spawns these one at a time so
// that threads of one measurement never compete with another's, and takes medians.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { peerRing } from './peer-cases.mjs';
import { chanRttBreakdown } from './breakdown-cases.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hr = process.hrtime.bigint;
const sec = (t0) => Number(hr() - t0) / 1e9;
const tick = () => new Promise((r) => setImmediate(r));

function channelLib() {
  return require('shared-memory-channel');
}
function baseline() {
  const p = path.join(root, 'build/release/bench_baseline.node');
  if (existsSync(p)) return require(p);
  throw new Error('build/release/bench_baseline.node not built (bench/run.mjs builds it)');
}
function pct(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
function latencyStats(samples) {
  const s = Float64Array.from(samples).sort();
  return { p50_ns: pct(s, 0.5), p99_ns: pct(s, 0.99), n: s.length };
}
// One sample per round trip of a spin loop: `once()` does a whole round trip synchronously.
// The first `warmup` round trips are not recorded.
function spinRoundTrips(iters, warmup, once) {
  const samples = new Float64Array(iters);
  for (let i = -warmup; i < iters; i++) {
    const t0 = hr();
    once();
    if (i >= 0) samples[i] = Number(hr() - t0);
  }
  return latencyStats(samples);
}
// One sample per awaited round trip: `start(done)` sends and arranges for done() at its end.
async function awaitedRoundTrips(iters, warmup, start) {
  const samples = new Float64Array(iters);
  for (let i = -warmup; i < iters; i++) {
    const t0 = hr();
    await new Promise(start);
    if (i >= 0) samples[i] = Number(hr() - t0);
  }
  return latencyStats(samples);
}
// Runs `once(count)` reps + 1 times and returns its results: the first run, with n / 8
// messages, warms up and is not reported.
async function floodRuns({ n, reps }, once) {
  const out = [];
  for (let rep = 0; rep <= reps; rep++) {
    const r = await once(rep === 0 ? Math.max(1, n >> 3) : n);
    if (rep > 0) out.push(r);
  }
  return out;
}
function payload(size) {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}
// Ring sizes: 4 MiB for small messages (room for batches in flight); 8 MiB for 1 MiB
// messages so one message is one record (max record = ring / 4) and is read in place.
const ringFor = (size) => (size >= 1 << 20 ? 8 << 20 : 4 << 20);

// ---- channel ---------------------------------------------------------------------------

function sum32(u8) {
  const padded = new Uint8Array((u8.length + 3) & ~3);
  padded.set(u8);
  let s = 0;
  for (const w of new Uint32Array(padded.buffer)) s = (s + w) >>> 0;
  return s;
}

// JS -> native: send() in batches, publishing each batch with one index store (the
// microtask send() schedules runs at the `await`). The sender paces itself on the ring's
// fill (getStats().r2nFill, once per batch) so send() always writes straight into the
// ring and never falls back to the JS queue, which copies the message into a fresh
// ArrayBuffer (for 1 MiB: ~3 ms of page faults on this VM). Timed until the native sink
// has counted every message; its checksum is then verified.
// The sink folds every byte into a checksum; 'sum32' (u32 word sums, memory speed) instead
// of the default fnv1a (byte-serial, ~1 GB/s, which would measure fnv1a, not the channel).
// sendMany: the same batches and pacing, each batch one sendMany() call (written back to
// back, published at once) instead of one send() per message.
// stream: the sink takes messages larger than a record fragment by fragment (the native
// streaming receive) instead of reassembled. async: sendAsync, each awaited (the JS queue
// holds the message when the ring is full; a fragmented one is written from the caller's
// bytes as space appears).
async function chanJ2N({ size, n, reps, direct = false, ring, sendMany = false, async: viaAsync = false, stream = false, keepAssembly, warm = false }) {
  const cap = ring ?? ringFor(size);
  const rec = 8 + ((size + 7) & ~7);
  const batch = Math.max(1, Math.min(1024, Math.floor(cap / 4 / rec)));
  return sinkRuns({ size, n, reps, ring: cap, stream, keepAssembly, warm }, async (ch, msg, count) => {
    let waits = 0;
    if (viaAsync) {
      for (let i = 0; i < count; i++) await ch.sendAsync(msg);
      return { waits };
    }
    if (sendMany) {
      const full = new Array(batch).fill(msg);
      for (let i = 0; i < count; ) {
        const k = Math.min(batch, count - i);
        while (ch.getStats().r2nFill + k * rec > cap) {
          waits++;
          await tick();
        }
        const sent = ch.sendMany(k === batch ? full : full.slice(0, k));
        if (sent !== k) throw new Error(`sendMany accepted ${sent} of ${k} into a ring with room for them`);
        i += k;
        await null; // the same turn structure as the send() loop
      }
      return { waits };
    }
    if (direct) {
      // sendDirect: each message is in the ring when the call returns (the JS thread spins,
      // then sleeps, while the ring is full): no pacing and no JS queue; a message larger
      // than a record goes as fragments as space appears.
      for (let i = 0; i < count; i++) ch.sendDirect(msg, 10_000);
      return { waits };
    }
    for (let i = 0; i < count; ) {
      const e = Math.min(count, i + batch);
      while (ch.getStats().r2nFill + (e - i) * rec > cap) {
        waits++;
        await tick();
      }
      for (; i < e; i++) ch.send(msg);
      await null; // publish
    }
    return { waits };
  });
}

// Runs `send(ch, msg, count)` into a fresh 'sink' channel per run, times it until the sink
// has counted every message, then verifies the sink's byte count and checksum.
// `keepAssembly` (channel option; passed to the native side): the reassembly keep limit.
// `warm`: one message goes through the channel untimed first, so that the timed ones find
// the ring's pages and a kept reassembly buffer already touched.
async function sinkRuns({ size, n, reps, ring, stream = false, keepAssembly, warm = false }, send) {
  const { SharedMemoryChannel, AddonTransport } = channelLib();
  const msg = size > 1 << 24 ? bigPayload(size) : payload(size);
  const msgSum = sum32(msg);
  return floodRuns({ n, reps }, async (count) => {
    const ch = new SharedMemoryChannel(ring, 1 << 16, {
      transport: new AddonTransport({ handler: 'sink', checksum: 'sum32', stream }), keepAlive: true,
      ...(keepAssembly === undefined ? {} : { keepAssembly }),
    });
    const first = warm ? 1 : 0;
    if (warm) {
      await send(ch, msg, 1);
      while (ch.getStats().peer.sinkMessages < 1) await tick();
    }
    const t0 = hr();
    const extra = await send(ch, msg, count);
    while (ch.getStats().peer.sinkMessages < first + count) await tick();
    const s = sec(t0);
    const st = ch.getStats();
    ch.cleanup();
    const all = first + count;
    if (st.peer.sinkBytes !== all * size) throw new Error(`sink got ${st.peer.sinkBytes} bytes, expected ${all * size}`);
    if (st.peer.sinkChecksum !== all * msgSum) throw new Error(`sink checksum ${st.peer.sinkChecksum}, expected ${all * msgSum}`);
    return { msgs_per_s: count / s, bytes_per_s: (count * size) / s, doorbellsToPeer: st.doorbellsToPeer, ...extra };
  });
}

// native -> JS: handler 'source' streams n messages; JS receives views in place and
// reads ONE byte of each message (m[0]) into an accumulator. Timed until the n-th arrives.
async function chanN2J({ size, n, reps, warm = false }) {
  const { SharedMemoryChannel } = channelLib();
  return floodRuns({ n, reps }, async (timed) => {
    const count = timed + (warm ? 1 : 0);
    let got = 0;
    let acc = 0;
    let done;
    const finished = new Promise((r) => (done = r));
    let t0 = hr();
    const ch = new SharedMemoryChannel(1 << 16, ringFor(size), {
      handler: 'source', sourceCount: count, sourceSize: size, keepAlive: true,
    });
    ch.startReceiving((m) => {
      acc += m[0];
      if (++got === count) done();
      else if (warm && got === 1) t0 = hr();
    });
    await finished;
    const s = sec(t0);
    const st = ch.getStats();
    ch.cleanup();
    return { msgs_per_s: timed / s, bytes_per_s: (timed * size) / s, doorbellsFromPeer: st.doorbellsFromPeer, acc };
  });
}

// Spin round trip: wakeMode 'spin' (the native echo thread never parks); JS sends with
// sendDirect (publishes at once) and busy-waits on poll() for the echo. One sample per
// round trip, timed with hrtime (its ~30-60 ns cost is in every spin figure alike).
async function chanRttSpin({ iters, reps, size = 64 }) {
  const { SharedMemoryChannel } = channelLib();
  const out = [];
  const msg = payload(size);
  for (let rep = 0; rep < reps; rep++) {
    const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'echo', wakeMode: 'spin' });
    let got = 0;
    ch.startReceiving(() => void got++);
    out.push(
      spinRoundTrips(iters, 2000, () => {
        ch.sendDirect(msg, 1000);
        const want = got + 1;
        while (got < want) ch.poll();
      }),
    );
    ch.cleanup();
    await tick();
  }
  return out;
}

// Doorbell round trip: default wake mode; send() and await the echo. Both sides may
// park: the native thread spins a while, then sleeps in a futex; JS returns to its event
// loop and is woken by the TSFN doorbell.
async function chanRttDoorbell({ iters, reps, size = 64 }) {
  const { SharedMemoryChannel } = channelLib();
  const out = [];
  const msg = payload(size);
  for (let rep = 0; rep < reps; rep++) {
    const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'echo', keepAlive: true });
    let resolve = null;
    ch.startReceiving(() => {
      const r = resolve;
      resolve = null;
      r?.();
    });
    out.push(
      await awaitedRoundTrips(iters, 50, (r) => {
        resolve = r;
        ch.send(msg);
      }),
    );
    ch.cleanup();
  }
  return out;
}

// close() latency with a parked native peer: a fresh channel per sample (default
// doorbell mode), closed once the native thread has parked (its parks counter moved:
// it spun, yielded, and waits in a futex). close() wakes it, stops it and joins it, so
// the figure is the JS side's whole close. Microseconds.
async function chanClose({ iters, reps }) {
  const { SharedMemoryChannel } = channelLib();
  const out = [];
  for (let rep = 0; rep <= reps; rep++) {
    const samples = new Float64Array(iters);
    for (let i = 0; i < iters; i++) {
      const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'echo' });
      while ((ch.getStats().peer.parks ?? 0) === 0) await tick();
      const t0 = hr();
      ch.close();
      samples[i] = Number(hr() - t0) / 1000;
    }
    const s = samples.sort();
    if (rep > 0) out.push({ p50_us: pct(s, 0.5), p99_us: pct(s, 0.99), n: iters }); // rep 0 warms up
  }
  return out;
}

// Idle CPU: an open channel in doorbell mode, receiving, with nothing to do. CPU time of
// the whole process (JS thread + native thread) over wall time.
async function chanIdle({ ms, reps }) {
  const { SharedMemoryChannel } = channelLib();
  const out = [];
  for (let rep = 0; rep < reps; rep++) {
    const ch = new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'echo', keepAlive: true });
    ch.startReceiving(() => {});
    ch.send(new Uint8Array(64));
    await new Promise((r) => setTimeout(r, 200)); // settle: both sides park
    const c0 = process.cpuUsage();
    const t0 = hr();
    await new Promise((r) => setTimeout(r, ms));
    const c = process.cpuUsage(c0);
    const wall = sec(t0);
    const st = ch.getStats();
    ch.cleanup();
    out.push({ cpu_percent: ((c.user + c.system) / 1e6 / wall) * 100, parks: st.peer.parks });
  }
  return out;
}

// ---- baselines -------------------------------------------------------------------------

async function tsfnFlood({ n, reps, size = 64 }) {
  const b = baseline();
  return floodRuns({ n, reps }, async (count) => {
    let acc = 0;
    const t0 = hr();
    await b.tsfnFlood(count, size, (buf) => void (acc += buf[0]));
    return { msgs_per_s: count / sec(t0), acc };
  });
}

async function mutexQueue({ n, reps, size = 64 }) {
  const b = baseline();
  const msg = payload(size);
  return floodRuns({ n, reps }, async (count) => {
    const q = new b.MutexQueue();
    const t0 = hr();
    for (let i = 0; i < count; i++) q.push(msg);
    while (q.drained() < count) await tick();
    const s = sec(t0);
    q.close();
    return { msgs_per_s: count / s };
  });
}

const PM_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m.cmd === 'flood') { let got = 0; let acc = 0;
    const port = m.port; port.on('message', (d) => { acc += d[0]; if (++got === m.n) { port.close(); parentPort.postMessage({ done: true, acc }); } }); }
  else if (m.cmd === 'echo') { m.port.on('message', (d) => m.port.postMessage(d)); }
});`;

function pmWorker() {
  return new Worker(PM_WORKER, { eval: true });
}

// postMessage flood JS -> worker: a 64 B Uint8Array per message (structured clone),
// timed until the worker has received all.
async function pmFlood({ n, reps, size = 64 }) {
  const { MessageChannel } = await import('node:worker_threads');
  const w = pmWorker();
  const msg = payload(size);
  const out = await floodRuns({ n, reps }, async (count) => {
    const { port1, port2 } = new MessageChannel();
    const done = new Promise((r) => w.once('message', r));
    w.postMessage({ cmd: 'flood', n: count, port: port2 }, [port2]);
    const t0 = hr();
    for (let i = 0; i < count; i++) {
      port1.postMessage(msg);
      if ((i & 4095) === 4095) await tick(); // let the event loop breathe, as a real sender would
    }
    await done;
    const s = sec(t0);
    port1.close();
    return { msgs_per_s: count / s };
  });
  await w.terminate();
  return out;
}

async function pmRtt({ iters, reps, size = 64 }) {
  const { MessageChannel } = await import('node:worker_threads');
  const out = [];
  const w = pmWorker();
  const msg = payload(size);
  for (let rep = 0; rep < reps; rep++) {
    const { port1, port2 } = new MessageChannel();
    w.postMessage({ cmd: 'echo', port: port2 }, [port2]);
    let resolve = null;
    port1.on('message', () => resolve?.());
    out.push(
      await awaitedRoundTrips(iters, 50, (r) => {
        resolve = r;
        port1.postMessage(msg);
      }),
    );
    port1.close();
  }
  await w.terminate();
  return out;
}

// TSFN round trip: JS calls ping() (condvar notify); the native thread, asleep on the
// condvar, wakes and calls a TSFN; its JS callback ends the round trip.
async function tsfnRtt({ iters, reps }) {
  const b = baseline();
  const out = [];
  for (let rep = 0; rep < reps; rep++) {
    let resolve = null;
    const p = new b.TsfnPinger(() => resolve?.());
    out.push(
      await awaitedRoundTrips(iters, 50, (r) => {
        resolve = r;
        p.ping();
      }),
    );
    p.close();
  }
  return out;
}

// ---- limits ----------------------------------------------------------------------------

async function sabSet({ size, iters, reps }) {
  const out = [];
  const src = payload(size);
  const dst = new Uint8Array(new SharedArrayBuffer(size));
  for (let i = 0; i < 20; i++) dst.set(src);
  for (let rep = 0; rep < reps; rep++) {
    const t0 = hr();
    for (let i = 0; i < iters; i++) {
      src[i & 63] = i;
      dst.set(src);
    }
    const s = sec(t0);
    out.push({ bytes_per_s: (size * iters) / s });
  }
  return out;
}

// Bare JS -> native hand-over: what moving `size`-byte messages from the JS thread to a
// native thread costs with no protocol at all. JS copies each message into the next of
// `slots` slots of a SAB (u8.set, as send() does) and publishes a counter; a native thread
// (baseline SlotSink) sums every byte (sum32, as the channel's sink does) and publishes
// its own counter. JS busy-waits for a free slot: a limit, not a design.
async function handover({ size, slots, n, reps }) {
  const b = baseline();
  const msg = payload(size);
  const msgSum = sum32(msg);
  return floodRuns({ n, reps }, async (count) => {
    const u8 = new Uint8Array(new SharedArrayBuffer(4096 + slots * size));
    const words = new Int32Array(u8.buffer, 0, 64);
    const sink = new b.SlotSink(u8, slots, size);
    const t0 = hr();
    for (let i = 0; i < count; i++) {
      while (i - Atomics.load(words, 32) >= slots); // SYNC: slot-consumed (SlotSink's release store)
      u8.set(msg, 4096 + (i % slots) * size);
      Atomics.store(words, 0, i + 1); // SYNC: slot-written (SlotSink's acquire load)
    }
    while (Atomics.load(words, 32) < count);
    const s = sec(t0);
    const sum = sink.stop();
    if (sum !== (count * msgSum) % 2 ** 32) throw new Error(`SlotSink checksum ${sum}, expected ${(count * msgSum) % 2 ** 32}`);
    return { bytes_per_s: (count * size) / s };
  });
}

async function memcpy({ size, iters, reps }) {
  const b = baseline();
  const out = [];
  for (let rep = 0; rep < reps; rep++) out.push({ bytes_per_s: (size * iters) / b.memcpyBench(size, iters) });
  return out;
}

// Bare spin ping-pong: JS stores i into word 0; a native thread copies it to word 32;
// JS spins on word 32. The floor under any JS <-> native round trip over shared memory.
async function rawSpin({ iters, reps }) {
  const b = baseline();
  const out = [];
  for (let rep = 0; rep < reps; rep++) {
    const w = new Int32Array(new SharedArrayBuffer(256));
    const partner = new b.SpinPartner(new Uint8Array(w.buffer));
    let v = 0;
    out.push(
      spinRoundTrips(iters, 2000, () => {
        v = (v + 1) | 0;
        Atomics.store(w, 0, v);
        while (Atomics.load(w, 32) !== v);
      }),
    );
    partner.stop();
  }
  return out;
}

// Cost of the measurement itself (an hrtime.bigint pair around an empty round trip),
// reported next to spin latencies.
async function timerCost({ iters, reps }) {
  const out = [];
  for (let rep = 0; rep < reps; rep++) out.push(spinRoundTrips(iters, 0, () => {}));
  return out;
}

// ---- scaling (bench/scaling.mjs; issue #14 item 8) ------------------------------------------

// A payload of `size` bytes without a per-byte loop over hundreds of MiB: one 64 KiB
// pattern, doubled by copying.
function bigPayload(size) {
  const b = new Uint8Array(size);
  const head = payload(Math.min(size, 1 << 16));
  b.set(head);
  for (let n = head.length; n < size; n *= 2) b.copyWithin(n, 0, Math.min(n, size - n));
  return b;
}

// sum32 of a view without copying it: records start 8-byte aligned in the ring, and a
// reassembled message is an ArrayBuffer of its own, so the aligned path is the normal one.
function sum32View(u8) {
  let s = 0;
  const n4 = u8.length & ~3;
  if ((u8.byteOffset & 3) === 0) {
    const w = new Uint32Array(u8.buffer, u8.byteOffset, n4 >> 2);
    for (let i = 0; i < w.length; i++) s = (s + w[i]) | 0;
  } else {
    for (let i = 0; i < n4; i += 4) s = (s + (u8[i] | (u8[i + 1] << 8) | (u8[i + 2] << 16) | (u8[i + 3] << 24))) | 0;
  }
  let tail = 0;
  for (let i = n4; i < u8.length; i++) tail |= u8[i] << (8 * (i - n4));
  return (s + tail) >>> 0;
}

// sum32 of the source handler's message i of `size` bytes (docs/api.md: i as a
// little-endian u64, or its first `size` bytes; the rest is the byte i & 0xff).
function sourceSum32(i, size) {
  if (size < 4) return (i & ((1 << (8 * size)) - 1)) >>> 0;
  if (size <= 8) return i >>> 0;
  const f = size - 8;
  const b = i & 0xff;
  const word = Math.imul(b, 0x01010101);
  const tail = f & 3 ? Math.imul(b, 0x01010101 & ((1 << (8 * (f & 3))) - 1)) : 0;
  return (i + Math.imul(f >>> 2, word) + tail) >>> 0;
}

// JS -> native: `count` messages into the sink, batched send() paced on the ring's fill
// for small messages (as chanJ2N), sendDirect for 64 KiB and up (no JS queue; a message
// larger than a record goes as fragments as space appears).
async function sendInto(ch, msg, count, cap) {
  if (msg.length >= 1 << 16) {
    for (let i = 0; i < count; i++) ch.sendDirect(msg, 120_000);
    return;
  }
  const rec = 8 + ((msg.length + 7) & ~7);
  const batch = Math.max(1, Math.min(1024, Math.floor(cap / 4 / rec)));
  for (let i = 0; i < count; ) {
    const e = Math.min(count, i + batch);
    while (ch.getStats().r2nFill + (e - i) * rec > cap) await tick();
    for (; i < e; i++) ch.send(msg);
    await null; // publish
  }
}

// Throughput of one (direction, size, ring) on a fresh channel per rep, in two phases of
// `k` messages each: `first` is timed from just before the constructor (a fresh
// SharedArrayBuffer whose pages were never touched, a new native thread, fresh
// reassembly buffers) to the k-th message's arrival; `warm` is the next k messages on the
// same channel. dir 'j2n': the 'sink' handler with checksum 'sum32', verified against the
// bytes sent. dir 'n2j': the 'source' handler streams 2k messages; the JS consumer reads
// every byte (read 'all': a u32 sum, checked against the source's pattern) or one byte
// per message (read 'one': m[0], checked). The first rep is a warm-up and not reported.
async function chanScale({ dir, size, ring, k, reps, read = 'all' }) {
  const { SharedMemoryChannel, AddonTransport } = channelLib();
  const out = [];
  const msg = dir === 'j2n' ? bigPayload(size) : null;
  const fullSum = msg ? sum32View(msg) : 0;
  for (let rep = 0; rep <= reps; rep++) {
    let t1, t2, create;
    const t0 = hr();
    if (dir === 'j2n') {
      const ch = new SharedMemoryChannel(ring, 1 << 16, {
        transport: new AddonTransport({ handler: 'sink', checksum: 'sum32' }), keepAlive: true,
      });
      create = sec(t0);
      await sendInto(ch, msg, k, ring);
      while (ch.getStats().peer.sinkMessages < k) await tick();
      t1 = hr();
      await sendInto(ch, msg, k, ring);
      while (ch.getStats().peer.sinkMessages < 2 * k) await tick();
      t2 = hr();
      const st = ch.getStats();
      ch.cleanup();
      if (st.peer.sinkBytes !== 2 * k * size) throw new Error(`sink got ${st.peer.sinkBytes} bytes, expected ${2 * k * size}`);
      if (st.peer.sinkChecksum !== 2 * k * fullSum) throw new Error(`sink checksum ${st.peer.sinkChecksum}, expected ${2 * k * fullSum}`);
    } else {
      let got = 0, acc = 0, done;
      const finished = new Promise((r) => (done = r));
      const ch = new SharedMemoryChannel(1 << 16, ring, {
        handler: 'source', sourceCount: 2 * k, sourceSize: size, keepAlive: true,
      });
      create = sec(t0);
      ch.startReceiving(read === 'all'
        ? (m) => {
          acc = (acc + sum32View(m)) | 0;
          if (++got === k) t1 = hr();
          else if (got === 2 * k) done();
        }
        : (m) => {
          acc = (acc + m[0]) | 0;
          if (++got === k) t1 = hr();
          else if (got === 2 * k) done();
        });
      await finished;
      t2 = hr();
      ch.cleanup();
      let want = 0;
      for (let i = 0; i < 2 * k; i++) want = (want + (read === 'all' ? sourceSum32(i, size) : size > 0 ? i & 0xff : 0)) | 0;
      if (acc >>> 0 !== want >>> 0) throw new Error(`native->JS ${size} B: the consumer's sum ${acc >>> 0} is not the source's ${want >>> 0}`);
    }
    if (rep === 0) continue;
    const first = Number(t1 - t0) / 1e9, warm = Number(t2 - t1) / 1e9;
    out.push({
      first_bytes_per_s: (k * size) / first, warm_bytes_per_s: (k * size) / warm,
      first_msgs_per_s: k / first, warm_msgs_per_s: k / warm, create_s: create,
    });
  }
  return out;
}

// native -> JS as chanN2J, a consumer that reads the first 8 bytes of every message (the
// source's sequence number, checked: order and content). inPlace: startReceivingInPlace
// (buffer, offset, length: no view per message) instead of startReceiving (a view each).
async function chanN2JRead8({ size, n, reps, inPlace = false }) {
  const { SharedMemoryChannel } = channelLib();
  return floodRuns({ n, reps }, async (count) => {
    let got = 0, bad = 0, done;
    const finished = new Promise((r) => (done = r));
    const t0 = hr();
    const ch = new SharedMemoryChannel(1 << 16, ringFor(size), {
      handler: 'source', sourceCount: count, sourceSize: size, keepAlive: true,
    });
    if (inPlace) {
      ch.startReceivingInPlace((b, o) => {
        const lo = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
        const hi = b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24);
        if (lo !== got || hi !== 0) bad++;
        if (++got === count) done();
      });
    } else {
      ch.startReceiving((m) => {
        const lo = m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24);
        const hi = m[4] | (m[5] << 8) | (m[6] << 16) | (m[7] << 24);
        if (lo !== got || hi !== 0) bad++;
        if (++got === count) done();
      });
    }
    await finished;
    const s = sec(t0);
    ch.cleanup();
    if (bad !== 0) throw new Error(`native->JS ${size} B: ${bad} messages did not start with their sequence number`);
    return { msgs_per_s: count / s };
  });
}

// native -> JS as chanN2J (fresh channel per run, timed from its creation to the n-th
// message, the same ring), but the consumer reads EVERY byte (a u32 sum per message,
// checked against the source's pattern): a receiver, not only the native writer.
// stream: messages larger than a record come fragment by fragment (the streaming receive,
// startReceiving's `stream` option) and the consumer sums each fragment as it arrives
// (fragments start at multiples of 4 bytes, so the sums add up to the message's).
// warm: the source sends one message more, and the clock starts when it has arrived (the
// ring's pages and a kept reassembly buffer are then touched).
async function chanN2JRead({ size, n, reps, ring, stream = false, keepAssembly, warm = false }) {
  const { SharedMemoryChannel } = channelLib();
  return floodRuns({ n, reps }, async (timed) => {
    const count = timed + (warm ? 1 : 0);
    let got = 0, acc = 0, done;
    const finished = new Promise((r) => (done = r));
    let t0 = hr();
    const ch = new SharedMemoryChannel(1 << 16, ring ?? ringFor(size), {
      handler: 'source', sourceCount: count, sourceSize: size, keepAlive: true,
      ...(keepAssembly === undefined ? {} : { keepAssembly }),
    });
    const arrived = () => {
      if (++got === count) done();
      else if (warm && got === 1) t0 = hr();
    };
    const whole = (m) => {
      acc = (acc + sum32View(m)) | 0;
      arrived();
    };
    const fragment = (b, offset, total) => {
      acc = (acc + sum32View(b)) | 0;
      if (offset + b.length === total) arrived();
    };
    ch.startReceiving(whole, stream ? { stream: { fragment } } : {});
    await finished;
    const s = sec(t0);
    ch.cleanup();
    let want = 0;
    for (let i = 0; i < count; i++) want = (want + sourceSum32(i, size)) | 0;
    if (acc >>> 0 !== want >>> 0) throw new Error(`native->JS ${size} B: the consumer's sum ${acc >>> 0} is not the source's ${want >>> 0}`);
    return { msgs_per_s: timed / s, bytes_per_s: (timed * size) / s };
  });
}

// Creating a channel with `ring`-byte rings (both directions), with and without
// prefault: the median time of the constructor alone (ms), on fresh buffers each time.
async function chanCreate({ ring, reps, prefault }) {
  const { SharedMemoryChannel, AddonTransport } = channelLib();
  const out = [];
  for (let rep = 0; rep <= reps; rep++) {
    const t0 = hr();
    const ch = new SharedMemoryChannel(ring, ring, { prefault, transport: new AddonTransport({ handler: 'sink' }) });
    const ms = sec(t0) * 1e3;
    ch.cleanup();
    if (rep > 0) out.push({ ms });
  }
  return out;
}

// The read-every-byte consumer's own speed: the same u32 sum (sum32View) over a `size`-byte
// view that stays in cache, on one thread. The ceiling of any read_all figure.
async function jsSum({ size, iters, reps }) {
  const u8 = bigPayload(size);
  const want = sum32View(u8);
  const out = [];
  for (let i = 0; i < 20; i++) sum32View(u8);
  for (let rep = 0; rep < reps; rep++) {
    const t0 = hr();
    for (let i = 0; i < iters; i++) if (sum32View(u8) !== want) throw new Error('sum32View is not deterministic');
    out.push({ bytes_per_s: (size * iters) / sec(t0) });
  }
  return out;
}

// First touch of fresh memory: a new SharedArrayBuffer of `size` bytes (pages not yet
// mapped), one byte written per 4 KiB page, then a u8.set of `size` bytes into another fresh
// one and into the now-warm first one. The cost large messages pay for fresh pages.
async function firstTouch({ size, reps }) {
  const out = [];
  const src = bigPayload(size);
  for (let rep = 0; rep < reps; rep++) {
    let t0 = hr();
    const a = new Uint8Array(new SharedArrayBuffer(size));
    for (let i = 0; i < size; i += 4096) a[i] = 1;
    const touch = sec(t0);
    t0 = hr();
    const b = new Uint8Array(new SharedArrayBuffer(size));
    b.set(src);
    const freshSet = sec(t0);
    t0 = hr();
    a.set(src);
    const warmSet = sec(t0);
    if (a[size - 1] !== src[size - 1] || b[size >> 1] !== src[size >> 1]) throw new Error('copy check failed');
    out.push({ us_per_page: (touch / (size / 4096)) * 1e6, fresh_set_bytes_per_s: size / freshSet, warm_set_bytes_per_s: size / warmSet });
  }
  return out;
}

// What one channel costs: `n` channels (default echo handler, receiving) opened at once;
// threads and fds (/proc/self) and RSS per channel, before any traffic and after one lap
// of each ring; the buffer's size is 2048 + r2n + n2r.
async function chanFootprint({ n, r2n, n2r }) {
  const { SharedMemoryChannel } = channelLib();
  const { readFileSync, readdirSync } = await import('node:fs');
  const res = () => {
    const st = readFileSync('/proc/self/status', 'utf8');
    const f = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1]);
    return { rss: f('VmRSS') * 1024, threads: f('Threads'), fds: readdirSync('/proc/self/fd').length };
  };
  globalThis.gc?.();
  await tick();
  const a = res();
  const chans = [];
  for (let i = 0; i < n; i++) {
    const ch = new SharedMemoryChannel(r2n, n2r);
    let got = 0;
    ch.startReceiving(() => void got++);
    chans.push({ ch, got: () => got });
  }
  await new Promise((r) => setTimeout(r, 100));
  const b = res();
  // One lap of each ring: every page of both rings touched by both sides.
  const size = Math.min(r2n, n2r) / 8;
  const laps = Math.ceil(Math.max(r2n, n2r) / size) + 1;
  const m = new Uint8Array(size);
  for (const { ch, got } of chans) {
    for (let i = 0; i < laps; i++) {
      ch.sendDirect(m, 10_000);
      while (got() < i) ch.poll();
    }
    while (got() < laps) ch.poll();
  }
  const c = res();
  const bufferBytes = chans[0].ch.buffer.byteLength;
  for (const { ch } of chans) ch.cleanup();
  await new Promise((r) => setTimeout(r, 100));
  const d = res();
  return [{
    buffer_bytes: bufferBytes, threads_per_channel: (b.threads - a.threads) / n, fds_per_channel: (b.fds - a.fds) / n,
    rss_per_channel_idle: (b.rss - a.rss) / n, rss_per_channel_after_lap: (c.rss - a.rss) / n,
    threads_after_cleanup: d.threads - a.threads, fds_after_cleanup: d.fds - a.fds,
  }];
}

export const cases = {
  chanJ2N, chanN2J, chanRttSpin, chanRttDoorbell, chanClose, chanIdle,
  tsfnFlood, mutexQueue, pmFlood, pmRtt, tsfnRtt,
  sabSet, handover, memcpy, rawSpin, timerCost, peerRing, chanRttBreakdown,
  chanScale, chanFootprint, chanN2JRead, chanN2JRead8, jsSum, firstTouch, chanCreate,
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  const params = JSON.parse(process.argv[3] ?? '{}');
  const fn = cases[name];
  if (!fn) {
    console.error(`unknown case '${name}'; known: ${Object.keys(cases).join(', ')}`);
    process.exit(2);
  }
  const runs = await fn(params);
  process.stdout.write(JSON.stringify({ case: name, params, runs }) + '\n');
  process.exit(0);
}
