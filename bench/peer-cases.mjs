// JS <-> JS peers in the same run as the channel: how fast the best pure-JS shared-memory
// ring moves messages between a worker thread and the main thread, and how fast our own
// protocol does with the TypeScript implementation on both ends. Both sides spin (no
// parking): these are throughput ceilings of the rings, not of a wake-up scheme.
//
//   ringbuf.js (padenot, npm): a wait-free SPSC ring of typed elements with no framing,
//     so messages are fixed-size: the producer pushes one `size`-byte message when
//     available_write() allows it, the consumer pops one into a local buffer (its API
//     copies in and out; there is no zero-copy pop).
//   ts_protocol: docs/protocol.md's rings through shared-memory-channel/protocol: the
//     worker (side N) writes records with trySend() and publishes every 64 messages with
//     flush(); the main thread (side R) reads them in place with poll().
// In both, the consumer reads the first 8 bytes of every message and checks the sequence
// number the producer wrote there, so nothing is skipped or torn.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const hr = process.hrtime.bigint;

const WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const msg = new Uint8Array(w.size);
const dv = new DataView(msg.buffer);
if (w.kind === 'ringbufjs') {
  const { RingBuffer } = require(w.ringbufPath);
  const rb = new RingBuffer(w.sab, Uint8Array);
  for (let i = 0; i < w.count; i++) {
    dv.setUint32(0, i, true);
    while (rb.available_write() < w.size);
    rb.push(msg, w.size);
  }
} else {
  const { Endpoint, attachRegion } = require(w.protocolPath);
  const ep = new Endpoint(attachRegion(w.sab), 'N', { wake: () => {} });
  for (let i = 0; i < w.count; i++) {
    dv.setUint32(0, i, true);
    while (!ep.trySend(msg)) ep.flush();
    if ((i & 63) === 63) ep.flush();
  }
  ep.flush();
}
parentPort.postMessage('done');
`;

function checkSeq(expected, got) {
  if (expected !== got) throw new Error(`message ${expected} arrived as ${got}: skipped or torn`);
}

async function oneRun(kind, size, count, ring) {
  let sab;
  let consume;
  if (kind === 'ringbufjs') {
    const { RingBuffer } = require('ringbuf.js');
    sab = RingBuffer.getStorageForCapacity(ring, Uint8Array);
    const rb = new RingBuffer(sab, Uint8Array);
    const buf = new Uint8Array(size);
    const dv = new DataView(buf.buffer);
    consume = () => {
      for (let i = 0; i < count; i++) {
        while (rb.available_read() < size);
        rb.pop(buf, size);
        checkSeq(i, dv.getUint32(0, true));
        if (dv.getUint32(4, true) !== 0) throw new Error('torn message');
      }
    };
  } else {
    const { Endpoint, initRegion, regionSize } = require('shared-memory-channel/protocol');
    sab = new SharedArrayBuffer(regionSize(1 << 16, ring));
    const ep = new Endpoint(initRegion(sab, 1 << 16, ring), 'R', { wake: () => {} });
    consume = () => {
      let got = 0;
      const onMessage = (m) => {
        checkSeq(got, m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24));
        if ((m[4] | m[5] | m[6] | m[7]) !== 0) throw new Error('torn message');
        got++;
      };
      while (got < count) ep.poll(onMessage);
    };
  }
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      kind, size, count, sab,
      ringbufPath: require.resolve('ringbuf.js'),
      protocolPath: require.resolve('shared-memory-channel/protocol'),
    },
  });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((r) => worker.once('online', r));
  const t0 = hr();
  consume();
  const s = Number(hr() - t0) / 1e9;
  await done;
  await worker.terminate();
  return { msgs_per_s: count / s, bytes_per_s: (count * size) / s };
}

/** `kind`: 'ringbufjs' or 'ts_protocol'; worker -> main, `size`-byte messages. */
export async function peerRing({ kind, size, n, reps, ring = 4 << 20 }) {
  const out = [];
  for (let rep = 0; rep <= reps; rep++) {
    const r = await oneRun(kind, size, rep === 0 ? Math.max(1, n >> 3) : n, ring);
    if (rep > 0) out.push(r);
  }
  return out;
}
