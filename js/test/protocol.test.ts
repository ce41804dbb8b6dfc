// Single-thread tests of the wire protocol implementation (docs/protocol.md).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ChannelError, ProtocolError, RegionError } from '../src/errors';
import {
  EOF,
  Endpoint,
  FrameReader,
  FrameWriter,
  HEADER_SIZE,
  KIND_CANCEL,
  KIND_FIRST,
  KIND_LAST,
  KIND_MESSAGE,
  KIND_MIDDLE,
  KIND_PAD,
  MAGIC,
  N2R_WORDS,
  R2N_WORDS,
  RingReader,
  RingWriter,
  STATE_ATTACHED,
  STATE_CLOSED,
  STATE_FAILED,
  W_FLAGS,
  W_HEADER_SIZE,
  W_MAGIC,
  W_N2R_CAPACITY,
  W_N2R_OFFSET,
  W_N2R_READ_INDEX,
  W_N2R_WRITE_INDEX,
  W_N_STATE,
  W_R2N_CAPACITY,
  W_R2N_OFFSET,
  W_R2N_READ_INDEX,
  W_R2N_WRITE_INDEX,
  W_R_GENERATION,
  W_R_STATE,
  W_TOTAL_SIZE,
  W_VERSION,
  attachRegion,
  initRegion,
  regionSize,
  type Region,
} from '../src/protocol';
import { fnv1a as fnv } from './helpers';
import { mulberry32 } from './prng';

// ---------------------------------------------------------------------------------
// helpers

const CANARY = 0xa5;
const PRE = 64;
const POST = 64;

interface Fixture {
  sab: SharedArrayBuffer;
  region: Region;
  checkCanaries(): void;
}

/** A region placed at byteOffset PRE inside a bigger SAB filled with canary bytes. */
function fixture(r2n = 4096, n2r = 4096): Fixture {
  const size = regionSize(r2n, n2r);
  const sab = new SharedArrayBuffer(PRE + size + POST);
  new Uint8Array(sab).fill(CANARY);
  const region = initRegion(sab, r2n, n2r, PRE);
  return {
    sab,
    region,
    checkCanaries() {
      const all = new Uint8Array(sab);
      for (let i = 0; i < PRE; i++) assert.equal(all[i], CANARY, `canary before region at ${i}`);
      for (let i = PRE + size; i < all.length; i++) assert.equal(all[i], CANARY, `canary after region at ${i}`);
    },
  };
}

/** Writer/reader pair on ring R2N of a fresh region, optionally starting at index `start`. */
function ringPair(cap = 4096, start = 0, maxMessage?: number) {
  const fx = fixture(cap, 4096);
  const { ctrl } = fx.region;
  Atomics.store(ctrl, W_R2N_WRITE_INDEX, start | 0);
  Atomics.store(ctrl, W_R2N_READ_INDEX, start | 0);
  const at = { start: { write: start, read: start } };
  const w = new FrameWriter(new RingWriter(ctrl, R2N_WORDS, fx.region.r2nData, cap, at));
  const r = new FrameReader(new RingReader(ctrl, R2N_WORDS, fx.region.r2nData, cap, at), maxMessage === undefined ? {} : { maxMessage });
  return { fx, w, r, ctrl, data: fx.region.r2nData };
}

/** n xorshift32 bytes; distinct seeds give distinct bytes (0 and 1 used to collide). */
function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = Math.imul(seed + 1, 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

// Wire words read and written through a little-endian DataView, on purpose independent of
// RingEnd.getU32/setU32 (which may use a Uint32Array): the tests check the bytes the spec
// defines, not what the implementation reads back.
function u32(data: Uint8Array, off: number): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(off, true);
}
function setU32(data: Uint8Array, off: number, v: number): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(off, v >>> 0, true);
}

/** Sends any message through writer/reader in one thread, draining as space appears. */
function transfer(w: FrameWriter, r: FrameReader, msg: Uint8Array): Uint8Array[] {
  const got: Uint8Array[] = [];
  const collect = (m: Uint8Array) => void got.push(m.slice());
  w.beginLarge(msg);
  let steps = 0;
  for (;;) {
    const done = w.continueLarge();
    w.ring.publish();
    r.poll(collect);
    if (done && r.ring.drained) break;
    assert.ok(++steps < 1_000_000, 'no progress');
  }
  r.poll(collect);
  return got;
}

function expectProtocol(fn: () => unknown, reason: string): ProtocolError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof ProtocolError)) assert.fail(`expected ProtocolError ${reason}, got ${String(caught)}`);
  assert.equal(caught.reason, reason, String(caught.message));
  return caught;
}

// ---------------------------------------------------------------------------------
// layout

test('layout: word offsets and region size', () => {
  assert.equal(regionSize(4096, 8192), 2048 + 4096 + 8192);
  assert.equal(W_R_STATE, 128 / 4);
  assert.equal(W_N_STATE, 256 / 4);
  assert.equal(W_R2N_WRITE_INDEX, 384 / 4);
  assert.equal(W_N2R_READ_INDEX, 1024 / 4);
  const fx = fixture(4096, 8192);
  const { ctrl } = fx.region;
  assert.equal(ctrl[W_MAGIC]! >>> 0, MAGIC);
  assert.deepEqual(Array.from(new Uint8Array(fx.sab, PRE, 4)), [0x53, 0x4d, 0x43, 0x31]); // "SMC1"
  assert.equal(ctrl[W_VERSION], 2);
  assert.equal(ctrl[W_HEADER_SIZE], 2048);
  assert.equal(ctrl[W_R2N_OFFSET], 2048);
  assert.equal(ctrl[W_N2R_OFFSET], 2048 + 4096);
  assert.equal(ctrl[W_TOTAL_SIZE], 2048 + 4096 + 8192);
  for (let i = 9; i < HEADER_SIZE / 4; i++) if (i !== W_R2N_CAPACITY && i !== W_N2R_CAPACITY) assert.equal(ctrl[i], 0, `word ${i}`);
  assert.equal(fx.region.n2rData.byteOffset, PRE + 2048 + 4096);
  fx.checkCanaries();
});

test('layout: capacity validation', () => {
  for (const bad of [0, 2048, 4095, 4097, 6144, 2 ** 31, -4096, NaN, Infinity, 4096.5, 1e300]) {
    assert.throws(() => regionSize(bad, 4096), (e: unknown) => e instanceof RangeError && e.message.includes(String(bad)) && e.message.includes('[4096, 1073741824]'));
    assert.throws(() => initRegion(new SharedArrayBuffer(16384), 4096, bad), RangeError);
  }
  assert.equal(regionSize(2 ** 30, 4096), 2048 + 2 ** 30 + 4096);
  assert.throws(() => initRegion(new SharedArrayBuffer(8000), 4096, 4096), /too small/);
  assert.throws(() => initRegion(new SharedArrayBuffer(20000), 4096, 4096, 4), /byteOffset/);
});

test('layout: a region of another protocol version is refused, naming both versions', () => {
  const fx = fixture();
  fx.region.ctrl[W_VERSION] = 1; // what the previous release writes
  assert.throws(
    () => attachRegion(fx.sab, PRE),
    (e: unknown) =>
      e instanceof ChannelError &&
      e.code === 'bad_region' &&
      e.message.includes('protocol version is 1') &&
      e.message.includes('speaks version 2'),
  );
});

test('layout: attach validates every header field', () => {
  const cases: [number, number, string][] = [
    [W_MAGIC, 0x31434d54, 'magic'],
    [W_VERSION, 1, 'version'],
    [W_VERSION, 3, 'version'],
    [W_HEADER_SIZE, 4096, 'header_size'],
    [W_FLAGS, 1, 'flags'],
    [W_R2N_OFFSET, 2056, 'r2n_offset'],
    [W_R2N_CAPACITY, 4095, 'r2n_capacity'],
    [W_R2N_CAPACITY, 2048, 'r2n_capacity'],
    [W_N2R_CAPACITY, 2 ** 31, 'n2r_capacity'],
    [W_N2R_OFFSET, 2048, 'n2r_offset'],
    [W_TOTAL_SIZE, 2048 + 8192 + 8, 'total_size'],
  ];
  for (const [word, value, field] of cases) {
    const fx = fixture();
    fx.region.ctrl[word] = value | 0;
    assert.throws(
      () => attachRegion(fx.sab, PRE),
      (e: unknown) => e instanceof ChannelError && e.code === 'bad_region' && e.message.includes(field),
      field,
    );
  }
  // capacity changed consistently everywhere except the length of the buffer
  const fx = fixture();
  assert.throws(() => attachRegion(fx.sab, PRE, regionSize(4096, 4096) - 8), /region length/);
  const ok = attachRegion(fx.sab, PRE, regionSize(4096, 4096));
  assert.equal(ok.r2nCapacity, 4096);
  // nothing written by a refused attach
  const before = new Uint8Array(fx.sab).slice();
  fx.region.ctrl[W_FLAGS] = 1;
  before.set(new Uint8Array(fx.sab, PRE + 12, 4), PRE + 12);
  assert.throws(() => attachRegion(fx.sab, PRE));
  assert.deepEqual(new Uint8Array(fx.sab), before);
});

// ---------------------------------------------------------------------------------
// rings

test('ring: indices wrap modulo 2^32', () => {
  const start = 0x100000000 - 4096 - 512;
  const { w, r, ctrl } = ringPair(4096, start);
  let sent = 0;
  let recv = 0;
  for (let i = 0; i < 400; i++) {
    while (w.tryWrite(bytes(sent % 50, sent))) sent++;
    w.ring.publish();
    r.poll((m) => {
      assert.deepEqual(m, bytes(recv % 50, recv));
      recv++;
    });
  }
  assert.equal(sent, recv);
  assert.ok(r.ring.readIndex < start, 'wrapped past 2^32');
  assert.equal(Atomics.load(ctrl, W_R2N_READ_INDEX) >>> 0, r.ring.readIndex);
});

test('ring: full and empty', () => {
  const { w, r, ctrl } = ringPair();
  assert.equal(r.poll(() => assert.fail()), 0);
  let n = 0;
  while (w.tryWrite(bytes(64, n))) n++;
  assert.equal(n, 56); // 56 * 72 = 4032; the 57th needs PAD 64 + 72
  assert.equal(w.reserveOffset(8), 4040, 'an 8-byte record still fits before the end');
  w.abort();
  assert.equal(w.reserveOffset(64), -1, 'no room for PAD 64 + 72');
  w.ring.publish();
  assert.equal(r.poll(() => {}, 10), 10);
  assert.equal(Atomics.load(ctrl, W_R2N_READ_INDEX), 720);
  assert.ok(w.tryWrite(bytes(64, 99)), 'space after release');
  w.ring.publish();
  let k = 0;
  assert.equal(r.poll(() => void k++), 47);
  assert.ok(r.ring.drained);
  assert.equal(r.poll(() => {}), 0);
  // byte budget: one 72-byte record per 1-byte budget step
  for (let i = 0; i < 3; i++) w.tryWrite(bytes(64));
  w.ring.publish();
  assert.equal(r.poll(() => {}, Infinity, 1), 1);
  assert.equal(r.poll(() => {}, Infinity, 73), 2);
});

test('ring: reserve / commit / abort', () => {
  const { w, r } = ringPair();
  const v = w.reserve(100)!;
  assert.equal(v.length, 100);
  assert.throws(() => w.tryWrite(bytes(1)), /reservation/);
  v.set(bytes(100, 3));
  w.commit(50);
  const off = w.reserveOffset(10);
  assert.ok(off > 0);
  w.data.set(bytes(10, 4), off);
  w.abort();
  const off2 = w.reserveOffset(8);
  w.data.set(bytes(8, 5), off2);
  w.commit();
  assert.throws(() => w.commit(), /no open reservation/);
  assert.throws(() => w.reserveOffset(w.maxPayload + 1), RangeError);
  w.ring.publish();
  const got: Uint8Array[] = [];
  r.poll((m) => void got.push(m.slice()));
  assert.deepEqual(got, [bytes(100, 3).subarray(0, 50), bytes(8, 5)]);
  // reserve at the wrap: PAD written eagerly stays valid after abort
  const p = ringPair(4096, 4000);
  assert.equal(p.w.reserveOffset(200), 8);
  p.w.abort();
  assert.ok(p.w.tryWrite(bytes(5)));
  p.w.ring.publish();
  const got2: Uint8Array[] = [];
  p.r.poll((m) => void got2.push(m.slice()));
  assert.deepEqual(got2, [bytes(5)]);
});

test('ring: fragmentation sizes 0, 1, max_payload, max_payload+1, 10x capacity', () => {
  for (const cap of [4096, 65536]) {
    const { w, r, fx } = ringPair(cap);
    const mp = cap / 4 - 8;
    for (const n of [0, 1, mp, mp + 1, 2 * mp, 10 * cap]) {
      const msg = bytes(n, n + 1);
      const got = transfer(w, r, msg);
      assert.equal(got.length, 1, `size ${n}`);
      assert.deepEqual(got[0], msg, `size ${n}`);
    }
    assert.throws(() => w.tryWrite(bytes(mp + 1)), RangeError);
    fx.checkCanaries();
  }
});

// The layout of spec 8.2 itself is checked byte for byte by ring-vectors.test.ts.
test('ring: max_payload + 1 bytes go as FIRST (1008 bytes) + LAST (9 bytes)', () => {
  const { w, data } = ringPair();
  w.beginLarge(bytes(1017));
  assert.ok(w.continueLarge());
  assert.deepEqual([u32(data, 0), u32(data, 4), u32(data, 8)], [1016, KIND_FIRST, 1017]);
  assert.deepEqual([u32(data, 1024), u32(data, 1028)], [9, KIND_LAST]);
});

test('ring: CANCEL discards the partial message', () => {
  const { w, r, data } = ringPair();
  const got: Uint8Array[] = [];
  const collect = (m: Uint8Array) => void got.push(m.slice());
  w.beginLarge(bytes(40000));
  assert.equal(w.continueLarge(), false);
  w.ring.publish();
  r.poll(collect);
  assert.ok(r.inMessage);
  assert.equal(w.continueLarge(), false); // more fragments
  w.ring.publish();
  w.cancelLarge();
  assert.equal(w.largePending, false);
  assert.equal(w.cancelPending, true, 'ring full: CANCEL owed');
  assert.equal(w.tryWrite(bytes(3)), false);
  r.poll(collect);
  assert.ok(w.tryWrite(bytes(3, 8)), 'CANCEL then the message');
  w.ring.publish();
  const cancelAt = (w.ring.writeIndex - 16 - 8) & 4095;
  assert.deepEqual([u32(data, cancelAt), u32(data, cancelAt + 4)], [0, KIND_CANCEL]);
  r.poll(collect);
  assert.equal(r.inMessage, false);
  assert.deepEqual(got, [bytes(3, 8)]);
  // cancel before FIRST was written: nothing owed
  const p = ringPair();
  p.w.beginLarge(bytes(5000));
  p.w.cancelLarge();
  assert.equal(p.w.cancelPending, false);
  assert.equal(p.w.ring.writeIndex, 0);
});

test('endpoint: attach, generation, close from either side', () => {
  const fx = fixture();
  const R = new Endpoint(fx.region, 'R');
  const N = new Endpoint(attachRegion(fx.sab, PRE), 'N');
  assert.equal(R.generation, 1);
  assert.equal(Atomics.load(fx.region.ctrl, W_R_STATE), STATE_ATTACHED);
  assert.equal(N.peerState().state, STATE_ATTACHED);
  for (let i = 0; i < 3; i++) assert.ok(R.trySend(bytes(10, i)));
  R.close(); // publishes the pending messages first
  assert.equal(R.state, 'closed');
  assert.throws(() => R.trySend(bytes(1)), (e: unknown) => e instanceof ChannelClosedError && e.code === 'closed');
  const got: Uint8Array[] = [];
  assert.equal(N.poll((m) => void got.push(m.slice())), 3);
  assert.equal(N.poll(() => {}), EOF);
  assert.deepEqual(got, [bytes(10, 0), bytes(10, 1), bytes(10, 2)]);
  // N's producer learns the peer is gone once its ring is full
  assert.throws(() => {
    for (;;) N.trySend(bytes(100));
  }, (e: unknown) => e instanceof ChannelClosedError && e.code === 'peer_closed');
  N.close();
  assert.equal(Atomics.load(fx.region.ctrl, W_N_STATE), STATE_CLOSED);
  // re-attach R: generation increments
  const R2 = new Endpoint(attachRegion(fx.sab, PRE), 'R');
  assert.equal(R2.generation, 2);
  assert.equal(Atomics.load(fx.region.ctrl, W_R_GENERATION), 2);
  // N closes first, R drains then EOF
  const fx2 = fixture();
  const R3 = new Endpoint(fx2.region, 'R');
  const N3 = new Endpoint(fx2.region, 'N');
  N3.trySend(bytes(7));
  N3.flush();
  N3.close();
  const got3: Uint8Array[] = [];
  let res = 0;
  while ((res = R3.poll((m) => void got3.push(m.slice()))) !== EOF) assert.ok(res >= 0);
  assert.deepEqual(got3, [bytes(7)]);
  fx.checkCanaries();
  fx2.checkCanaries();
});

test('endpoint: park re-checks (no sleeping when data or state arrived)', () => {
  const fx = fixture();
  const R = new Endpoint(fx.region, 'R');
  const N = new Endpoint(fx.region, 'N');
  assert.equal(N.parkConsumer(), false);
  assert.equal(Atomics.load(fx.region.ctrl, R2N_WORDS.consumerParked), 1);
  R.trySend(bytes(5));
  assert.equal(R.flush(), true, 'doorbell needed: consumer parked');
  N.unparkConsumer();
  R.trySend(bytes(5));
  assert.equal(R.flush(), false);
  assert.equal(N.parkConsumer(), true, 'data already there');
  assert.equal(Atomics.load(fx.region.ctrl, R2N_WORDS.consumerParked), 0);
  N.poll(() => {});
  assert.equal(N.waitForData(1), false, 'times out');
  // producer side
  while (N.trySend(bytes(500))) {}
  N.flush();
  assert.equal(N.parkProducer(), false);
  const woken: number[] = [];
  const R2 = new Endpoint(fx.region, 'R', { wake: (word) => void woken.push(word) });
  assert.deepEqual(woken, [N2R_WORDS.producerWakeSeq], 'attach (state-publish) rang the parked producer');
  assert.equal(Atomics.load(fx.region.ctrl, N2R_WORDS.producerWakeSeq), 1, 'after bumping its wake sequence');
  R2.poll(() => {}, 1);
  assert.deepEqual(woken, [N2R_WORDS.producerWakeSeq, N2R_WORDS.producerWakeSeq], 'release rang the parked producer');
  assert.equal(Atomics.load(fx.region.ctrl, N2R_WORDS.producerWakeSeq), 2);
  N.unparkProducer();
  assert.equal(N.parkProducer(), true, 'space released meanwhile');
  R.close();
  assert.equal(N.parkConsumer(), true, 'peer closed');
});

test('endpoint: a park waits on its wake sequence with the value read before its re-check (5.2)', () => {
  const fx = fixture();
  const ctrl = fx.region.ctrl;
  const R = new Endpoint(fx.region, 'R');
  const N = new Endpoint(fx.region, 'N');
  // Producer role: N fills N2R and parks for space; R's release bumps the sequence.
  while (N.trySend(bytes(500))) {}
  N.flush();
  Atomics.store(ctrl, N2R_WORDS.producerWakeSeq, 7);
  assert.equal(N.parkProducer(), false);
  assert.equal(N.producerWaitWord, N2R_WORDS.producerWakeSeq);
  assert.equal(N.producerWaitValue, 7);
  R.poll(() => {}, 1);
  assert.equal(Atomics.wait(ctrl, N.producerWaitWord, N.producerWaitValue, 10_000), 'not-equal', 'a wait after the release returns at once');
  N.unparkProducer();
  // Consumer role: a close between N's re-check and its wait bumps the word.
  Atomics.store(ctrl, R2N_WORDS.consumerWakeSeq, 41);
  assert.equal(N.parkConsumer(), false);
  assert.equal(N.consumerWaitWord, R2N_WORDS.consumerWakeSeq);
  assert.equal(N.consumerWaitValue, 41);
  R.close();
  assert.equal(Atomics.load(ctrl, R2N_WORDS.consumerWakeSeq), 42);
  assert.equal(Atomics.wait(ctrl, N.consumerWaitWord, N.consumerWaitValue, 10_000), 'not-equal', 'a wait after the close returns at once');
  N.unparkConsumer();
});

test('randomized both directions in one thread (seeded)', () => {
  const fx = fixture(4096, 8192);
  const rand = mulberry32(12345);
  const R = new Endpoint(fx.region, 'R');
  const N = new Endpoint(fx.region, 'N');
  type Dir = { tx: Endpoint; rx: Endpoint; cap: number; expect: { len: number; sum: number }[]; seq: number; recv: number; pending: Uint8Array | null };
  const dirs: Dir[] = [
    { tx: R, rx: N, cap: 4096, expect: [], seq: 0, recv: 0, pending: null },
    { tx: N, rx: R, cap: 8192, expect: [], seq: 0, recv: 0, pending: null },
  ];
  const makeMsg = (d: Dir): Uint8Array => {
    const roll = rand();
    const len = roll < 0.7 ? Math.floor(rand() * 200) : roll < 0.9 ? Math.floor(rand() * (d.cap / 4)) : Math.floor(rand() * 3 * d.cap);
    const m = bytes(len, d.seq * 7919 + 1);
    if (len >= 4) new DataView(m.buffer).setUint32(0, d.seq);
    d.seq++;
    d.expect.push({ len, sum: fnv(m) });
    return m;
  };
  const TARGET = 3000;
  for (let step = 0; step < 200000 && (dirs[0]!.recv < TARGET || dirs[1]!.recv < TARGET); step++) {
    const d = dirs[step & 1]!;
    // writer step: a few messages
    const k = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < k && (d.seq < TARGET || d.pending !== null); i++) {
      if (d.pending === null) d.pending = makeMsg(d);
      const w = d.tx.frameWriter;
      let ok: boolean;
      if (!w.largePending && d.pending.length <= w.maxPayload) ok = d.tx.trySend(d.pending);
      else {
        if (!w.largePending) w.beginLarge(d.pending);
        ok = w.continueLarge();
      }
      if (!ok) break;
      d.pending = null;
    }
    d.tx.flush();
    // reader step with a random budget
    const o = dirs[(step & 1) ^ 1]!;
    o.rx.poll((m) => {
      const e = o.expect[o.recv]!;
      assert.ok(e, 'unexpected extra message');
      assert.equal(m.length, e.len, `len of #${o.recv}`);
      if (m.length >= 4) assert.equal(new DataView(m.buffer, m.byteOffset).getUint32(0), o.recv, 'sequence');
      assert.equal(fnv(m), e.sum, `checksum of #${o.recv}`);
      o.recv++;
    }, 1 + Math.floor(rand() * 20));
  }
  assert.equal(dirs[0]!.recv, TARGET);
  assert.equal(dirs[1]!.recv, TARGET);
  fx.checkCanaries();
});

// ---------------------------------------------------------------------------------
// corruption: a hostile N writes ring N2R (R consumes) or the R2N read_index (R produces)

function hostile(opts: { start?: number; maxMessage?: number } = {}) {
  const fx = fixture();
  const { ctrl } = fx.region;
  const start = opts.start ?? 0;
  Atomics.store(ctrl, W_N2R_WRITE_INDEX, start | 0);
  Atomics.store(ctrl, W_N2R_READ_INDEX, start | 0);
  Atomics.store(ctrl, W_N_STATE, STATE_ATTACHED);
  let reported: ProtocolError | null = null;
  const R = new Endpoint(fx.region, 'R', {
    onFailure: (e) => (reported = e),
    ...(opts.maxMessage === undefined ? {} : { maxMessage: opts.maxMessage }),
  });
  const data = fx.region.n2rData;
  let w = start;
  const rec = (len: number, kind: number, payloadWords: number[] = []) => {
    const off = w & 4095;
    setU32(data, off, len);
    setU32(data, off + 4, kind);
    payloadWords.forEach((v, i) => setU32(data, off + 8 + 4 * i, v));
    w = (w + 8 + Math.ceil(Math.min(len, 2048) / 8) * 8) >>> 0;
  };
  const publish = (idx = w) => Atomics.store(ctrl, W_N2R_WRITE_INDEX, idx | 0);
  const expectFail = (reason: string, op: () => unknown = () => R.poll(() => {})) => {
    const err = expectProtocol(op, reason);
    assert.equal(R.state, 'failed');
    assert.equal(reported, err);
    const sw = Atomics.load(ctrl, W_R_STATE);
    assert.equal(sw & 0xff, STATE_FAILED);
    assert.equal(sw >>> 8, err.reasonCode);
    // both rings refuse from now on, with the same error
    assert.equal(R.reader.failure, err.reasonCode);
    assert.equal(R.writer.failure, err.reasonCode);
    assert.equal(R.writer.error, err);
    // every later operation refuses with the same error, touching nothing
    expectProtocol(() => R.poll(() => assert.fail('no delivery after failure')), reason);
    expectProtocol(() => R.trySend(bytes(1)), reason);
    fx.checkCanaries();
  };
  return { fx, ctrl, R, data, rec, publish, expectFail, get w() { return w; }, set w(v: number) { w = v; } };
}

test('corruption: consumer-side index checks C1-C3', () => {
  let h = hostile();
  h.publish(4);
  h.expectFail('index_misaligned');
  h = hostile();
  h.publish(4096 + 8);
  h.expectFail('index_out_of_range');
  h = hostile({ start: 800 });
  h.publish(792); // behind the reader: (w - read) mod 2^32 is huge
  h.expectFail('index_out_of_range');
  h = hostile();
  h.rec(8, KIND_MESSAGE);
  h.rec(8, KIND_MESSAGE);
  h.publish();
  assert.equal(h.R.poll(() => {}, 1), 1);
  h.publish(24); // was 32, reader at 16: moved back but still ahead of the reader
  h.expectFail('index_regressed', () => h.R.parkConsumer());
});

test('corruption: indices checked at attach (A1, A2) refuse the region, writing nothing', () => {
  const cases: [string, number, number, string][] = [
    // [what, R2N write_index (ours), R2N read_index (the consumer's), reason]
    ['own write_index misaligned', 12, 0, 'index_misaligned'],
    ['read_index misaligned', 16, 4, 'index_misaligned'],
    ['read_index beyond write_index', 16, 24, 'index_out_of_range'],
    ['read_index more than a ring behind', 4096 + 16, 8, 'index_out_of_range'],
  ];
  for (const [what, w, r, reason] of cases) {
    const fx = fixture();
    const { ctrl } = fx.region;
    Atomics.store(ctrl, W_R2N_WRITE_INDEX, w);
    Atomics.store(ctrl, W_R2N_READ_INDEX, r);
    const before = Uint8Array.from(new Uint8Array(fx.sab));
    assert.throws(
      () => new Endpoint(fx.region, 'R'),
      (e: unknown) => e instanceof RegionError && e.code === 'bad_region' && e.reason === reason && e.message.includes(`write ${w} read ${r}`),
      what,
    );
    assert.deepEqual(new Uint8Array(fx.sab), before, `${what}: nothing written`);
  }
  // the incoming ring's own read_index too
  const fx = fixture();
  Atomics.store(fx.region.ctrl, W_N2R_READ_INDEX, 4);
  assert.throws(
    () => new Endpoint(fx.region, 'R'),
    (e: unknown) => e instanceof RegionError && e.reason === 'index_misaligned' && /incoming write 0 read 4/.test(e.message),
  );
});

test('corruption: record checks C4-C7', () => {
  const mp = 1016;
  const cases: [string, (h: ReturnType<typeof hostile>) => void][] = [
    ['record_kind_invalid', (h) => h.rec(8, 7)],
    ['record_kind_invalid', (h) => h.rec(8, 0)],
    ['record_kind_invalid', (h) => h.rec(8, 0x101)],
    ['record_kind_invalid', (h) => h.rec(8, 0xffffffff)],
    ['record_length_invalid', (h) => h.rec(0xffffffff, KIND_MESSAGE)],
    ['record_length_invalid', (h) => h.rec(mp + 1, KIND_MESSAGE)],
    ['record_length_invalid', (h) => h.rec(mp + 1, KIND_MIDDLE)],
    ['record_length_invalid', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(8, KIND_CANCEL);
    }],
    ['record_beyond_index', (h) => {
      h.rec(100, KIND_MESSAGE);
      h.w = 64;
    }],
    ['pad_invalid', (h) => {
      h.w = 0;
      h.rec(4080, KIND_PAD); // PAD at 0 must have length 4088
      h.w = 4096;
    }],
    ['pad_invalid', (h) => h.rec(0xfffffff8, KIND_PAD)],
  ];
  for (const [reason, build] of cases) {
    const h = hostile();
    build(h);
    h.publish();
    h.expectFail(reason);
  }
  // near the end of the ring
  let h = hostile({ start: 4000 });
  h.rec(200, KIND_MESSAGE); // 4000 + 208 > 4096
  h.publish();
  h.expectFail('record_crosses_end');
  h = hostile({ start: 4000 });
  h.rec(88, KIND_PAD); // a correct PAD ...
  h.publish(4008); // ... not entirely published
  h.expectFail('record_beyond_index');
  h = hostile({ start: 4000 });
  h.rec(80, KIND_PAD);
  h.publish(4096);
  h.expectFail('pad_invalid');
});

test('corruption: fragment checks C8-C10', () => {
  const cases: [string, (h: ReturnType<typeof hostile>) => void, number?][] = [
    ['fragment_sequence', (h) => h.rec(8, KIND_MIDDLE)],
    ['fragment_sequence', (h) => h.rec(8, KIND_LAST)],
    ['fragment_sequence', (h) => h.rec(0, KIND_CANCEL)],
    ['fragment_sequence', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(16, KIND_FIRST, [100, 0]);
    }],
    ['fragment_sequence', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(8, KIND_MESSAGE);
    }],
    ['fragment_length', (h) => h.rec(4, KIND_FIRST, [100])],
    ['fragment_length', (h) => h.rec(8, KIND_FIRST, [100, 0])], // prefix only: an empty chunk
    ['fragment_length', (h) => {
      h.rec(16, KIND_FIRST, [20, 0]);
      h.rec(12, KIND_MIDDLE); // completes the message: nothing left for the LAST
    }],
    ['fragment_length', (h) => h.rec(16, KIND_FIRST, [100, 1])],
    ['fragment_length', (h) => h.rec(40, KIND_FIRST, [10, 0])],
    ['fragment_length', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(0, KIND_MIDDLE);
    }],
    ['fragment_length', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(0, KIND_LAST);
    }],
    ['fragment_length', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(96, KIND_MIDDLE);
    }],
    ['fragment_length', (h) => {
      h.rec(16, KIND_FIRST, [100, 0]);
      h.rec(80, KIND_LAST);
    }],
    ['message_too_large', (h) => h.rec(16, KIND_FIRST, [2000, 0]), 1000],
    ['message_too_large', (h) => h.rec(16, KIND_FIRST, [0xffffffff, 0]), 0xfffffffe],
  ];
  for (const [reason, build, maxMessage] of cases) {
    const h = hostile(maxMessage === undefined ? {} : { maxMessage });
    build(h);
    h.publish();
    h.expectFail(reason);
  }
  // a valid hand-made fragmented message with a PAD in the middle is accepted
  const h = hostile({ start: 4000 });
  h.rec(16, KIND_FIRST, [20, 0, 0x04030201, 0x08070605]);
  h.rec(64, KIND_PAD);
  h.rec(12, KIND_LAST);
  h.publish();
  const got: Uint8Array[] = [];
  assert.equal(h.R.poll((m) => void got.push(m)), 1);
  assert.equal(got[0]!.length, 20);
  assert.deepEqual(Array.from(got[0]!.subarray(0, 8)), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('a FIRST announcing 4 GiB costs memory in proportion to the bytes that arrive', () => {
  // The hostile peer announces 0xFFFFFFF0 bytes (within the default maxMessage) and sends
  // two small fragments: the reassembly buffer must not be sized by the announcement.
  const before = process.memoryUsage().arrayBuffers;
  const h = hostile();
  h.rec(16, KIND_FIRST, [0xfffffff0, 0, 1, 2]);
  h.rec(16, KIND_MIDDLE);
  h.publish();
  assert.equal(h.R.poll(() => assert.fail('nothing is complete')), 0);
  assert.ok(h.R.frameReader.inMessage, 'the message is being reassembled');
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 256 * 1024 * 1024, `reassembly took ${grown} bytes for 24 received`);
});

test('corruption: peer state word S1', () => {
  for (const bad of [4, 0xff, 0x10001, 0x0201, 0x0100, -1]) {
    const h = hostile();
    Atomics.store(h.ctrl, W_N_STATE, bad);
    h.expectFail('peer_state_invalid');
  }
  // a valid "failed" peer: consumer reports it, no local failure
  const h = hostile();
  Atomics.store(h.ctrl, W_N_STATE, STATE_FAILED | (4 << 8));
  assert.throws(() => h.R.poll(() => {}), (e: unknown) => e instanceof ChannelClosedError && e.code === 'peer_failed' && e.peerReason === 4);
  assert.equal(h.R.state, 'attached');
});

test('corruption: producer-side index checks P1-P3', () => {
  const fill = (R: Endpoint) => {
    while (R.trySend(bytes(500))) {}
    R.flush();
  };
  let h = hostile();
  fill(h.R);
  Atomics.store(h.ctrl, W_R2N_READ_INDEX, 4);
  h.expectFail('index_misaligned', () => h.R.trySend(bytes(500)));
  h = hostile();
  fill(h.R);
  Atomics.store(h.ctrl, W_R2N_READ_INDEX, h.R.writer.writeIndex + 8);
  h.expectFail('index_out_of_range', () => h.R.trySend(bytes(500)));
  h = hostile();
  fill(h.R);
  Atomics.store(h.ctrl, W_R2N_READ_INDEX, 1016);
  assert.ok(h.R.trySend(bytes(500)));
  h.R.flush();
  fill(h.R);
  Atomics.store(h.ctrl, W_R2N_READ_INDEX, 1008);
  h.expectFail('index_regressed', () => h.R.trySend(bytes(500)));
});

test('corruption: random scribbling never escapes as anything but ProtocolError', () => {
  const rand = mulberry32(99);
  let failures = 0;
  for (let round = 0; round < 300; round++) {
    const fx = fixture();
    const { ctrl } = fx.region;
    const R = new Endpoint(fx.region, 'R', { maxMessage: 1 << 20 });
    const N = new Endpoint(fx.region, 'N');
    const data = fx.region.n2rData;
    for (let step = 0; step < 50 && R.state === 'attached'; step++) {
      // honest traffic, then hostile writes into words and bytes
      N.trySend(bytes(Math.floor(rand() * 300), step));
      N.flush();
      const k = Math.floor(rand() * 4);
      for (let i = 0; i < k; i++) {
        const what = rand();
        const val = rand() < 0.5 ? Math.floor(rand() * 2 ** 32) : Math.floor(rand() * 5000);
        if (what < 0.5) setU32(data, Math.floor(rand() * 1024) * 4, val);
        else if (what < 0.7) Atomics.store(ctrl, W_N2R_WRITE_INDEX, val | 0);
        else if (what < 0.8) Atomics.store(ctrl, W_N_STATE, val | 0);
        else if (what < 0.9) Atomics.store(ctrl, W_R2N_READ_INDEX, val | 0);
        else data[Math.floor(rand() * 4096)] = val & 255;
      }
      try {
        R.poll((m) => {
          assert.ok(m.byteOffset >= data.byteOffset || m.buffer !== data.buffer);
          if (m.buffer === data.buffer) assert.ok(m.byteOffset + m.length <= data.byteOffset + data.length);
        });
        for (let i = 0; i < 3; i++) R.trySend(bytes(300));
        R.flush();
      } catch (e) {
        if (e instanceof ProtocolError) {
          failures++;
          assert.equal(Atomics.load(ctrl, W_R_STATE) >>> 8, e.reasonCode);
          break;
        }
        if (e instanceof ChannelClosedError) break;
        throw e;
      }
    }
    fx.checkCanaries();
  }
  assert.ok(failures > 50, `hostile rounds detected: ${failures}`);
});

test('endpoint: restoreOwnIndices puts back an own index moved back to a value the peer never saw (7.4)', () => {
  const fx = fixture();
  const wakes: number[] = [];
  const R = new Endpoint(fx.region, 'R', { wake: (w) => wakes.push(w) });
  const N = new Endpoint(attachRegion(fx.sab, PRE), 'N');
  const ctrl = fx.region.ctrl;
  assert.equal(R.restoreOwnIndices(), false, 'nothing to restore');

  // write_index: R published two messages; it is set back before N looked.
  assert.equal(R.trySend(bytes(100, 1)), true);
  assert.equal(R.trySend(bytes(30, 2)), true);
  R.flush();
  const published = Atomics.load(ctrl, W_R2N_WRITE_INDEX);
  Atomics.store(ctrl, W_R2N_WRITE_INDEX, 0);
  const got: Uint8Array[] = [];
  assert.equal(N.poll((m) => got.push(m.slice())), 0, 'N sees an empty ring: no check can catch it');
  assert.equal(N.parkConsumer(), false); // N goes to sleep on it
  assert.equal(R.restoreOwnIndices(), true);
  assert.equal(Atomics.load(ctrl, W_R2N_WRITE_INDEX), published);
  assert.deepEqual(wakes, [R2N_WORDS.consumerWakeSeq], 'the parked consumer is rung');
  N.unparkConsumer();
  assert.equal(N.poll((m) => got.push(m.slice())), 2);
  assert.deepEqual(got, [bytes(100, 1), bytes(30, 2)]);

  // read_index: N released; R's read_index (its own, for N2R) is set back after R consumed.
  assert.equal(N.trySend(bytes(50, 3)), true);
  N.flush();
  assert.equal(R.poll(() => {}), 1);
  const released = Atomics.load(ctrl, W_N2R_READ_INDEX);
  Atomics.store(ctrl, W_N2R_READ_INDEX, 0);
  assert.equal(R.restoreOwnIndices(), true);
  assert.equal(Atomics.load(ctrl, W_N2R_READ_INDEX), released);
  assert.equal(R.restoreOwnIndices(), false, 'idempotent');
  assert.equal(R.state, 'attached');
  assert.equal(N.state, 'attached');

  // Only a word moved back: a misaligned or forward one is left for the peer to name.
  const w = Atomics.load(ctrl, W_R2N_WRITE_INDEX);
  for (const forged of [w + 4, w + 8, w - 4]) {
    Atomics.store(ctrl, W_R2N_WRITE_INDEX, forged | 0);
    assert.equal(R.restoreOwnIndices(), false, `left ${forged} (published ${w})`);
    assert.equal(Atomics.load(ctrl, W_R2N_WRITE_INDEX), forged | 0);
  }
  Atomics.store(ctrl, W_R2N_WRITE_INDEX, (w + 4) | 0);
  assert.throws(() => N.poll(() => {}), (e: Error) => e instanceof ProtocolError && e.reason === 'index_misaligned');
});
