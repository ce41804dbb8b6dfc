// One side (R or N) of a channel over an attached region (docs/protocol.md sections 2.2,
// 5, 6, 7.3). The endpoint owns the writer of its outgoing ring and the reader of its
// incoming ring (ring.ts) with their framers (framer.ts: fragmentation, reassembly,
// CANCEL), its own state word, and the parking protocol. Over 400 lines for the same
// reason as its C++ twin (native/src/endpoint.cpp): one class, the split into sender,
// receiver and lifecycle handles being the open part of issue #12.
//
// Doorbells: the protocol says WHEN to ring; how depends on the peer (5.3). A sleeper
// waits on the wake sequence of its role (section 5.2), which the endpoint bumps before it
// calls the `wake` option with that word's Int32 index (the outgoing ring's
// consumer_wake_seq for a parked peer consumer, the incoming ring's producer_wake_seq for
// a parked peer producer). The default is `Atomics.notify` on that word, right for a JS
// peer (worker / page); a native peer needs an addon call instead.

import { ChannelClosedError, ProtocolError, RegionError } from '../errors';
import {
  REASON_LOCAL_ERROR,
  REASON_PEER_STATE_INVALID,
  STATE_ATTACHED,
  STATE_CLOSED,
  STATE_FAILED,
  STATE_NAMES,
  W_N_GENERATION,
  W_N_STATE,
  W_R_GENERATION,
  W_R_STATE,
  failureReasonName,
  type Region,
  type Side,
} from './layout';
import { FrameReader, FrameWriter } from './framer';
import { N2R_WORDS, R2N_WORDS, RingReader, RingWriter, type InPlaceHandler, type MessageHandler, type RingWords } from './ring';

/**
 * The indices of both rings, each read once, through the attach checks of section 7.1: A1
 * (all four multiples of 8) before A2 (each ring's write - read within its capacity),
 * outgoing ring first, as the C++ Endpoint::attach. Throws RegionError naming the failed
 * check's reason; nothing has been written then.
 */
function attachIndices(
  ctrl: Int32Array,
  out: RingWords,
  outCapacity: number,
  inn: RingWords,
  inCapacity: number,
): [{ write: number; read: number }, { write: number; read: number }] {
  // SYNC: ring-publish / ring-release (partners: a previous incarnation's or the peer's
  // Atomics.store of these indices in RingWriter.publish / RingReader.release): records
  // below a write index are visible, bytes below a read index are free to overwrite.
  const ow = Atomics.load(ctrl, out.writeIndex) >>> 0;
  const or = Atomics.load(ctrl, out.readIndex) >>> 0;
  const iw = Atomics.load(ctrl, inn.writeIndex) >>> 0;
  const ir = Atomics.load(ctrl, inn.readIndex) >>> 0;
  const where = `outgoing write ${ow} read ${or}, incoming write ${iw} read ${ir}`;
  if (((ow | or | iw | ir) & 7) !== 0) {
    throw new RegionError(`cannot attach: a ring index is not a multiple of 8 (A1 index_misaligned; ${where})`, 'index_misaligned');
  }
  if (((ow - or) >>> 0) > outCapacity || ((iw - ir) >>> 0) > inCapacity) {
    throw new RegionError(
      `cannot attach: a ring's write index is not within its capacity (${outCapacity} / ${inCapacity}) ahead of its read index (A2 index_out_of_range; ${where})`,
      'index_out_of_range',
    );
  }
  return [
    { write: ow, read: or },
    { write: iw, read: ir },
  ];
}

/** Returned by Endpoint.poll when the peer closed and everything it sent was delivered. */
export const EOF = -1;

export type EndpointState = 'attached' | 'closed' | 'failed';

export interface EndpointOptions {
  /** Largest incoming message accepted (C10); default 2^32 - 1. */
  maxMessage?: number;
  /** Rings the doorbell of a peer sleeping on wake sequence `word`, already bumped (see
   *  the file comment). */
  wake?: (word: number) => void;
  /** Called once when this endpoint enters the failed state. */
  onFailure?: (err: ProtocolError) => void;
}

/** Peer state as read by Endpoint.peerState(). */
export interface PeerState {
  /** STATE_DETACHED .. STATE_FAILED */
  state: number;
  /** The peer's failure reason (failed only), else 0. */
  reason: number;
}

export class Endpoint {
  readonly side: Side;
  readonly region: Region;
  /** Producer of the outgoing ring (R2N for side R, N2R for side N). */
  readonly writer: RingWriter;
  /** Consumer of the incoming ring. */
  readonly reader: RingReader;
  /** Messages of any size into the outgoing ring (fragments, the CANCEL owed). */
  readonly frameWriter: FrameWriter;
  /** Messages out of the incoming ring (C8-C10, reassembly or a FragmentSink). */
  readonly frameReader: FrameReader;
  /** This side's generation after attaching (incremented on every attach). */
  readonly generation: number;
  readonly outWords: RingWords;
  readonly inWords: RingWords;
  private readonly ctrl: Int32Array;
  private readonly ownStateWord: number;
  private readonly peerStateWord: number;
  private readonly wakeFn: (word: number) => void;
  private readonly onFailure: ((err: ProtocolError) => void) | null;
  private _state: EndpointState = 'attached';
  private _error: ProtocolError | null = null;
  /**
   * 0, or the peer's (validated) state word once poll saw it closed/failed: later empty
   * polls mean end-of-stream.
   */
  private peerEnd = 0;
  /** The wake sequences read by the last parkConsumer / parkProducer (what to wait on). */
  private consumerSeqSeen = 0;
  private producerSeqSeen = 0;

  constructor(region: Region, side: Side, options: EndpointOptions = {}) {
    if (side !== 'R' && side !== 'N') throw new TypeError(`side must be 'R' or 'N', not ${String(side)}`);
    this.side = side;
    this.region = region;
    const ctrl = region.ctrl;
    this.ctrl = ctrl;
    this.onFailure = options.onFailure ?? null;
    this.wakeFn = options.wake ?? ((word: number) => void Atomics.notify(ctrl, word));
    const isR = side === 'R';
    this.outWords = isR ? R2N_WORDS : N2R_WORDS;
    this.inWords = isR ? N2R_WORDS : R2N_WORDS;
    this.ownStateWord = isR ? W_R_STATE : W_N_STATE;
    this.peerStateWord = isR ? W_N_STATE : W_R_STATE;
    const outCapacity = isR ? region.r2nCapacity : region.n2rCapacity;
    const inCapacity = isR ? region.n2rCapacity : region.r2nCapacity;
    const [outStart, inStart] = attachIndices(ctrl, this.outWords, outCapacity, this.inWords, inCapacity);
    const ringFail = (err: ProtocolError): void => this.enterFailed(err);
    this.writer = new RingWriter(ctrl, this.outWords, isR ? region.r2nData : region.n2rData, outCapacity, {
      onFailure: ringFail,
      start: outStart,
    });
    this.reader = new RingReader(ctrl, this.inWords, isR ? region.n2rData : region.r2nData, inCapacity, {
      onFailure: ringFail,
      start: inStart,
    });
    this.frameWriter = new FrameWriter(this.writer);
    this.frameReader = new FrameReader(this.reader, options.maxMessage === undefined ? {} : { maxMessage: options.maxMessage });
    this.generation = (Atomics.add(ctrl, isR ? W_R_GENERATION : W_N_GENERATION, 1) + 1) >>> 0;
    // Both parked words we own start cleared (a previous incarnation may have died parked).
    Atomics.store(ctrl, this.outWords.producerParked, 0);
    Atomics.store(ctrl, this.inWords.consumerParked, 0);
    // SYNC: state-publish (partner: the peer's Atomics.load of our state word in its
    // loadPeerState()). seq_cst store, then check the peer's parked words (ringPeer).
    Atomics.store(ctrl, this.ownStateWord, STATE_ATTACHED);
    this.ringPeer();
  }

  get state(): EndpointState {
    return this._state;
  }

  /** The error this endpoint failed with, if it failed. */
  get error(): ProtocolError | null {
    return this._error;
  }

  /** Int32 index of the word to Atomics.wait on while parked as consumer (incoming consumer_wake_seq). */
  get consumerWaitWord(): number {
    return this.inWords.consumerWakeSeq;
  }

  /** Int32 index of the word to Atomics.wait on while parked as producer (outgoing producer_wake_seq). */
  get producerWaitWord(): number {
    return this.outWords.producerWakeSeq;
  }

  /**
   * Wakes a peer role that announced a park: bumps its wake sequence, then rings. The bump
   * follows the publication or state change it announces, so a sleeper that read the
   * sequence before it and missed the change in its re-check finds the word changed when
   * it waits (section 5.2): one wake always suffices.
   */
  private wakeRole(wakeSeq: number): void {
    // SYNC: wake-seq (partner: the sleeper's load of this word in park(), or in the C++
    // core's Endpoint::idle_wait, before its re-check).
    Atomics.add(this.ctrl, wakeSeq, 1);
    this.wakeFn(wakeSeq);
  }

  /** Rings every doorbell whose parked word the peer has set (after a state-publish). */
  private ringPeer(): void {
    // SYNC: park-announce (partners: the peer's stores of 1 to its parked words; our
    // state-publish store precedes these seq_cst loads, section 5.2 / 2.2).
    if (Atomics.load(this.ctrl, this.outWords.consumerParked) !== 0) this.wakeRole(this.outWords.consumerWakeSeq);
    if (Atomics.load(this.ctrl, this.inWords.producerParked) !== 0) this.wakeRole(this.inWords.producerWakeSeq);
  }

  private enterFailed(err: ProtocolError): void {
    if (this._state === 'failed') return;
    this._state = 'failed';
    this._error = err;
    this.writer.poison(err);
    this.reader.poison(err);
    this.frameReader.end('failed');
    // SYNC: state-publish (partner: the peer's load of our state word, loadPeerState). 7.3.
    Atomics.store(this.ctrl, this.ownStateWord, STATE_FAILED | ((err.reasonCode & 0xff) << 8));
    this.ringPeer();
    if (this.onFailure !== null) {
      try {
        this.onFailure(err);
      } catch {
        // a failing observer must not mask the protocol error
      }
    }
  }

  /** Fails the endpoint with a section 7.2 reason (e.g. local_error) and returns the error. */
  fail(reason: number = REASON_LOCAL_ERROR, detail?: string): ProtocolError {
    if (this._error !== null) return this._error;
    this.enterFailed(new ProtocolError(reason, failureReasonName(reason), detail));
    return this._error!;
  }

  private throwIfUnusable(): void {
    if (this._state === 'attached') return;
    if (this._error !== null) throw this._error;
    throw new ChannelClosedError('closed', 'the endpoint was closed');
  }

  /**
   * Loads the peer's state word (acquire), validating it (S1): an invalid value fails this
   * endpoint with peer_state_invalid and throws that ProtocolError.
   */
  peerState(): PeerState {
    const v = this.loadPeerState();
    return { state: v & 0xff, reason: v >>> 8 };
  }

  /**
   * peerState() without the object (polling loops call this on every empty poll): the
   * validated word, state in bits 0-7, reason in bits 8-15, nothing above.
   */
  private loadPeerState(): number {
    // SYNC: state-publish (partner: the peer's Atomics.store of its state word in its
    // constructor, close() or enterFailed()).
    const v = Atomics.load(this.ctrl, this.peerStateWord) >>> 0; // read once
    const state = v & 0xff;
    const reason = (v >>> 8) & 0xff;
    if (v >>> 16 !== 0 || state > STATE_FAILED || (state !== STATE_FAILED && reason !== 0)) {
      throw this.fail(REASON_PEER_STATE_INVALID, `peer state word 0x${v.toString(16)}`);
    }
    return v;
  }

  /** True when a validated peer state word says closed or failed. */
  private static ended(peerWord: number): boolean {
    const state = peerWord & 0xff;
    return state === STATE_CLOSED || state === STATE_FAILED;
  }

  private static peerFailedError(reason: number): ChannelClosedError {
    // A valid state word may say failed without a reason (0): name that too.
    return new ChannelClosedError('peer_failed', `peer failed (${reason === 0 ? 'no reason given' : failureReasonName(reason)})`, reason);
  }

  /** Name of a state number, for messages. */
  static stateName(state: number): string {
    return STATE_NAMES[state] ?? `invalid(${state})`;
  }

  /**
   * Closes this side (6): publishes anything written, stores `closed`, rings the peer.
   * Idempotent; a failed endpoint stays failed.
   */
  close(): void {
    if (this._state !== 'attached') return;
    if (this.writer.hasUnpublished) {
      try {
        this.flush();
      } catch {
        // failure already recorded by enterFailed
      }
      if (this._state !== 'attached') return;
    }
    this._state = 'closed';
    this.frameReader.end('closed');
    // SYNC: state-publish (partner: the peer's load of our state word, loadPeerState),
    // then ring.
    Atomics.store(this.ctrl, this.ownStateWord, STATE_CLOSED);
    this.ringPeer();
  }

  // ---------------------------------------------------------------------------------
  // Sending

  /** Throws ChannelClosedError if the peer closed or failed (a producer must stop, 6). */
  checkPeerForSend(): void {
    const v = this.loadPeerState();
    const state = v & 0xff;
    if (state === STATE_CLOSED) throw new ChannelClosedError('peer_closed', 'peer closed');
    if (state === STATE_FAILED) throw Endpoint.peerFailedError(v >>> 8);
  }

  /**
   * Every send starts here: throws when this side cannot send (closed, failed) or the peer
   * has closed or failed (ChannelClosedError peer_closed / peer_failed: nobody will read,
   * section 6), so nothing is written after the peer's state says it ended.
   */
  private checkSendable(): void {
    this.throwIfUnusable();
    this.checkPeerForSend();
  }

  /**
   * Writes one message of at most writer.maxPayload bytes. Returns false when the ring is
   * full. Throws (checkSendable) when this side or the peer has ended. Call flush() to publish.
   */
  trySend(bytes: Uint8Array): boolean {
    this.checkSendable();
    return this.frameWriter.tryWrite(bytes);
  }

  /**
   * Writes messages list[from .. to) (each at most writer.maxPayload bytes) back to back
   * while they fit (FrameWriter.tryWriteMany). Returns how many were written. Throws as
   * trySend. Call flush() to publish.
   */
  trySendMany(list: ArrayLike<Uint8Array>, from: number, to: number): number {
    this.checkSendable();
    return this.frameWriter.tryWriteMany(list, from, to);
  }

  /**
   * Zero-copy send (FrameWriter.reserveOffset): the offset in writer.data where a message of
   * up to `n` (<= maxPayload) bytes goes, or -1 when there is no room. Throws as trySend.
   * Then frameWriter.commit(used) or abort().
   */
  reserveOffset(n: number): number {
    this.checkSendable();
    return this.frameWriter.reserveOffset(n);
  }

  /** Starts a message of any size (FrameWriter.beginLarge; continue with frameWriter.continueLarge). Throws as trySend. */
  beginLarge(bytes: Uint8Array): void {
    this.checkSendable();
    this.frameWriter.beginLarge(bytes);
  }

  /**
   * Publishes everything written (one store) and rings the peer consumer if it is parked.
   * Returns true if a doorbell was rung.
   */
  flush(): boolean {
    this.throwIfUnusable();
    if (this.writer.publish()) {
      this.wakeRole(this.outWords.consumerWakeSeq);
      return true;
    }
    return false;
  }

  /**
   * Producer waiting for space: sets our producer_parked word (seq_cst), then re-reads
   * read_index and the peer's state. Returns true when the caller must NOT sleep (the
   * consumer released space meanwhile, or the peer closed/failed); the parked word is
   * then already cleared. Otherwise sleep on producerWaitWord while it still equals
   * producerWaitValue (Atomics.wait in a worker), with a timeout, then unparkProducer().
   * Publish before parking, or the consumer has nothing to free.
   */
  parkProducer(): boolean {
    return this.park(true);
  }

  unparkProducer(): void {
    Atomics.store(this.ctrl, this.outWords.producerParked, 0);
  }

  /** The producer wake sequence as parkProducer read it (for Atomics.wait on producerWaitWord). */
  get producerWaitValue(): number {
    return this.producerSeqSeen;
  }

  // ---------------------------------------------------------------------------------
  // Receiving

  /**
   * Delivers incoming messages (see FrameReader.poll; views are valid only during the
   * handler call). Rings the peer producer if it was parked. Returns the number of
   * messages delivered, or EOF (-1) once the peer closed and everything it published
   * before closing was delivered (6). Throws ChannelClosedError('peer_failed') instead
   * of EOF when the peer failed.
   */
  poll(handler: MessageHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    this.throwIfUnusable();
    const r = this.reader;
    let n: number;
    try {
      n = this.frameReader.poll(handler, maxMessages, maxBytes);
    } finally {
      if (r.peerNeedsWake) this.wakeRole(this.inWords.producerWakeSeq);
    }
    return this.afterPoll(n);
  }

  /** poll() with messages handed over in place (FrameReader.pollInPlace). */
  pollInPlace(handler: InPlaceHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    this.throwIfUnusable();
    const r = this.reader;
    let n: number;
    try {
      n = this.frameReader.pollInPlace(handler, maxMessages, maxBytes);
    } finally {
      if (r.peerNeedsWake) this.wakeRole(this.inWords.producerWakeSeq);
    }
    return this.afterPoll(n);
  }

  /** What poll returns after delivering `n`: n, or EOF once the peer ended and all was delivered. */
  private afterPoll(n: number): number {
    const r = this.reader;
    if (n > 0 || !r.drained) return n;
    if (this.peerEnd === 0) {
      const v = this.loadPeerState();
      if (!Endpoint.ended(v)) return 0;
      this.peerEnd = v;
      // Drain what the peer published before closing: write_index is reloaded by the
      // next poll AFTER the state load above, so nothing published before the close is
      // missed. Return now; the caller polls again and gets EOF once empty.
      if (r.refresh() > 0) return 0;
    }
    if ((this.peerEnd & 0xff) === STATE_FAILED) {
      this.frameReader.end('peer_failed');
      throw Endpoint.peerFailedError(this.peerEnd >>> 8);
    }
    this.frameReader.end('peer_closed');
    return EOF;
  }

  /**
   * Consumer waiting for data: sets our consumer_parked word (seq_cst), then re-reads
   * write_index and the peer's state. Returns true when the caller must NOT sleep (data
   * arrived meanwhile, or the peer is closed/failed); the parked word is then cleared.
   * Otherwise sleep on consumerWaitWord while it equals consumerWaitValue, with a
   * timeout, then unparkConsumer().
   */
  parkConsumer(): boolean {
    return this.park(false);
  }

  /**
   * For a side that does not consume now but wants to learn of the peer's end at once:
   * sets consumer_parked (seq_cst), so the peer rings on its next publication and on any
   * change of its state (2.2), then loads the peer's state. True when the peer has ended
   * (closed or failed): check it instead of waiting. An invalid state word throws (S1).
   */
  parkForPeerState(): boolean {
    this.throwIfUnusable();
    // SYNC: park-announce (partner: the peer's load of our consumer_parked after its
    // state-publish store, or after its write_index store). Store, then load (5.2).
    Atomics.store(this.ctrl, this.inWords.consumerParked, 1);
    // SYNC: wake-seq (partner: the peer's Atomics.add / fetch_add of it when it rings).
    this.consumerSeqSeen = Atomics.load(this.ctrl, this.inWords.consumerWakeSeq);
    return Endpoint.ended(this.loadPeerState());
  }

  unparkConsumer(): void {
    Atomics.store(this.ctrl, this.inWords.consumerParked, 0);
  }

  /** The consumer wake sequence as parkConsumer read it (for Atomics.wait on consumerWaitWord). */
  get consumerWaitValue(): number {
    return this.consumerSeqSeen;
  }

  /**
   * parkProducer (asProducer) / parkConsumer: announce, read the wake sequence, re-check
   * (section 5.2). Atomics are sequentially consistent, so either the re-check sees the
   * peer's publication or state change, or the peer's load of the parked word (after its
   * store) sees 1 and it bumps the sequence after our read: a wait on the value read here
   * then returns at once or is woken.
   */
  private park(asProducer: boolean): boolean {
    this.throwIfUnusable();
    const parkedWord = asProducer ? this.outWords.producerParked : this.inWords.consumerParked;
    // SYNC: park-announce (partner: as producer, the consumer's Atomics.load of
    // producer_parked after it stores read_index, RingReader.release; as consumer, the
    // producer's Atomics.load of consumer_parked after it stores write_index,
    // RingWriter.publish; either way the peer's load after its state-publish, ringPeer).
    Atomics.store(this.ctrl, parkedWord, 1);
    // SYNC: wake-seq (partner: the peer's bump of it when it rings, wakeRole / the C++
    // core's Endpoint::ring_peer). Read before the re-check.
    if (asProducer) this.producerSeqSeen = Atomics.load(this.ctrl, this.outWords.producerWakeSeq);
    else this.consumerSeqSeen = Atomics.load(this.ctrl, this.inWords.consumerWakeSeq);
    let wake = true;
    try {
      // seq_cst load of the peer's index (read_index / write_index), then of its state
      const progressed = asProducer ? this.writer.refresh() : this.reader.refresh() > 0;
      const peerWord = this.loadPeerState(); // always: S1 is checked on every park
      wake = progressed || Endpoint.ended(peerWord);
    } finally {
      if (wake) Atomics.store(this.ctrl, parkedWord, 0);
    }
    return wake;
  }

  /**
   * Puts this side's own index words (outgoing write_index, incoming read_index) back if
   * something overwrote them, and rings the peer if it is parked on one (section 7.4).
   * An index moved back to a value the peer never saw passes the peer's checks and leaves
   * both sides waiting on each other (the producer for space, the consumer for data), so
   * a side that has been parked for a park timeout calls this. True if a word was restored.
   */
  restoreOwnIndices(): boolean {
    if (this._state !== 'attached') return false;
    const wrote = this.writer.restorePublished();
    // SYNC: park-announce (partner: the consumer's Atomics.store(consumer_parked, 1) in its
    // parkConsumer, before its re-check): after restorePublished's store of write_index,
    // either it sees the restored index or we see it parked and wake it.
    if (wrote && Atomics.load(this.ctrl, this.outWords.consumerParked) !== 0) this.wakeRole(this.outWords.consumerWakeSeq);
    const released = this.reader.restoreReleased();
    if (released && this.reader.peerNeedsWake) this.wakeRole(this.inWords.producerWakeSeq);
    return wrote || released;
  }

  // ---------------------------------------------------------------------------------
  // Blocking helpers for threads that may block (workers: Atomics.wait). Not for a
  // window's main thread, which must use parkConsumer + Atomics.waitAsync instead.

  /**
   * Blocks until incoming data may be available, the peer changed state, or the timeout
   * elapsed: park, Atomics.wait on the consumer wake sequence, unpark. Returns false on
   * timeout.
   */
  waitForData(timeoutMs: number): boolean {
    if (this.parkConsumer()) return true;
    try {
      return Atomics.wait(this.ctrl, this.consumerWaitWord, this.consumerWaitValue, timeoutMs) !== 'timed-out';
    } finally {
      this.unparkConsumer();
    }
  }

  /** Blocks until the consumer may have released space (or timeout; returns false). Publishes first. */
  waitForSpace(timeoutMs: number): boolean {
    this.flush();
    if (this.parkProducer()) return true;
    try {
      return Atomics.wait(this.ctrl, this.producerWaitWord, this.producerWaitValue, timeoutMs) !== 'timed-out';
    } finally {
      this.unparkProducer();
    }
  }

  /**
   * Writes a message of any size (fragmenting if needed), blocking in waitForSpace while
   * the ring is full (for workers). Does not publish the last records: call flush().
   * Returns false if `maxWaits` waits timed out; a partly written fragmented message is
   * then cancelled (CANCEL owed/written). Throws ChannelClosedError if the peer closed or
   * failed, ProtocolError on a protocol violation.
   */
  sendSync(bytes: Uint8Array, waitTimeoutMs = 100, maxWaits = Infinity): boolean {
    this.checkSendable();
    const w = this.frameWriter;
    if (bytes.length <= w.maxPayload && !w.largePending) {
      let waits = 0;
      while (!w.tryWrite(bytes)) {
        this.checkPeerForSend();
        if (!this.waitForSpace(waitTimeoutMs) && ++waits >= maxWaits) return false;
      }
      return true;
    }
    w.beginLarge(bytes);
    let waits = 0;
    while (!w.continueLarge()) {
      this.checkPeerForSend();
      if (!this.waitForSpace(waitTimeoutMs) && ++waits >= maxWaits) {
        w.cancelLarge();
        this.flush();
        return false;
      }
    }
    return true;
  }
}
