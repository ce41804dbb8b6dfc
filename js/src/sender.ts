// The non-blocking send path of a channel: a message goes into the ring at once when it
// fits and nothing is queued ahead of it; otherwise into the JS send queue (send-queue.ts),
// written as the peer frees space. Publication is batched: one index store (and at most
// one wake-up of the peer) per microtask, however many messages were written.
import type { ChannelCore } from './channel-core';
import { SendQueue } from './send-queue';
import { scheduleTask } from './scheduler';

export class Sender {
  readonly queue: SendQueue;
  /** send() returned false (queue at highWaterMark): emit 'drain' once it empties. */
  private needDrainEvent = false;
  private publishScheduled = false;
  private queueEmptyCallbacks: Array<() => void> = [];

  private readonly publishTask = (): void => {
    this.publishScheduled = false;
    const core = this.core;
    if (core.closed) return;
    this.publishNow();
    // A channel that only sends learns here that its peer is gone (a receiving one learns
    // it from poll), and asks to be rung when that happens later (doorbell mode): one
    // store and one load of shared words per event-loop turn with sends.
    if (!core.closed && !core.receiving) core.guarded(() => core.drainLoop.checkPeerAndPark());
  };

  constructor(private readonly core: ChannelCore) {
    const counters = core.counters;
    this.queue = new SendQueue(
      core.endpoint,
      core.maxPayload,
      (n) => counters.countSent(n),
      () => this.publishNow(),
    );
  }

  /** send(): the message in the ring or the queue; false at highWaterMark or on a failure. */
  send(bytes: Uint8Array): boolean {
    try {
      if (this.writeNow(bytes)) return true;
      if (this.queue.bytes >= this.core.settings.highWaterMark) {
        this.needDrainEvent = true;
        return false;
      }
      this.enqueue(bytes.slice(), null, null);
      return !this.core.closed;
    } catch (e) {
      this.core.failFromSend(e);
      return false;
    }
  }

  /**
   * sendMany(): the batch (each element at most one record) into the ring back to back,
   * published at once (one index store, one check of the peer's parked word); what does
   * not fit goes into the JS queue as send() would, up to highWaterMark. Returns how many
   * were accepted (written or queued): a prefix of the batch.
   */
  sendMany(list: readonly Uint8Array[]): number {
    const core = this.core;
    const count = list.length;
    let i = 0;
    try {
      if (this.queue.length === 0) {
        i = core.endpoint.trySendMany(list, 0, count);
        if (i > 0) {
          let bytes = 0;
          for (let k = 0; k < i; k++) bytes += list[k]!.length;
          core.counters.messagesSent += i;
          core.counters.bytesSent += bytes;
          this.publishNow();
          this.schedulePublish(); // a send-only channel's check of the peer, once per turn
        }
      }
      if (i === count || core.closed) return i;
      const wasEmpty = this.queue.length === 0;
      const highWaterMark = core.settings.highWaterMark;
      for (; i < count; i++) {
        if (this.queue.bytes >= highWaterMark) {
          this.needDrainEvent = true;
          break;
        }
        this.queue.push(list[i]!.slice(), null, null);
      }
      if (this.queue.length > 0) {
        if (wasEmpty) core.updateActivity(); // pending sends: pinned, and ref'd (auto)
        this.pump(core.settings.drainBudgetMs);
        if (this.queue.length > 0) core.drainLoop.waitForSpace();
      }
      return i;
    } catch (e) {
      core.failFromSend(e);
      return i;
    }
  }

  /** sendAsync(): resolves once the message is in the ring. */
  sendAsync(bytes: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        if (this.writeNow(bytes)) resolve();
        // A message larger than a record is written from the caller's bytes, fragment by
        // fragment, and the promise resolves when the last one is in the ring: copying it
        // into the queue first would cost a fresh buffer as large as the message (its page
        // faults dominated large sends, docs/benchmarks.md).
        else this.enqueue(bytes.length > this.core.maxPayload ? bytes : bytes.slice(), resolve, reject);
      } catch (e) {
        this.core.failFromSend(e, true);
        // A no-op if fail() rejected it as queued; the peer's end itself while the drain
        // still delivers what the peer sent before it.
        reject(this.core.closed ? this.core.closedError('sendAsync') : e);
      }
    });
  }

  /** The fast path: the whole message into the ring now (nothing queued ahead of it),
   *  published at the end of this turn with the others. */
  writeNow(bytes: Uint8Array): boolean {
    if (this.queue.length > 0 || !this.tryWriteWhole(bytes)) return false;
    this.core.counters.countSent(bytes.length);
    this.schedulePublish();
    return true;
  }

  /** Writes a whole message now if it fits; never leaves part of it in the ring. */
  private tryWriteWhole(bytes: Uint8Array): boolean {
    const { endpoint, maxPayload, region } = this.core;
    if (bytes.length <= maxPayload) return endpoint.trySend(bytes);
    const ring = endpoint.writer;
    const w = endpoint.frameWriter;
    // Larger than a record: only if every fragment fits now (the queue copies otherwise).
    const records = Math.ceil((bytes.length + 8) / maxPayload);
    const need = bytes.length + 16 * records + region.r2nCapacity / 4;
    if (ring.freeBytesCached < need) {
      ring.refresh();
      if (ring.freeBytesCached < need) return false;
    }
    endpoint.beginLarge(bytes);
    if (w.continueLarge()) return true;
    // Cannot happen with the margin above; stay correct anyway: never a partial message.
    w.cancelLarge();
    return false;
  }

  /** Queues a message and writes what fits. Throws what the endpoint throws. */
  private enqueue(bytes: Uint8Array, resolve: (() => void) | null, reject: ((e: Error) => void) | null): void {
    this.queue.push(bytes, resolve, reject);
    if (this.queue.length === 1) this.core.updateActivity(); // pending sends: pinned, and ref'd (auto)
    this.pump(this.core.settings.drainBudgetMs);
    if (this.queue.length > 0) this.core.drainLoop.waitForSpace();
  }

  /** Writes queued messages while there is room. Throws what the endpoint throws. */
  pump(budgetMs: number): void {
    const wrote = this.queue.pump(budgetMs);
    if (this.queue.length > 0) return;
    this.core.updateActivity();
    if (wrote) this.queueDrained();
  }

  private queueDrained(): void {
    if (this.needDrainEvent) {
      this.needDrainEvent = false;
      this.core.events.drain();
    }
    const cbs = this.queueEmptyCallbacks;
    this.queueEmptyCallbacks = [];
    for (const cb of cbs) cb();
  }

  /** Calls `cb` once when the JS send queue is empty (soon if it already is). */
  onQueueEmpty(cb: () => void): void {
    if (this.queue.length === 0) scheduleTask(cb);
    else this.queueEmptyCallbacks.push(cb);
  }

  schedulePublish(): void {
    if (this.publishScheduled) return;
    this.publishScheduled = true;
    queueMicrotask(this.publishTask);
  }

  /** One index store; rings the peer through the endpoint's `wake` if it is parked. */
  publishNow(): void {
    const core = this.core;
    if (core.closed) return;
    core.guarded(() => core.endpoint.flush());
  }

  /** The channel ended: drop the queue, rejecting pending sendAsync promises with `err`. */
  clear(err: Error): void {
    this.queue.clear(err);
    this.queueEmptyCallbacks = [];
  }
}
