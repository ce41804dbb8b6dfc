// Integrity under load through the real echo: order, content and count of everything
// sent, large messages, and several channels in one thread.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fillPattern, fnv1a, makeStressMessage, nextTurn, openChannel as open, stressLength, waitFor } from './helpers';

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
  const s = ch.getStats();
  assert.equal(s.messagesReceived, N, 'no extra messages');
  assert.equal(s.messagesSent, N);
  assert.equal(s.peer.messagesReceived, N, 'native side received each once');
  assert.equal(s.peer.messagesSent, N, 'native side echoed each once');
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
  const s = ch.getStats();
  assert.equal(s.messagesReceived, 1);
  assert.equal(s.peer.messagesSent, 1, 'the peer sent one (reassembled) message back');
  t.diagnostic(`500 MB round trip in ${(result.ms / 1000).toFixed(2)} s`);
});

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
    if (i % 200 === 0) await nextTurn(); // let the echoes be delivered meanwhile
  }
  await waitFor(() => got.every((n) => n === PER) || bad !== null, 10_000, 'every channel');
  assert.equal(bad, null);
});
