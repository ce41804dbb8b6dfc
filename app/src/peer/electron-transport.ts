// The page side of a channel whose peer is the native addon in this renderer's preload
// (docs/electron.md). contextIsolation keeps the page and the preload in separate JS
// worlds of ONE process, so:
//   - the page hands its SharedArrayBuffer to the preload with window.postMessage, which
//     shares (not copies) a SAB inside a cross-origin-isolated process; contextBridge
//     would copy it;
//   - page -> native wake: a function the preload exposed with contextBridge (a direct,
//     synchronous call into the preload, which does the futex wake through the addon);
//   - native -> page doorbell: the addon's ThreadSafeFunction runs in the preload, which
//     does Atomics.notify on the words; the page awaits them with Atomics.waitAsync.
import type { PeerTransport, TransportStartOptions } from 'shared-memory-channel/browser';
import type { PeerConfig } from './peer-protocol';
import { AtomicsPeerTransport } from './wait-async-doorbell';

/** What preload.ts exposes as window.smcNative. */
export interface SmcNativeBridge {
  /** Attach token -> resolves when the native side attached to the posted buffer. */
  attach(token: string, config: string): Promise<void>;
  wake(token: string, word: number): void;
  close(token: string): void;
  stats(token: string): Record<string, number | string | boolean>;
}

export function electronBridge(): SmcNativeBridge | null {
  const w = globalThis as unknown as { smcNative?: SmcNativeBridge };
  return w.smcNative ?? null;
}

export class ElectronTransport extends AtomicsPeerTransport implements PeerTransport {
  private readonly token = `smc-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  private attached: Promise<void> = Promise.resolve();

  constructor(
    private readonly bridge: SmcNativeBridge,
    private readonly config: PeerConfig,
  ) {
    super();
  }

  whenAttached(): Promise<void> {
    return this.attached;
  }

  start({ buffer, doorbell }: TransportStartOptions): void {
    this.bindRegion(buffer, doorbell);
    // Post first (the preload's message listener stores the buffer under the token), then
    // ask it to attach.
    window.postMessage({ smcAttach: this.token, buffer }, window.location.origin);
    this.attached = this.bridge.attach(this.token, JSON.stringify(this.config));
  }

  wake(word: number): void {
    if (!this.closed) this.bridge.wake(this.token, word);
  }

  close(): void {
    if (this.markClosed()) this.bridge.close(this.token);
  }

  stats(): Record<string, number | string | boolean> {
    return this.closed ? {} : this.bridge.stats(this.token);
  }
}
