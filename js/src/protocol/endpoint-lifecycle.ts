// The lifecycle role of an Endpoint (endpoint.ts): attach and its index checks (A1, A2),
// this side's and the peer's state words (docs/protocol.md 2.2, 6, 7.3), failure, and the
// doorbells that wake the peer's sleepers (5.2, 5.3); the sending and the receiving role
// (endpoint-sender.ts, endpoint-receiver.ts) park through its Parking. The C++ twin is
// native/include/smc/endpoint_lifecycle.hpp with native/src/endpoint_lifecycle.cpp.
//
// Doorbells: the protocol says WHEN to ring; how depends on the peer (5.3). A sleeper
// waits on the wake sequence of its role (section 5.2), which the lifecycle bumps before it
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
import type { FrameReader } from './framer';
import { N2R_WORDS, R2N_WORDS, type RingReader, type RingWords, type RingWriter } from './ring';

export type EndpointState = 'attached' | 'closed' | 'failed';

export interface EndpointOptions {
  /** Largest incoming message accepted, one record or reassembled (C10); default 2^32 - 1. */
  maxMessage?: number;
  /** The reassembly buffer's keep limit (DEFAULT_KEEP_ASSEMBLY, framer.ts); default 64 MiB. */
  keepAssembly?: number;
  /** Rings the doorbell of a peer sleeping on wake sequence `word`, already bumped (see
   *  endpoint-lifecycle.ts). */
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

/** A ring's indices as read once at attach. */
export interface RingStart {
  readonly write: number;
  readonly read: number;
}

/**
 * The indices of both rings, each read once, through the attach checks of section 7.1: A1
 * (all four multiples of 8) before A2 (each ring's write - read within its capacity),
 * outgoing ring first, as the C++ Endpoint::attach. Throws RegionError naming the failed
 * check's reason; nothing has been written then.
 */
function attachIndices(ctrl: Int32Array, out: RingWords, outCapacity: number, inn: RingWords, inCapacity: number): [RingStart, RingStart] {
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

/** The rings and the framer a failure poisons and ends (bound once the roles exist). */
interface FailureTargets {
  writer: RingWriter;
  reader: RingReader;
  frameReader: FrameReader;
}

export class EndpointLifecycle {
  readonly side: Side;
  readonly region: Region;
  readonly ctrl: Int32Array;
  readonly outWords: RingWords;
  readonly inWords: RingWords;
  readonly outCapacity: number;
  readonly inCapacity: number;
  /** Where the sender's and the receiver's rings start (read once, checked: A1, A2). */
  readonly outStart: RingStart;
  readonly inStart: RingStart;
  /** This side's generation after attaching (0 until publishAttached). */
  generation = 0;
  private readonly ownStateWord: number;
  private readonly peerStateWord: number;
  private readonly wakeFn: (word: number) => void;
  private readonly onFailure: ((err: ProtocolError) => void) | null;
  private _state: EndpointState = 'attached';
  private _error: ProtocolError | null = null;
  private targets: FailureTargets | null = null;

  /** Checks the side and the ring indices (A1, A2: throws RegionError); writes nothing. */
  constructor(region: Region, side: Side, options: EndpointOptions) {
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
    this.outCapacity = isR ? region.r2nCapacity : region.n2rCapacity;
    this.inCapacity = isR ? region.n2rCapacity : region.r2nCapacity;
    [this.outStart, this.inStart] = attachIndices(ctrl, this.outWords, this.outCapacity, this.inWords, this.inCapacity);
  }

  /**
   * The rest of attaching (2.2), once the roles exist: bumps the generation, clears this
   * side's parked words (a previous incarnation may have died parked), stores `attached`.
   */
  publishAttached(targets: FailureTargets): void {
    this.targets = targets;
    const ctrl = this.ctrl;
    this.generation = (Atomics.add(ctrl, this.side === 'R' ? W_R_GENERATION : W_N_GENERATION, 1) + 1) >>> 0;
    Atomics.store(ctrl, this.outWords.producerParked, 0);
    Atomics.store(ctrl, this.inWords.consumerParked, 0);
    this.publishState(STATE_ATTACHED);
  }

  get state(): EndpointState {
    return this._state;
  }

  /** The error this endpoint failed with, if it failed. */
  get error(): ProtocolError | null {
    return this._error;
  }

  /** Stores our state word (state-publish), then rings every peer role parked (2.2). */
  private publishState(word: number): void {
    // SYNC: state-publish (partner: the peer's Atomics.load of our state word in its
    // loadPeerState(), or the C++ core's EndpointLifecycle::peer_errc). seq_cst store,
    // then the loads of the peer's parked words (ringPeer).
    Atomics.store(this.ctrl, this.ownStateWord, word);
    this.ringPeer();
  }

  /**
   * Wakes a peer role that announced a park: bumps its wake sequence, then rings. The bump
   * follows the publication or state change it announces, so a sleeper that read the
   * sequence before it and missed the change in its re-check finds the word changed when
   * it waits (section 5.2): one wake always suffices.
   */
  wakeRole(wakeSeq: number): void {
    // SYNC: wake-seq (partner: the sleeper's load of this word in Parking.announce(), or in
    // the C++ core's EndpointLifecycle::idle_wait, before its re-check).
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

  /** Enters the failed state (7.3): the rings refuse from now on, `failed | reason` is published. */
  enterFailed(err: ProtocolError): void {
    if (this._state === 'failed') return;
    this._state = 'failed';
    this._error = err;
    const t = this.targets;
    if (t !== null) {
      t.writer.poison(err);
      t.reader.poison(err);
      t.frameReader.end('failed');
    }
    this.publishState(STATE_FAILED | ((err.reasonCode & 0xff) << 8));
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

  /** The first half of close (6): from now on every operation throws `closed`. */
  markClosed(): void {
    this._state = 'closed';
  }

  /** The second half of close: stores `closed` and rings the peer's parked roles. */
  publishClosed(): void {
    this.publishState(STATE_CLOSED);
  }

  throwIfUnusable(): void {
    if (this._state === 'attached') return;
    if (this._error !== null) throw this._error;
    throw new ChannelClosedError('closed', 'the endpoint was closed');
  }

  /**
   * The peer's state word (acquire), validated (S1): state in bits 0-7, reason in bits
   * 8-15, nothing above. An invalid value fails this endpoint with peer_state_invalid and
   * throws that ProtocolError.
   */
  loadPeerState(): number {
    // SYNC: state-publish (partner: the peer's Atomics.store of its state word in its
    // publishState(), or the C++ core's EndpointLifecycle::publish_state).
    const v = Atomics.load(this.ctrl, this.peerStateWord) >>> 0; // read once
    return v === STATE_ATTACHED ? v : this.checkPeerWord(v);
  }

  /** S1 on a loaded peer state word: returns it if valid, else fails and throws. */
  private checkPeerWord(v: number): number {
    const state = v & 0xff;
    const reason = (v >>> 8) & 0xff;
    if (v >>> 16 !== 0 || state > STATE_FAILED || (state !== STATE_FAILED && reason !== 0)) {
      throw this.fail(REASON_PEER_STATE_INVALID, `peer state word 0x${v.toString(16)}`);
    }
    return v;
  }

  /** Throws ChannelClosedError if the peer closed or failed (a producer must stop, 6). */
  checkPeerForSend(): void {
    this.refuseEndedPeer(this.loadPeerState());
  }

  /** Throws peer_closed / peer_failed for a validated peer word that says the peer ended. */
  private refuseEndedPeer(v: number): void {
    const state = v & 0xff;
    if (state === STATE_CLOSED) throw new ChannelClosedError('peer_closed', 'peer closed');
    if (state === STATE_FAILED) throw EndpointLifecycle.peerFailedError(v >>> 8);
  }

  /**
   * Every send's check, one call (docs/protocol.md 6): throwIfUnusable (this side closed or
   * failed), then checkPeerForSend (the peer's state word loaded once, S1, and peer_closed /
   * peer_failed when it ended).
   */
  checkSendable(): void {
    this.throwIfUnusable();
    this.checkPeerForSend();
  }

  /** True when a validated peer state word says closed or failed. */
  static ended(peerWord: number): boolean {
    const state = peerWord & 0xff;
    return state === STATE_CLOSED || state === STATE_FAILED;
  }

  static peerFailedError(reason: number): ChannelClosedError {
    // A valid state word may say failed without a reason (0): name that too.
    return new ChannelClosedError('peer_failed', `peer failed (${reason === 0 ? 'no reason given' : failureReasonName(reason)})`, reason);
  }

  /** Name of a state number, for messages. */
  static stateName(state: number): string {
    return STATE_NAMES[state] ?? `invalid(${state})`;
  }
}

/**
 * One sleeper role's park (section 5.2): the sending role's while it waits for room, the
 * receiving role's while it waits for data. Announce in the role's parked word, read its
 * wake sequence, re-check the peer's index and state; sleep on the sequence only when the
 * re-check found nothing.
 */
export class Parking {
  /** The wake sequence as the last announce() read it (what to wait on). */
  private seqSeen = 0;

  /**
   * `parkedWord` and `waitWord` (the wake sequence) are the role's Int32 word indices;
   * `progress` reloads the peer's index and says whether it moved (made once by the role:
   * parking allocates nothing).
   */
  constructor(
    private readonly life: EndpointLifecycle,
    private readonly parkedWord: number,
    readonly waitWord: number,
    private readonly progress: () => boolean,
  ) {}

  /** The wake sequence as the last park read it (for Atomics.wait on waitWord). */
  get waitValue(): number {
    return this.seqSeen;
  }

  /**
   * The first half of a park: announces it in the parked word (seq_cst), then reads the
   * wake sequence, before the caller's re-check. Atomics are sequentially consistent, so
   * either the re-check sees the peer's publication or state change, or the peer's load of
   * the parked word (after its store) sees 1 and it bumps the sequence after our read: a
   * wait on the value read here then returns at once or is woken.
   */
  announce(): void {
    const life = this.life;
    life.throwIfUnusable();
    // SYNC: park-announce (partner: as producer, the consumer's Atomics.load of
    // producer_parked after it stores read_index, RingReader.release; as consumer, the
    // producer's Atomics.load of consumer_parked after it stores write_index,
    // RingWriter.publish; either way the peer's load after its state-publish, ringPeer).
    Atomics.store(life.ctrl, this.parkedWord, 1);
    // SYNC: wake-seq (partner: the peer's bump of it when it rings, wakeRole / the C++
    // core's EndpointLifecycle::ring_peer). Read before the re-check.
    this.seqSeen = Atomics.load(life.ctrl, this.waitWord);
  }

  /**
   * announce(), then the re-check: `progress` reloads the peer's index (seq_cst); the
   * peer's state is loaded after it, always (S1 is checked on every park). True when the
   * caller must not sleep (progress, or the peer ended); the parked word is then cleared.
   * Otherwise sleep on waitWord while it equals waitValue, with a timeout, then unpark().
   */
  park(): boolean {
    this.announce();
    let wake = true;
    try {
      const progressed = this.progress();
      wake = EndpointLifecycle.ended(this.life.loadPeerState()) || progressed;
    } finally {
      if (wake) this.unpark();
    }
    return wake;
  }

  unpark(): void {
    Atomics.store(this.life.ctrl, this.parkedWord, 0);
  }

  /**
   * Blocks until the peer may have made progress or changed state, or the timeout elapsed:
   * park, Atomics.wait on the wake sequence, unpark. Returns false on timeout. For threads
   * that may block (workers), not a window's main thread.
   */
  wait(timeoutMs: number): boolean {
    if (this.park()) return true;
    try {
      return Atomics.wait(this.life.ctrl, this.waitWord, this.seqSeen, timeoutMs) !== 'timed-out';
    } finally {
      this.unpark();
    }
  }
}
