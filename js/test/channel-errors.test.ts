// How a channel fails: a peer that breaks the protocol or fails, and the one report of
// it ('error' after 'close', or an uncaught exception when nobody listens).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ProtocolError, type SharedMemoryChannel, protocol } from '../src/index';
import { openChannel as open, tagged, waitFor } from './helpers';

const { W_N2R_WRITE_INDEX, W_R2N_WRITE_INDEX, W_N_STATE, W_R_STATE } = protocol;

function expectError(ch: SharedMemoryChannel): Promise<{ err: Error; closedFirst: boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    ch.on('close', () => (closed = true));
    const timer = setTimeout(() => reject(new Error("no 'error' event within 3 s")), 3000);
    ch.on('error', (err) => {
      clearTimeout(timer);
      resolve({ err, closedFirst: closed });
    });
  });
}

for (const [what, value, reason, code] of [
  ['misaligned', 3, 'index_misaligned', 1],
  ['out of range', 8 * 100_000, 'index_out_of_range', 2],
] as const) {
  test(`hostile peer: N2R write_index ${what} -> 'error' ProtocolError ${reason}, channel closed`, async (t) => {
    const ch = open(t, 4096, 4096);
    const ctrl = new Int32Array(ch.buffer);
    const got = expectError(ch);
    ctrl[W_N2R_WRITE_INDEX] = value;
    ch.startReceiving(() => assert.fail('nothing must be delivered'));
    const { err, closedFirst } = await got;
    assert.ok(err instanceof ProtocolError, `got ${err}`);
    assert.equal(err.code, 'protocol_error');
    assert.equal(err.reason, reason);
    assert.equal(err.reasonCode, code);
    assert.match(err.message, new RegExp(`^protocol failure ${code} ${reason}`));
    assert.equal(closedFirst, true, 'closed by the time the error is reported');
    assert.equal(ch.isClosed, true);
    assert.equal(Atomics.load(ctrl, W_R_STATE), 3 | (code << 8), 'JS side published failed + reason');
    assert.equal(ch.getStats().protocolErrors, 1);
    // The failure was reported (once, above): send() refuses without throwing again.
    assert.equal(ch.send(new Uint8Array(1)), false);
    assert.equal(ch.getStats().queueLength, 0);
  });
}

test("hostile peer: invalid N state word -> 'error' ProtocolError peer_state_invalid", async (t) => {
  const ch = open(t, 4096, 4096);
  const got = expectError(ch);
  ch.startReceiving(() => {});
  await waitFor(() => ch.getStats().drainPasses > 0, 2000, 'the first drain pass (it parks)');
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, 0x7777);
  ch.send(new Uint8Array(1)); // the next drain checks the peer
  const { err } = await got;
  assert.ok(err instanceof ProtocolError);
  assert.equal(err.reason, 'peer_state_invalid');
  assert.equal(ch.isClosed, true);
});

test("hostile JS side: corrupt R2N write_index -> the native side fails, JS gets 'error' ChannelClosedError peer_failed", async (t) => {
  const ch = open(t, 4096, 4096);
  const ctrl = new Int32Array(ch.buffer);
  const echoes: Uint8Array[] = [];
  ch.startReceiving((m) => echoes.push(m.slice()));
  ch.send(tagged(1, 10));
  await waitFor(() => echoes.length === 1, 2000, 'a first echo');
  // Not receiving, nothing queued: JS has no park timeout running that would put its own
  // write_index back (docs/protocol.md 7.4) before the native side sees the corruption;
  // it still learns of the native failure at once (it stays parked for the peer's state).
  ch.stopReceiving();
  const got = expectError(ch);
  ctrl[W_R2N_WRITE_INDEX] = 5; // the native consumer re-reads it within its park timeout
  const t0 = performance.now();
  const { err } = await got;
  const ms = performance.now() - t0;
  assert.ok(err instanceof ChannelClosedError, `got ${err}`);
  assert.equal(err.code, 'peer_failed');
  assert.equal(err.peerReason, 1);
  assert.match(err.message, /peer failed \(index_misaligned\)/);
  assert.ok(ms < 1000, `learned within the park timeout (${ms.toFixed(0)} ms)`);
  assert.equal(ch.isClosed, true);
  assert.equal(Atomics.load(ctrl, W_N_STATE), 3 | (1 << 8), 'native side published failed + index_misaligned');
});

test("an 'error' nobody listens to is thrown (uncaught), after the channel closed", async (t) => {
  const ch = open(t, 4096, 4096);
  const uncaught = new Promise<Error>((resolve) => {
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (e) => {
      for (const l of listeners) process.on('uncaughtException', l);
      resolve(e);
    });
  });
  new Int32Array(ch.buffer)[W_N2R_WRITE_INDEX] = 4;
  ch.startReceiving(() => {});
  const e = await uncaught;
  assert.ok(e instanceof ProtocolError);
  assert.equal(ch.isClosed, true);
});
