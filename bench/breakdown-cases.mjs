// Where the time of a JS <-> native spin round trip goes (issue #14 item 4): in one
// process, one after another, the pieces between the bare ping-pong and the channel.
//
// Cross-core round trips (p50 of per-sample hrtime, as chanRttSpin and rawSpin):
//   raw_spin      word ping-pong: JS stores word 0, a native thread copies it to word 32
//   record_spin   the same carrying a 64 B record each way (bench/native/baseline.cpp
//                 SpinPartner record mode): JS writes 64 B, then the index word; the native
//                 thread copies the 64 B into the pong area, then stores its index word;
//                 JS reads the reply's first word. No framing, no checks, no callback
//   channel_spin  the channel round trip, exactly chanRttSpin's loop (handler 'echo')
//   channel_spin_in_place   the same, received with startReceivingInPlace (no view per message)
//   stamped_record_spin   the record ping-pong with no index word (SpinPartner stamped
//                 mode): each record's first word is its sequence number, stored last, and
//                 each side spins on the stamp of the slot it expects. The cost of a protocol
//                 whose records carry their own publication (not this protocol: a measure)
//   channel_vs_raw, record_vs_raw, stamped_record_vs_raw   ratios to raw_spin within each rep
// CPU cost on one thread, no cross-core traffic (ns per loop iteration, perCall below):
//   ts_one_thread        the TS protocol both ways: R.trySend + flush, N.poll echoing with
//                        N.trySend + flush, R.poll delivering: write+publish+poll+deliver x2
//   channel_one_thread   the channel's API on one end (sendDirect, poll, receive callback)
//                        against the same TS echo as a same-thread peer (a PeerTransport
//                        whose "peer" is a protocol Endpoint on this thread)
//   send_direct, send_protocol     the send half: ch.sendDirect vs R.trySend + flush, the
//                        message consumed by a bare N.poll after each
//   receive_channel, receive_protocol   the receive half: N.trySend + flush, then ch.poll()
//                        (drain loop, deliver closure, receive callback) vs R.poll(handler)
//   empty_poll_channel, empty_poll_protocol   one poll of an empty ring: what each lap of
//                        a spin loop costs
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hr = process.hrtime.bigint;

function p50(samples) {
  const s = Float64Array.from(samples).sort();
  return s[s.length >> 1];
}
function spinP50(iters, warmup, once) {
  const samples = new Float64Array(iters);
  for (let i = -warmup; i < iters; i++) {
    const t0 = hr();
    once();
    if (i >= 0) samples[i] = Number(hr() - t0);
  }
  return p50(samples);
}
// ns per call of `body()`: the median over batches of 100 calls of each batch's mean
// (iters / 100 batches, after iters / 10 untimed calls). The median drops the batches in
// which the thread was preempted: on this shared machine a plain mean over all calls
// mostly measures the other processes.
function perCall(iters, body) {
  for (let i = 0; i < iters / 10; i++) body();
  const batches = new Float64Array(Math.max(1, Math.floor(iters / 100)));
  for (let k = 0; k < batches.length; k++) {
    const t0 = hr();
    for (let i = 0; i < 100; i++) body();
    batches[k] = Number(hr() - t0) / 100;
  }
  return p50(batches);
}

function payload(size) {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (i * 31 + 7) & 0xff;
  return m;
}

// A PeerTransport whose peer is a protocol Endpoint (side N) on this same thread.
function sameThreadPeer(protocol) {
  const t = {
    peer: null,
    start({ buffer }) {
      t.peer = new protocol.Endpoint(protocol.attachRegion(buffer), 'N', { wake: () => {} });
    },
    wake() {},
    close() {
      t.peer?.close();
    },
  };
  return t;
}

export async function chanRttBreakdown({ iters, oneThreadIters, reps, size = 64 }) {
  const { SharedMemoryChannel } = require('shared-memory-channel');
  const protocol = require('shared-memory-channel/protocol');
  const b = require(path.join(root, 'build/release/bench_baseline.node'));
  const msg = payload(size);
  const ring = 1 << 16;
  const out = [];
  for (let rep = 0; rep < reps; rep++) {
    const r = {};
    // -- cross-core --
    {
      const w = new Int32Array(new SharedArrayBuffer(256));
      const partner = new b.SpinPartner(new Uint8Array(w.buffer));
      let v = 0;
      r.raw_spin = spinP50(iters, 2000, () => {
        v = (v + 1) | 0;
        Atomics.store(w, 0, v);
        while (Atomics.load(w, 32) !== v);
      });
      partner.stop();
    }
    {
      const sab = new SharedArrayBuffer(4096 + 2 * 65536);
      const w = new Int32Array(sab);
      const u8 = new Uint8Array(sab);
      const partner = new b.SpinPartner(u8, size);
      let v = 0;
      let sink = 0;
      r.record_spin = spinP50(iters, 2000, () => {
        v = (v + 1) | 0;
        const at = (v % 910) * 72;
        u8.set(msg, 4096 + at);
        Atomics.store(w, 0, v);
        while (Atomics.load(w, 32) !== v);
        sink ^= w[(4096 + 65536 + at) >> 2];
      });
      partner.stop();
      if (sink === 0.5) console.error(sink);
    }
    {
      // The same records with no index word: each carries its sequence number in its first
      // word, stored last; each side spins on the stamp of the slot it expects next.
      const sab = new SharedArrayBuffer(4096 + 2 * 65536);
      const w = new Int32Array(sab);
      const u8 = new Uint8Array(sab);
      const partner = new b.SpinPartner(u8, size, true);
      let v = 0;
      let sink = 0;
      r.stamped_record_spin = spinP50(iters, 2000, () => {
        v = (v + 1) | 0;
        const at = (v % 910) * 72;
        u8.set(msg, 4096 + at + 8);
        Atomics.store(w, (4096 + at) >> 2, v);
        const pong = (4096 + 65536 + at) >> 2;
        while (Atomics.load(w, pong) !== v);
        sink ^= w[pong + 2];
      });
      partner.stop();
      if (sink === 0.5) console.error(sink);
    }
    {
      const ch = new SharedMemoryChannel(ring, ring, { handler: 'echo', wakeMode: 'spin' });
      let got = 0;
      ch.startReceiving(() => void got++);
      r.channel_spin = spinP50(iters, 2000, () => {
        ch.sendDirect(msg, 1000);
        const want = got + 1;
        while (got < want) ch.poll();
      });
      ch.cleanup();
      await new Promise((res) => setImmediate(res));
    }
    {
      const ch = new SharedMemoryChannel(ring, ring, { handler: 'echo', wakeMode: 'spin' });
      let got = 0;
      ch.startReceivingInPlace(() => void got++);
      r.channel_spin_in_place = spinP50(iters, 2000, () => {
        ch.sendDirect(msg, 1000);
        const want = got + 1;
        while (got < want) ch.poll();
      });
      ch.cleanup();
      await new Promise((res) => setImmediate(res));
    }
    // -- one thread --
    const sab = new SharedArrayBuffer(protocol.regionSize(ring, ring));
    const R = new protocol.Endpoint(protocol.initRegion(sab, ring, ring), 'R', { wake: () => {} });
    const N = new protocol.Endpoint(protocol.attachRegion(sab), 'N', { wake: () => {} });
    let got = 0;
    const count = () => void got++;
    const echo = (m) => void N.trySend(m);
    const drop = () => {};
    r.ts_one_thread = perCall(oneThreadIters, () => {
      R.trySend(msg);
      R.flush();
      N.poll(echo);
      N.flush();
      R.poll(count);
    });
    r.send_protocol = perCall(oneThreadIters, () => {
      R.trySend(msg);
      R.flush();
      N.poll(drop);
    });
    r.receive_protocol = perCall(oneThreadIters, () => {
      N.trySend(msg);
      N.flush();
      R.poll(count);
    });
    r.empty_poll_protocol = perCall(oneThreadIters, () => R.poll(count));

    const t = sameThreadPeer(protocol);
    const ch = new SharedMemoryChannel(ring, ring, { transport: t, wakeMode: 'spin' });
    ch.startReceiving(count);
    const P = t.peer;
    const peerEcho = (m) => void P.trySend(m);
    r.channel_one_thread = perCall(oneThreadIters, () => {
      ch.sendDirect(msg, 1000);
      P.poll(peerEcho);
      P.flush();
      ch.poll();
    });
    r.send_direct = perCall(oneThreadIters, () => {
      ch.sendDirect(msg, 1000);
      P.poll(drop);
    });
    r.receive_channel = perCall(oneThreadIters, () => {
      P.trySend(msg);
      P.flush();
      ch.poll();
    });
    r.empty_poll_channel = perCall(oneThreadIters, () => ch.poll());
    ch.cleanup();
    await new Promise((res) => setImmediate(res));
    if (got === 0) throw new Error('nothing was delivered');
    // Ratios within this rep: the host may move the vCPUs between two reps (docs/benchmarks.md,
    // placement), so a ratio of medians over reps can compare two placements.
    r.channel_vs_raw = r.channel_spin / r.raw_spin;
    r.record_vs_raw = r.record_spin / r.raw_spin;
    r.stamped_record_vs_raw = r.stamped_record_spin / r.raw_spin;
    out.push(r);
  }
  return out;
}
