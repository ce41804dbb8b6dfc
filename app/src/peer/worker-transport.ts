// The page side of a channel whose peer is a Web Worker running the protocol's native
// side in TypeScript (peer-worker.ts). Both sides are JS threads of one process, so
// wakes are Atomics.notify on the wake sequence the sleeper waits on, which the waking
// endpoint bumped first (docs/protocol.md 5.2, 5.3):
//   page -> worker: the worker sleeps in Atomics.wait; wake() notifies the word.
//   worker -> page: the page may not block; when the channel parks it calls parked(),
//                   and we await Atomics.waitAsync on that word, then ring the doorbell.
import type { PeerTransport, TransportStartOptions } from 'shared-memory-channel/browser';
import type { PeerConfig } from './peer-protocol';
import { AtomicsPeerTransport } from './wait-async-doorbell';

export class WorkerTransport extends AtomicsPeerTransport implements PeerTransport {
  private readonly attached: Promise<void>;
  private resolveAttached!: () => void;
  private rejectAttached!: (e: Error) => void;
  private peerStats: Record<string, number | string | boolean> = {};

  constructor(
    private readonly worker: Worker,
    private readonly config: PeerConfig,
  ) {
    super();
    this.attached = new Promise<void>((resolve, reject) => {
      this.resolveAttached = resolve;
      this.rejectAttached = reject;
    });
    worker.onmessage = (ev: MessageEvent) => {
      const m = ev.data as { type: string; error?: string; stats?: Record<string, number | string | boolean> };
      if (m.type === 'attached') this.resolveAttached();
      else if (m.type === 'error') this.rejectAttached(new Error(`worker peer: ${m.error ?? 'unknown error'}`));
      else if (m.type === 'stats' && m.stats) this.peerStats = m.stats;
    };
    worker.onerror = (ev) => this.rejectAttached(new Error(`worker peer failed to start: ${ev.message}`));
  }

  /** Resolves once the worker attached to the region. */
  whenAttached(): Promise<void> {
    return this.attached;
  }

  start({ buffer, doorbell }: TransportStartOptions): void {
    this.bindRegion(buffer, doorbell);
    // A SharedArrayBuffer posted to a worker is shared, not copied (cross-origin isolated).
    this.worker.postMessage({ type: 'attach', buffer, config: this.config });
  }

  wake(word: number): void {
    if (this.ctrl) Atomics.notify(this.ctrl, word);
  }

  close(): void {
    // Release our own pending waitAsync promises; the channel already closed its side, so
    // the worker sees `closed`, drains, and exits its loop.
    if (!this.markClosed()) return;
    const worker = this.worker;
    setTimeout(() => worker.terminate(), 1000);
  }

  /** The worker reports its counters every 250 ms on its own (its loop blocks in
   *  Atomics.wait, so it cannot answer requests promptly): this is that latest report. */
  stats(): Record<string, number | string | boolean> {
    return this.peerStats;
  }
}
