// The sending role of an Endpoint (endpoint.ts): the outgoing ring's writer and its
// framer (fragments, the CANCEL owed), whole sends, batches of messages, zero-copy
// reservations, publication with its doorbell, waiting for room (parkProducer, or a
// blocking wait in a worker) and putting back an overwritten write_index. Every send
// checks the peer's state first (docs/protocol.md 6). The C++ twin is
// native/include/smc/endpoint_sender.hpp with native/src/endpoint_sender.cpp.

import { FrameWriter } from './framer';
import type { RingWriter } from './ring';
import type { EndpointLifecycle } from './endpoint-lifecycle';

export class EndpointSender {
  /** Producer of the outgoing ring (R2N for side R, N2R for side N). */
  readonly writer: RingWriter;
  /** Messages of any size into the outgoing ring (fragments, the CANCEL owed). */
  readonly frameWriter: FrameWriter;
  private readonly life: EndpointLifecycle;
  /** The producer wake sequence read by the last parkProducer (what to wait on). */
  private seqSeen = 0;
  /** parkProducer's re-check: reload read_index (made once: parking allocates nothing). */
  private readonly reloadRead = (): boolean => this.writer.refresh();

  constructor(life: EndpointLifecycle, writer: RingWriter) {
    this.life = life;
    this.writer = writer;
    this.frameWriter = new FrameWriter(writer);
  }

  /**
   * Every send starts here: throws when this side cannot send (closed, failed) or the peer
   * has closed or failed (ChannelClosedError peer_closed / peer_failed: nobody will read,
   * section 6), so nothing is written after the peer's state says it ended.
   */
  private checkSendable(): void {
    this.life.throwIfUnusable();
    this.life.checkPeerForSend();
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
    this.life.throwIfUnusable();
    if (this.writer.publish()) {
      this.life.wakeRole(this.life.outWords.consumerWakeSeq);
      return true;
    }
    return false;
  }

  /** Int32 index of the word to Atomics.wait on while parked as producer (outgoing producer_wake_seq). */
  get waitWord(): number {
    return this.life.outWords.producerWakeSeq;
  }

  /** The producer wake sequence as parkProducer read it (for Atomics.wait on waitWord). */
  get waitValue(): number {
    return this.seqSeen;
  }

  /**
   * Producer waiting for space: sets our producer_parked word (seq_cst), then re-reads
   * read_index and the peer's state. Returns true when the caller must NOT sleep (the
   * consumer released space meanwhile, or the peer closed/failed); the parked word is
   * then already cleared. Otherwise sleep on waitWord while it still equals waitValue
   * (Atomics.wait in a worker), with a timeout, then unpark(). Publish before parking, or
   * the consumer has nothing to free.
   */
  park(): boolean {
    const { life } = this;
    const parked = life.outWords.producerParked;
    this.seqSeen = life.announcePark(parked, life.outWords.producerWakeSeq);
    return life.recheckPark(parked, this.reloadRead);
  }

  unpark(): void {
    Atomics.store(this.life.ctrl, this.life.outWords.producerParked, 0);
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
    if (this.park()) return true;
    try {
      return Atomics.wait(this.life.ctrl, this.waitWord, this.waitValue, timeoutMs) !== 'timed-out';
    } finally {
      this.unpark();
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
        this.life.checkPeerForSend();
        if (!this.waitForSpace(waitTimeoutMs) && ++waits >= maxWaits) return false;
      }
      return true;
    }
    w.beginLarge(bytes);
    let waits = 0;
    while (!w.continueLarge()) {
      this.life.checkPeerForSend();
      if (!this.waitForSpace(waitTimeoutMs) && ++waits >= maxWaits) {
        w.cancelLarge();
        this.flush();
        return false;
      }
    }
    return true;
  }
}
