// The addon's built-in native handlers seen from JS: 'sink' (counts and checksums what
// it receives) and 'source' (streams a fixed number of messages).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fnv1a, makeStressMessage, nextTurn, openChannel as open, stressLength, tagged, waitFor } from './helpers';

test("handler 'sink': counts, bytes and fnv1a checksum match what was sent", async (t) => {
  const ch = open(t, 4096, 4096, { handler: 'sink' });
  const N = 20_000;
  let bytes = 0;
  let sum = 0;
  const scratch = new Uint8Array(3 * 4096 + 8);
  for (let i = 0; i < N; i++) {
    const m = makeStressMessage(i, stressLength(i, 1016, 4096), scratch);
    if (!ch.send(m)) {
      await new Promise<void>((r) => ch.once('drain', r));
      i--;
      continue;
    }
    bytes += m.length;
    sum += fnv1a(m);
  }
  await waitFor(() => ch.getStats().peer.sinkMessages === N, 10_000, 'the sink to count every message');
  const peer = ch.getStats().peer;
  assert.equal(peer.sinkMessages, N);
  assert.equal(peer.sinkBytes, bytes);
  assert.equal(peer.sinkChecksum, sum);
  assert.equal(peer.messagesSent, 0, 'a sink never replies');
});

function checkSourceMessage(m: Uint8Array, i: number, size: number): void {
  assert.equal(m.length, size, `source message ${i}: length`);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(i), true);
  for (let k = 0; k < Math.min(8, size); k++) assert.equal(m[k], head[k], `source message ${i}: sequence byte ${k}`);
  for (let k = 8; k < size; k++) {
    if (m[k] !== (i & 0xff)) assert.fail(`source message ${i}: byte ${k} is ${m[k]}, expected ${i & 0xff}`);
  }
}

for (const { count, size } of [
  { count: 100_000, size: 24 },
  { count: 300, size: 10_000 }, // fragmented: larger than a record of the 4 KiB ring
  { count: 1000, size: 3 }, // shorter than the sequence number
]) {
  test(`handler 'source': exactly ${count} messages of ${size} bytes, in order`, async (t) => {
    const ch = open(t, 4096, 4096, { handler: 'source', sourceCount: count, sourceSize: size });
    let n = 0;
    let err: Error | null = null;
    ch.on('error', (e) => (err = e));
    ch.startReceiving((m) => {
      if (err) return;
      try {
        checkSourceMessage(m, n, size);
      } catch (e) {
        err = e as Error;
      }
      n++;
    });
    await waitFor(() => n >= count || err !== null, 20_000, `${count} source messages`);
    if (err) throw err;
    // Everything the source published was delivered, and it published exactly `count`.
    await waitFor(() => ch.getStats().n2rFill === 0, 2000, 'N2R to be empty');
    assert.equal(n, count, 'no message after the last one');
    assert.equal(ch.getStats().peer.messagesSent, count);
  });
}

test("handler 'source' streams while JS sends into its sink at the same time", async (t) => {
  const COUNT = 50_000;
  const ch = open(t, 4096, 8192, { handler: 'source', sourceCount: COUNT, sourceSize: 40 });
  let n = 0;
  ch.startReceiving((m) => {
    checkSourceMessage(m, n, 40);
    n++;
  });
  let sum = 0;
  let bytes = 0;
  for (let i = 0; i < 20_000; i++) {
    const m = tagged(i, i % 200);
    sum += fnv1a(m);
    bytes += m.length;
    assert.equal(ch.send(m), true);
    if ((i & 1023) === 0) await nextTurn(); // let the source's messages be delivered meanwhile
  }
  await waitFor(() => n === COUNT && ch.getStats().peer.sinkMessages === 20_000, 20_000, 'both streams');
  const peer = ch.getStats().peer;
  assert.equal(peer.sinkBytes, bytes);
  assert.equal(peer.sinkChecksum, sum);
});
