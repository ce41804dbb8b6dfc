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
  core.failureGoesToCaller = true;
  try {
    // The common case first: nothing queued and room for one record now. No clock read (one
    // performance.now() is a sizeable part of a spin round trip: docs/benchmarks.md, the
    // breakdown) and no closure for the waits.
    if (core.sender.queue.length > 0 || bytes.length > core.maxPayload || !core.endpoint.trySend(bytes)) writeWaiting(core, bytes, timeoutMs);
    core.counters.countSent(bytes.length);
    core.endpoint.flush();
  } catch (e) {
    if (e instanceof TimeoutError) throw e;
    core.failFromSend(e, true);
    throw core.reason ?? asChannelError(e);
  } finally {
    core.failureGoesToCaller = false;
  }
}

/** Writes `bytes` after the queued messages, waiting for room until the deadline, or throws. */
function writeWaiting(core: ChannelCore, bytes: Uint8Array, timeoutMs: number): void {
  // The clock is read once the call has to wait (or has a queue to push first).
  let deadline = core.sender.queue.length > 0 ? now() + timeoutMs : -1;
  const sender = core.sender;
  // The peer's end, when a wait for room found it (null: the deadline passed).
  let stopped: ChannelClosedError | null = null;
  const waitForRoom = (): boolean => {
    if (deadline < 0) deadline = now() + timeoutMs;
    const end = waitForSpace(core, deadline);
    if (end === 'space') return true;
    stopped = end === 'deadline' ? null : end;
    return false;
  };
  // Earlier queued messages first (order is part of the contract).
  while (sender.queue.length > 0) {
    sender.pump(Infinity);
    if (sender.queue.length === 0) break;
    if (!waitForRoom()) {
      throw stopped ?? new TimeoutError(`sendDirect: the ring stayed full for ${timeoutMs} ms while earlier queued messages were pending; nothing of this message was sent`);
    }
  }
  if (!core.endpoint.sender.sendWaiting(bytes, waitForRoom)) {
    throw (
      stopped ??
      new TimeoutError(
        bytes.length <= core.maxPayload
          ? `sendDirect: no room for ${bytes.length} bytes within ${timeoutMs} ms; nothing was sent`
          : `sendDirect: ${bytes.length}-byte message did not fit within ${timeoutMs} ms; it was cancelled and the peer discards the part it received`,
      )
    );
  }
}

/** How a wait for space ended: space was freed, the deadline passed, or the peer ended. */
type WaitEnd = 'space' | 'deadline' | ChannelClosedError;

/**
 * Blocks until the consumer frees ring space; returns 'deadline' at the deadline and the
 * peer's end (ChannelClosedError) once it has closed or failed (nobody will free space).
 * Spins first, for up to SPACE_SPIN_MS: the native consumer frees space at memory speed,
 * and nothing native can wake a JS Atomics.wait (platform notes), so the sleep below is a
 * timed one whose real length is longer than asked (docs/benchmarks.md: sleeping after a
 * few hundred loads made large blocking sends several times slower). Then sleeps 50 us at
 * a time. The spin restarts with every call: a consumer that frees space more often than
 * every 0.5 ms keeps this thread busy, which is what a blocking send is for.
 */
function waitForSpace(core: ChannelCore, deadline: number): WaitEnd {
  const endpoint = core.endpoint;
  endpoint.flush();
  const w = endpoint.writer;
  const before = w.freeBytesCached;
  const spinUntil = now() + SPACE_SPIN_MS;
  for (let i = 0; ; i++) {
    w.refresh();
    if (w.freeBytesCached !== before) return 'space';
    if ((i & 31) !== 0) continue;
    const t = now();
    if (t >= deadline) return 'deadline';
    try {
      endpoint.checkPeerForSend(); // also throws ProtocolError on an invalid state word
    } catch (e) {
      if (e instanceof ChannelClosedError) return e;
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
