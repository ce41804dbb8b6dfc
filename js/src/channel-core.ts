// The state every part of a channel shares, and how a channel ends. The public class
// (channel.ts) checks arguments and delegates; the parts do one job each: the send path
// and its queue (sender.ts), the blocking send (blocking-send.ts), reservations
// (reservation.ts), the drain loop and parking (drain-loop.ts). They meet here: whether
// the channel is open, why it ended, who receives, and the one way to end it (end/fail).
import { ChannelClosedError, ChannelError, ProtocolError, asChannelError } from './errors';
import type { WakeMode } from './options';
import type { Endpoint } from './protocol/endpoint';
import type { Region } from './protocol/layout';
import { isBarePeerEnd, peerClosedError, peerFailedError } from './peer-end';
import type { Reachability } from './reachability';
import { ReservationSlot } from './reservation';
import { scheduleTask, type BackstopTimer } from './scheduler';
import { Sender } from './sender';
import { Counters } from './stats';
import type { PeerTransport } from './transport';
import { DrainLoop } from './drain-loop';

export type MessageCallback = (message: Uint8Array) => void;
/** startReceivingInPlace's callback: the message is buffer[offset .. offset + length). */
export type InPlaceCallback = (buffer: Uint8Array, offset: number, length: number) => void;

/** How the core reaches the public object's events (its emitter is the channel). */
export interface ChannelEvents {
  message(m: Uint8Array): void;
  drain(): void;
  /** Returns whether a listener took it. */
  error(e: ChannelError): boolean;
  close(): void;
}

export interface CoreSettings {
  wakeMode: WakeMode;
  drainBudgetMs: number;
  highWaterMark: number;
}

export class ChannelCore {
  readonly counters = new Counters();
  readonly maxPayload: number;
  readonly sender: Sender;
  readonly drainLoop: DrainLoop;
  readonly reservation: ReservationSlot;

  closed = false;
  /** Why the channel ended: null while open and after cleanup(). */
  reason: ChannelError | null = null;
  receiver: MessageCallback | null = null;
  /** startReceivingInPlace's callback (replaces `receiver`; one of them is null). */
  inPlaceReceiver: InPlaceCallback | null = null;
  /** A 'message' listener exists (kept by the emitter hooks: no lookup per message). */
  emitsMessages = false;
  copyMessages = false;
  /** Inside sendDirect: a failure is thrown to its caller, not emitted as 'error'. */
  failureGoesToCaller = false;
  /** The peer's end ('peer_closed' / 'peer_failed') a send already reported to its caller
   *  while the drain still delivers what the peer sent before it (failFromSend). */
  peerEndToCaller: string | null = null;

  /** Hands one incoming message to the receive callback and the 'message' listeners. */
  readonly deliver: (m: Uint8Array) => void;
  /** The same for an in-place receiver without listeners: no view is made. */
  readonly deliverInPlace: (buffer: Uint8Array, offset: number, length: number) => void;

  constructor(
    readonly region: Region,
    readonly endpoint: Endpoint,
    readonly transport: PeerTransport,
    readonly settings: CoreSettings,
    readonly events: ChannelEvents,
    readonly reach: Reachability,
    backstop: BackstopTimer,
  ) {
    this.maxPayload = endpoint.writer.maxPayload;
    this.sender = new Sender(this);
    this.drainLoop = new DrainLoop(this, backstop);
    this.reservation = new ReservationSlot(this);
    const counters = this.counters;
    this.deliver = (m: Uint8Array): void => {
      counters.messagesReceived++;
      counters.bytesReceived += m.length;
      const msg = this.copyMessages ? m.slice() : m;
      try {
        if (this.receiver !== null) this.receiver(msg);
        else if (this.inPlaceReceiver !== null) this.inPlaceReceiver(msg, 0, msg.length);
        if (this.emitsMessages) this.events.message(msg);
      } catch (e) {
        throw callbackFailed(e);
      }
    };
    this.deliverInPlace = (buffer: Uint8Array, offset: number, length: number): void => {
      const receive = this.inPlaceReceiver;
      // Replaced or stopped by a callback earlier in this batch: the view path decides.
      if (receive === null) return this.deliver(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length));
      counters.messagesReceived++;
      counters.bytesReceived += length;
      try {
        receive(buffer, offset, length);
      } catch (e) {
        throw callbackFailed(e);
      }
    };
  }

  get receiving(): boolean {
    return this.receiver !== null || this.inPlaceReceiver !== null || this.emitsMessages;
  }

  /** Applies the liveness policy (reachability.ts) to the current state. */
  updateActivity(): void {
    this.reach.update({ closed: this.closed, receiving: this.receiving, queued: this.sender.queue.length > 0 });
  }

  /** Ends the channel: `reason` null for cleanup(). Emits 'close' (once). */
  end(reason: ChannelError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.receiver = null;
    this.inPlaceReceiver = null;
    this.drainLoop.stop();
    try {
      this.endpoint.close();
    } catch {
      // a failed endpoint stays failed; the peer sees that state
    }
    this.transport.close();
    this.sender.clear(reason ?? new ChannelClosedError('closed', 'the channel was closed before the message was written'));
    this.updateActivity();
    this.events.close();
  }

  /**
   * Ends the channel because of `e` and reports it once: as an 'error' event (emitted
   * after 'close', asynchronously, so no native call is on the stack; thrown as an
   * uncaught exception when nobody listens, like Node's emitters), or to the caller of
   * sendDirect. Later calls do nothing: the first failure is the one reported.
   */
  fail(e: unknown): void {
    if (this.closed) return;
    // The peer's end as the endpoint reports it (a send into a full ring, sendDirect's
    // wait): described the same way as when poll or checkPeer find it.
    if (isBarePeerEnd(e)) {
      if (e.code === 'peer_closed') return this.peerClosed();
      return this.peerFailed(e.peerReason);
    }
    const err = asChannelError(e);
    if (err instanceof ProtocolError) this.counters.protocolErrors++;
    // Reported once: not again when a sendAsync / sendDirect caller already got the peer's end.
    const toldCaller = err instanceof ChannelClosedError && err.code === this.peerEndToCaller;
    if (!this.failureGoesToCaller && !toldCaller) {
      scheduleTask(() => {
        if (!this.events.error(err)) throw err;
      });
    }
    this.end(err);
  }

  /**
   * A send (or reservation) threw. The peer's end found there is not reported yet when
   * this side receives: what the peer published before it ended is still delivered
   * (docs/protocol.md 6), so a drain runs and its poll, reaching the end of the peer's
   * stream, ends the channel (peer_closed after the last message; peer_failed as poll
   * reports it). Anything else ends the channel now.
   */
  failFromSend(e: unknown, toCaller = false): void {
    if (isBarePeerEnd(e) && this.receiving && !this.closed) {
      if (toCaller) this.peerEndToCaller = e.code;
      this.drainLoop.scheduleDrain();
      return;
    }
    this.fail(e);
  }

  /** Runs `fn`, turning anything it throws into the channel's failure. */
  guarded(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * The peer closed. A clean end of stream is reported as 'close'; it is a failure
   * ('error') when it strands messages this side accepted, or when the peer closed
   * because this side's state word was overwritten.
   */
  peerClosed(): void {
    const { error, clean } = peerClosedError(this.region, this.endpoint, this.sender.queue.length);
    if (clean) this.end(error);
    else this.fail(error);
  }

  /** The peer failed: the transport may know more (an isolated plugin that crashed). */
  peerFailed(reason: number): void {
    const known = this.transport.peerFailure?.() ?? null;
    this.fail(known ?? peerFailedError(this.region, reason));
  }

  /** After the channel ended: cleanup() makes every call an error; a failure or the
   *  peer's end makes the send family return `value` (the end was reported once). */
  refuseAfterEnd<T>(what: string, value: T): T {
    if (this.reason === null) throw this.closedError(what);
    return value;
  }

  closedError(what: string): ChannelClosedError {
    if (this.reason === null) return new ChannelClosedError('closed', `${what}(): the channel is closed (cleanup() was called)`);
    return new ChannelClosedError('closed', `${what}(): the channel is closed: ${this.reason.message}`, 0, { cause: this.reason });
  }

  assertOpen(what: string): void {
    if (this.closed) throw this.closedError(what);
  }
}

/** What a receive callback threw, as the channel's failure (once: a rethrow passes). */
function callbackFailed(e: unknown): ChannelError {
  if (e instanceof ChannelError && e.code === 'callback_failed') return e;
  return new ChannelError('callback_failed', `a receive callback (or 'message' listener) threw, so the channel was closed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
