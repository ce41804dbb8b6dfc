// How a channel ends and how it reports it, against the real addon: every way the peer can
// stop is seen promptly by JS, a lost doorbell costs at most one park timeout, and every
// failure is reported exactly once, with a ChannelError that names it.
import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ChannelError, ProtocolError, SharedMemoryChannel, protocol, type PeerTransport } from '../src/index';
import { PARK_TIMEOUT_MS } from '../src/channel';
import { nextTurn, openChannel, stallEcho, tagged, waitFor } from './helpers';

/** docs/protocol.md 7.4: two park timeouts plus scheduling on a loaded 2-core machine. */
const BOUND_MS = 2 * PARK_TIMEOUT_MS + 1300;

const { W_N_STATE, W_R_STATE, W_N2R_CONSUMER_PARKED, W_R2N_READ_INDEX, STATE_CLOSED, STATE_FAILED } = protocol;

const open = openChannel;

/** Everything a channel reports: errors (with the time of each) and closes. */
function watch(ch: SharedMemoryChannel): { errors: ChannelError[]; closes: number; endedAt: number } {
  const seen = { errors: [] as ChannelError[], closes: 0, endedAt: 0 };
  ch.on('error', (e) => {
    seen.errors.push(e);
    seen.endedAt ||= performance.now();
  });
  ch.on('close', () => {
    seen.closes++;
    seen.endedAt ||= performance.now();
  });
  return seen;
}

/** Reports are emitted from a scheduled task (setImmediate): once the channel has ended,
 *  every report it will make has been made after one turn of the event loop. */
async function reportsSettled(ch: SharedMemoryChannel): Promise<void> {
  assert.equal(ch.isClosed, true, 'the channel has ended');
  await nextTurn();
}

// ---------------------------------------------------------------------------------------
// 1. A forged state word of this side: the native side leaves, says so, JS ends with a reason

for (const [what, forged] of [
  ['closed', STATE_CLOSED],
  ['failed', STATE_FAILED | (1 << 8)],
] as const) {
  test(`JS state word forged to ${what} during echo traffic: both sides end with a named reason within the park timeout`, async (t) => {
    const ch = open(t, 4096, 4096);
    const seen = watch(ch);
    const got: number[] = [];
    ch.startReceiving((m) => got.push(new DataView(m.buffer, m.byteOffset).getUint32(0, true)));
    let sent = 0;
    const pump = setInterval(() => {
      for (let i = 0; i < 20 && !ch.isClosed; i++) ch.send(tagged(sent++, 64));
    }, 1);
    t.after(() => clearInterval(pump));
    await waitFor(() => got.length >= 100, 5000, 'echo traffic');
    const ctrl = new Int32Array(ch.buffer);
    const t0 = performance.now();
    Atomics.store(ctrl, W_R_STATE, forged);
    await waitFor(() => ch.isClosed, 3000, 'JS to see the native side stop (it stalled silently before)');
    const ms = seen.endedAt - t0;
    clearInterval(pump);
    // The native side published its own state (closed) and rang JS.
    assert.equal(Atomics.load(ctrl, W_N_STATE), STATE_CLOSED, 'native side published closed');
    await waitFor(() => seen.errors.length > 0, 1000, "the 'error' event");
    await reportsSettled(ch);
    assert.equal(seen.errors.length, 1, 'reported exactly once');
    assert.equal(seen.closes, 1);
    const err = seen.errors[0]!;
    assert.ok(err instanceof ChannelClosedError, String(err));
    assert.equal(err.code, 'peer_closed');
    assert.match(err.message, new RegExp(`state word as 0x${(forged >>> 0).toString(16)} \\(${what}\\), which this side never wrote`));
    assert.equal(ch.closeReason, err);
    assert.ok(ms < BOUND_MS, `ended ${ms.toFixed(0)} ms after the forgery (bound: ${BOUND_MS} ms, docs/protocol.md 7.4)`);
    assert.equal(ch.send(new Uint8Array(1)), false, 'send() refuses, without throwing, once ended');
    for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, 'echoes in order up to the end');
  });
}

test('JS state word forged to closed while the ring is full: the send that finds the native side gone says why, once', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  let accepted = (await stallEcho(ch)).length; // the echo blocks on its full N2R ring; R2N fills behind it
  while (ch.getStats().queueLength === 0) {
    assert.equal(ch.send(tagged(7, 1000)), true);
    accepted++;
  }
  const ctrl = new Int32Array(ch.buffer);
  Atomics.store(ctrl, W_R_STATE, STATE_CLOSED);
  await waitFor(() => Atomics.load(ctrl, W_N_STATE) === STATE_CLOSED, 3000, 'the native side to leave and publish closed');
  // Either the native side's ring already ended the channel, or this send finds the peer
  // gone behind the full ring: false, and no throw, both ways.
  let result: boolean | undefined;
  assert.doesNotThrow(() => {
    result = ch.send(tagged(8, 1000));
  });
  assert.equal(result, false);
  assert.equal(ch.isClosed, true);
  await waitFor(() => seen.errors.length === 1, 1000, "'error'");
  await reportsSettled(ch);
  assert.equal(seen.errors.length, 1);
  assert.ok(seen.errors[0] instanceof ChannelClosedError && seen.errors[0].code === 'peer_closed');
  // Whether data was stranded depends on the interleaving: the native side drains what JS
  // published before it leaves (docs/protocol.md 6), and JS may pump its queue into the
  // space that frees first. Nothing is written or read after the end, so what the region
  // and the counters show now is what the message must say, in every interleaving: the
  // bytes still published and unread, the accepted messages never written (a clause only
  // for a count above zero).
  const stats = ch.getStats();
  const unread = stats.r2nFill;
  const neverWritten = accepted - stats.messagesSent;
  const clauses = ['the peer closed the channel', "it read this side's state word as 0x2 (closed), which this side never wrote: the shared memory was overwritten"];
  if (unread > 0) clauses.push(`${unread} bytes this side had written were never read`);
  if (neverWritten > 0) clauses.push(`${neverWritten} queued message(s) were not sent`);
  assert.equal(seen.errors[0].message, clauses.join('; '), `unread ${unread} bytes, ${neverWritten} of ${accepted} accepted messages never written`);
});

/**
 * An echo channel in `wakeMode` whose native side ends because of a forged JS state word
 * (`forgedR`), after which a hostile write puts "attached" back over the native state
 * word it published (`published`) and over ours: only the transport still knows the peer
 * ended. One synchronous turn, so JS's own drain cannot run before the erasure is done.
 * Returns the channel, what it reported and when the erasure happened.
 */
async function eraseNativeEnd(t: TestContext, wakeMode: 'doorbell' | 'spin', forgedR: number, published: number) {
  const ch = open(t, 4096, 4096, { wakeMode });
  const seen = watch(ch);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.send(tagged(1, 32));
  await waitFor(() => got.length === 1, 3000, 'a first echo');
  const ctrl = new Int32Array(ch.buffer);
  const t0 = performance.now();
  Atomics.store(ctrl, W_R_STATE, forgedR);
  while ((Atomics.load(ctrl, W_N_STATE) & 0xff) !== published) {
    if (performance.now() - t0 > 3000) throw new Error(`the native side never published state ${published}`);
  }
  Atomics.store(ctrl, W_N_STATE, 1); // attached, as if it never ended
  Atomics.store(ctrl, W_R_STATE, 1);
  return { ch, seen, t0 };
}

for (const wakeMode of ['doorbell', 'spin'] as const) {
  test(`the native side leaves (closed) and a hostile write puts "attached" back over its state word (${wakeMode}): JS still sees the end`, async (t) => {
    const { ch, seen, t0 } = await eraseNativeEnd(t, wakeMode, STATE_CLOSED, STATE_CLOSED);
    await waitFor(() => ch.isClosed, BOUND_MS, 'the channel to end after the erased close');
    assert.equal(ch.closeReason?.code, 'peer_closed');
    assert.ok(seen.endedAt - t0 < BOUND_MS, `ended ${(seen.endedAt - t0).toFixed(0)} ms after the erasure (bound ${BOUND_MS} ms)`);
  });

  test(`the native side fails and a hostile write puts "attached" back over its state word (${wakeMode}): JS still ends with peer_failed and the reason`, async (t) => {
    // Found by the hostile-memory test (seed 1592590355, spin): the native thread had
    // ended failed, its state word read attached again, and JS waited forever.
    // 0x59 is no state at all: the native side fails with peer_state_invalid (S1).
    const { seen, t0 } = await eraseNativeEnd(t, wakeMode, 0x59, STATE_FAILED);
    await waitFor(() => seen.errors.length > 0, BOUND_MS, "'error' after the erased failure");
    const err = seen.errors[0]!;
    assert.ok(err instanceof ChannelClosedError, String(err));
    assert.equal(err.code, 'peer_failed');
    assert.match(err.message, /peer_state_invalid/);
    assert.ok(seen.endedAt - t0 < BOUND_MS, `ended ${(seen.endedAt - t0).toFixed(0)} ms after the erasure (bound ${BOUND_MS} ms)`);
  });
}

test('native state word forged to failed while JS only sends: its next send is refused and JS ends with peer_failed', async (t) => {
  const ch = open(t, 4096, 4096, { handler: 'sink' });
  const seen = watch(ch);
  assert.equal(ch.send(new Uint8Array(10)), true);
  await waitFor(() => ch.getStats().peer.sinkMessages === 1, 2000, 'the sink');
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (2 << 8));
  // A send reads the peer's state before writing (docs/protocol.md 6), ring room or not.
  assert.equal(ch.send(new Uint8Array(10)), false, 'refused: the peer failed');
  await waitFor(() => seen.errors.length === 1, 2000, "'error'");
  const err = seen.errors[0]!;
  assert.ok(err instanceof ChannelClosedError && err.code === 'peer_failed' && err.peerReason === 2, String(err));
  assert.match(err.message, /peer failed \(index_out_of_range\)/);
  assert.equal(ch.isClosed, true);
});

test('a channel that only sends learns of the native side failing at once, without sending again', async (t) => {
  const ch = open(t, 4096, 4096, { handler: 'sink' });
  const seen = watch(ch);
  assert.equal(ch.send(new Uint8Array(10)), true);
  await waitFor(() => ch.getStats().peer.sinkMessages === 1, 2000, 'the sink');
  const t0 = performance.now();
  new Int32Array(ch.buffer)[protocol.W_R2N_WRITE_INDEX] = 5; // the sink fails: index_misaligned
  await waitFor(() => seen.errors.length === 1, 3000, "'error' (nothing rang JS before)");
  const err = seen.errors[0]!;
  assert.ok(err instanceof ChannelClosedError && err.code === 'peer_failed' && err.peerReason === 1, String(err));
  assert.ok(seen.endedAt - t0 < BOUND_MS, `${(seen.endedAt - t0).toFixed(0)} ms`);
  assert.ok(ch.getStats().doorbellsFromPeer >= 1, 'rung by the failing side');
});

// ---------------------------------------------------------------------------------------
// 2. A cleared parked word: one park timeout of latency, never a hang

test("cleared N2R consumer-parked word while JS is parked: the reply still arrives, after at most a park timeout", async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.send(tagged(1, 32));
  await waitFor(() => got.length === 1, 2000, 'a first echo');
  const ctrl = new Int32Array(ch.buffer);
  await waitFor(() => Atomics.load(ctrl, W_N2R_CONSUMER_PARKED) === 1, 2000, 'JS to park as consumer');
  for (let round = 0; round < 3; round++) {
    // The native side rings only when this word is set: clearing it loses the doorbell.
    Atomics.store(ctrl, W_N2R_CONSUMER_PARKED, 0);
    const t0 = performance.now();
    ch.send(tagged(2 + round, 32));
    await waitFor(() => got.length === 2 + round, 3000, 'the echo despite the lost doorbell (it hung before)');
    const ms = performance.now() - t0;
    // One park timeout plus scheduling on a loaded machine; without the timeout it never came.
    assert.ok(ms < PARK_TIMEOUT_MS + 900, `round ${round}: ${ms.toFixed(0)} ms (bound: one park timeout, ${PARK_TIMEOUT_MS} ms, plus scheduling)`);
    assert.deepEqual(got[1 + round], tagged(2 + round, 32));
    await waitFor(() => Atomics.load(ctrl, W_N2R_CONSUMER_PARKED) === 1, 2000, 'JS to park again');
  }
  assert.ok(ch.getStats().parkTimeoutWakes >= 3, `the park timeout found the replies (${ch.getStats().parkTimeoutWakes})`);
});

// ---------------------------------------------------------------------------------------
// 3. send() and the peer's state: no throw, nothing queued, one 'error'

/** Counts uncaught exceptions (an unhandled 'error' is thrown asynchronously). */
function countUncaught(t: { after(fn: () => void): void }): { n: number } {
  const c = { n: 0 };
  const listener = (): void => void c.n++;
  process.on('uncaughtException', listener);
  t.after(() => process.off('uncaughtException', listener));
  return c;
}

test('send() into a full ring of a failed peer: returns false, queues nothing, one peer_failed error (it threw and queued before)', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  await stallEcho(ch);
  while (ch.getStats().queueLength === 0) assert.equal(ch.send(tagged(9, 1000)), true); // ring full
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (4 << 8));
  const before = ch.getStats().queueLength;
  let result: boolean | undefined;
  assert.doesNotThrow(() => {
    result = ch.send(tagged(10, 1000));
  });
  assert.equal(result, false);
  assert.equal(ch.getStats().queueLength, 0, `nothing queued (was ${before})`);
  assert.equal(ch.isClosed, true);
  await reportsSettled(ch);
  assert.equal(seen.errors.length, 1);
  assert.ok(seen.errors[0] instanceof ChannelClosedError && seen.errors[0].code === 'peer_failed');
  assert.match(seen.errors[0].message, /record_kind_invalid/);
});

test('send() that finds a protocol violation: returns false and reports the ProtocolError once (it was thrown and emitted)', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  const uncaught = countUncaught(t);
  await stallEcho(ch);
  // The native consumer's read_index, misaligned: the producer reads it when the ring is full.
  Atomics.store(new Int32Array(ch.buffer), W_R2N_READ_INDEX, 3);
  let result: boolean | undefined;
  for (let i = 0; i < 10 && result !== false; i++) {
    assert.doesNotThrow(() => {
      result = ch.send(tagged(20 + i, 1000));
    });
  }
  assert.equal(result, false);
  await reportsSettled(ch);
  assert.equal(seen.errors.length, 1, 'exactly one report');
  const err = seen.errors[0]!;
  assert.ok(err instanceof ProtocolError && err.reason === 'index_misaligned', String(err));
  assert.equal(uncaught.n, 0);
  assert.equal(ch.getStats().protocolErrors, 1);
  // sendAsync after the end: rejected with a ChannelClosedError whose cause is the failure.
  await assert.rejects(ch.sendAsync(new Uint8Array(1)), (e: Error) => e instanceof ChannelClosedError && e.code === 'closed' && e.cause === err);
  assert.equal(ch.reserve(8), null);
  assert.equal(ch.poll(), 0);
  assert.throws(() => ch.sendDirect(new Uint8Array(1), 10), (e: Error) => e instanceof ChannelClosedError && e.cause === err);
});

test('sendDirect that sees the peer fail: thrown to the caller, and not emitted as well', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  await stallEcho(ch);
  while (true) {
    try {
      ch.sendDirect(tagged(5, 1000), 0);
    } catch {
      break;
    }
  }
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (3 << 8));
  assert.throws(() => ch.sendDirect(tagged(6, 1000), 5000), (e: Error) => e instanceof ChannelClosedError && e.code === 'peer_failed');
  assert.equal(ch.isClosed, true);
  await reportsSettled(ch);
  assert.equal(seen.errors.length, 0, 'the throw was the report');
  assert.equal(seen.closes, 1);
  assert.ok(ch.closeReason instanceof ChannelClosedError && ch.closeReason.code === 'peer_failed');
});

test('pending sendAsync promises reject with the failure; cleanup() rejections say closed', async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  await stallEcho(ch);
  const pending = Array.from({ length: 5 }, (_, i) => ch.sendAsync(tagged(40 + i, 1000)).then(() => 'ok', (e: Error) => e));
  Atomics.store(new Int32Array(ch.buffer), W_N_STATE, STATE_FAILED | (1 << 8));
  ch.send(tagged(50, 1000)); // finds the full ring and the failed peer
  const outcomes = await Promise.all(pending);
  const rejected = outcomes.filter((o) => o !== 'ok');
  assert.ok(rejected.length > 0);
  for (const e of rejected) assert.ok(e instanceof ChannelClosedError && e.code === 'peer_failed', String(e));
  await reportsSettled(ch);
  assert.equal(seen.errors.length, 1);
});

// ---------------------------------------------------------------------------------------
// Deliberate errors are ChannelErrors with a code; bad options name themselves

test('send while a reservation is open: ChannelError reservation_open from every send method', async (t) => {
  const ch = open(t, 4096, 4096);
  const r = ch.reserve(16)!;
  const isOpen = (e: Error): boolean => e instanceof ChannelError && e.code === 'reservation_open' && /commit\(\) or abort\(\) it first/.test(e.message);
  assert.throws(() => ch.send(new Uint8Array(1)), isOpen);
  assert.throws(() => ch.sendDirect(new Uint8Array(1), 10), isOpen);
  assert.throws(() => ch.reserve(1), isOpen);
  await assert.rejects(ch.sendAsync(new Uint8Array(1)), isOpen);
  r.abort();
  assert.equal(ch.send(new Uint8Array(1)), true);
});

test('poll() inside a receive callback: ChannelError poll_reentered; poll(-1): RangeError', async (t) => {
  const ch = open(t, 4096, 4096);
  let inner: unknown = null;
  ch.startReceiving(() => {
    try {
      ch.poll();
    } catch (e) {
      inner = e;
    }
  });
  ch.send(new Uint8Array(3));
  await waitFor(() => inner !== null, 2000, 'the callback');
  assert.ok(inner instanceof ChannelError && inner.code === 'poll_reentered', String(inner));
  assert.throws(() => ch.poll(-1), (e: Error) => e instanceof RangeError && /maxMessages must be a non-negative integer or Infinity, not -1/.test(e.message));
  assert.throws(() => ch.poll(1.5), RangeError);
  assert.equal(ch.isClosed, false);
});

test("a throwing receive callback closes the channel and is reported once as 'error' ChannelError callback_failed (cause: the thrown value)", async (t) => {
  const ch = open(t, 4096, 4096);
  const seen = watch(ch);
  const boom = new Error('boom');
  ch.startReceiving(() => {
    throw boom;
  });
  ch.send(new Uint8Array(1));
  await waitFor(() => seen.errors.length === 1, 2000, "'error'");
  const err = seen.errors[0]!;
  assert.equal(err.code, 'callback_failed');
  assert.equal(err.cause, boom);
  assert.match(err.message, /threw, so the channel was closed: boom/);
  assert.equal(ch.isClosed, true);
  assert.equal(seen.closes, 1);
});

test('options: unknown keys, a transport without the required methods and a non-JSON config are TypeErrors that say what is allowed', () => {
  assert.throws(
    () => new SharedMemoryChannel(4096, 4096, { wakemode: 'spin' } as object),
    (e: Error) => e instanceof TypeError && /^unknown option 'wakemode'; the options are wakeMode, pollIntervalMs, .*transport$/.test(e.message),
  );
  const fake = { start() {}, close() {} } as unknown as PeerTransport;
  assert.throws(
    () => new SharedMemoryChannel(4096, 4096, { transport: fake }),
    (e: Error) => e instanceof TypeError && /^options.transport must be an object with start\(options\), wake\(word\) and close\(\) methods.*; this one has no wake\(\)$/.test(e.message),
  );
  assert.throws(() => new SharedMemoryChannel(4096, 4096, { transport: 5 as unknown as PeerTransport }), /options.transport must be .*, not number 5$/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => new SharedMemoryChannel(4096, 4096, { handler: 'plugin', config: cyclic }), (e: Error) => e instanceof TypeError && /^options.config must be JSON-serializable/.test(e.message));
  assert.throws(() => new SharedMemoryChannel(4096, 4096, { keepAlive: 'yes' as unknown as boolean }), /options.keepAlive must be a boolean, not the string "yes"/);
});

test('getStats() after cleanup(): the JS counters stay readable, peer is {}', (t) => {
  const ch = open(t, 4096, 4096);
  ch.send(new Uint8Array(7));
  ch.cleanup();
  const s = ch.getStats();
  assert.equal(s.messagesSent, 1);
  assert.equal(s.bytesSent, 7);
  assert.deepEqual(s.peer, {});
  assert.equal(ch.closeReason, null);
});
