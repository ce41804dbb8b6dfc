// The page side of a channel whose peer runs in this renderer's preload (docs/electron.md).
// contextIsolation keeps the page and the preload in separate JS worlds of ONE process, so:
//   - the page hands its SharedArrayBuffer to the preload with window.postMessage, which
//     shares (not copies) a SAB inside a cross-origin-isolated process; contextBridge
//     would copy it;
//   - page -> peer wake: a function the preload exposed (a synchronous call into the
//     preload, which does the futex wake through the addon);
//   - peer -> page doorbell: the addon's ThreadSafeFunction runs in the preload, which
//     does Atomics.notify on the wake sequences (the native side bumped them first); the
//     page awaits them with Atomics.waitAsync.
import type { PeerTransport, TransportStartOptions } from 'shared-memory-channel/browser';
import { W_N2R_CAPACITY, W_R2N_CAPACITY } from 'shared-memory-channel/protocol';
import type { AttachRequestJson, PeerRequest, PeerStats, SmcNativeApi } from './native-bridge-api';
import { AtomicsPeerTransport } from './wait-async-doorbell';

export type { SmcNativeApi } from './native-bridge-api';

export function electronBridge(): SmcNativeApi | null {
  const w = globalThis as unknown as { smcNative?: SmcNativeApi };
  return w.smcNative ?? null;
}

/** A fresh attach token: unguessable, so no other script can claim the posted buffer. */
function newToken(): string {
  const r = crypto.getRandomValues(new Uint32Array(4));
  return `smc-${[...r].map((x) => x.toString(36)).join('')}-${Date.now()}`;
}

export class ElectronTransport extends AtomicsPeerTransport implements PeerTransport {
  readonly token = newToken();
  private attached: Promise<void> | null = null;
  private ready = false;

  constructor(
    private readonly bridge: SmcNativeApi,
    private readonly peer: PeerRequest,
  ) {
    super();
  }

  /** Resolves once the preload's peer attached; rejects with the preload's reason. */
  whenAttached(): Promise<void> {
    return this.attached ?? Promise.reject(new Error('ElectronTransport: not started'));
  }

  start({ buffer, doorbell }: TransportStartOptions): void {
    const ctrl = this.bindRegion(buffer, doorbell);
    const request: AttachRequestJson = { rings: { r2n: ctrl[W_R2N_CAPACITY]!, n2r: ctrl[W_N2R_CAPACITY]! }, peer: this.peer };
    // The buffer and the call take different routes; the preload pairs them by token and
    // completes the attach only once the buffer is there (whichever comes first).
    window.postMessage({ smcAttach: this.token, buffer }, window.location.origin);
    this.attached = this.bridge.attach(this.token, JSON.stringify(request)).then(() => {
      this.ready = true;
    });
  }

  wake(word: number): void {
    if (!this.closed) this.bridge.wake(this.token, word);
  }

  close(): void {
    if (this.markClosed()) this.bridge.close(this.token);
  }

  stats(): PeerStats {
    // Before the attach completed there is no peer to ask.
    return this.closed || !this.ready ? {} : this.bridge.stats(this.token);
  }

  /** `name` is one of the app's plugins (the preload refuses anything else, paths too). */
  loadPlugin(name: string, configJson: string): void {
    this.bridge.loadPlugin(this.token, name, configJson);
  }

  unloadPlugin(): boolean {
    return this.bridge.unloadPlugin(this.token);
  }
}
