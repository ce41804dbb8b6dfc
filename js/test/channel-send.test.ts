// The non-blocking send path (js/src/sender.ts, send-queue.ts): sendAsync, the JS send
// queue behind a full ring, highWaterMark, 'drain' and onQueueEmpty.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, type SharedMemoryChannel } from '../src/index';
import { echoBarrier, nextTurn, openChannel as open, stallEcho, tagged, waitFor } from './helpers';

/** The echo stalled (N2R full, it holds a message) and JS filled R2N: nothing moves until JS receives. */
function stalled(ch: SharedMemoryChannel, recordBytes: number): boolean {
  const s = ch.getStats();
  return s.n2rFill > s.n2rCapacity - recordBytes && s.r2nCapacity - s.r2nFill < recordBytes;
}

test('sendAsync resolves once the message is in the ring, and it arrives', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await ch.sendAsync(tagged(1, 100));
  assert.equal(ch.getStats().messagesSent, 1, 'written when the promise resolved');
  await waitFor(() => got.length === 1, 2000, 'the echo');
  assert.deepEqual(got[0], tagged(1, 100));
});

test('sendAsync: the promises still queued when the channel is cleaned up reject with ChannelClosedError closed', async (t) => {
  const ch = open(t, 4096, 4096); // not receiving: the echo stalls once N2R is full
  const outcomes: Array<'resolved' | Error> = [];
  const ps = [];
  for (let i = 0; i < 40; i++) {
    ps.push(
      ch.sendAsync(tagged(i, 1000)).then(
        () => void outcomes.push('resolved'),
        (e: Error) => void outcomes.push(e),
      ),
    );
  }
  await waitFor(() => stalled(ch, 1008), 3000, 'the echo to stall with R2N full');
  await nextTurn(); // the resolutions of what was written have run
  const resolvedBefore = outcomes.length;
  assert.ok(resolvedBefore > 0 && resolvedBefore < 40, `some but not all written before cleanup (${resolvedBefore})`);
  assert.equal(ch.getStats().queueLength, 40 - resolvedBefore);
  assert.ok(outcomes.every((o) => o === 'resolved'));
  ch.cleanup();
  await Promise.all(ps);
  assert.equal(outcomes.length, 40);
  const rejected = outcomes.filter((o) => o !== 'resolved') as Error[];
  assert.equal(rejected.length, 40 - resolvedBefore);
  for (const e of rejected) {
    assert.ok(e instanceof ChannelClosedError);
    assert.equal(e.code, 'closed');
  }
});

/** Stalls the echo, then sends 1000-byte messages until send() refuses one. Returns how many were accepted. */
async function fillToHighWaterMark(ch: SharedMemoryChannel): Promise<number> {
  let accepted = (await stallEcho(ch, 5)).length;
  for (let i = 0; i < 100; i++) {
    if (!ch.send(tagged(accepted, 1000))) return accepted;
    accepted++;
  }
  throw new Error('send() never refused');
}

test('highWaterMark: send() returns false, queuing nothing, once the queue holds the mark', async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 8192 });
  await fillToHighWaterMark(ch);
  const s = ch.getStats();
  assert.ok(s.queueBytes >= 8192 && s.queueBytes < 8192 + 1000, `queue holds about the mark (${s.queueBytes})`);
  assert.equal(ch.send(tagged(9999, 1)), false, 'still refused');
  assert.equal(ch.getStats().queueBytes, s.queueBytes, 'the refused message was not queued');
});

test("highWaterMark: 'drain' is emitted once when the queue empties after a refusal", async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 8192 });
  await fillToHighWaterMark(ch);
  let drains = 0;
  const drained = new Promise<void>((resolve) =>
    ch.on('drain', () => {
      drains++;
      resolve();
    }),
  );
  ch.startReceiving(() => {});
  await drained;
  assert.equal(ch.getStats().queueBytes, 0);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await echoBarrier(ch, got); // later sends go straight into the ring: no second 'drain'
  assert.equal(drains, 1);
});

test('highWaterMark: every accepted message arrives in order, the refused ones never', async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 8192 });
  const accepted = await fillToHighWaterMark(ch);
  const got: Uint8Array[] = [];
  const drained = new Promise<void>((resolve) => ch.once('drain', resolve));
  ch.startReceiving((m) => got.push(m.slice()));
  await drained; // the barrier would be refused before
  await echoBarrier(ch, got);
  assert.equal(got.length, accepted);
  for (let i = 0; i < accepted; i++) assert.deepEqual(got[i], tagged(i, 1000), `message ${i}`);
});

test('onQueueEmpty calls back once when the queue empties', async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 8192 });
  await fillToHighWaterMark(ch);
  let calls = 0;
  const emptied = new Promise<void>((resolve) =>
    ch.onQueueEmpty(() => {
      calls++;
      resolve();
    }),
  );
  assert.equal(calls, 0, 'not while messages are queued');
  ch.startReceiving(() => {});
  await emptied;
  assert.equal(ch.getStats().queueLength, 0);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await echoBarrier(ch, got);
  assert.equal(calls, 1, 'once');
});

test('onQueueEmpty with an empty queue calls back soon, not synchronously', async (t) => {
  const ch = open(t, 4096, 4096);
  let calls = 0;
  const called = new Promise<void>((resolve) =>
    ch.onQueueEmpty(() => {
      calls++;
      resolve();
    }),
  );
  assert.equal(calls, 0);
  await called;
  assert.equal(calls, 1);
});
