// Large messages through the JS send queue (sender.ts): a sendAsync of a message that is
// fragmented anyway is written from the caller's bytes, not from a copy in the queue.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fnv1a, openChannel as open, waitFor } from './helpers';

test('sendAsync of a fragmented message that must wait for room does not copy it into the queue', async (t) => {
  const SIZE = 32 << 20;
  const ch = open(t, 1 << 20, 4096, { handler: 'sink' }); // 256 KiB fragments
  const big = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 4096) big[i] = i >>> 12;
  const before = process.memoryUsage().arrayBuffers;
  const sent = ch.sendAsync(big);
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < SIZE / 2, `the queue took ${grown} bytes of ArrayBuffer for a ${SIZE}-byte message`);
  await sent;
  await waitFor(() => ch.getStats().peer.sinkMessages === 1, 20_000, 'the sink to count the message');
  const peer = ch.getStats().peer;
  assert.equal(peer.sinkBytes, SIZE);
  assert.equal(peer.sinkChecksum, fnv1a(big), 'the sink read the bytes sent');
});
