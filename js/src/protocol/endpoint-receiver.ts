// The receiving role of an Endpoint (endpoint.ts): the incoming ring's reader and its
// framer (C8-C10, reassembly or a FragmentSink), delivering messages, releasing what was
// read with its doorbell, end of stream after the peer's close (docs/protocol.md 6),
// waiting for data (park, or a blocking wait in a worker) and putting back an overwritten
// read_index. The C++ twin is native/include/smc/endpoint_receiver.hpp with
// native/src/endpoint_receiver.cpp.

import { STATE_FAILED } from './layout';
import { FrameReader, type FrameReaderOptions } from './framer';
import type { InPlaceHandler, MessageHandler, RingReader } from './ring';
import { EndpointLifecycle, Parking } from './endpoint-lifecycle';

/** Returned by Endpoint.poll when the peer closed and everything it sent was delivered. */
export const EOF = -1;

export class EndpointReceiver {
  /** Consumer of the incoming ring. */
  readonly reader: RingReader;
  /** Messages out of the incoming ring (C8-C10, reassembly or a FragmentSink). */
  readonly frameReader: FrameReader;
  /**
   * Waiting for data (section 5.2): park() sets our consumer_parked word (seq_cst), then
   * re-reads write_index and the peer's state; true when the caller must NOT sleep (data
   * arrived meanwhile, or the peer is closed/failed).
   */
  readonly parking: Parking;
  private readonly life: EndpointLifecycle;
  /**
   * 0, or the peer's (validated) state word once poll saw it closed/failed: later empty
   * polls mean end-of-stream.
   */
  private peerEnd = 0;

  constructor(life: EndpointLifecycle, reader: RingReader, options: FrameReaderOptions) {
    this.life = life;
    this.reader = reader;
    this.frameReader = new FrameReader(reader, options);
    this.parking = new Parking(life, life.inWords.consumerParked, life.inWords.consumerWakeSeq, () => reader.refresh() > 0);
  }

  /**
   * Delivers incoming messages (see FrameReader.poll; views are valid only during the
   * handler call). Rings the peer producer if it was parked. Returns the number of
   * messages delivered, or EOF (-1) once the peer closed and everything it published
   * before closing was delivered (6). Throws ChannelClosedError('peer_failed') instead
   * of EOF when the peer failed.
   */
  poll(handler: MessageHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.deliver(handler, null, maxMessages, maxBytes);
  }

  /** poll() with messages handed over in place (FrameReader.pollInPlace). */
  pollInPlace(handler: InPlaceHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.deliver(null, handler, maxMessages, maxBytes);
  }

  /** poll() and pollInPlace(): exactly one of `viewHandler`, `inPlace` is set. */
  private deliver(viewHandler: MessageHandler | null, inPlace: InPlaceHandler | null, maxMessages: number, maxBytes: number): number {
    // Every poll goes through the framer, whose peek loads write_index (once per batch,
    // RingReader.startBatch). An empty poll that loaded it here first and skipped the
    // framer cost half as much on one thread but made the cross-core spin round trip
    // slower: the framer's entry then ran after the load that sees the reply instead of
    // before it (docs/benchmarks.md, "The JS side's per-message cost").
    this.life.throwIfUnusable();
    let n: number;
    try {
      n = inPlace !== null ? this.frameReader.pollInPlace(inPlace, maxMessages, maxBytes) : this.frameReader.poll(viewHandler!, maxMessages, maxBytes);
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

  /**
   * For a side that does not consume now but wants to learn of the peer's end at once:
   * sets consumer_parked (seq_cst), so the peer rings on its next publication and on any
   * change of its state (2.2), then loads the peer's state. True when the peer has ended
   * (closed or failed): check it instead of waiting. An invalid state word throws (S1).
   */
  parkForPeerState(): boolean {
    this.parking.announce();
    return EndpointLifecycle.ended(this.life.loadPeerState());
  }

  /** The read_index counterpart of EndpointSender.restorePublished (rings a parked producer). */
  restoreReleased(): boolean {
    if (!this.reader.restoreReleased()) return false;
    if (this.reader.peerNeedsWake) this.life.wakeRole(this.life.inWords.producerWakeSeq);
    return true;
  }
}
