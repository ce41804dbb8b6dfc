// Turns "this page parked on a shared word" into a doorbell call when a JS peer (a Web
// Worker, or the Electron preload) wakes the word with Atomics.notify. A window's main
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
