// SharedMemoryChannel: the JS side (side R) of a full-duplex channel over one
// SharedArrayBuffer. Messages are written into and read from the shared rings by this
// code directly (js/src/protocol); the peer (a native thread, a worker) is only started
// and woken through a PeerTransport. Nothing here knows about Electron.
//
// Cost model (docs/benchmarks.md): a send is a copy into the ring plus, once per event
// loop turn, one index store and one load of the peer's parked word; a receive is a view
// into the ring handed to the callback; the peer is woken only when it sleeps.
//
// This file is the public API: it checks arguments and delegates. The parts: options.ts
// (validation), channel-core.ts (shared state, how the channel ends), sender.ts and
// send-queue.ts (the send path and its queue), blocking-send.ts (sendDirect),
// reservation.ts (reserve), drain-loop.ts (delivery and parking), reachability.ts
// (event-loop liveness and GC pinning), scheduler.ts (tasks and timers), peer-end.ts
// (describing the peer's end), plugin-control.ts, stats.ts.
import { ChannelCore, type ChannelEvents, type InPlaceCallback, type MessageCallback } from './channel-core';
import { sendBlocking } from './blocking-send';
import { PARK_TIMEOUT_MS } from './drain-loop';
import { ChannelError } from './errors';
import { TypedEmitter } from './emitter';
import { checkCapacity, checkNumber, describe, splitDeprecatedNative, validateOptions, type ChannelConstructorOptions, type WakeMode } from './options';
import { loadPlugin, unloadPlugin } from './plugin-control';
import { Endpoint } from './protocol/endpoint';
import { initRegion, regionSize, type Region } from './protocol/layout';
import { Reachability } from './reachability';
import type { Reservation } from './reservation';
import { BackstopTimer } from './scheduler';
import { checkMessageSize, toBatch, toBytes, type SendData } from './send-data';
import { statsSnapshot, type ChannelStats } from './stats';
import type { DeprecatedNativeOptions } from './native';
import { checkFragmentStream, streamSink, type FragmentStream } from './stream-receive';
import type { PeerStats, PeerTransport } from './transport';
import { WeakCore, failChannel, onDoorbell, onParkTimeout, startPollTimer, wakePeer } from './weak-callbacks';

export type { ChannelConstructorOptions, ChannelOptions, WakeMode } from './options';
export type { PeerStats } from './transport';
export type { InPlaceCallback, MessageCallback } from './channel-core';
export type { Reservation } from './reservation';
export type { FragmentStream, StreamEnd } from './stream-receive';
export type { SendData } from './send-data';
export type { ChannelStats } from './stats';
export { PARK_TIMEOUT_MS } from './drain-loop';

export interface ReceiveOptions {
  /** Deliver owned copies instead of views into the ring. Default false. */
  copy?: boolean;
  /**
   * Streaming receive: messages larger than one record (n2rSize / 4 - 8 bytes) go to
   * `stream` fragment by fragment as they arrive, never reassembled; smaller ones still
   * go to `cb`. Default none (every message reassembled and given to `cb`).
   */
  stream?: FragmentStream;
}

interface Events {
  message: [Uint8Array];
  drain: [];
  error: [ChannelError];
  close: [];
}

/** Writes one byte per 4 KiB page of fresh (all-zero) memory, so the OS maps it now. */
function touchPages(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
}

/** The peer of a channel given no transport, made from the deprecated native options it
 *  was given: the package's Node entry (index.ts) sets the native addon; the browser entry
 *  has none. */
let defaultPeer: ((native: DeprecatedNativeOptions) => PeerTransport) | null = null;
export function setDefaultPeer(make: (native: DeprecatedNativeOptions) => PeerTransport): void {
  defaultPeer = make;
}

export class SharedMemoryChannel extends TypedEmitter<Events> {
  /** The SharedArrayBuffer holding the whole region (for handing to another context). */
  readonly buffer: SharedArrayBuffer;
  readonly wakeMode: WakeMode;
  private readonly region: Region;
  private readonly core: ChannelCore;

  constructor(r2nSize: number = 1 << 20, n2rSize: number = 1 << 20, options: ChannelConstructorOptions = {}) {
    super();
    checkCapacity('r2nSize (JS -> native ring bytes)', r2nSize);
    checkCapacity('n2rSize (native -> JS ring bytes)', n2rSize);
    const { channel: channelOptions, native } = splitDeprecatedNative(options);
    const o = validateOptions(channelOptions);
    this.wakeMode = o.wakeMode;

    this.buffer = new SharedArrayBuffer(regionSize(r2nSize, n2rSize));
    this.region = initRegion(this.buffer, r2nSize, n2rSize);
    if (o.prefault) {
      touchPages(this.region.r2nData);
      touchPages(this.region.n2rData);
    }
    // Given a transport, the deprecated native options are ignored, as they always were.
    const transport = o.transport ?? defaultPeer?.(native);
    if (!transport) {
      throw new ChannelError('unsupported', 'no transport: pass options.transport (the default, the native addon, exists only in Node and Electron: import the package entry, not the browser one)');
    }
    // The doorbell, the backstop and the poll timer hold the core weakly (weak-callbacks.ts).
    const target = new WeakCore();
    const endpoint = new Endpoint(this.region, 'R', {
      maxMessage: o.maxMessage,
      keepAssembly: o.keepAssembly,
      wake: wakePeer(target, transport),
      onFailure: failChannel(target),
    });
    const backstop = new BackstopTimer(onParkTimeout(target), PARK_TIMEOUT_MS);
    const reach = new Reachability(this, transport, o.keepAlive ? 'ref' : 'auto');
    const settings = { wakeMode: o.wakeMode, drainBudgetMs: o.drainBudgetMs, highWaterMark: o.highWaterMark };
    this.core = new ChannelCore(this.region, endpoint, transport, settings, this.eventSink(), reach, backstop);
    target.set(this.core);
    transport.start({ buffer: this.buffer, doorbell: onDoorbell(target), wakeMode: o.wakeMode, maxMessage: o.maxMessage, keepAssembly: o.keepAssembly });
    this.core.updateActivity();
    if (this.wakeMode === 'poll') this.core.drainLoop.setPollTimer(startPollTimer(target, o.pollIntervalMs));
  }

  // ---- sending ----------------------------------------------------------------------

  /**
   * Sends one message (Uint8Array, any ArrayBufferView, ArrayBuffer or string as UTF-8).
   * Written into the ring at once when there is room; otherwise copied into the JS queue
   * and written as the peer frees space. Returns false, queuing nothing, when the queue
   * already holds highWaterMark bytes (wait for 'drain' and retry) or the channel has
   * ended (isClosed; why is in closeReason and was reported once, as 'error' or 'close').
   * Never throws for the peer's state; throws for bad arguments, an open reservation, and
   * after cleanup().
   */
  send(data: SendData): boolean {
    const core = this.core;
    if (core.closed) return core.refuseAfterEnd('send', false);
    core.reservation.assertNone('send');
    const bytes = toBytes(data);
    checkMessageSize(bytes);
    return core.sender.send(bytes);
  }

  /**
   * Sends a batch of small messages (each at most one record, r2nSize / 4 - 8 bytes), in
   * order, after everything sent before: written back to back with one free-space check
   * per run of records and published at once (one index store, one wake check). What
   * does not fit in the ring is queued as send() would; past highWaterMark the rest is
   * refused. Returns how many were accepted (written or queued), a prefix of the batch:
   * resend messages.slice(returned) after 'drain'. Checks every element before sending
   * any: a bad one throws (TypeError, or RangeError naming its index and size) and
   * nothing is sent. Returns 0 once the channel has ended (as send() returns false).
   */
  sendMany(messages: readonly SendData[]): number {
    const core = this.core;
    if (core.closed) return core.refuseAfterEnd('sendMany', 0);
    core.reservation.assertNone('sendMany');
    return core.sender.sendMany(toBatch(messages, core.maxPayload));
  }

  /** Resolves once the message is in the ring; rejects if the channel ends first (with
   *  its closeReason, or ChannelClosedError `closed` after cleanup()). */
  sendAsync(data: SendData): Promise<void> {
    const core = this.core;
    let bytes: Uint8Array;
    try {
      if (core.closed) return Promise.reject(core.closedError('sendAsync'));
      core.reservation.assertNone('sendAsync');
      bytes = toBytes(data);
      checkMessageSize(bytes);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return core.sender.sendAsync(bytes);
  }

  /**
   * Synchronous send: returns once the whole message is in the ring (published), or
   * throws TimeoutError after `timeoutMs` without having sent any part of it (a message
   * that was fragmented part-way is cancelled: the peer drops what it got). Queued
   * messages go first, to keep the order. Blocks the thread: the peer must be draining
   * (a native echo whose replies nobody reads stops draining when its ring fills).
   * If the peer closes or fails (or breaks the protocol) meanwhile, the channel ends and
   * the error is thrown here: that is its one report (no 'error' event).
   */
  sendDirect(data: SendData, timeoutMs: number): void {
    const core = this.core;
    if (core.closed) throw core.closedError('sendDirect');
    core.reservation.assertNone('sendDirect');
    const bytes = toBytes(data);
    checkMessageSize(bytes);
    checkNumber('timeoutMs', timeoutMs, 0, 2 ** 31, false);
    sendBlocking(core, bytes, timeoutMs);
  }

  /**
   * Zero-copy send: a writable view of `n` bytes inside the ring (n <= the largest single
   * record, r2nSize / 4 - 8), sent by commit(). Returns null when there is no room now,
   * earlier messages are queued, or the channel has ended. Only one reservation may be
   * open at a time.
   */
  reserve(n: number): Reservation | null {
    return this.core.reservation.reserve(n);
  }

  /** Calls `cb` once when the JS send queue is empty (at once if it already is). */
  onQueueEmpty(cb: () => void): void {
    if (typeof cb !== 'function') throw new TypeError(`onQueueEmpty(cb): cb must be a function, not ${describe(cb)}`);
    this.core.assertOpen('onQueueEmpty');
    this.core.sender.onQueueEmpty(cb);
  }

  // ---- receiving --------------------------------------------------------------------

  /**
   * Delivers every incoming message to `cb`. The Uint8Array is a view INTO THE RING,
   * valid only until `cb` returns (the bytes are then handed back to the peer): copy it
   * (`message.slice()`) to keep it, or pass `{ copy: true }`. A receiving channel keeps
   * the Node event loop alive until stopReceiving(), unref() or cleanup().
   */
  startReceiving(cb: MessageCallback, options: ReceiveOptions = {}): void {
    const core = this.core;
    core.assertOpen('startReceiving');
    if (typeof cb !== 'function') throw new TypeError(`startReceiving(cb): cb must be a function, not ${describe(cb)}`);
    if (options.stream !== undefined) checkFragmentStream(options.stream);
    core.receiver = cb;
    core.inPlaceReceiver = null;
    core.copyMessages = options.copy === true;
    core.endpoint.frameReader.sink = options.stream === undefined ? null : streamSink(core, options.stream);
    core.updateActivity();
    core.drainLoop.scheduleDrain();
  }

  /**
   * startReceiving without a view per message: `cb(buffer, offset, length)` gets the
   * message as buffer[offset .. offset + length). For a message of one record `buffer` is
   * the ring's data (the same object every time), valid only until `cb` returns; a
   * reassembled large message is its own buffer (offset 0). Nothing is allocated per
   * message. Replaces a startReceiving callback (and the reverse).
   */
  startReceivingInPlace(cb: InPlaceCallback): void {
    const core = this.core;
    core.assertOpen('startReceivingInPlace');
    if (typeof cb !== 'function') throw new TypeError(`startReceivingInPlace(cb): cb must be a function, not ${describe(cb)}`);
    core.inPlaceReceiver = cb;
    core.receiver = null;
    core.endpoint.frameReader.sink = null;
    core.updateActivity();
    core.drainLoop.scheduleDrain();
  }

  stopReceiving(): void {
    this.core.receiver = null;
    this.core.inPlaceReceiver = null;
    this.core.endpoint.frameReader.sink = null;
    this.core.updateActivity();
    this.core.drainLoop.receivingStopped();
  }

  /**
   * Drains incoming messages now, synchronously, up to `maxMessages` (spin loops, tests).
   * Returns how many were delivered; 0 once the channel has ended (a failure found here
   * is reported once, as 'error').
   */
  poll(maxMessages = Infinity): number {
    const core = this.core;
    if (core.closed) return core.refuseAfterEnd('poll', 0);
    if (maxMessages !== Infinity && (typeof maxMessages !== 'number' || !Number.isInteger(maxMessages) || maxMessages < 0)) {
      throw new RangeError(`poll(maxMessages): maxMessages must be a non-negative integer or Infinity, not ${typeof maxMessages === 'number' ? maxMessages : describe(maxMessages)}`);
    }
    return core.drainLoop.pollNow(maxMessages);
  }

  protected override listenersChanged(event: keyof Events): void {
    if (event !== 'message') return;
    const core = this.core;
    core.emitsMessages = this.listenerCount('message') > 0;
    core.updateActivity();
    if (core.emitsMessages && !core.closed) core.drainLoop.scheduleDrain();
  }

  // ---- native plugins ---------------------------------------------------------------

  /**
   * Loads the native plugin at `path` with `config` (passed to its create() as JSON),
   * replacing the plugin the peer runs (which is first stopped, waited for and unloaded).
   * Needs a peer that runs plugins (the addon transport with option `plugin` or handler
   * 'plugin'). Throws ChannelError `plugin_load_failed` naming the path and the cause
   * (`cause`: the addon's error) if loading fails; the peer then has no plugin and drops
   * incoming messages (counted in getStats().peer.pluginDropped).
   */
  loadPlugin(path: string, config: unknown = {}): void {
    const core = this.core;
    core.assertOpen('loadPlugin');
    loadPlugin(core.transport, path, config, () => core.sender.publishNow());
  }

  /** Unloads the peer's plugin (messages are then dropped); true if one was loaded. */
  unloadPlugin(): boolean {
    this.core.assertOpen('unloadPlugin');
    return unloadPlugin(this.core.transport);
  }

  // ---- monitoring -------------------------------------------------------------------

  /** A snapshot of the counters. Works after the channel ended too (peer is then {}). */
  getStats(): ChannelStats {
    const core = this.core;
    // The addon reports the PeerStats fields (native/addon/addon.cpp, Stats()).
    const peer = core.closed ? {} : ((core.transport.stats?.() ?? {}) as PeerStats);
    return statsSnapshot(core.counters, this.region, core.endpoint, core.sender.queue, peer);
  }

  /**
   * Keep the Node event loop alive for as long as the channel is open, even while it
   * neither receives nor has sends pending (what keepAlive: true does).
   */
  ref(): this {
    this.core.reach.mode = 'ref';
    this.core.updateActivity();
    return this;
  }

  /** Never keep the Node event loop alive because of this channel (like handle.unref()). */
  unref(): this {
    this.core.reach.mode = 'unref';
    this.core.updateActivity();
    return this;
  }

  // ---- lifecycle --------------------------------------------------------------------

  get isClosed(): boolean {
    return this.core.closed;
  }

  /**
   * Why the channel ended: null while open and after cleanup(); otherwise the error it
   * ended with: a ChannelClosedError `peer_closed` (the peer closed; reported as 'close',
   * or as 'error' when it stranded queued messages or this side's state word had been
   * overwritten) or `peer_failed`, a ProtocolError, a ChannelError `callback_failed`.
   */
  get closeReason(): ChannelError | null {
    return this.core.reason;
  }

  /**
   * Closes the channel: publishes what was written, tells the peer, stops the native
   * thread, releases the doorbell and the buffer. Pending sendAsync promises reject.
   * Calling it again does nothing; most methods afterwards throw.
   */
  close(): void {
    this.core.end(null);
  }

  /** close() under the name the original API used; kept, not deprecated. */
  cleanup(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- internals ----------------------------------------------------------------------

  /** The core emits through these (the emitter's emit is protected). */
  private eventSink(): ChannelEvents {
    return {
      message: (m) => void this.emit('message', m),
      drain: () => void this.emit('drain'),
      error: (e) => this.emit('error', e),
      close: () => void this.emit('close'),
    };
  }
}
