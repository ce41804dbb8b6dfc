// How the JS side of a channel reaches its peer for the two things shared memory cannot
// do: start the peer, and wake it. Messages never go through a transport.
//
//   - AddonTransport (native.ts): the peer is a native thread in this process, started
//     by the Node-API addon; wakes are futex wakes through one addon call, the peer's
//     doorbell arrives as a ThreadSafeFunction call.
//   - Browser / Electron transports (the app): the peer is a Web Worker or a preload
//     script; wakes are Atomics.notify, doorbells arrive as Atomics.waitAsync.

import type { ChannelError } from './errors';
import type { WakeMode } from './options';

export interface TransportStartOptions {
  /** The region: the whole SharedArrayBuffer, initialized by the channel. */
  buffer: SharedArrayBuffer;
  /** Called on this thread's event loop when the peer rang (it saw us parked). */
  doorbell: () => void;
  /** The channel's wake mode, incoming-message limit and reassembly keep limit, for a
   *  peer that adopts them (the addon's native thread spins in 'spin', refuses larger
   *  messages and keeps its reassembly buffer up to keepAssembly too). */
  wakeMode?: WakeMode;
  maxMessage?: number;
  keepAssembly?: number;
}

export interface PeerTransport {
  /** Attaches the peer to the region. Throws if it cannot. */
  start(options: TransportStartOptions): void;
  /** The peer parked and we produced data, released space or changed state: wake it.
   *  `word` is the Int32 index of the wake sequence it sleeps on, already bumped
   *  (docs/protocol.md 5.2). */
  wake(word: number): void;
  /** This side just parked: it waits on wake sequence `word` (Int32 index) while it holds
   *  `value`, the value read before the park's last look. A transport whose peer rings
   *  with Atomics.notify arms Atomics.waitAsync here. */
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
  /** The park timeout ran and JS is about to drain: a doorbell the transport believes is
   *  still on its way may be late or never arrive (a thread-safe-function call not
   *  dispatched); let the peer's next ring send a fresh one. A duplicate is harmless. */
  rearmDoorbell?(): void;
  /** Peer-side counters for getStats().peer (the fields of PeerStats it knows). */
  stats?(): PeerStats | Record<string, number | string | boolean>;
  /** Native plugins (AddonTransport with handler 'plugin'): replace the peer's plugin;
   *  throws an Error naming the path if it cannot be loaded. */
  loadPlugin?(path: string, configJson: string): void;
  /** Unloads the peer's plugin; true if one was loaded. */
  unloadPlugin?(): boolean;
  /** Once the peer's state word says failed: why, when the transport knows more than the
   *  reason number (an isolated plugin that crashed, hung or corrupted its ring), else null. */
  peerFailure?(): ChannelError | null;
  /** Once the transport knows the peer's thread has ended, whatever its state word says
   *  now (a hostile write can put "attached" back over the "closed" or "failed" it
   *  published): 0 if it ended without a failure, else its failure reason (docs/protocol.md
   *  7.2 numbering). Null while it runs. */
  peerStopped?(): number | null;
}

/**
 * The peer's counters in getStats().peer. Every field is optional: a transport reports
 * what it knows (the native addon: all but the plugin fields, which need handler
 * 'plugin'), and a closed channel reports none.
 */
export interface PeerStats {
  messagesSent?: number;
  bytesSent?: number;
  messagesReceived?: number;
  bytesReceived?: number;
  /** Times the peer rang this side's doorbell / thread-safe-function calls it made. */
  doorbellsRung?: number;
  doorbellCalls?: number;
  /** A doorbell call is made and not yet run by JS: further rings are absorbed by it. */
  doorbellQueued?: boolean;
  /** Times the peer's thread went to sleep / was woken by this side. */
  parks?: number;
  wakesFromJs?: number;
  /** Handler 'sink' (and 'source', for what JS sends it). */
  sinkMessages?: number;
  sinkBytes?: number;
  sinkChecksum?: number;
  /** Whether the peer's receive loop runs, and why it ended ('ok' while running). */
  running?: boolean;
  exitStatus?: string;
  /** The peer's own failure reason ('none' unless it failed). */
  failure?: string;
  pluginLoaded?: boolean;
  pluginPath?: string;
  pluginName?: string;
  pluginVersion?: string;
  pluginFailed?: boolean;
  pluginFailure?: string;
  pluginDelivered?: number;
  pluginDropped?: number;
  pluginTicks?: number;
  pluginSent?: number;
  pluginSendErrors?: number;
  pluginLoads?: number;
  pluginUnloads?: number;
  /** Isolated plugins (isolate: true): the plugin process (-1: none), and why it failed
   *  the channel (isolateReason '' while it did not; see PluginFailureError). */
  isolated?: boolean;
  pluginPid?: number;
  isolateReason?: string;
  isolateMessage?: string;
  isolateSignal?: number;
  isolateSignalName?: string;
  isolateExitCode?: number;
  isolatePid?: number;
}
