// A doorbell call the addon made that never reaches JS (fault-injected here; the soak
// showed calls arriving up to 0.9 s late on a saturated event loop): the addon coalesces
// rings while one call is queued, so such a call would absorb every later ring and JS
// would move one park timeout at a time. The park timeout re-arms the doorbell, so the
// loss costs one timeout, not one per message.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AddonTransport, SharedMemoryChannel } from '../src/index';
import { tagged, waitFor } from './helpers';

const ROUND_TRIPS = 20;

test('a doorbell call that is never dispatched costs one park timeout, not one per later message', async (t) => {
  const transport = new AddonTransport({ handler: 'echo' });
  const ch = new SharedMemoryChannel(4096, 4096, { transport });
  t.after(() => ch.close());
  const got: Uint8Array[] = [];
  ch.startReceiving((m) => got.push(m.slice()));
  ch.send(tagged(0, 32));
  await waitFor(() => got.length === 1, 3000, 'a first echo');

  transport.loseNextDoorbellCall();
  for (let i = 1; i <= ROUND_TRIPS; i++) {
    ch.send(tagged(i, 32));
    await waitFor(() => got.length === i + 1, 5000, `echo ${i}`);
    assert.deepEqual(got[i], tagged(i, 32));
  }

  const st = ch.getStats();
  const calls = st.peer.doorbellCalls ?? 0;
  // The lost call is counted by the addon and never reached JS: proof the fault happened
  // (if JS never parked during the run, no ring was made and the test proves nothing).
  assert.ok(calls - st.doorbellsFromPeer >= 1, `a doorbell call was lost (addon calls ${calls}, JS received ${st.doorbellsFromPeer})`);
  // Without the re-arm every later echo waited for a park timeout (ROUND_TRIPS of them,
  // measured: 20). With it, the lost call costs one; on a loaded machine a real doorbell
  // can also be late (the soak measured up to 0.9 s, docs/reliability.md), and a timer
  // that fires meanwhile finds its work too (3 seen under load), so the bound is half.
  assert.ok(st.parkTimeoutWakes < ROUND_TRIPS / 2, `park timeouts that found work: ${st.parkTimeoutWakes} (the lost doorbell should cost one; without the re-arm: ${ROUND_TRIPS})`);
  assert.ok(st.doorbellsFromPeer >= ROUND_TRIPS / 2, `later echoes arrived by doorbell (${st.doorbellsFromPeer} of ${ROUND_TRIPS})`);
});
