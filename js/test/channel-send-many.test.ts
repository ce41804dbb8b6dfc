// The batch send (sendMany, js/src/sender.ts and RingWriter.tryWriteMany): small messages
// written back to back and published at once, the rest queued as send() would.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ChannelError, protocol } from '../src/index';
import { echoBarrier, openChannel as open, stallEcho, tagged, waitFor } from './helpers';

test('sendMany: every message arrives, in order, after what was sent before and before what is sent after', async (t) => {
  const ch = open(t, 4096, 65536);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.send(tagged(0, 10));
  const batch = Array.from({ length: 30 }, (_, i) => tagged(1 + i, (i * 37) % 100)); // 0..99 bytes, some empty
  assert.equal(ch.sendMany(batch), 30);
  ch.send(tagged(31, 10));
  await echoBarrier(ch, got);
  assert.equal(got.length, 32);
  assert.deepEqual(got[0], tagged(0, 10));
  for (let i = 0; i < 30; i++) assert.deepEqual(got[1 + i], batch[i], `batch message ${i}`);
  assert.deepEqual(got[31], tagged(31, 10));
});

test('sendMany: a batch that wraps around the end of the ring arrives intact', async (t) => {
  const ch = open(t, 4096, 65536);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  let seq = 0;
  for (let round = 0; round < 20; round++) { // 20 x 5 x 208 B: the ring (4 KiB) wraps several times
    const batch = Array.from({ length: 5 }, () => tagged(seq++, 200));
    assert.equal(ch.sendMany(batch), 5);
    await waitFor(() => got.length === seq, 2000, `round ${round}`);
  }
  for (let i = 0; i < seq; i++) assert.deepEqual(got[i], tagged(i, 200), `message ${i}`);
});

test('sendMany: one publication for the batch (the peer is woken at most once)', async (t) => {
  const ch = open(t, 1 << 16, 1 << 16, { handler: 'sink' });
  await waitFor(() => ch.getStats().peer.parks! > 0, 2000, 'the native side to park');
  const before = ch.getStats().doorbellsToPeer;
  assert.equal(ch.sendMany(Array.from({ length: 200 }, (_, i) => tagged(i, 64))), 200);
  assert.ok(ch.getStats().doorbellsToPeer - before <= 1, `woken ${ch.getStats().doorbellsToPeer - before} times`);
  assert.equal(ch.getStats().r2nFill > 0 || ch.getStats().peer.sinkMessages! > 0, true, 'published before sendMany returned');
  await waitFor(() => ch.getStats().peer.sinkMessages === 200, 2000, 'the sink to count the batch');
});

test('sendMany on a full ring: what does not fit is queued like send(), and all of it arrives in order', async (t) => {
  const ch = open(t, 4096, 4096);
  const tags = await stallEcho(ch); // the echo consumes nothing more until JS receives
  const batch = Array.from({ length: 10 }, (_, i) => tagged(100 + i, 1000));
  assert.equal(ch.sendMany(batch), 10, 'accepted: written or queued');
  const queued = ch.getStats().queueLength;
  assert.ok(queued > 0 && queued < 10, `part written, the rest queued (${queued} queued)`);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await echoBarrier(ch, got);
  assert.deepEqual(got, [...tags.map((i) => tagged(i, 1000)), ...batch]);
});

test('sendMany past highWaterMark: returns how many were accepted; the rest are never sent; drain follows', async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 4000 });
  const tags = await stallEcho(ch);
  const batch = Array.from({ length: 20 }, (_, i) => tagged(100 + i, 1000));
  const accepted = ch.sendMany(batch);
  assert.ok(accepted > 0 && accepted < 20, `a prefix accepted (${accepted})`);
  const drained = new Promise<void>((resolve) => ch.once('drain', resolve));
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await drained;
  await echoBarrier(ch, got);
  assert.deepEqual(got, [...tags.map((i) => tagged(i, 1000)), ...batch.slice(0, accepted)]);
});

test('sendMany: an element larger than one record is a RangeError naming its index and size; nothing is sent', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  const batch = [tagged(1, 10), tagged(2, 1016), tagged(3, 1017), tagged(4, 10)];
  assert.throws(
    () => ch.sendMany(batch),
    (e: Error) => e instanceof RangeError && /^sendMany\(messages\): messages\[2\] has 1017 bytes; a batch takes messages of up to 1016 bytes/.test(e.message),
  );
  assert.equal(ch.getStats().messagesSent, 0);
  await echoBarrier(ch, got);
  assert.equal(got.length, 0);
});

test('sendMany: an element that is not a message is a TypeError naming its index; a non-array too', (t) => {
  const ch = open(t, 4096, 4096);
  assert.throws(() => ch.sendMany([new Uint8Array(1), 5 as unknown as Uint8Array]), /^TypeError: sendMany\(messages\): messages\[1\]: message must be a Uint8Array, .* not number 5$/);
  assert.throws(() => ch.sendMany(new Uint8Array(4) as unknown as Uint8Array[]), /^TypeError: sendMany\(messages\): messages must be an array, not an object \(Uint8Array\)$/);
  assert.equal(ch.getStats().messagesSent, 0);
});

test('sendMany takes strings and other views as send() does, and an empty batch sends nothing', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  assert.equal(ch.sendMany([]), 0);
  assert.equal(ch.sendMany(['hé', new Uint16Array([0x0201]), new Uint8Array([9]).buffer]), 3);
  await echoBarrier(ch, got);
  assert.deepEqual(got.map((m) => Array.from(m)), [[0x68, 0xc3, 0xa9], [1, 2], [9]]);
});

test('sendMany after cleanup() throws ChannelClosedError closed; after the peer ended it returns 0', async (t) => {
  const ch = open(t, 4096, 4096);
  ch.cleanup();
  assert.throws(() => ch.sendMany([new Uint8Array(1)]), (e: Error) => e instanceof ChannelClosedError && e.code === 'closed' && /^sendMany\(\): the channel is closed/.test(e.message));

  const ended = open(t, 4096, 4096);
  const closed = new Promise<void>((resolve) => ended.on('close', resolve));
  ended.startReceiving(() => {});
  Atomics.store(new Int32Array(ended.buffer), protocol.W_N_STATE, protocol.STATE_CLOSED);
  await closed; // the drain sees the peer's end
  assert.equal(ended.sendMany([new Uint8Array(1)]), 0);
});

test('sendMany while a reservation is open throws reservation_open', (t) => {
  const ch = open(t, 4096, 4096);
  const r = ch.reserve(8)!;
  assert.throws(() => ch.sendMany([new Uint8Array(1)]), (e: Error) => e instanceof ChannelError && e.code === 'reservation_open');
  r.abort();
});
