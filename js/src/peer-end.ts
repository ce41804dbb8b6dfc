// How the peer's end is described to the user: a clean close after everything was
// delivered, a close that stranded data this side had accepted, a failure with the
// peer's reason, and in each case whether this side's own state word had been overwritten
// (the native side leaves when it reads this side as closed or failed, so that explains
// why it left).
import { ChannelClosedError, type ChannelError } from './errors';
import type { Endpoint } from './protocol/endpoint';
import { STATE_ATTACHED, STATE_NAMES, W_R_STATE, failureReasonName, type Region } from './protocol/layout';
import { ringFill } from './stats';

/** Errors of the peer's end described here (the endpoint's bare ones are not). */
const described = new WeakSet<ChannelError>();

function describedError<E extends ChannelError>(e: E): E {
  described.add(e);
  return e;
}

/** Whether `e` is the endpoint's bare report of the peer's end, to be described first. */
export function isBarePeerEnd(e: unknown): e is ChannelClosedError {
  return e instanceof ChannelClosedError && e.constructor === ChannelClosedError && !described.has(e) && (e.code === 'peer_closed' || e.code === 'peer_failed');
}

/**
 * Null if this side's state word still holds what this side stored (attached, while
 * open); otherwise a sentence saying what overwrote it. Read only when the peer ended:
 * the peer acts on that word, so it explains why.
 */
function ownStateTampered(region: Region): string | null {
  const v = Atomics.load(region.ctrl, W_R_STATE) >>> 0;
  if (v === STATE_ATTACHED) return null;
  const name = STATE_NAMES[v & 0xff] ?? 'invalid';
  return `it read this side's state word as 0x${v.toString(16)} (${name}), which this side never wrote: the shared memory was overwritten`;
}

/**
 * The peer closed (poll reached its end, or its state word says closed). `clean` when
 * everything it was sent was read and nothing overwrote this side's state: then it is
 * reported as 'close' alone; otherwise the error is a failure ('error').
 */
export function peerClosedError(region: Region, endpoint: Endpoint, queued: number): { error: ChannelClosedError; clean: boolean } {
  const tamper = ownStateTampered(region);
  const out = endpoint.outWords;
  // Published and never released: the peer will not read it now.
  const unread = ringFill(region.ctrl, out.writeIndex, out.readIndex, region.r2nCapacity);
  if (tamper === null && queued === 0 && unread === 0) {
    return { error: describedError(new ChannelClosedError('peer_closed', 'the peer closed the channel (everything it sent was delivered)')), clean: true };
  }
  const parts = ['the peer closed the channel'];
  if (tamper !== null) parts.push(tamper);
  if (unread > 0) parts.push(`${unread} bytes this side had written were never read`);
  if (queued > 0) parts.push(`${queued} queued message(s) were not sent`);
  return { error: describedError(new ChannelClosedError('peer_closed', parts.join('; '))), clean: false };
}

/** The peer failed: its reason, plus ours if it failed because of a forged state word. */
export function peerFailedError(region: Region, reason: number): ChannelClosedError {
  const tamper = ownStateTampered(region);
  // A valid state word may say failed without a reason (0); name that too.
  const name = reason === 0 ? 'no reason given' : failureReasonName(reason);
  return describedError(new ChannelClosedError('peer_failed', `peer failed (${name})${tamper === null ? '' : `; ${tamper}`}`, reason));
}
