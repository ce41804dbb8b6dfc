// sendDirect: the synchronous send. It blocks the calling thread until the whole message
// is published, or gives up at a deadline having sent no part of it (a fragmented message
// that timed out part-way is cancelled: the peer drops what it got).
import type { ChannelCore } from './channel-core';
import { ChannelClosedError, TimeoutError, asChannelError } from './errors';
import { now } from './scheduler';

/** How long sendDirect spins for ring space before it starts sleeping (see waitForSpace). */
const SPACE_SPIN_MS = 0.5;

/** Writes `bytes` (already checked) and publishes, or throws; see SharedMemoryChannel.sendDirect. */
export function sendBlocking(core: ChannelCore, bytes: Uint8Array, timeoutMs: number): void {
  // The clock is read only once the call has to wait (or has a queue to push first): a
  // send that finds room, the common case, costs no clock read (one performance.now() is
  // a sizeable part of a spin round trip: docs/benchmarks.md, the breakdown).
  let deadline = core.sender.queue.length > 0 ? now() + timeoutMs : -1;
  const { endpoint, sender } = core;
  const w = endpoint.frameWriter;
  core.failureGoesToCaller = true;
  try {
    // Earlier queued messages first (order is part of the contract).
    while (sender.queue.length > 0) {
      sender.pump(Infinity);
      if (sender.queue.length === 0) break;
      waitForSpace(core, deadline, (peerGone) => {
        throw peerGone ?? new TimeoutError(`sendDirect: the ring stayed full for ${timeoutMs} ms while earlier queued messages were pending; nothing of this message was sent`);
      });
    }
    if (bytes.length <= core.maxPayload) {
      while (!endpoint.trySend(bytes)) {
        if (deadline < 0) deadline = now() + timeoutMs;
        waitForSpace(core, deadline, (peerGone) => {
          throw peerGone ?? new TimeoutError(`sendDirect: no room for ${bytes.length} bytes within ${timeoutMs} ms; nothing was sent`);
        });
      }
    } else {
      endpoint.beginLarge(bytes);
      while (!w.continueLarge()) {
        if (deadline < 0) deadline = now() + timeoutMs;
        waitForSpace(core, deadline, (peerGone) => {
          w.cancelLarge();
          sender.publishNow();
          throw peerGone ?? new TimeoutError(`sendDirect: ${bytes.length}-byte message did not fit within ${timeoutMs} ms; it was cancelled and the peer discards the part it received`);
        });
      }
    }
    core.counters.countSent(bytes.length);
    endpoint.flush();
  } catch (e) {
    if (e instanceof TimeoutError) throw e;
    core.failFromSend(e, true);
    throw core.reason ?? asChannelError(e);
  } finally {
    core.failureGoesToCaller = false;
  }
}

/**
 * Blocks until the consumer frees ring space; calls giveUp(null) at the deadline and
 * giveUp(error) once the peer has closed or failed (nobody will free space). Spins first,
 * for up to SPACE_SPIN_MS: the native consumer frees space at memory speed, and nothing
 * native can wake a JS Atomics.wait (platform notes), so the sleep below is a timed one
 * whose real length is longer than asked (docs/benchmarks.md: sleeping after a few
 * hundred loads made large blocking sends several times slower). Then sleeps 50 us at a
 * time. The spin restarts with every call: a consumer that frees space more often than
 * every 0.5 ms keeps this thread busy, which is what a blocking send is for.
 */
function waitForSpace(core: ChannelCore, deadline: number, giveUp: (peerGone: ChannelClosedError | null) => never): void {
  const endpoint = core.endpoint;
  endpoint.flush();
  const w = endpoint.writer;
  const before = w.freeBytesCached;
  const spinUntil = now() + SPACE_SPIN_MS;
  for (let i = 0; ; i++) {
    w.refresh();
    if (w.freeBytesCached !== before) return;
    if ((i & 31) !== 0) continue;
    const t = now();
    if (t >= deadline) giveUp(null);
    try {
      endpoint.checkPeerForSend(); // also throws ProtocolError on an invalid state word
    } catch (e) {
      if (e instanceof ChannelClosedError) giveUp(e);
      throw e;
    }
    if (t >= spinUntil) sleepMs(0.05);
  }
}

const sleepCell = typeof SharedArrayBuffer !== 'undefined' ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Sleeps without spinning where the thread may block (Node, workers); else returns. */
function sleepMs(ms: number): void {
  if (sleepCell === null) return;
  try {
    Atomics.wait(sleepCell, 0, 0, ms);
  } catch {
    // a window's main thread may not block: fall back to spinning
  }
}
