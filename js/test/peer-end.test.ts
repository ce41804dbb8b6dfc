// How the peer's end is described (js/src/peer-end.ts), on a region driven directly: the
// sentence names an overwritten own state word, the bytes written and never read, and the
// queued messages never sent, each only when it is so.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Endpoint } from '../src/protocol/endpoint';
import { STATE_CLOSED, W_R_STATE, initRegion, regionSize } from '../src/protocol/layout';
import { peerClosedError } from '../src/peer-end';

function jsSide(): { region: ReturnType<typeof initRegion>; ep: Endpoint } {
  const region = initRegion(new SharedArrayBuffer(regionSize(4096, 4096)), 4096, 4096);
  return { region, ep: new Endpoint(region, 'R') };
}

test('a peer that closed after reading everything, with nothing queued: a clean close', () => {
  const { region, ep } = jsSide();
  const { error, clean } = peerClosedError(region, ep, 0);
  assert.equal(clean, true);
  assert.equal(error.code, 'peer_closed');
  assert.equal(error.message, 'the peer closed the channel (everything it sent was delivered)');
});

test('bytes published and never read, and queued messages, are both named with their counts', () => {
  const { region, ep } = jsSide();
  assert.equal(ep.trySend(new Uint8Array(100)), true);
  ep.flush();
  const { error, clean } = peerClosedError(region, ep, 3);
  assert.equal(clean, false);
  assert.equal(error.message, 'the peer closed the channel; 112 bytes this side had written were never read; 3 queued message(s) were not sent');
});

test('an own state word the peer read as closed, which this side never wrote, is named first', () => {
  const { region, ep } = jsSide();
  Atomics.store(region.ctrl, W_R_STATE, STATE_CLOSED);
  const { error, clean } = peerClosedError(region, ep, 0);
  assert.equal(clean, false);
  assert.equal(error.message, "the peer closed the channel; it read this side's state word as 0x2 (closed), which this side never wrote: the shared memory was overwritten");
});
