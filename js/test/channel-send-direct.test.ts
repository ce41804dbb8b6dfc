// The blocking send (js/src/blocking-send.ts): sendDirect writes and publishes the whole
// message before it returns, or throws having sent no part of it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, TimeoutError, protocol } from '../src/index';
import { echoBarrier, openChannel as open, stallEcho, tagged, waitFor } from './helpers';

test('sendDirect: the message is published when it returns, and the echo brings it back', async (t) => {
  const ch = open(t, 4096, 65536);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.sendDirect(tagged(1, 500), 1000);
  assert.equal(ch.getStats().messagesSent, 1);
  await waitFor(() => got.length === 1, 2000, 'the echo');
  assert.deepEqual(got[0], tagged(1, 500));
});

for (const size of [3 * 4096, 200_000]) {
  test(`sendDirect: a message of ${size} bytes (${size / 4096}x the ring) goes through while the peer drains`, async (t) => {
    const ch = open(t, 4096, 1 << 20);
    let got: Uint8Array | null = null;
    ch.startReceiving((m) => (got = m.slice()));
    const big = tagged(5, size);
    ch.sendDirect(big, 5000);
    await waitFor(() => got !== null, 3000, 'the echo of the big message');
    assert.deepEqual(got, big);
  });
}

test('sendDirect throws TimeoutError after timeoutMs when there is no room, having sent nothing', async (t) => {
  const st = open(t, 4096, 4096);
  await stallEcho(st);
  const t0 = performance.now();
  let sent = 0;
  assert.throws(
    () => {
      for (; sent < 10; sent++) st.sendDirect(tagged(100 + sent, 1000), 30);
    },
    (e: Error) => e instanceof TimeoutError && e.code === 'timeout' && /no room for 1000 bytes within 30 ms; nothing was sent/.test(e.message),
  );
  assert.ok(performance.now() - t0 >= 29);
  assert.equal(st.getStats().messagesSent, 5 + sent, 'the one that timed out is not counted as sent');
});

test('sendDirect: a fragmented message that does not fit in time is cancelled with TimeoutError naming its size', async (t) => {
  const st = open(t, 4096, 4096);
  await stallEcho(st);
  assert.throws(() => st.sendDirect(tagged(5, 200_000), 40), (e: Error) => e instanceof TimeoutError && /200000-byte message did not fit within 40 ms; it was cancelled/.test(e.message));
});

test('sendDirect never leaves part of a message: a timed-out fragmented message is cancelled, the next arrives intact', async (t) => {
  const ch = open(t, 4096, 4096);
  const tags = await stallEcho(ch, 5); // N2R holds 4 echoes, the echo blocks on the 5th reply
  const before = ch.getStats();
  const free = before.r2nCapacity - before.r2nFill;
  // What this test needs is room for at least one whole fragment record (1016 bytes in
  // a 4 KiB ring) and not for the message.
  assert.ok(free >= 1024, `room for at least one fragment (${free} bytes free)`);
  const partial = tagged(999, free + 3000); // FIRST and MIDDLEs fit, LAST does not
  assert.throws(
    () => ch.sendDirect(partial, 50),
    (e: Error) => e instanceof TimeoutError && /did not fit within 50 ms; it was cancelled/.test(e.message),
  );
  assert.ok(ch.getStats().r2nFill > before.r2nFill, 'fragments of the cancelled message were in the ring');
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  // sendDirect blocks this thread: first let the drain take the echoes the peer is stuck
  // on, and the peer consume the fragments and the CANCEL.
  await waitFor(() => got.length === tags.length && ch.getStats().r2nFill === 0, 2000, 'the stalled echoes and the cancelled fragments consumed');
  ch.sendDirect(tagged(1000, 2500), 2000); // fragmented too
  ch.send(tagged(1001, 10));
  await echoBarrier(ch, got);
  assert.equal(got.length, tags.length + 2, 'the cancelled message never arrives');
  for (let i = 0; i < tags.length; i++) assert.deepEqual(got[i], tagged(tags[i]!, 1000));
  assert.deepEqual(got[tags.length], tagged(1000, 2500));
  assert.deepEqual(got[tags.length + 1], tagged(1001, 10));
});

test('sendDirect stops waiting for space once the peer has closed: ChannelClosedError peer_closed, not a timeout', async (t) => {
  for (const size of [1000, 200_000]) { // one record; fragments (the large path)
    const ch = open(t, 4096, 4096);
    await stallEcho(ch); // the peer consumes nothing more
    let filled = 0;
    for (;; filled++) { // fill what is left of the ring
      try {
        ch.sendDirect(tagged(100 + filled, 1000), 0);
      } catch (e) {
        assert.ok(e instanceof TimeoutError, `filling: ${String(e)}`);
        break;
      }
    }
    // As if the native side had closed (its state word; the stalled thread cannot).
    Atomics.store(new Int32Array(ch.buffer), protocol.W_N_STATE, protocol.STATE_CLOSED);
    assert.throws(
      () => ch.sendDirect(tagged(1, size), 10_000),
      (e: Error) => e instanceof ChannelClosedError && e.code === 'peer_closed',
      `size ${size} (${filled} messages filled the ring)`,
    );
  }
});

test('sendDirect: a timeoutMs that is not a number from 0 to 2^31 is a RangeError naming it', (t) => {
  const ch = open(t, 4096, 4096);
  assert.throws(() => ch.sendDirect(tagged(1, 10), -1), /timeoutMs must be a number from 0 to 2147483648, not -1/);
  assert.throws(() => ch.sendDirect(tagged(1, 10), NaN), /timeoutMs must be a number from 0 to 2147483648, not NaN/);
});
