// SharedMemoryChannel against the real native addon (in this process): integrity under
// stress, handlers, send variants, back-pressure, bad input, events, hostile peers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChannelClosedError, ChannelError, ProtocolError, SharedMemoryChannel, TimeoutError, loadAddon, protocol } from '../src/index';
import { fillPattern, fnv1a, sleep, waitFor, openChannel, tagged } from './helpers';

const { W_N2R_WRITE_INDEX, W_R2N_WRITE_INDEX, W_N_STATE, W_R_STATE } = protocol;

const open = openChannel;

/**
 * Echo with a JS side that does not receive: the echo fills N2R with replies, then blocks
 * on its next reply and stops draining R2N. Sends `count` messages of 1000 bytes (tags
 * 0..count-1) and waits until the rings stop moving. Returns the tags sent.
 */
async function stallEcho(ch: SharedMemoryChannel, count = 5): Promise<number[]> {
  const tags: number[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(ch.send(tagged(i, 1000)), true);
    tags.push(i);
    await sleep(5); // one message per native poll: each is released before the next
  }
  const cap = ch.getStats().n2rCapacity;
  await waitFor(() => ch.getStats().n2rFill > cap - 1008, 2000, 'N2R to fill with echoes');
  let last = '';
  await waitFor(() => {
    const s = ch.getStats();
    const now = `${s.r2nFill}/${s.n2rFill}`;
    const stable = now === last;
    last = now;
    return stable;
  }, 2000, 'the rings to settle');
  return tags;
}

// ---------------------------------------------------------------------------------------
// Integrity under stress

/** Length of stress message `seq`: mostly small; some up to one record; a few up to 3x the ring. */
function stressLength(seq: number, maxPayload: number, bigRing: number): number {
  let h = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  const sel = h % 1000;
  const r = (h >>> 10) ^ Math.imul(seq, 0x27d4eb2d);
  const u = (r >>> 0) % 0x7fffffff;
  if (sel < 950) return u % 65;
  if (sel < 996) return u % (maxPayload + 1);
  return u % (3 * bigRing + 1);
}

function makeStressMessage(seq: number, len: number, scratch: Uint8Array): Uint8Array {
  const m = scratch.subarray(0, len);
  if (len >= 8) {
    fillPattern(m, seq, 8);
    const dv = new DataView(m.buffer, m.byteOffset, len);
    dv.setUint32(0, seq, true);
    dv.setUint32(4, fnv1a(m, 8, len), true);
  } else {
    fillPattern(m, seq);
  }
  return m;
}

test('stress: 1,000,000 messages of 0..3x ring size through the echo, both directions at once, order + content + count', { timeout: 90_000 }, async (t) => {
  const R2N = 4096;
  const N2R = 16384;
  const N = 1_000_000;
  const ch = open(t, R2N, N2R);
  const maxPayload = R2N / 4 - 8;
  const scratch = new Uint8Array(3 * N2R + 8);
  const check = new Uint8Array(8);
  let sent = 0;
  let received = 0;
  let bytes = 0;
  let failure: Error | null = null;
  const WINDOW = 2048;

  const pump = (): void => {
    while (sent < N && sent - received < WINDOW) {
      const m = makeStressMessage(sent, stressLength(sent, maxPayload, N2R), scratch);
      if (!ch.send(m)) break;
      sent++;
    }
  };
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    ch.on('error', reject);
    ch.startReceiving((m) => {
      if (failure) return;
      const seq = received;
      const len = stressLength(seq, maxPayload, N2R);
      try {
        assert.equal(m.length, len, `message ${seq}: length`);
        if (len >= 8) {
          const dv = new DataView(m.buffer, m.byteOffset, len);
          assert.equal(dv.getUint32(0, true), seq, `message ${seq}: sequence number (order)`);
          assert.equal(dv.getUint32(4, true), fnv1a(m, 8, len), `message ${seq}: checksum`);
        } else {
          fillPattern(check.subarray(0, len), seq);
          assert.deepEqual(Array.from(m), Array.from(check.subarray(0, len)), `message ${seq}: content`);
        }
      } catch (e) {
        failure = e as Error;
        reject(e);
        return;
      }
      received++;
      bytes += len;
      if (received === N) resolve();
      else if ((received & 255) === 0) pump();
    });
    ch.on('drain', pump);
    pump();
    // Safety net for a stalled window (a bug would otherwise only show as a timeout).
    const iv = setInterval(() => {
      if (received === N || failure) clearInterval(iv);
      else pump();
    }, 20);
  });
  const ms = performance.now() - t0;
  assert.equal(received, N);
  assert.equal(sent, N);
  await sleep(20);
  const s = ch.getStats();
  assert.equal(s.messagesReceived, N, 'no extra messages');
  assert.equal(s.messagesSent, N);
  assert.equal(s.peer.messagesReceived, N, 'native side received each once');
  assert.equal(s.peer.messagesSent, N);
  t.diagnostic(`1M messages, ${(bytes / 1e6).toFixed(0)} MB each way, in ${(ms / 1000).toFixed(1)} s`);
});

test('500 MB message through 1 MiB rings arrives intact (echo)', { timeout: 120_000 }, async (t) => {
  const SIZE = 500_000_000;
  const ch = open(t, 1 << 20, 1 << 20, { keepAlive: true }); // nothing else keeps the loop alive
  const big = new Uint8Array(SIZE);
  const block = new Uint8Array(1 << 20);
  fillPattern(block, 12345);
  for (let off = 0, i = 0; off < SIZE; off += block.length, i++) {
    const n = Math.min(block.length, SIZE - off);
    big.set(block.subarray(0, n), off);
    if (n >= 4) new DataView(big.buffer).setUint32(off, i, true); // catches reordered blocks
  }
  const t0 = performance.now();
  const result = await new Promise<{ length: number; equal: boolean; ms: number }>((resolve, reject) => {
    ch.on('error', reject);
    ch.startReceiving((m) => {
      const equal = Buffer.from(m.buffer, m.byteOffset, m.length).equals(Buffer.from(big.buffer, 0, SIZE));
      resolve({ length: m.length, equal, ms: performance.now() - t0 });
    });
    assert.equal(ch.send(big), true);
  });
  assert.equal(result.length, SIZE);
  assert.equal(result.equal, true, 'echoed bytes equal the sent ones');
  await sleep(10);
  assert.equal(ch.getStats().messagesReceived, 1);
  t.diagnostic(`500 MB round trip in ${(result.ms / 1000).toFixed(2)} s`);
});

// ---------------------------------------------------------------------------------------
// Built-in handlers

test("handler 'sink': counts, bytes and fnv1a checksum match what was sent", async (t) => {
  const ch = open(t, 4096, 4096, { handler: 'sink' });
  const N = 20_000;
  let bytes = 0;
  let sum = 0;
  const scratch = new Uint8Array(3 * 4096 + 8);
  for (let i = 0; i < N; i++) {
    const m = makeStressMessage(i, stressLength(i, 1016, 4096), scratch);
    bytes += m.length;
    sum += fnv1a(m);
    if (!ch.send(m)) {
      await new Promise<void>((r) => ch.once('drain', r));
      i--;
      bytes -= m.length;
      sum -= fnv1a(m);
    }
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
    await sleep(50);
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
    if ((i & 1023) === 0) await sleep(0);
  }
  await waitFor(() => n === COUNT && ch.getStats().peer.sinkMessages === 20_000, 20_000, 'both streams');
  const peer = ch.getStats().peer;
  assert.equal(peer.sinkBytes, bytes);
  assert.equal(peer.sinkChecksum, sum);
});

// ---------------------------------------------------------------------------------------
// Send variants and back-pressure

test('sendAsync resolves once written; pending ones reject with ChannelClosedError on cleanup', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await ch.sendAsync(tagged(1, 100));
  await waitFor(() => got.length === 1, 2000, 'the echo');
  assert.deepEqual(got[0], tagged(1, 100));
  ch.stopReceiving();

  const ch2 = open(t, 4096, 4096);
  const outcomes: Array<'resolved' | Error> = [];
  const ps = [];
  for (let i = 0; i < 40; i++) {
    ps.push(
      ch2.sendAsync(tagged(i, 1000)).then(
        () => void outcomes.push('resolved'),
        (e: Error) => void outcomes.push(e),
      ),
    );
  }
  await sleep(100);
  const resolvedBefore = outcomes.length;
  assert.ok(resolvedBefore > 0 && resolvedBefore < 40, `some but not all written before cleanup (${resolvedBefore})`);
  assert.ok(outcomes.every((o) => o === 'resolved'));
  ch2.cleanup();
  await Promise.all(ps);
  assert.equal(outcomes.length, 40);
  const rejected = outcomes.filter((o) => o !== 'resolved') as Error[];
  assert.equal(rejected.length, 40 - resolvedBefore);
  for (const e of rejected) {
    assert.ok(e instanceof ChannelClosedError);
    assert.equal(e.code, 'closed');
  }
  await assert.rejects(ch2.sendAsync(new Uint8Array(1)), (e: Error) => e instanceof ChannelClosedError && /sendAsync\(\)/.test(e.message));
});

test('sendDirect: succeeds (also fragmented), throws TimeoutError when there is no room', async (t) => {
  const ch = open(t, 4096, 65536);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.sendDirect(tagged(1, 500), 1000);
  ch.sendDirect(tagged(2, 3 * 4096), 5000); // 3x the ring: the echo drains while we block
  await waitFor(() => got.length === 2, 2000, 'two echoes');
  assert.deepEqual(got[0], tagged(1, 500));
  assert.deepEqual(got[1], tagged(2, 3 * 4096));

  const st = open(t, 4096, 4096);
  await stallEcho(st);
  const t0 = performance.now();
  assert.throws(
    () => {
      for (let i = 0; i < 10; i++) st.sendDirect(tagged(100 + i, 1000), 30);
    },
    (e: Error) => e instanceof TimeoutError && e.code === 'timeout' && /no room for 1000 bytes within 30 ms; nothing was sent/.test(e.message),
  );
  assert.ok(performance.now() - t0 >= 29);
  assert.throws(() => st.sendDirect(tagged(1, 10), -1), RangeError);
  assert.throws(() => st.sendDirect(tagged(1, 10), NaN), /timeoutMs must be a number from 0 to 2147483648, not NaN/);
});

test('sendDirect never leaves part of a message: a timed-out fragmented message is cancelled, the next arrives intact', async (t) => {
  const ch = open(t, 4096, 4096);
  const tags = await stallEcho(ch, 5); // N2R holds 4 echoes, the echo blocks on the 5th reply
  const before = ch.getStats();
  const free = before.r2nCapacity - before.r2nFill;
  // How much the stalled peer left unreleased depends on how it batched the five
  // messages (a loaded machine batches two): what this test needs is room for at least
  // one whole fragment record (1016 bytes in a 4 KiB ring) and not for the message.
  assert.ok(free >= 1024, `room for at least one fragment (${free} bytes free)`);
  const partial = tagged(999, free + 3000); // FIRST and MIDDLEs fit, LAST does not
  assert.throws(
    () => ch.sendDirect(partial, 50),
    (e: Error) => e instanceof TimeoutError && /did not fit within 50 ms; it was cancelled/.test(e.message),
  );
  assert.ok(ch.getStats().r2nFill > before.r2nFill, 'fragments of the cancelled message were in the ring');
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  // sendDirect blocks this thread: first let the drain take the echoes the peer is stuck on.
  await waitFor(() => got.length === tags.length, 2000, 'the stalled echoes');
  await sleep(20);
  ch.sendDirect(tagged(1000, 2500), 2000); // fragmented too
  ch.send(tagged(1001, 10));
  await waitFor(() => got.length === tags.length + 2, 3000, 'the echoes after the cancel');
  await sleep(50);
  assert.equal(got.length, tags.length + 2, 'the cancelled message never arrives');
  for (let i = 0; i < tags.length; i++) assert.deepEqual(got[i], tagged(tags[i]!, 1000));
  assert.deepEqual(got[tags.length], tagged(1000, 2500));
  assert.deepEqual(got[tags.length + 1], tagged(1001, 10));
  assert.equal(ch.getStats().peer.messagesReceived, tags.length + 2);
});

test('reserve/commit: zero-copy send; abort sends nothing; misuse throws', async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  const r = ch.reserve(100);
  assert.ok(r);
  assert.equal(r.view.length, 100);
  assert.ok(r.view.buffer === ch.buffer, 'the view is inside the shared ring');
  r.view.set(tagged(7, 100));
  assert.throws(() => ch.reserve(10), (e: Error) => e instanceof ChannelError && e.code === 'reservation_open');
  r.commit(60);
  assert.throws(() => r.commit(60), (e: Error) => e instanceof ChannelError && e.code === 'reservation_done');
  const r2 = ch.reserve(10)!;
  assert.throws(() => r2.commit(11), /commit\(used\): used must be an integer from 0 to 10 \(the reserved size\), not 11/);
  r2.view.fill(0xee);
  r2.abort();
  r2.abort(); // harmless
  assert.throws(() => r2.commit(), (e: Error) => e instanceof ChannelError && e.code === 'reservation_done');
  const r3 = ch.reserve(0)!;
  r3.commit();
  assert.throws(() => ch.reserve(1017), /reserve\(n\): n must be an integer from 0 to 1016 \(the largest single record of this ring\), not 1017/);
  assert.throws(() => ch.reserve(-1), RangeError);
  assert.throws(() => ch.reserve(1.5), RangeError);
  assert.throws(() => ch.reserve('8' as unknown as number), /not the string "8"/);
  await waitFor(() => got.length === 2, 2000, 'two echoes');
  await sleep(30);
  assert.equal(got.length, 2, 'the aborted reservation sent nothing');
  assert.deepEqual(got[0], tagged(7, 100).subarray(0, 60));
  assert.equal(got[1]!.length, 0);

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

test('highWaterMark: send returns false past it, nothing dropped, drain and onQueueEmpty follow', async (t) => {
  const ch = open(t, 4096, 4096, { highWaterMark: 8192 });
  const tags = await stallEcho(ch, 5);
  let accepted = tags.length;
  let refused = 0;
  for (let i = 0; i < 100; i++) {
    if (ch.send(tagged(accepted, 1000))) accepted++;
    else {
      refused++;
      break;
    }
  }
  assert.equal(refused, 1);
  const s = ch.getStats();
  assert.ok(s.queueBytes >= 8192 && s.queueBytes < 8192 + 1000, `queue holds about the mark (${s.queueBytes})`);
  assert.equal(ch.send(tagged(9999, 1)), false, 'still refused');
  let drains = 0;
  let emptied = 0;
  ch.on('drain', () => drains++);
  ch.onQueueEmpty(() => emptied++);
  assert.equal(emptied, 0);
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  await waitFor(() => got.length === accepted, 5000, 'every accepted message');
  await waitFor(() => drains === 1 && emptied === 1, 1000, "'drain' and onQueueEmpty");
  for (let i = 0; i < accepted; i++) assert.deepEqual(got[i], tagged(i, 1000), `message ${i}`);
  assert.equal(ch.getStats().queueBytes, 0);
  assert.equal(ch.send(tagged(accepted, 5)), true);
  await waitFor(() => got.length === accepted + 1, 2000, 'a send after drain');
  await sleep(20);
  assert.equal(got.length, accepted + 1, 'refused messages were not sent');
  let immediate = 0;
  ch.onQueueEmpty(() => immediate++);
  await sleep(5);
  assert.equal(immediate, 1, 'onQueueEmpty with an empty queue calls back soon');
});

// ---------------------------------------------------------------------------------------
// Bad input

test('bad input: wrong message types', (t) => {
  const ch = open(t, 4096, 4096);
  const cases: Array<[unknown, RegExp]> = [
    [5, /not number 5$/],
    [{}, /not an object \(Object\)$/],
    [[1, 2], /not an object \(Array\)$/],
    [null, /not null$/],
    [undefined, /not undefined$/],
    [Symbol('x'), /not symbol Symbol\(x\)$/],
  ];
  for (const [v, re] of cases) {
    assert.throws(() => ch.send(v as Uint8Array), (e: Error) => e instanceof TypeError && /^message must be a Uint8Array, another ArrayBufferView, an ArrayBuffer or a string/.test(e.message) && re.test(e.message));
    assert.throws(() => ch.sendDirect(v as Uint8Array, 10), TypeError);
  }
  assert.throws(() => ch.startReceiving(42 as unknown as () => void), /startReceiving\(cb\): cb must be a function, not number 42/);
  assert.throws(() => ch.onQueueEmpty(null as unknown as () => void), /onQueueEmpty\(cb\): cb must be a function, not null/);
  return assert.rejects(ch.sendAsync(5 as unknown as Uint8Array), TypeError);
});

test('bad input: constructor sizes name the value and the allowed range', () => {
  const range = 'must be a power of two from 4096 (4 KiB) to 1073741824 (1 GiB) bytes, not ';
  const cases: Array<[unknown, string]> = [
    [-1, '-1'],
    [0, '0'],
    [4096.5, '4096.5'],
    [5000, '5000'],
    [2048, '2048'],
    [2 ** 31, '2147483648'],
    [Infinity, 'Infinity'],
    [NaN, 'NaN'],
    ['4096', 'the string "4096"'],
    [null, 'null'],
  ];
  for (const [v, shown] of cases) {
    assert.throws(() => new SharedMemoryChannel(v as number, 4096), (e: Error) => e instanceof RangeError && e.message === `r2nSize (JS -> native ring bytes) ${range}${shown}`, `r2n ${String(v)}`);
    assert.throws(() => new SharedMemoryChannel(4096, v as number), (e: Error) => e instanceof RangeError && e.message === `n2rSize (native -> JS ring bytes) ${range}${shown}`, `n2r ${String(v)}`);
  }
});

test('bad input: options (JS-checked and addon-checked)', () => {
  const bad = (o: unknown, cls: new (...a: never[]) => Error, re: RegExp): void => {
    assert.throws(() => new SharedMemoryChannel(4096, 4096, o as object), (e: Error) => e instanceof cls && re.test(e.message), JSON.stringify(o));
  };
  bad({ wakeMode: 'fast' }, RangeError, /^wakeMode must be 'doorbell', 'poll' or 'spin', not the string "fast"$/);
  bad({ wakeMode: 1 }, RangeError, /^wakeMode must be .*, not number 1$/);
  bad({ drainBudgetMs: 0 }, RangeError, /^drainBudgetMs must be a number from 0.1 to 1000, not 0$/);
  bad({ drainBudgetMs: NaN }, RangeError, /^drainBudgetMs must be a number from 0.1 to 1000, not NaN$/);
  bad({ drainBudgetMs: 1001 }, RangeError, /not 1001$/);
  bad({ pollIntervalMs: 0.5 }, RangeError, /^pollIntervalMs must be a number from 1 to 60000, not 0.5$/);
  bad({ highWaterMark: -1 }, RangeError, /^highWaterMark must be an integer from 0 to 9007199254740992, not -1$/);
  bad({ highWaterMark: 1.5 }, RangeError, /^highWaterMark must be an integer .* not 1.5$/);
  bad({ highWaterMark: '10' }, RangeError, /not the string "10"$/);
  bad({ maxMessage: 2 ** 32 }, RangeError, /^maxMessage must be an integer from 0 to 4294967295, not 4294967296$/);
  bad({ handler: 'bogus' }, RangeError, /^handler must be 'echo', 'sink', 'source' or 'plugin', not "bogus"$/);
  bad({ handler: 7 }, TypeError, /^options.handler must be a string, not the number 7$/);
  bad({ handler: 'source', sourceCount: -1 }, RangeError, /^options.sourceCount must be an integer in \[0, 4294967295\], not the number -1$/);
  bad({ handler: 'source', sourceCount: 1.5 }, RangeError, /options.sourceCount must be an integer/);
  bad({ handler: 'source', sourceSize: 'big' }, RangeError, /^options.sourceSize must be an integer in \[0, 4294967295\], not the string "big"$/);
  bad(null, TypeError, /^options must be an object, not null$/);
});

test('bad input: every method after cleanup throws ChannelClosedError; cleanup twice is harmless', async () => {
  const ch = new SharedMemoryChannel(4096, 4096);
  let closes = 0;
  ch.on('close', () => closes++);
  ch.cleanup();
  ch.cleanup();
  ch[Symbol.dispose]();
  assert.equal(closes, 1);
  assert.equal(ch.isClosed, true);
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

test('oversized sendDirect: larger than the ring succeeds when the peer drains, times out (cancelled) when it cannot', async (t) => {
  const ok = open(t, 4096, 1 << 20);
  let got: Uint8Array | null = null;
  ok.startReceiving((m) => (got = m.slice()));
  const big = tagged(5, 200_000); // 49x the ring
  ok.sendDirect(big, 5000);
  await waitFor(() => got !== null, 3000, 'the echo of the big message');
  assert.deepEqual(got, big);

  const st = open(t, 4096, 4096);
  await stallEcho(st);
  assert.throws(() => st.sendDirect(big, 40), (e: Error) => e instanceof TimeoutError && /200000-byte message did not fit within 40 ms/.test(e.message));
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

// ---------------------------------------------------------------------------------------
// Events and hostile peers

test("events: 'message' listener receives; 'close' on cleanup", async (t) => {
  const ch = open(t, 4096, 4096);
  const got: Uint8Array[] = [];
  ch.on('message', (m) => got.push(m.slice()));
  ch.send('héllo');
  await waitFor(() => got.length === 1, 2000, "a 'message' event");
  assert.equal(Buffer.from(got[0]!).toString('utf8'), 'héllo');
  let closed = 0;
  ch.on('close', () => closed++);
  ch.cleanup();
  assert.equal(closed, 1);
});

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
  await sleep(10);
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

// ---------------------------------------------------------------------------------------
// Several channels, wake modes

test('several channels at once in one thread keep their messages apart', async (t) => {
  const K = 6;
  const PER = 3000;
  const chans = Array.from({ length: K }, (_, k) => open(t, 4096 << (k % 3), 4096 << ((k + 1) % 3)));
  const got = chans.map(() => 0);
  let bad: string | null = null;
  chans.forEach((ch, k) =>
    ch.startReceiving((m) => {
      const dv = new DataView(m.buffer, m.byteOffset, m.length);
      if (m.length !== 8 + (got[k]! % 50) || dv.getUint32(0, true) !== k || dv.getUint32(4, true) !== got[k]) bad ??= `channel ${k} message ${got[k]}`;
      got[k]!++;
    }),
  );
  for (let i = 0; i < PER; i++) {
    for (let k = 0; k < K; k++) {
      const m = new Uint8Array(8 + (i % 50));
      const dv = new DataView(m.buffer);
      dv.setUint32(0, k, true);
      dv.setUint32(4, i, true);
      assert.equal(chans[k]!.send(m), true);
    }
    if (i % 200 === 0) await sleep(0);
  }
  await waitFor(() => got.every((n) => n === PER) || bad !== null, 10_000, 'every channel');
  assert.equal(bad, null);
});

for (const wakeMode of ['poll', 'spin'] as const) {
  test(`wake mode '${wakeMode}' round trips`, async (t) => {
    const ch = open(t, 4096, 4096, { wakeMode, pollIntervalMs: 1 });
    const got: number[] = [];
    ch.startReceiving((m) => got.push(m[0]!));
    for (let i = 0; i < 200; i++) ch.send(new Uint8Array([i]));
    await waitFor(() => got.length === 200, 5000, '200 echoes');
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  });
}

test('addon wake(word) wakes only the two words a JS side can find parked; anything else is a RangeError', () => {
  const sab = new SharedArrayBuffer(protocol.regionSize(4096, 4096));
  protocol.initRegion(sab, 4096, 4096);
  const handle = new (loadAddon().NativeChannel)(new Uint8Array(sab), { handler: 'sink' }, () => {});
  try {
    handle.wake(protocol.W_R2N_WRITE_INDEX);
    handle.wake(protocol.W_N2R_READ_INDEX);
    assert.equal(handle.stats().wakesFromJs, 2);
    for (const bad of [protocol.W_N2R_WRITE_INDEX, 0, -1, 1e9, Number.NaN]) {
      assert.throws(
        () => handle.wake(bad),
        (e: Error) => e instanceof RangeError && /word must be the Int32 index of R2N write_index \(96\) or N2R read_index \(256\)/.test(e.message),
      );
    }
    assert.throws(() => (handle.wake as (w?: unknown) => void)('96'), RangeError);
    assert.equal(handle.stats().wakesFromJs, 2);
  } finally {
    handle.close();
  }
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
