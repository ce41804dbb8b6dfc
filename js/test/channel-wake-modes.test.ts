// Wake modes other than the default doorbell, and the addon's wake(word) that the
// doorbell mode relies on.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { loadAddon, protocol } from '../src/index';
import { openChannel as open, waitFor } from './helpers';

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
    handle.wake(protocol.W_R2N_CONSUMER_WAKE_SEQ);
    handle.wake(protocol.W_N2R_PRODUCER_WAKE_SEQ);
    assert.equal(handle.stats().wakesFromJs, 2);
    for (const bad of [protocol.W_R2N_WRITE_INDEX, protocol.W_N2R_CONSUMER_WAKE_SEQ, 0, -1, 1e9, Number.NaN]) {
      assert.throws(
        () => handle.wake(bad),
        (e: Error) =>
          e instanceof RangeError &&
          /word must be the Int32 index of R2N consumer_wake_seq \(161\) or N2R producer_wake_seq \(321\)/.test(e.message),
      );
    }
    assert.throws(() => (handle.wake as (w?: unknown) => void)('161'), RangeError);
    assert.equal(handle.stats().wakesFromJs, 2);
  } finally {
    handle.close();
  }
});
