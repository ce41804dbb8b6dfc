// The sending role of an Endpoint (endpoint.ts): the outgoing ring's writer and its
// framer (fragments, the CANCEL owed), whole sends, batches of messages, zero-copy
// reservations, publication with its doorbell, waiting for room (parkProducer, or a
// blocking wait in a worker) and putting back an overwritten write_index. Every send
// checks the peer's state first (docs/protocol.md 6). The C++ twin is
// native/include/smc/endpoint_sender.hpp with native/src/endpoint_sender.cpp.

import { FrameWriter } from './framer';
import type { RingWriter } from './ring';
import { Parking, type EndpointLifecycle } from './endpoint-lifecycle';

export class EndpointSender {
  /** Producer of the outgoing ring (R2N for side R, N2R for side N). */
  readonly writer: RingWriter;
  /** Messages of any size into the outgoing ring (fragments, the CANCEL owed). */
  readonly frameWriter: FrameWriter;
  /**
   * Waiting for room (section 5.2): park() sets our producer_parked word (seq_cst), then
   * re-reads read_index and the peer's state; true when the caller must NOT sleep (the
   * consumer released space meanwhile, or the peer closed/failed). Publish before parking,
   * or the consumer has nothing to free.
   */
  readonly parking: Parking;
  private readonly life: EndpointLifecycle;

  constructor(life: EndpointLifecycle, writer: RingWriter) {
    this.life = life;
    this.writer = writer;
    this.frameWriter = new FrameWriter(writer);
    this.parking = new Parking(life, life.outWords.producerParked, life.outWords.producerWakeSeq, () => writer.refresh());
  }

  /**
   * Writes one message of at most writer.maxPayload bytes. Returns false when the ring is
   * full. Throws (EndpointLifecycle.checkSendable, where every send starts) when this
   * side or the peer has ended: nothing is written after the peer's state says it ended
   * (section 6). Call flush() to publish.
   */
  trySend(bytes: Uint8Array): boolean {
    this.life.checkSendable();
    return this.frameWriter.tryWrite(bytes);
  }

  /**
   * Writes messages list[from .. to) (each at most writer.maxPayload bytes) back to back
   * while they fit (FrameWriter.tryWriteMany). Returns how many were written. Throws as
   * trySend. Call flush() to publish.
   */
  trySendMany(list: ArrayLike<Uint8Array>, from: number, to: number): number {
    this.life.checkSendable();
    return this.frameWriter.tryWriteMany(list, from, to);
  }

  /**
   * Zero-copy send (FrameWriter.reserveOffset): the offset in writer.data where a message of
   * up to `n` (<= maxPayload) bytes goes, or -1 when there is no room. Throws as trySend.
   * Then commit(used) or frameWriter.abort().
   */
  reserveOffset(n: number): number {
    this.life.checkSendable();
    return this.frameWriter.reserveOffset(n);
  }

  /** reserveOffset's view form (FrameWriter.reserve): the n payload bytes in the ring, or null when there is no room. */
  reserve(n: number): Uint8Array | null {
    this.life.checkSendable();
    return this.frameWriter.reserve(n);
  }

  /**
   * Commits the open reservation (`used` bytes, default all). After this side closed or
   * failed it drops the reservation, writes nothing and throws as trySend (`closed`, or the
   * failure): a commit after close is never published (docs/protocol.md 6). Call flush()
   * to publish.
   */
  commit(used?: number): void {
    if (this.life.state !== 'attached') this.frameWriter.abort();
    this.life.throwIfUnusable();
    this.frameWriter.commit(used);
  }

  /** Starts a message of any size (FrameWriter.beginLarge; continue with frameWriter.continueLarge). Throws as trySend. */
  beginLarge(bytes: Uint8Array): void {
    this.life.checkSendable();
    this.frameWriter.beginLarge(bytes);
  }

  /**
   * Publishes everything written (one store) and rings the peer consumer if it is parked.
   * Returns true if a doorbell was rung.
   */
  flush(): boolean {
    this.life.throwIfUnusable();
    if (this.writer.publish()) {
      this.life.wakeRole(this.life.outWords.consumerWakeSeq);
      return true;
    }
    return false;
  }

  /**
   * Stores the last published write_index again if the shared word was moved back, and
   * rings the consumer if it is parked (see Endpoint.restoreOwnIndices). True if it did.
   */
  restorePublished(): boolean {
    const { life } = this;
    if (!this.writer.restorePublished()) return false;
    // SYNC: park-announce (partner: the consumer's Atomics.store(consumer_parked, 1) in its
    // park, before its re-check): after restorePublished's store of write_index, either it
    // sees the restored index or we see it parked and wake it.
    if (Atomics.load(life.ctrl, life.outWords.consumerParked) !== 0) life.wakeRole(life.outWords.consumerWakeSeq);
    return true;
  }

  /** Blocks until the consumer may have released space (or timeout; returns false). Publishes first. */
  waitForSpace(timeoutMs: number): boolean {
    this.flush();
    return this.parking.wait(timeoutMs);
  }

  /**
   * Writes a message of any size (fragmenting if needed), blocking in waitForSpace while
   * the ring is full (for workers). Does not publish the last records: call flush().
   * Returns false if `maxWaits` waits timed out; a partly written fragmented message is
   * then cancelled (CANCEL owed/written). Throws ChannelClosedError if the peer closed or
   * failed, ProtocolError on a protocol violation.
   */
  sendSync(bytes: Uint8Array, waitTimeoutMs = 100, maxWaits = Infinity): boolean {
    let waits = 0;
    return this.sendWaiting(bytes, () => this.waitForSpace(waitTimeoutMs) || ++waits < maxWaits);
  }

  /**
   * Writes a message of any size (fragmenting if needed); each time the ring is full it
   * re-checks the peer's state (throws as trySend once the peer ended: nobody will free
   * space, section 6) and calls `waitForRoom`, which waits as its caller may (a blocking
   * wait in a worker, a spin then short sleeps for the channel's sendDirect) and returns
   * false to give up. Giving up returns false: nothing of a message of one record was
   * written; a fragmented one written in part is cancelled (its CANCEL owed or written)
   * and published. Does not publish the last records: call flush().
   */
  sendWaiting(bytes: Uint8Array, waitForRoom: () => boolean): boolean {
    this.life.checkSendable();
    const w = this.frameWriter;
    if (bytes.length <= w.maxPayload && !w.largePending) {
      while (!w.tryWrite(bytes)) {
        this.life.checkPeerForSend();
        if (!waitForRoom()) return false;
      }
      return true;
    }
    w.beginLarge(bytes);
    while (!w.continueLarge()) {
      this.life.checkPeerForSend();
      if (!waitForRoom()) {
        w.cancelLarge();
        this.flush();
        return false;
      }
    }
    return true;
  }
}
