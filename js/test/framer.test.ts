// The framer (js/src/protocol/framer.ts): the streaming receive of fragmented messages
// and the reassembly buffer kept between messages. Single thread, one region.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ProtocolError } from '../src/errors';
import { DEFAULT_KEEP_ASSEMBLY, Endpoint, FrameReader, FrameWriter, KIND_FIRST, KIND_LAST, R2N_WORDS, RingReader, RingWriter, initRegion, regionSize, type FragmentSink, type StreamEnd } from '../src/protocol';

/** Where the rings of a fresh region start. */
const FRESH = { start: { write: 0, read: 0 } };

function pair(cap: number, keep?: number) {
  const region = initRegion(new SharedArrayBuffer(regionSize(cap, 4096)), cap, 4096);
  const ring = new RingWriter(region.ctrl, R2N_WORDS, region.r2nData, cap, FRESH);
  const reader = new FrameReader(new RingReader(region.ctrl, R2N_WORDS, region.r2nData, cap, FRESH), keep === undefined ? {} : { keepAssembly: keep });
  return { ring, w: new FrameWriter(ring), r: reader, region };
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

class RecordingSink implements FragmentSink {
  pieces: { offset: number; total: number; bytes: Uint8Array }[] = [];
  aborts: StreamEnd[] = [];
  fragment(b: Uint8Array, offset: number, total: number): void {
    this.pieces.push({ offset, total, bytes: b.slice() });
  }
  abort(why: StreamEnd): void {
    this.aborts.push(why);
  }
}

test('framer: streamed fragments arrive in order and add up to the message; small ones go to the handler', () => {
  const { ring, w, r } = pair(65536);
  const sink = new RecordingSink();
  r.sink = sink;
  const big = bytes(40000, 1); // three records of a 64 KiB ring
  const small = bytes(100, 2);
  w.beginLarge(big);
  assert.ok(w.continueLarge());
  assert.ok(w.tryWrite(small));
  ring.publish();
  const whole: Uint8Array[] = [];
  assert.equal(r.poll((m) => void whole.push(m.slice())), 2, 'both count as delivered');
  assert.deepEqual(whole, [small]);
  assert.equal(sink.pieces.length, 3);
  let at = 0;
  for (const p of sink.pieces) {
    assert.equal(p.offset, at);
    assert.equal(p.total, big.length);
    at += p.bytes.length;
  }
  assert.deepEqual(Buffer.concat(sink.pieces.map((p) => p.bytes)), Buffer.from(big));
  assert.deepEqual(sink.aborts, []);
  assert.equal(r.bufferCapacity, 0, 'nothing was reassembled');
});

test('framer: a CANCEL mid-message aborts the stream and the next message arrives', () => {
  const { ring, w, r } = pair(4096);
  const sink = new RecordingSink();
  r.sink = sink;
  w.beginLarge(bytes(10000, 3));
  assert.equal(w.continueLarge(), false, 'more than the ring holds');
  ring.publish();
  r.poll(() => assert.fail('nothing whole yet'));
  assert.ok(sink.pieces.length > 0);
  w.cancelLarge();
  const after = bytes(50, 4);
  assert.ok(w.tryWrite(after), 'the CANCEL, then the message');
  ring.publish();
  const whole: Uint8Array[] = [];
  r.poll((m) => void whole.push(m.slice()));
  assert.deepEqual(sink.aborts, ['cancelled']);
  assert.deepEqual(whole, [after]);
  assert.equal(r.ring.failure, 0);
});

test('framer: a hostile total fails the ring with fragment_length and aborts the stream, allocating nothing', () => {
  const { ring, r } = pair(4096);
  const sink = new RecordingSink();
  r.sink = sink;
  // FIRST announcing 0xFFFFFFF0 bytes with 8 of them, then a LAST of 8: far short.
  const at = ring.reserveOffset(16, KIND_FIRST);
  const dv = new DataView(ring.data.buffer, ring.data.byteOffset);
  dv.setUint32(at, 0xfffffff0, true);
  dv.setUint32(at + 4, 0, true);
  ring.commit(16);
  assert.ok(ring.tryWrite(bytes(8, 5), KIND_LAST));
  ring.publish();
  assert.throws(
    () => r.poll(() => assert.fail('nothing is whole')),
    (e: unknown) => e instanceof ProtocolError && e.reason === 'fragment_length',
  );
  assert.equal(sink.pieces.length, 1);
  assert.equal(sink.pieces[0]!.total, 0xfffffff0);
  assert.deepEqual(sink.aborts, ['failed']);
  assert.equal(r.bufferCapacity, 0);
});

test('framer: the reassembly buffer is kept for the next message (one allocation for both)', () => {
  const { ring, w, r } = pair(4096);
  const got: Uint8Array[] = [];
  for (const seed of [6, 7]) {
    const msg = bytes(3000, seed);
    w.beginLarge(msg);
    assert.ok(w.continueLarge());
    ring.publish();
    r.poll((m) => {
      assert.deepEqual(m, msg);
      got.push(m);
    });
  }
  assert.equal(got.length, 2);
  assert.equal(got[0]!.buffer, got[1]!.buffer, "the second message reused the first one's buffer");
  assert.equal(r.bufferCapacity, 3000);
});

test('framer: a reassembly buffer above the keep limit is dropped after its message', () => {
  const { ring, w, r } = pair(4096, 2048);
  const msg = bytes(3000, 8);
  w.beginLarge(msg);
  assert.ok(w.continueLarge());
  ring.publish();
  let n = 0;
  r.poll((m) => {
    assert.deepEqual(m, msg);
    n++;
  });
  assert.equal(n, 1);
  assert.equal(r.bufferCapacity, 0);
});

test('framer: the keep limit is keepAssembly (as C++ keep_assembly), default DEFAULT_KEEP_ASSEMBLY; the former option keep still works', () => {
  const { region } = pair(4096);
  const reader = () => new RingReader(region.ctrl, R2N_WORDS, region.r2nData, 4096, FRESH);
  assert.equal(new FrameReader(reader()).keepAssembly, DEFAULT_KEEP_ASSEMBLY);
  assert.equal(DEFAULT_KEEP_ASSEMBLY, 64 * 1024 * 1024);
  assert.equal(new FrameReader(reader(), { keepAssembly: 2048 }).keepAssembly, 2048);
  const former = new FrameReader(reader(), { keep: 1024 });
  assert.deepEqual([former.keepAssembly, former.keep], [1024, 1024]);
  const fx = initRegion(new SharedArrayBuffer(regionSize(4096, 4096)), 4096, 4096);
  assert.equal(new Endpoint(fx, 'N', { keepAssembly: 4096 }).frameReader.keepAssembly, 4096);
});
