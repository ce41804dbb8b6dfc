// The receiving role of an Endpoint (endpoint.ts): the incoming ring's reader and its
// framer (C8-C10, reassembly or a FragmentSink), delivering messages, releasing what was
// read with its doorbell, end of stream after the peer's close (docs/protocol.md 6),
// waiting for data (park, or a blocking wait in a worker) and putting back an overwritten
// read_index. The C++ twin is native/include/smc/endpoint_receiver.hpp with
// native/src/endpoint_receiver.cpp.

import { STATE_FAILED } from './layout';
import { FrameReader, type FrameReaderOptions } from './framer';
import type { InPlaceHandler, MessageHandler, RingReader } from './ring';
import { EndpointLifecycle } from './endpoint-lifecycle';

/** Returned by Endpoint.poll when the peer closed and everything it sent was delivered. */
export const EOF = -1;

export class EndpointReceiver {
  /** Consumer of the incoming ring. */
  readonly reader: RingReader;
  /** Messages out of the incoming ring (C8-C10, reassembly or a FragmentSink). */
  readonly frameReader: FrameReader;
  private readonly life: EndpointLifecycle;
  /**
   * 0, or the peer's (validated) state word once poll saw it closed/failed: later empty
   * polls mean end-of-stream.
   */
  private peerEnd = 0;
  /** The consumer wake sequence read by the last park (what to wait on). */
  private seqSeen = 0;
  /** park's re-check: reload write_index (made once: parking allocates nothing). */
  private readonly reloadWrite = (): boolean => this.reader.refresh() > 0;

  constructor(life: EndpointLifecycle, reader: RingReader, options: FrameReaderOptions) {
    this.life = life;
    this.reader = reader;
    this.frameReader = new FrameReader(reader, options);
  }

  /**
   * Delivers incoming messages (see FrameReader.poll; views are valid only during the
   * handler call). Rings the peer producer if it was parked. Returns the number of
   * messages delivered, or EOF (-1) once the peer closed and everything it published
   * before closing was delivered (6). Throws ChannelClosedError('peer_failed') instead
   * of EOF when the peer failed.
   */
  poll(handler: MessageHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    this.life.throwIfUnusable();
    let n: number;
    try {
      n = this.frameReader.poll(handler, maxMessages, maxBytes);
    } finally {
      if (this.reader.peerNeedsWake) this.life.wakeRole(this.life.inWords.producerWakeSeq);
    }
    return this.afterPoll(n);
  }

  /** poll() with messages handed over in place (FrameReader.pollInPlace). */
  pollInPlace(handler: InPlaceHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    this.life.throwIfUnusable();
    let n: number;
    try {
      n = this.frameReader.pollInPlace(handler, maxMessages, maxBytes);
    } finally {
      if (this.reader.peerNeedsWake) this.life.wakeRole(this.life.inWords.producerWakeSeq);
    }
    return this.afterPoll(n);
  }

  /** What poll returns after delivering `n`: n, or EOF once the peer ended and all was delivered. */
  private afterPoll(n: number): number {
    const r = this.reader;
    if (n > 0 || !r.drained) return n;
    if (this.peerEnd === 0) {
      const v = this.life.loadPeerState();
      if (!EndpointLifecycle.ended(v)) return 0;
      this.peerEnd = v;
      // Drain what the peer published before closing: write_index is reloaded by the
      // next poll AFTER the state load above, so nothing published before the close is
      // missed. Return now; the caller polls again and gets EOF once empty.
      if (r.refresh() > 0) return 0;
    }
    if ((this.peerEnd & 0xff) === STATE_FAILED) {
      this.frameReader.end('peer_failed');
      throw EndpointLifecycle.peerFailedError(this.peerEnd >>> 8);
    }
    this.frameReader.end('peer_closed');
    return EOF;
  }

  /** Int32 index of the word to Atomics.wait on while parked as consumer (incoming consumer_wake_seq). */
  get waitWord(): number {
    return this.life.inWords.consumerWakeSeq;
  }

  /** The consumer wake sequence as park read it (for Atomics.wait on waitWord). */
  get waitValue(): number {
    return this.seqSeen;
  }

  /**
   * Consumer waiting for data: sets our consumer_parked word (seq_cst), then re-reads
   * write_index and the peer's state. Returns true when the caller must NOT sleep (data
   * arrived meanwhile, or the peer is closed/failed); the parked word is then cleared.
   * Otherwise sleep on waitWord while it equals waitValue, with a timeout, then unpark().
   */
  park(): boolean {
    const { life } = this;
    const parked = life.inWords.consumerParked;
    this.seqSeen = life.announcePark(parked, life.inWords.consumerWakeSeq);
    return life.recheckPark(parked, this.reloadWrite);
  }

  /**
   * For a side that does not consume now but wants to learn of the peer's end at once:
   * sets consumer_parked (seq_cst), so the peer rings on its next publication and on any
   * change of its state (2.2), then loads the peer's state. True when the peer has ended
   * (closed or failed): check it instead of waiting. An invalid state word throws (S1).
   */
  parkForPeerState(): boolean {
    const { life } = this;
    this.seqSeen = life.announcePark(life.inWords.consumerParked, life.inWords.consumerWakeSeq);
    return EndpointLifecycle.ended(life.loadPeerState());
  }

  unpark(): void {
    Atomics.store(this.life.ctrl, this.life.inWords.consumerParked, 0);
  }

  /** The read_index counterpart of EndpointSender.restorePublished (rings a parked producer). */
  restoreReleased(): boolean {
    if (!this.reader.restoreReleased()) return false;
    if (this.reader.peerNeedsWake) this.life.wakeRole(this.life.inWords.producerWakeSeq);
    return true;
  }

  /**
   * Blocks until incoming data may be available, the peer changed state, or the timeout
   * elapsed: park, Atomics.wait on the consumer wake sequence, unpark. Returns false on
   * timeout. For threads that may block (workers), not a window's main thread.
   */
  waitForData(timeoutMs: number): boolean {
    if (this.park()) return true;
    try {
      return Atomics.wait(this.life.ctrl, this.waitWord, this.waitValue, timeoutMs) !== 'timed-out';
    } finally {
      this.unpark();
    }
  }
}
