// How a channel ends by its own close(): 'close' once, every method after it, and the
// 'message' event as the alternative to startReceiving (js/src/channel.ts, channel-core.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, SharedMemoryChannel } from '../src/index';
import { openChannel as open, waitFor } from './helpers';

test("a 'message' listener receives the messages", async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.on('message', (m) => got.push(m.slice()));
  ch.send('héllo');
  await waitFor(() => got.length === 1, 2000, "a 'message' event");
  assert.equal(Buffer.from(got[0]!).toString('utf8'), 'héllo');
});

test('after cleanup() every method throws ChannelClosedError closed naming itself, but stopReceiving and getStats', async () => {
  const ch = new SharedMemoryChannel(4096, 4096);
  ch.cleanup();
  const closed = (name: string) => (e: Error) => e instanceof ChannelClosedError && e.code === 'closed' && e.message.startsWith(`${name}(): the channel is closed`);
  assert.throws(() => ch.send(new Uint8Array(1)), closed('send'));
  assert.throws(() => ch.sendDirect(new Uint8Array(1), 10), closed('sendDirect'));
  assert.throws(() => ch.reserve(1), closed('reserve'));
  assert.throws(() => ch.startReceiving(() => {}), closed('startReceiving'));
  assert.throws(() => ch.poll(), closed('poll'));
  assert.throws(() => ch.onQueueEmpty(() => {}), closed('onQueueEmpty'));
  await assert.rejects(ch.sendAsync(new Uint8Array(1)), closed('sendAsync'));
  ch.stopReceiving(); // harmless
  assert.deepEqual(ch.getStats().peer, {});
});

test('close() ends the channel once: one close event, the peer stops; cleanup() and dispose after it do nothing', async () => {
  const ch = new SharedMemoryChannel(4096, 4096);
  const echoed = new Promise<number>((resolve) => ch.startReceiving((m) => resolve(m.length)));
  ch.send(new Uint8Array(3));
  assert.equal(await echoed, 3);
  let closes = 0;
  ch.on('close', () => void closes++);
  ch.close();
  assert.equal(ch.isClosed, true);
  assert.equal(ch.closeReason, null, 'a close of our own has no reason');
  assert.equal(ch.getStats().peer.running, undefined, 'the native side is released');
  ch.cleanup();
  ch[Symbol.dispose]();
  ch.close();
  assert.equal(closes, 1);
  assert.throws(() => ch.sendDirect(new Uint8Array(1), 10), ChannelClosedError);
});
