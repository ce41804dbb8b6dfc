// A send that finds the peer ended (docs/protocol.md 6: every send reads the peer's state
// word first) must not cost the messages the peer published before it ended: the channel
// delivers them, then ends with the peer's reason. The peer here is the TS protocol on side
// N of the channel's own region, driven by the test in the same synchronous turn as the
// send, as a native peer that published, closed and rang just before the send would be
// (its doorbell not yet dispatched).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, SharedMemoryChannel, type ChannelError, type PeerTransport } from '../src/index';
import { Endpoint } from '../src/protocol/endpoint';
import { REASON_LOCAL_ERROR, STATE_FAILED, W_N_STATE, attachRegion } from '../src/protocol/layout';
import { waitFor } from './helpers';

/** The peer: an endpoint on side N of the region, which never rings (the test drives it). */
class InThreadPeer implements PeerTransport {
  ep: Endpoint | null = null;
  start({ buffer }: { buffer: SharedArrayBuffer }): void {
    this.ep = new Endpoint(attachRegion(buffer), 'N', { wake: () => {} });
  }
  wake(): void {}
  close(): void {}
}

function openWithPeer(t: { after(fn: () => void): void }) {
  const peer = new InThreadPeer();
  const ch = new SharedMemoryChannel(4096, 4096, { transport: peer });
  t.after(() => ch.cleanup());
  const got: number[] = [];
  const errors: ChannelError[] = [];
  let closes = 0;
  ch.on('error', (e) => errors.push(e));
  ch.on('close', () => closes++);
  ch.startReceiving((m) => got.push(m[0]!));
  const publish = (bytes: number[]): void => {
    for (const b of bytes) assert.equal(peer.ep!.trySend(new Uint8Array([b])), true);
    peer.ep!.flush();
  };
  return { ch, peer: peer.ep!, got, errors, closes: () => closes, publish };
}

test('send() that finds the peer closed: refused, and the messages the peer published before closing are delivered, then close', async (t) => {
  const { ch, peer, got, errors, closes, publish } = openWithPeer(t);
  publish([1, 2, 3]);
  peer.close();
  assert.equal(ch.send(new Uint8Array([9])), false, 'refused: nobody will read it');
  assert.equal(ch.getStats().queueLength, 0, 'nothing queued');
  await waitFor(() => ch.isClosed, 3000, 'the channel to end');
  assert.deepEqual(got, [1, 2, 3], 'everything the peer sent before closing');
  assert.equal(ch.closeReason?.code, 'peer_closed');
  assert.equal(closes(), 1);
  assert.equal(errors.length, 0, "a clean close: 'close', no 'error'");
});

test('sendAsync() that finds the peer closed rejects with peer_closed; the peer\'s last messages are still delivered', async (t) => {
  const { ch, peer, got, publish } = openWithPeer(t);
  publish([4, 5]);
  peer.close();
  await assert.rejects(ch.sendAsync(new Uint8Array([9])), (e: unknown) => e instanceof ChannelClosedError && e.code === 'peer_closed');
  await waitFor(() => ch.isClosed, 3000, 'the channel to end');
  assert.deepEqual(got, [4, 5]);
  assert.equal(ch.closeReason?.code, 'peer_closed');
});

test('sendDirect() that finds the peer closed throws peer_closed; the peer\'s last messages are still delivered', async (t) => {
  const { ch, peer, got, publish } = openWithPeer(t);
  publish([6]);
  peer.close();
  assert.throws(() => ch.sendDirect(new Uint8Array([9]), 1000), (e: unknown) => e instanceof ChannelClosedError && e.code === 'peer_closed');
  await waitFor(() => ch.isClosed, 3000, 'the channel to end');
  assert.deepEqual(got, [6]);
});

test('send() that finds the peer failed: the messages it published before failing are delivered, then one peer_failed error', async (t) => {
  const { ch, peer, got, errors, publish } = openWithPeer(t);
  publish([7, 8]);
  void peer;
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (REASON_LOCAL_ERROR << 8));
  assert.equal(ch.send(new Uint8Array([9])), false);
  await waitFor(() => errors.length > 0, 3000, "the 'error'");
  assert.deepEqual(got, [7, 8], 'delivered before the failure is reported (docs/protocol.md 6)');
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ChannelClosedError && errors[0].code === 'peer_failed', String(errors[0]));
});

test('sendAsync() that finds the peer failed rejects with peer_failed and is the only report: no \'error\' after the peer\'s last messages', async (t) => {
  const { ch, got, errors, publish } = openWithPeer(t);
  publish([10, 11]);
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (REASON_LOCAL_ERROR << 8));
  await assert.rejects(ch.sendAsync(new Uint8Array([9])), (e: unknown) => e instanceof ChannelClosedError && e.code === 'peer_failed');
  await waitFor(() => ch.isClosed, 3000, 'the channel to end');
  await new Promise((r) => setImmediate(r)); // an 'error' would be emitted on a later task
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [10, 11]);
  assert.equal(ch.closeReason?.code, 'peer_failed');
  assert.equal(errors.length, 0, 'reported once, to the caller');
});
