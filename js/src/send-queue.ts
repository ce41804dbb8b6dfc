// The JS send queue of a channel: messages accepted by send()/sendAsync() while the ring
// had no room, written in order as the peer frees space. Back-pressure is the caller's:
// the channel refuses new messages past highWaterMark bytes (send() returns false).
import type { Endpoint } from './protocol/endpoint';
import { now } from './scheduler';

interface QueuedMessage {
  bytes: Uint8Array;
  started: boolean;
  resolve: (() => void) | null;
  reject: ((e: Error) => void) | null;
}

export class SendQueue {
  private items: QueuedMessage[] = [];
  private head = 0;
  private byteCount = 0;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly maxPayload: number,
    /** A whole message went into the ring. */
    private readonly onWritten: (bytes: number) => void,
    /** Publish what was written (one index store) and ring the peer if it sleeps. */
    private readonly publish: () => void,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.byteCount;
  }

  push(bytes: Uint8Array, resolve: (() => void) | null, reject: ((e: Error) => void) | null): void {
    this.items.push({ bytes, started: false, resolve, reject });
    this.byteCount += bytes.length;
  }

  /**
   * Writes queued messages while there is room, for up to `budgetMs`. A message larger
   * than a record is written fragment by fragment and may stay half-written (started)
   * until the peer frees space. Returns true when it wrote at least one whole message.
   * Throws what the endpoint throws (a protocol violation, the peer gone while the ring
   * is full); the caller fails the channel.
   */
  pump(budgetMs: number): boolean {
    const w = this.endpoint.frameWriter;
    const t0 = budgetMs === Infinity ? 0 : now();
    let wrote = false;
    while (this.head < this.items.length) {
      const q = this.items[this.head]!;
      let done: boolean;
      if (!q.started && q.bytes.length <= this.maxPayload) {
        done = this.endpoint.trySend(q.bytes);
      } else {
        if (!q.started) {
          this.endpoint.beginLarge(q.bytes);
          q.started = true;
        }
        done = w.continueLarge();
      }
      if (!done) {
        if (wrote || q.started) this.publish();
        break;
      }
      wrote = true;
      this.items[this.head] = undefined as unknown as QueuedMessage; // let GC have it
      this.head++;
      this.byteCount -= q.bytes.length;
      this.onWritten(q.bytes.length);
      q.resolve?.();
      if (budgetMs !== Infinity && now() - t0 > budgetMs) break;
    }
    if (wrote) this.publish();
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return wrote;
  }

  /** Drops everything queued, rejecting the sendAsync promises with `err`. */
  clear(err: Error): void {
    const items = this.items;
    const head = this.head;
    this.items = [];
    this.head = 0;
    this.byteCount = 0;
    for (let i = head; i < items.length; i++) items[i]?.reject?.(err);
  }
}
