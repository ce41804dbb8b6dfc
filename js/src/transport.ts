// How the JS side of a channel reaches its peer for the two things shared memory cannot
// do: start the peer, and wake it. Messages never go through a transport.
//
//   - AddonTransport (native.ts): the peer is a native thread in this process, started
//     by the Node-API addon; wakes are futex wakes through one addon call, the peer's
//     doorbell arrives as a ThreadSafeFunction call.
//   - Browser / Electron transports (the app): the peer is a Web Worker or a preload
//     script; wakes are Atomics.notify, doorbells arrive as Atomics.waitAsync.

export interface TransportStartOptions {
  /** The region: the whole SharedArrayBuffer, initialized by the channel. */
  buffer: SharedArrayBuffer;
  /** Called on this thread's event loop when the peer rang (it saw us parked). */
  doorbell: () => void;
}

export interface PeerTransport {
  /** Attaches the peer to the region. Throws if it cannot. */
  start(options: TransportStartOptions): void;
  /** The peer parked and we produced data / released space: wake it. `word` is the
   *  Int32 index of the shared word it sleeps on. */
  wake(word: number): void;
  /** This side just parked on shared word `word` (Int32 index), which held `value`: a
   *  transport whose peer rings with Atomics.notify arms Atomics.waitAsync here. */
  parked?(word: number, value: number): void;
  /** True when garbage-collecting the channel (dropped without cleanup()) stops the peer:
   *  the addon's native handle has a finalizer, so a channel nobody references is
   *  collected and its thread ends. Otherwise (a Web Worker, a preload: nothing stops them
   *  but close()) the channel keeps itself reachable until cleanup(): a collected channel
   *  would leave the peer running and drop the doorbells of whoever awaits its messages. */
  readonly finalizable?: boolean;
  /** Stops the peer and releases everything the transport holds. Idempotent. */
  close(): void;
  /** Keep the host event loop alive while the channel is open (Node), or not. */
  ref?(): void;
  unref?(): void;
  /** Peer-side counters for getStats().native. */
  stats?(): Record<string, number | string | boolean>;
  /** Native plugins (AddonTransport with handler 'plugin'): replace the peer's plugin;
   *  throws an Error naming the path if it cannot be loaded. */
  loadPlugin?(path: string, configJson: string): void;
  /** Unloads the peer's plugin; true if one was loaded. */
  unloadPlugin?(): boolean;
}
