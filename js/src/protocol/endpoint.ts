// One side (R or N) of a channel over an attached region (docs/protocol.md sections 2.2,
// 5, 6, 7.3). Three roles do the work, one job each, as in the C++ twin
// (native/include/smc/endpoint.hpp): the lifecycle (endpoint-lifecycle.ts: attach, state
// words, close, failure, doorbells), the sender (endpoint-sender.ts) and the receiver
// (endpoint-receiver.ts). Endpoint makes the three and keeps the API they had as one
// class: each method hands over to the role that does the job.

import { ProtocolError } from '../errors';
import { REASON_LOCAL_ERROR, type Region, type Side } from './layout';
import type { FrameReader, FrameWriter } from './framer';
import { RingReader, RingWriter, type InPlaceHandler, type MessageHandler, type RingWords } from './ring';
import { EndpointLifecycle, type EndpointOptions, type EndpointState, type PeerState } from './endpoint-lifecycle';
import { EndpointSender } from './endpoint-sender';
import { EndpointReceiver } from './endpoint-receiver';

export { EndpointLifecycle, type EndpointOptions, type EndpointState, type PeerState, type RingStart } from './endpoint-lifecycle';
export { EndpointSender } from './endpoint-sender';
export { EndpointReceiver, EOF } from './endpoint-receiver';

export class Endpoint {
  readonly side: Side;
  readonly region: Region;
  /** State words, failure, doorbells. */
  readonly lifecycle: EndpointLifecycle;
  /** The sending role: writer, frameWriter, sends, publication, waiting for room. */
  readonly sender: EndpointSender;
  /** The receiving role: reader, frameReader, delivery, end of stream, waiting for data. */
  readonly receiver: EndpointReceiver;
  /** Producer of the outgoing ring (R2N for side R, N2R for side N). */
  readonly writer: RingWriter;
  /** Consumer of the incoming ring. */
  readonly reader: RingReader;
  /** Messages of any size into the outgoing ring (fragments, the CANCEL owed). */
  readonly frameWriter: FrameWriter;
  /** Messages out of the incoming ring (C8-C10, reassembly or a FragmentSink). */
  readonly frameReader: FrameReader;
  readonly outWords: RingWords;
  readonly inWords: RingWords;

  /**
   * Attaches `side` (2.2). Throws RegionError (code bad_region, reason index_misaligned or
   * index_out_of_range) when the ring indices fail the attach checks A1/A2 (7.1): nothing
   * is written then.
   */
  constructor(region: Region, side: Side, options: EndpointOptions = {}) {
    const life = new EndpointLifecycle(region, side, options);
    this.lifecycle = life;
    this.side = side;
    this.region = region;
    this.outWords = life.outWords;
    this.inWords = life.inWords;
    const isR = side === 'R';
    const ringFail = (err: ProtocolError): void => life.enterFailed(err);
    const writer = new RingWriter(life.ctrl, life.outWords, isR ? region.r2nData : region.n2rData, life.outCapacity, {
      onFailure: ringFail,
      start: life.outStart,
    });
    const reader = new RingReader(life.ctrl, life.inWords, isR ? region.n2rData : region.r2nData, life.inCapacity, {
      onFailure: ringFail,
      start: life.inStart,
    });
    this.sender = new EndpointSender(life, writer);
    this.receiver = new EndpointReceiver(life, reader, {
      ...(options.maxMessage === undefined ? {} : { maxMessage: options.maxMessage }),
      ...(options.keepAssembly === undefined ? {} : { keepAssembly: options.keepAssembly }),
    });
    this.writer = writer;
    this.reader = reader;
    this.frameWriter = this.sender.frameWriter;
    this.frameReader = this.receiver.frameReader;
    life.publishAttached({ writer, reader, frameReader: this.frameReader });
  }

  // ---------------------------------------------------------------------------------
  // Lifecycle (EndpointLifecycle)

  /** This side's generation after attaching (incremented on every attach). */
  get generation(): number {
    return this.lifecycle.generation;
  }

  get state(): EndpointState {
    return this.lifecycle.state;
  }

  /** The error this endpoint failed with, if it failed. */
  get error(): ProtocolError | null {
    return this.lifecycle.error;
  }

  /** Fails the endpoint with a section 7.2 reason (e.g. local_error) and returns the error. */
  fail(reason: number = REASON_LOCAL_ERROR, detail?: string): ProtocolError {
    return this.lifecycle.fail(reason, detail);
  }

  /**
   * Loads the peer's state word (acquire), validating it (S1): an invalid value fails this
   * endpoint with peer_state_invalid and throws that ProtocolError.
   */
  peerState(): PeerState {
    const v = this.lifecycle.loadPeerState();
    return { state: v & 0xff, reason: v >>> 8 };
  }

  /** Name of a state number, for messages. */
  static stateName(state: number): string {
    return EndpointLifecycle.stateName(state);
  }

  /**
   * Closes this side (6): publishes every record written (a send that succeeded is not
   * lost by a clean close), stores `closed`, rings the peer. Idempotent; a failed endpoint
   * stays failed.
   */
  close(): void {
    const life = this.lifecycle;
    if (life.state !== 'attached') return;
    if (this.writer.hasUnpublished) {
      try {
        this.sender.flush();
      } catch {
        // failure already recorded by enterFailed
      }
      if (life.state !== 'attached') return;
    }
    life.markClosed();
    this.frameReader.end('closed');
    life.publishClosed();
  }

  /**
   * Puts this side's own index words (outgoing write_index, incoming read_index) back if
   * something overwrote them, and rings the peer if it is parked on one (section 7.4).
   * An index moved back to a value the peer never saw passes the peer's checks and leaves
   * both sides waiting on each other (the producer for space, the consumer for data), so
   * a side that has been parked for a park timeout calls this. True if a word was restored.
   */
  restoreOwnIndices(): boolean {
    if (this.lifecycle.state !== 'attached') return false;
    const wrote = this.sender.restorePublished();
    const released = this.receiver.restoreReleased();
    return wrote || released;
  }

  // ---------------------------------------------------------------------------------
  // Sending (EndpointSender: the methods there say more)

  /** Throws ChannelClosedError if the peer closed or failed (a producer must stop, 6). */
  checkPeerForSend(): void {
    this.lifecycle.checkPeerForSend();
  }

  /** One message of at most writer.maxPayload bytes; false when the ring is full. Then flush(). */
  trySend(bytes: Uint8Array): boolean {
    return this.sender.trySend(bytes);
  }

  /** Messages list[from .. to) back to back while they fit; returns how many. Then flush(). */
  trySendMany(list: ArrayLike<Uint8Array>, from: number, to: number): number {
    return this.sender.trySendMany(list, from, to);
  }

  /** Zero-copy: the payload offset in writer.data for up to n bytes, or -1 when full. */
  reserveOffset(n: number): number {
    return this.sender.reserveOffset(n);
  }

  /** reserveOffset's view form: the n payload bytes in the ring, or null when full. */
  reserve(n: number): Uint8Array | null {
    return this.sender.reserve(n);
  }

  /** Commits the reservation; after close() throws `closed` and writes nothing. Then flush(). */
  commit(used?: number): void {
    this.sender.commit(used);
  }

  /** Starts a message of any size (continue with frameWriter.continueLarge()). */
  beginLarge(bytes: Uint8Array): void {
    this.sender.beginLarge(bytes);
  }

  /** Publishes everything written (one store); true if the parked peer consumer was rung. */
  flush(): boolean {
    return this.sender.flush();
  }

  /** Int32 index of the word to Atomics.wait on while parked as producer (outgoing producer_wake_seq). */
  get producerWaitWord(): number {
    return this.sender.parking.waitWord;
  }

  /** The producer wake sequence as parkProducer read it (for Atomics.wait on producerWaitWord). */
  get producerWaitValue(): number {
    return this.sender.parking.waitValue;
  }

  /** Announces a producer park and re-checks; true: do not sleep (EndpointSender.parking). */
  parkProducer(): boolean {
    return this.sender.parking.park();
  }

  unparkProducer(): void {
    this.sender.parking.unpark();
  }

  /** Blocks until the consumer may have released space (workers); false on timeout. */
  waitForSpace(timeoutMs: number): boolean {
    return this.sender.waitForSpace(timeoutMs);
  }

  /** A message of any size, blocking while the ring is full (workers); false on timeout. */
  sendSync(bytes: Uint8Array, waitTimeoutMs = 100, maxWaits = Infinity): boolean {
    return this.sender.sendSync(bytes, waitTimeoutMs, maxWaits);
  }

  // ---------------------------------------------------------------------------------
  // Receiving (EndpointReceiver: the methods there say more)

  /** Delivers incoming messages; the count, or EOF once the peer closed and all was delivered. */
  poll(handler: MessageHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.receiver.poll(handler, maxMessages, maxBytes);
  }

  /** poll() with messages handed over in place (FrameReader.pollInPlace). */
  pollInPlace(handler: InPlaceHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.receiver.pollInPlace(handler, maxMessages, maxBytes);
  }

  /** Int32 index of the word to Atomics.wait on while parked as consumer (incoming consumer_wake_seq). */
  get consumerWaitWord(): number {
    return this.receiver.parking.waitWord;
  }

  /** The consumer wake sequence as parkConsumer read it (for Atomics.wait on consumerWaitWord). */
  get consumerWaitValue(): number {
    return this.receiver.parking.waitValue;
  }

  /** Announces a consumer park and re-checks; true: do not sleep (EndpointReceiver.parking). */
  parkConsumer(): boolean {
    return this.receiver.parking.park();
  }

  /** Parks as consumer to be rung on the peer's end; true when it has ended already. */
  parkForPeerState(): boolean {
    return this.receiver.parkForPeerState();
  }

  unparkConsumer(): void {
    this.receiver.parking.unpark();
  }

  /** Blocks until incoming data may be available (workers); false on timeout. */
  waitForData(timeoutMs: number): boolean {
    return this.receiver.parking.wait(timeoutMs);
  }
}
