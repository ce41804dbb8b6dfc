// Receiving (js/src/drain-loop.ts, channel-core.ts): views into the ring, owned copies,
// and in-place delivery without a view per message (startReceivingInPlace).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelError } from '../src/index';
import { openChannel as open, tagged, waitFor } from './helpers';

test('startReceiving hands out views into the shared ring, valid during the callback', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen: Array<{ inRing: boolean; bytes: number[] }> = [];
  ch.startReceiving((m) => seen.push({ inRing: m.buffer === ch.buffer, bytes: Array.from(m) }));
  ch.send(new Uint8Array([5, 6, 7]));
  await waitFor(() => seen.length === 1, 2000, 'the echo');
  assert.deepEqual(seen[0], { inRing: true, bytes: [5, 6, 7] });
});

test('startReceiving with { copy: true } hands out owned copies', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m), { copy: true });
  ch.send(tagged(1, 100));
  ch.send(tagged(2, 100));
  await waitFor(() => got.length === 2, 2000, 'two echoes');
  assert.ok(got[0]!.buffer !== ch.buffer, 'not a view into the ring');
  assert.deepEqual(got, [tagged(1, 100), tagged(2, 100)]);
});

test('startReceivingInPlace: each message as (buffer, offset, length), in order, the buffer the same ring bytes every time', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  const buffers = new Set<Uint8Array>();
  ch.startReceivingInPlace((buffer, offset, length) => {
    buffers.add(buffer);
    got.push(buffer.slice(offset, offset + length));
  });
  const sent = Array.from({ length: 50 }, (_, i) => tagged(i, (i * 53) % 900)); // wraps the 4 KiB ring
  for (const m of sent) ch.send(m);
  await waitFor(() => got.length === sent.length, 2000, 'every echo');
  assert.deepEqual(got, sent);
  assert.equal(buffers.size, 1, 'no view made per message');
  assert.ok([...buffers][0]!.buffer === ch.buffer, 'the ring inside the shared buffer');
  assert.equal(ch.getStats().messagesReceived, sent.length);
  assert.equal(ch.getStats().bytesReceived, sent.reduce((n, m) => n + m.length, 0));
});

test('startReceivingInPlace: a message larger than a record arrives reassembled, as its own buffer at offset 0', async (t) => {
  const ch = open(t, 1 << 16, 4096);
  let got: { own: boolean; offset: number; bytes: Uint8Array } | null = null;
  ch.startReceivingInPlace((buffer, offset, length) => {
    got = { own: buffer.buffer !== ch.buffer, offset, bytes: buffer.slice(offset, offset + length) };
  });
  const big = tagged(9, 10_000); // 4 KiB ring: fragments
  ch.send(big);
  await waitFor(() => got !== null, 2000, 'the reassembled echo');
  assert.deepEqual(got, { own: true, offset: 0, bytes: big });
});

test("startReceivingInPlace with a 'message' listener: both get every message", async (t) => {
  const ch = open(t, 4096, 4096);
  const inPlace: number[] = [];
  const events: number[] = [];
  ch.startReceivingInPlace((buffer, offset) => inPlace.push(buffer[offset]!));
  ch.on('message', (m) => events.push(m[0]!));
  for (let i = 0; i < 5; i++) ch.send(new Uint8Array([i]));
  await waitFor(() => inPlace.length === 5 && events.length === 5, 2000, 'five echoes each');
  assert.deepEqual(inPlace, [0, 1, 2, 3, 4]);
  assert.deepEqual(events, [0, 1, 2, 3, 4]);
});

test('startReceivingInPlace replaces a startReceiving callback, and the reverse', async (t) => {
  const ch = open(t, 4096, 4096);
  const views: number[] = [];
  const inPlace: number[] = [];
  ch.startReceiving((m) => views.push(m[0]!));
  ch.startReceivingInPlace((buffer, offset) => inPlace.push(buffer[offset]!));
  ch.send(new Uint8Array([1]));
  await waitFor(() => inPlace.length === 1, 2000, 'the in-place echo');
  ch.startReceiving((m) => views.push(m[0]!));
  ch.send(new Uint8Array([2]));
  await waitFor(() => views.length === 1, 2000, 'the view echo');
  assert.deepEqual({ views, inPlace }, { views: [2], inPlace: [1] });
});

test('startReceivingInPlace: a callback that switches to startReceiving mid-batch hands the rest of the batch to the new callback', async (t) => {
  const ch = open(t, 4096, 4096);
  const inPlace: number[] = [];
  const views: number[] = [];
  ch.startReceivingInPlace((buffer, offset) => {
    inPlace.push(buffer[offset]!);
    ch.startReceiving((m) => views.push(m[0]!));
  });
  ch.sendMany(Array.from({ length: 10 }, (_, i) => new Uint8Array([i]))); // one batch: echoed together or not
  await waitFor(() => inPlace.length + views.length === 10, 2000, 'ten echoes');
  assert.deepEqual(inPlace, [0]);
  assert.deepEqual(views, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(ch.isClosed, false);
});

test('startReceivingInPlace: a callback that throws ends the channel with callback_failed', async (t) => {
  const ch = open(t, 4096, 4096);
  const failed = new Promise<Error>((resolve) => ch.on('error', resolve));
  ch.startReceivingInPlace(() => {
    throw new Error('boom');
  });
  ch.send(new Uint8Array(1));
  const err = await failed;
  assert.ok(err instanceof ChannelError && err.code === 'callback_failed', String(err));
  assert.equal((err.cause as Error).message, 'boom');
  assert.equal(ch.isClosed, true);
});

test('startReceivingInPlace: not a function is a TypeError; after cleanup ChannelClosedError', (t) => {
  const ch = open(t, 4096, 4096);
  assert.throws(() => ch.startReceivingInPlace(7 as unknown as () => void), /^TypeError: startReceivingInPlace\(cb\): cb must be a function, not number 7$/);
  ch.cleanup();
  assert.throws(() => ch.startReceivingInPlace(() => {}), (e: Error) => e instanceof ChannelError && e.code === 'closed');
});
