// The API the Electron preload exposes to the page as window.smcNative (and, in the
// isolated-world e2e, the content script): the contract both sides compile against.
// Every argument crosses a world boundary by copy, so only strings and numbers go in;
// the buffer itself goes by window.postMessage({ smcAttach: token, buffer }).

import type { PeerStats } from 'shared-memory-channel/browser';

export type { PeerStats };

/** The peer the page asks for: a built-in handler, or one of the app's plugins by name. */
export type PeerRequest = { handler: 'echo' | 'sink' } | { plugin: string; config?: Record<string, unknown> };

/** attach()'s request, as JSON: the ring sizes the page initialized and the peer. */
export interface AttachRequestJson {
  rings: { r2n: number; n2r: number };
  peer: PeerRequest;
}

export interface SmcNativeApi {
  /** Resolves once the buffer posted for `token` arrived and the peer attached to it. */
  attach(token: string, requestJson: string): Promise<void>;
  /** The peer sleeps on `word` (R2N write_index or N2R read_index): wake it. */
  wake(token: string, word: number): void;
  /** Stops the peer; idempotent. */
  close(token: string): void;
  stats(token: string): PeerStats;
  /** Replaces the peer's plugin with the app's plugin `name`, configured by `configJson`. */
  loadPlugin(token: string, name: string, configJson: string): void;
  /** Unloads the peer's plugin; true if one was loaded. */
  unloadPlugin(token: string): boolean;
}
