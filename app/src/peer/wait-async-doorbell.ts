// Turns "this page parked on a wake sequence" into a doorbell call when a JS peer (a Web
// Worker, or the Electron preload) bumps the word and wakes it with Atomics.notify. A window's main
// thread may not Atomics.wait; Atomics.waitAsync gives a promise instead.
export class WaitAsyncDoorbell {
  private readonly armed = new Set<number>();
  private closed = false;

  constructor(
    private readonly ctrl: Int32Array,
    private readonly ring: () => void,
  ) {}

  /** The channel parked on `word` while it held `value`: ring once it changes. */
  parked(word: number, value: number): void {
    if (this.closed || this.armed.has(word)) return;
    const r = Atomics.waitAsync(this.ctrl, word, value);
    if (!r.async) {
      // The word already changed: ring at once (on a fresh task, not re-entrantly).
      queueMicrotask(() => this.fire());
      return;
    }
    this.armed.add(word);
    void r.value.then(() => {
      this.armed.delete(word);
      this.fire();
    });
  }

  /** Releases pending waits; no doorbell rings afterwards. */
  close(): void {
    this.closed = true;
    for (const w of this.armed) Atomics.notify(this.ctrl, w);
    this.armed.clear();
  }

  private fire(): void {
    if (!this.closed) this.ring();
  }
}

/**
 * What the page-side transports whose peer rings with Atomics.notify (the Web Worker, the
 * Electron preload) share: the region's words, the WaitAsyncDoorbell that turns "parked"
 * into a doorbell call, and a closed flag. Subclasses attach their peer in start().
 */
export abstract class AtomicsPeerTransport {
  protected ctrl: Int32Array | null = null;
  protected closed = false;
  private waiter: WaitAsyncDoorbell | null = null;

  /** Binds the region and the channel's doorbell; call first in start(). */
  protected bindRegion(buffer: SharedArrayBuffer, doorbell: () => void): Int32Array {
    const ctrl = new Int32Array(buffer);
    this.ctrl = ctrl;
    this.waiter = new WaitAsyncDoorbell(ctrl, () => {
      if (!this.closed) doorbell();
    });
    return ctrl;
  }

  parked(word: number, value: number): void {
    this.waiter?.parked(word, value);
  }

  /** Marks the transport closed and releases pending waits; false if it already was. */
  protected markClosed(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.waiter?.close();
    return true;
  }
}
