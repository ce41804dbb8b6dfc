// Zero-copy sends (js/src/reservation.ts): reserve(n), then commit(used) or abort().
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ChannelError, protocol } from '../src/index';
import { echoBarrier, openChannel as open, stallEcho, tagged } from './helpers';

test('reserve/commit: the view is inside the shared ring and commit(used) sends its first used bytes', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  const r = ch.reserve(100);
  assert.ok(r);
  assert.equal(r.view.length, 100);
  assert.ok(r.view.buffer === ch.buffer, 'the view is inside the shared ring');
  r.view.set(tagged(7, 100));
  r.commit(60);
  ch.reserve(0)!.commit();
  await echoBarrier(ch, got);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], tagged(7, 100).subarray(0, 60));
  assert.equal(got[1]!.length, 0);
});

test('reserve/abort: an aborted reservation sends nothing', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  const r = ch.reserve(10)!;
  r.view.fill(0xee);
  r.abort();
  r.abort(); // harmless
  await echoBarrier(ch, got);
  assert.equal(got.length, 0, 'nothing came back before the barrier');
});

test('reserve: misuse throws (a second reservation, a second commit, commit beyond the reservation, bad n)', (t) => {
  const ch = open(t, 4096, 4096);
  const r = ch.reserve(10)!;
  assert.throws(() => ch.reserve(10), (e: Error) => e instanceof ChannelError && e.code === 'reservation_open');
  assert.throws(() => ch.send(new Uint8Array(1)), (e: Error) => e instanceof ChannelError && e.code === 'reservation_open');
  assert.throws(() => r.commit(11), /commit\(used\): used must be an integer from 0 to 10 \(the reserved size\), not 11/);
  r.commit();
  assert.throws(() => r.commit(), (e: Error) => e instanceof ChannelError && e.code === 'reservation_done');
  assert.throws(() => ch.reserve(1017), /reserve\(n\): n must be an integer from 0 to 1016 \(the largest single record of this ring\), not 1017/);
  assert.throws(() => ch.reserve(-1), RangeError);
  assert.throws(() => ch.reserve(1.5), RangeError);
  assert.throws(() => ch.reserve('8' as unknown as number), /not the string "8"/);
});

test('reserve returns null when the ring is full', async (t) => {
  const st = open(t, 4096, 4096);
  await stallEcho(st);
  let nulls = 0;
  for (let i = 0; i < 10; i++) {
    const rr = st.reserve(1000);
    if (rr === null) nulls++;
    else rr.commit();
  }
  assert.ok(nulls > 0, 'reserve returns null when the ring is full');
});

test('reserve: a commit after close() throws closed and publishes nothing (docs/protocol.md 6)', (t) => {
  const ch = open(t, 4096, 4096);
  const ctrl = new Int32Array(ch.buffer);
  const r = ch.reserve(10)!;
  r.view.fill(7);
  ch.close();
  const published = Atomics.load(ctrl, protocol.W_R2N_WRITE_INDEX);
  assert.throws(() => r.commit(), (e: Error) => e instanceof ChannelClosedError && e.code === 'closed');
  assert.equal(Atomics.load(ctrl, protocol.W_R2N_WRITE_INDEX), published, 'the commit after close moved write_index');
});
