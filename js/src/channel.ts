// SharedMemoryChannel: the JS side (side R) of a full-duplex channel over one
// SharedArrayBuffer. Messages are written into and read from the shared rings by this
// code directly (js/src/protocol); the peer (a native thread, a worker) is only started
// and woken through a PeerTransport. Nothing here knows about Electron.
//
// Cost model (docs/benchmarks.md): a send is a copy into the ring plus, once per event
// loop turn, one index store and one load of the peer's parked word; a receive is a view
// into the ring handed to the callback; the peer is woken only when it sleeps.
//
// Split: options.ts (validation), send-queue.ts (the JS send queue), reachability.ts
// (event-loop liveness and GC pinning), scheduler.ts (task and backstop timers). This
// file is the public API, the drain loop and how the channel ends.
import { ChannelClosedError, ChannelError, ProtocolError, TimeoutError, asChannelError } from './errors';
import { TypedEmitter } from './emitter';
import { checkCapacity, checkNumber, describe, validateOptions, type ChannelOptions, type WakeMode } from './options';
import { EOF, Endpoint } from './protocol/endpoint';
import { STATE_ATTACHED, STATE_CLOSED, STATE_FAILED, STATE_NAMES, W_R_STATE, failureReasonName, initRegion, regionSize, type Region } from './protocol/layout';
import { Reachability } from './reachability';
import { BackstopTimer, now, scheduleTask } from './scheduler';
import { SendQueue } from './send-queue';
import type { PeerStats, PeerTransport } from './transport';

export type { ChannelOptions, WakeMode } from './options';
export type { PeerStats } from './transport';
export type SendData = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string;
export type MessageCallback = (message: Uint8Array) => void;

export interface ReceiveOptions {
  /** Deliver owned copies instead of views into the ring. Default false. */
  copy?: boolean;
}

export interface ChannelStats {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Messages / bytes waiting in the JS send queue (ring full). */
  queueLength: number;
  queueBytes: number;
  /** Published, unreleased bytes per ring, and capacities. */
  r2nFill: number;
  n2rFill: number;
  r2nCapacity: number;
  n2rCapacity: number;
  /** Times JS woke the parked peer / the peer's doorbell reached JS. */
  doorbellsToPeer: number;
  doorbellsFromPeer: number;
  /** Park timeouts that found work a doorbell should have announced (a lost wake-up). */
  parkTimeoutWakes: number;
  drainPasses: number;
  longestDrainMs: number;
  protocolErrors: number;
  /** Counters of the peer side, if the transport reports them ({} once closed). */
  peer: PeerStats;
}

export interface Reservation {
  /** Writable view of the reserved bytes inside the ring. */
  readonly view: Uint8Array;
  /** Sends the first `used` bytes (default: all). */
  commit(used?: number): void;
  abort(): void;
}

interface Events {
  message: [Uint8Array];
  drain: [];
  error: [ChannelError];
  close: [];
}

/**
 * How long a parked JS side sleeps before it re-checks the ring and the peer's state on
 * its own, ms: the bound on what a lost doorbell (a parked word cleared by a hostile or
 * buggy peer) or a peer that stopped without ringing can cost. The native side's default
 * park timeout is the same.
 */
export const PARK_TIMEOUT_MS = 100;

let defaultTransportFactory: ((o: ChannelOptions) => PeerTransport) | null = null;
/** Set by the package entry point (index.ts) to the native addon transport. */
export function setDefaultTransportFactory(f: (o: ChannelOptions) => PeerTransport): void {
  defaultTransportFactory = f;
}

const encoder = new TextEncoder();

/** Bytes of a send argument, without copying where possible. */
function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return encoder.encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`message must be a Uint8Array, another ArrayBufferView, an ArrayBuffer or a string, not ${describe(data)}`);
}

function checkMessageSize(bytes: Uint8Array): void {
  if (bytes.length > 2 ** 32 - 1) throw new RangeError(`message of ${bytes.length} bytes exceeds the limit of 2^32 - 1 bytes`);
}

export class SharedMemoryChannel extends TypedEmitter<Events> {
  /** The SharedArrayBuffer holding the whole region (for handing to another context). */
  readonly buffer: SharedArrayBuffer;
  readonly wakeMode: WakeMode;
  private readonly region: Region;
  private readonly endpoint: Endpoint;
  private readonly transport: PeerTransport;
  private readonly drainBudgetMs: number;
  private readonly highWaterMark: number;
  private readonly pollIntervalMs: number;
  private readonly maxPayload: number;
  private readonly queue: SendQueue;
  private readonly reach: Reachability;
  private readonly backstop: BackstopTimer;

  private closed = false;
  /** Why the channel ended: null while open and after cleanup(). */
  private reason: ChannelError | null = null;
  private receiver: MessageCallback | null = null;
  /** A 'message' listener exists (kept by the emitter hooks: no lookup per message). */
  private emitsMessages = false;
  private copyMessages = false;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private draining = false;
  /** Inside endpoint.poll (a receive callback is on the stack). */
  private polling = false;
  /** Inside sendDirect: a failure is thrown to its caller, not emitted as 'error'. */
  private failureGoesToCaller = false;
  private drainScheduled = false;
  private publishScheduled = false;
  private needDrainEvent = false;
  private reservationOpen = false;
  /** When 'poll' / 'spin' (which never park) last put back their own index words. */
  private lastRestore = 0;
  private queueEmptyCallbacks: Array<() => void> = [];

  private stat = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    doorbellsToPeer: 0,
    doorbellsFromPeer: 0,
    parkTimeoutWakes: 0,
    drainPasses: 0,
    longestDrainMs: 0,
    protocolErrors: 0,
  };

  private readonly deliver: (m: Uint8Array) => void;
  private readonly publishTask = (): void => {
    this.publishScheduled = false;
    if (this.closed) return;
    this.publishNow();
    // A channel that only sends learns here that its peer is gone (a receiving one learns
    // it from poll), and asks to be rung when that happens later (doorbell mode): one
    // store and one load of shared words per event-loop turn with sends.
    if (!this.closed && !this.receiving) this.guarded(() => this.checkPeerAndPark());
  };
  private readonly drainTask = (): void => {
    this.drainScheduled = false;
    this.drain();
  };

  constructor(r2nSize: number = 1 << 20, n2rSize: number = 1 << 20, options: ChannelOptions = {}) {
    super();
    checkCapacity('r2nSize (JS -> native ring bytes)', r2nSize);
    checkCapacity('n2rSize (native -> JS ring bytes)', n2rSize);
    const o = validateOptions(options);
    this.wakeMode = o.wakeMode;
    this.pollIntervalMs = o.pollIntervalMs;
    this.drainBudgetMs = o.drainBudgetMs;
    this.highWaterMark = o.highWaterMark;

    this.buffer = new SharedArrayBuffer(regionSize(r2nSize, n2rSize));
    this.region = initRegion(this.buffer, r2nSize, n2rSize);
    const transport = o.transport ?? (defaultTransportFactory ? defaultTransportFactory({ ...options, wakeMode: o.wakeMode }) : null);
    if (!transport) {
      throw new ChannelError('unsupported', 'no transport: pass options.transport (the default, the native addon, exists only in Node and Electron: import the package entry, not the browser one)');
    }
    this.transport = transport;
    this.endpoint = new Endpoint(this.region, 'R', {
      maxMessage: o.maxMessage,
      wake: (word) => {
        this.stat.doorbellsToPeer++;
        this.transport.wake(word);
      },
      onFailure: (err) => this.fail(err),
    });
    this.maxPayload = this.endpoint.writer.maxPayload;
    this.queue = new SendQueue(
      this.endpoint,
      this.maxPayload,
      (n) => this.countSent(n),
      () => this.publishNow(),
    );

    this.deliver = (m: Uint8Array): void => {
      this.stat.messagesReceived++;
      this.stat.bytesReceived += m.length;
      const msg = this.copyMessages ? m.slice() : m;
      try {
        if (this.receiver !== null) this.receiver(msg);
        if (this.emitsMessages) this.emit('message', msg);
      } catch (e) {
        if (e instanceof ChannelError && e.code === 'callback_failed') throw e;
        throw new ChannelError('callback_failed', `a receive callback (or 'message' listener) threw, so the channel was closed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    };

    // The doorbell and the backstop reach us through the transport and a timer; they must
    // not keep this object alive (a channel nobody uses may be finalized). Made outside
    // this constructor: a closure created here would share the constructor's context,
    // which holds `this` (captured by the arrow functions above), and pin the channel.
    const weak = new WeakRef(this);
    this.backstop = new BackstopTimer(weakCall(weak, 'onParkTimeout'), PARK_TIMEOUT_MS);
    transport.start({ buffer: this.buffer, doorbell: weakCall(weak, 'onDoorbell') });
    this.reach = new Reachability(this, transport, o.keepAlive ? 'ref' : 'auto');
    this.updateActivity();
    if (this.wakeMode === 'poll') this.startPollTimer();
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
    if (this.closed) return this.refuseAfterEnd('send', false);
    this.assertNoReservation('send');
    const bytes = toBytes(data);
    checkMessageSize(bytes);
    try {
      if (this.writeNow(bytes)) return true;
      if (this.queue.bytes >= this.highWaterMark) {
        this.needDrainEvent = true;
        return false;
      }
      this.enqueue(bytes.slice(), null, null);
      return !this.closed;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** Resolves once the message is in the ring; rejects if the channel ends first (with
   *  its closeReason, or ChannelClosedError `closed` after cleanup()). */
  sendAsync(data: SendData): Promise<void> {
    let bytes: Uint8Array;
    try {
      if (this.closed) return Promise.reject(this.closedError('sendAsync'));
      this.assertNoReservation('sendAsync');
      bytes = toBytes(data);
      checkMessageSize(bytes);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<void>((resolve, reject) => {
      try {
        if (this.writeNow(bytes)) resolve();
        else this.enqueue(bytes.slice(), resolve, reject);
      } catch (e) {
        this.fail(e);
        reject(this.closedError('sendAsync')); // a no-op if fail() rejected it as queued
      }
    });
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
    if (this.closed) throw this.closedError('sendDirect');
    this.assertNoReservation('sendDirect');
    const bytes = toBytes(data);
    checkMessageSize(bytes);
    checkNumber('timeoutMs', timeoutMs, 0, 2 ** 31, false);
    const deadline = now() + timeoutMs;
    const w = this.endpoint.writer;
    this.failureGoesToCaller = true;
    try {
      // Earlier queued messages first (order is part of the contract).
      while (this.queue.length > 0) {
        this.pumpQueue(Infinity);
        if (this.queue.length === 0) break;
        this.waitForSpace(deadline, (peerGone) => {
          throw peerGone ?? new TimeoutError(`sendDirect: the ring stayed full for ${timeoutMs} ms while earlier queued messages were pending; nothing of this message was sent`);
        });
      }
      if (bytes.length <= this.maxPayload) {
        while (!this.endpoint.trySend(bytes)) {
          this.waitForSpace(deadline, (peerGone) => {
            throw peerGone ?? new TimeoutError(`sendDirect: no room for ${bytes.length} bytes within ${timeoutMs} ms; nothing was sent`);
          });
        }
      } else {
        w.beginLarge(bytes);
        while (!w.continueLarge()) {
          this.waitForSpace(deadline, (peerGone) => {
            w.cancelLarge();
            this.publishNow();
            throw peerGone ?? new TimeoutError(`sendDirect: ${bytes.length}-byte message did not fit within ${timeoutMs} ms; it was cancelled and the peer discards the part it received`);
          });
        }
      }
      this.countSent(bytes.length);
      this.endpoint.flush();
    } catch (e) {
      if (e instanceof TimeoutError) throw e;
      this.fail(e);
      throw this.reason ?? asChannelError(e);
    } finally {
      this.failureGoesToCaller = false;
    }
  }

  /**
   * Zero-copy send: a writable view of `n` bytes inside the ring (n <= the largest single
   * record, r2nSize / 4 - 8), sent by commit(). Returns null when there is no room now,
   * earlier messages are queued, or the channel has ended. Only one reservation may be
   * open at a time.
   */
  reserve(n: number): Reservation | null {
    if (this.closed) return this.refuseAfterEnd('reserve', null);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > this.maxPayload) {
      throw new RangeError(`reserve(n): n must be an integer from 0 to ${this.maxPayload} (the largest single record of this ring), not ${typeof n === 'number' ? n : describe(n)}`);
    }
    this.assertNoReservation('reserve');
    if (this.queue.length > 0) return null;
    const w = this.endpoint.writer;
    let view: Uint8Array | null;
    try {
      view = w.reserve(n);
    } catch (e) {
      this.fail(e);
      return null;
    }
    if (view === null) return null;
    this.reservationOpen = true;
    let done = false;
    return {
      view,
      commit: (used: number = n) => {
        if (done) throw new ChannelError('reservation_done', 'commit(): this reservation was already committed or aborted');
        if (typeof used !== 'number' || !Number.isInteger(used) || used < 0 || used > n) {
          throw new RangeError(`commit(used): used must be an integer from 0 to ${n} (the reserved size), not ${String(used)}`);
        }
        done = true;
        this.reservationOpen = false;
        // Ended meanwhile: the bytes go nowhere, like a send() that returned false.
        if (this.closed) return void this.refuseAfterEnd('commit', undefined);
        w.commit(used);
        this.countSent(used);
        this.schedulePublish();
      },
      abort: () => {
        if (done) return;
        done = true;
        this.reservationOpen = false;
        if (!this.closed) w.abort();
      },
    };
  }

  /** Calls `cb` once when the JS send queue is empty (at once if it already is). */
  onQueueEmpty(cb: () => void): void {
    if (typeof cb !== 'function') throw new TypeError(`onQueueEmpty(cb): cb must be a function, not ${describe(cb)}`);
    this.assertOpen('onQueueEmpty');
    if (this.queue.length === 0) scheduleTask(cb);
    else this.queueEmptyCallbacks.push(cb);
  }

  // ---- receiving --------------------------------------------------------------------

  /**
   * Delivers every incoming message to `cb`. The Uint8Array is a view INTO THE RING,
   * valid only until `cb` returns (the bytes are then handed back to the peer): copy it
   * (`message.slice()`) to keep it, or pass `{ copy: true }`. A receiving channel keeps
   * the Node event loop alive until stopReceiving(), unref() or cleanup().
   */
  startReceiving(cb: MessageCallback, options: ReceiveOptions = {}): void {
    this.assertOpen('startReceiving');
    if (typeof cb !== 'function') throw new TypeError(`startReceiving(cb): cb must be a function, not ${describe(cb)}`);
    this.receiver = cb;
    this.copyMessages = options.copy === true;
    this.updateActivity();
    this.scheduleDrain();
  }

  stopReceiving(): void {
    this.receiver = null;
    this.updateActivity();
    if (!this.receiving && this.queue.length === 0) this.backstop.cancel(); // nothing waits
    // The consumer-parked word stays set: the peer still rings on a change of its state
    // (and on data, which the drain then leaves in the ring), so its end is seen at once.
  }

  /**
   * Drains incoming messages now, synchronously, up to `maxMessages` (spin loops, tests).
   * Returns how many were delivered; 0 once the channel has ended (a failure found here
   * is reported once, as 'error').
   */
  poll(maxMessages = Infinity): number {
    if (this.closed) return this.refuseAfterEnd('poll', 0);
    if (maxMessages !== Infinity && (typeof maxMessages !== 'number' || !Number.isInteger(maxMessages) || maxMessages < 0)) {
      throw new RangeError(`poll(maxMessages): maxMessages must be a non-negative integer or Infinity, not ${typeof maxMessages === 'number' ? maxMessages : describe(maxMessages)}`);
    }
    if (this.polling) {
      throw new ChannelError('poll_reentered', "poll() was called from inside this channel's receive callback (or 'message' listener); messages are already being delivered: return from the callback instead");
    }
    return this.pollRing(maxMessages);
  }

  private get receiving(): boolean {
    return this.receiver !== null || this.emitsMessages;
  }

  protected override listenersChanged(event: keyof Events): void {
    if (event !== 'message') return;
    this.emitsMessages = this.listenerCount('message') > 0;
    this.updateActivity();
    if (this.emitsMessages && !this.closed) this.scheduleDrain();
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
    this.assertOpen('loadPlugin');
    if (typeof path !== 'string' || path === '') throw new TypeError(`loadPlugin(path, config): path must be a non-empty string, not ${describe(path)}`);
    const json = JSON.stringify(config ?? {});
    if (typeof json !== 'string') throw new TypeError(`loadPlugin(path, config): config must be JSON-serializable, not ${describe(config)}`);
    if (!this.transport.loadPlugin) throw new ChannelError('unsupported', "loadPlugin(): this channel's peer does not run native plugins");
    this.publishNow(); // what was sent before the swap reaches the old plugin (or is dropped)
    try {
      this.transport.loadPlugin(path, json);
    } catch (e) {
      if (e instanceof ChannelError || e instanceof TypeError || e instanceof RangeError) throw e;
      // The addon's message names the path and the cause; the code makes it a ChannelError.
      throw new ChannelError('plugin_load_failed', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  /** Unloads the peer's plugin (messages are then dropped); true if one was loaded. */
  unloadPlugin(): boolean {
    this.assertOpen('unloadPlugin');
    if (!this.transport.unloadPlugin) throw new ChannelError('unsupported', "unloadPlugin(): this channel's peer does not run native plugins");
    return this.transport.unloadPlugin();
  }

  // ---- monitoring -------------------------------------------------------------------

  /** A snapshot of the counters. Works after the channel ended too (peer is then {}). */
  getStats(): ChannelStats {
    const ctrl = this.region.ctrl;
    const fill = (wi: number, ri: number, cap: number): number => Math.min((Atomics.load(ctrl, wi) - Atomics.load(ctrl, ri)) >>> 0, cap);
    const out = this.endpoint.outWords;
    const inn = this.endpoint.inWords;
    return {
      ...this.stat,
      queueLength: this.queue.length,
      queueBytes: this.queue.bytes,
      r2nFill: fill(out.writeIndex, out.readIndex, this.region.r2nCapacity),
      n2rFill: fill(inn.writeIndex, inn.readIndex, this.region.n2rCapacity),
      r2nCapacity: this.region.r2nCapacity,
      n2rCapacity: this.region.n2rCapacity,
      // The addon reports the PeerStats fields (native/addon/addon.cpp, Stats()).
      peer: this.closed ? {} : ((this.transport.stats?.() ?? {}) as PeerStats),
    };
  }

  /**
   * Keep the Node event loop alive for as long as the channel is open, even while it
   * neither receives nor has sends pending (what keepAlive: true does).
   */
  ref(): this {
    this.reach.mode = 'ref';
    this.updateActivity();
    return this;
  }

  /** Never keep the Node event loop alive because of this channel (like handle.unref()). */
  unref(): this {
    this.reach.mode = 'unref';
    this.updateActivity();
    return this;
  }

  // ---- lifecycle --------------------------------------------------------------------

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Why the channel ended: null while open and after cleanup(); otherwise the error it
   * ended with: a ChannelClosedError `peer_closed` (the peer closed; reported as 'close',
   * or as 'error' when it stranded queued messages or this side's state word had been
   * overwritten) or `peer_failed`, a ProtocolError, a ChannelError `callback_failed`.
   */
  get closeReason(): ChannelError | null {
    return this.reason;
  }

  /**
   * Closes the channel: publishes what was written, tells the peer, stops the native
   * thread, releases the doorbell and the buffer. Pending sendAsync promises reject.
   * Calling it again does nothing; most methods afterwards throw.
   */
  close(): void {
    this.end(null);
  }

  /** close() under the name the original API used; kept, not deprecated. */
  cleanup(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- internals: how the channel ends -----------------------------------------------

  /** Ends the channel: `reason` null for cleanup(). Emits 'close' (once). */
  private end(reason: ChannelError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.receiver = null;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.backstop.cancel();
    try {
      this.endpoint.close();
    } catch {
      // a failed endpoint stays failed; the peer sees that state
    }
    this.transport.close();
    this.queue.clear(reason ?? new ChannelClosedError('closed', 'the channel was closed before the message was written'));
    this.queueEmptyCallbacks = [];
    this.updateActivity();
    this.emit('close');
  }

  /**
   * Ends the channel because of `e` and reports it once: as an 'error' event (emitted
   * after 'close', asynchronously, so no native call is on the stack; thrown as an
   * uncaught exception when nobody listens, like Node's emitters), or to the caller of
   * sendDirect. Later calls do nothing: the first failure is the one reported.
   */
  private fail(e: unknown): void {
    if (this.closed) return;
    // The peer's end as the endpoint reports it (a send into a full ring, sendDirect's
    // wait): described the same way as when poll or checkPeer find it.
    if (e instanceof ChannelClosedError && e.constructor === ChannelClosedError && !described.has(e)) {
      if (e.code === 'peer_closed') return this.peerClosed();
      if (e.code === 'peer_failed') return this.peerFailed(e.peerReason);
    }
    const err = asChannelError(e);
    if (err instanceof ProtocolError) this.stat.protocolErrors++;
    if (!this.failureGoesToCaller) {
      scheduleTask(() => {
        if (!this.emit('error', err)) throw err;
      });
    }
    this.end(err);
  }

  /** Runs `fn`, turning anything it throws into the channel's failure. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * The peer closed (poll reached its end, or its state word says closed). A clean end
   * of stream is reported as 'close'; it is a failure ('error') when it strands messages
   * this side accepted, or when the peer closed because this side's state word was
   * overwritten (the native side leaves when it reads this side as closed or failed).
   */
  private peerClosed(): void {
    const tamper = this.ownStateTampered();
    const queued = this.queue.length;
    const out = this.endpoint.outWords;
    const ctrl = this.region.ctrl;
    // Published and never released: the peer will not read it now. Clamped: both words
    // are shared memory, and only whether anything is left matters here.
    const unread = Math.min((Atomics.load(ctrl, out.writeIndex) - Atomics.load(ctrl, out.readIndex)) >>> 0, this.region.r2nCapacity);
    if (tamper === null && queued === 0 && unread === 0) {
      this.end(describedError(new ChannelClosedError('peer_closed', 'the peer closed the channel (everything it sent was delivered)')));
      return;
    }
    const parts = ['the peer closed the channel'];
    if (tamper !== null) parts.push(tamper);
    if (unread > 0) parts.push(`${unread} bytes this side had written were never read`);
    if (queued > 0) parts.push(`${queued} queued message(s) were not sent`);
    this.fail(describedError(new ChannelClosedError('peer_closed', parts.join('; '))));
  }

  /** The peer failed: its reason, plus ours if it failed because of a forged state word. */
  private peerFailed(reason: number): void {
    // The transport may know more (an isolated plugin that crashed: its signal).
    const known = this.transport.peerFailure?.() ?? null;
    if (known !== null) return this.fail(known);
    const tamper = this.ownStateTampered();
    // A valid state word may say failed without a reason (0); name that too.
    const name = reason === 0 ? 'no reason given' : failureReasonName(reason);
    this.fail(describedError(new ChannelClosedError('peer_failed', `peer failed (${name})${tamper === null ? '' : `; ${tamper}`}`, reason)));
  }

  /**
   * Null if this side's state word still holds what this side stored (attached, while
   * open); otherwise a sentence saying what overwrote it. Read only when the peer ended:
   * the peer acts on that word, so it explains why.
   */
  private ownStateTampered(): string | null {
    const v = Atomics.load(this.region.ctrl, W_R_STATE) >>> 0;
    if (v === STATE_ATTACHED) return null;
    const name = STATE_NAMES[v & 0xff] ?? 'invalid';
    return `it read this side's state word as 0x${v.toString(16)} (${name}), which this side never wrote: the shared memory was overwritten`;
  }

  /** After the channel ended: cleanup() makes every call an error; a failure or the
   *  peer's end makes the send family return `value` (the end was reported once). */
  private refuseAfterEnd<T>(what: string, value: T): T {
    if (this.reason === null) throw this.closedError(what);
    return value;
  }

  private closedError(what: string): ChannelClosedError {
    if (this.reason === null) return new ChannelClosedError('closed', `${what}(): the channel is closed (cleanup() was called)`);
    return new ChannelClosedError('closed', `${what}(): the channel is closed: ${this.reason.message}`, 0, { cause: this.reason });
  }

  private assertOpen(what: string): void {
    if (this.closed) throw this.closedError(what);
  }

  private assertNoReservation(what: string): void {
    if (this.reservationOpen) {
      throw new ChannelError('reservation_open', `${what}(): a reservation is open; commit() or abort() it first (messages keep their order, and the reservation holds the next place in the ring)`);
    }
  }

  // ---- internals: sending ------------------------------------------------------------

  private countSent(n: number): void {
    this.stat.messagesSent++;
    this.stat.bytesSent += n;
  }

  private updateActivity(): void {
    this.reach.update({ closed: this.closed, receiving: this.receiving, queued: this.queue.length > 0 });
  }

  /** The fast path of send/sendAsync: the whole message into the ring now (nothing queued
   *  ahead of it), published at the end of this turn with the others. */
  private writeNow(bytes: Uint8Array): boolean {
    if (this.queue.length > 0 || !this.tryWriteWhole(bytes)) return false;
    this.countSent(bytes.length);
    this.schedulePublish();
    return true;
  }

  /** Writes a whole message now if it fits; never leaves part of it in the ring. */
  private tryWriteWhole(bytes: Uint8Array): boolean {
    const w = this.endpoint.writer;
    if (bytes.length <= this.maxPayload) return this.endpoint.trySend(bytes);
    // Larger than a record: only if every fragment fits now (the queue copies otherwise).
    const records = Math.ceil((bytes.length + 8) / this.maxPayload);
    if (w.freeBytesCached < bytes.length + 16 * records + this.region.r2nCapacity / 4) {
      w.refresh();
      if (w.freeBytesCached < bytes.length + 16 * records + this.region.r2nCapacity / 4) return false;
    }
    w.beginLarge(bytes);
    if (w.continueLarge()) return true;
    // Cannot happen with the margin above; stay correct anyway: never a partial message.
    w.cancelLarge();
    return false;
  }

  /** Queues a message and writes what fits. Throws what the endpoint throws. */
  private enqueue(bytes: Uint8Array, resolve: (() => void) | null, reject: ((e: Error) => void) | null): void {
    this.queue.push(bytes, resolve, reject);
    if (this.queue.length === 1) this.updateActivity(); // pending sends: pinned, and ref'd (auto)
    this.pumpQueue(this.drainBudgetMs);
    if (this.queue.length > 0) this.parkProducerOrRetry();
  }

  /** Writes queued messages while there is room. Throws what the endpoint throws. */
  private pumpQueue(budgetMs: number): void {
    const wrote = this.queue.pump(budgetMs);
    if (this.queue.length > 0) return;
    this.updateActivity();
    if (wrote) this.queueDrained();
  }

  private queueDrained(): void {
    if (this.needDrainEvent) {
      this.needDrainEvent = false;
      this.emit('drain');
    }
    const cbs = this.queueEmptyCallbacks;
    this.queueEmptyCallbacks = [];
    for (const cb of cbs) cb();
  }

  /** Ring full with a queue: ask the peer for a doorbell when it frees space. */
  private parkProducerOrRetry(): void {
    if (this.wakeMode !== 'doorbell') {
      this.scheduleDrain(); // 'poll' / 'spin' retry on their own schedule
      return;
    }
    this.publishNow();
    if (this.closed) return;
    if (this.parkProducer()) this.scheduleDrain(); // space appeared meanwhile
    else this.backstop.arm();
  }

  /** Announces that we wait for space (the peer rings when it frees some) and lets the
   *  transport arm its wait. True when space appeared meanwhile: do not wait. */
  private parkProducer(): boolean {
    const ep = this.endpoint;
    if (ep.parkProducer()) return true;
    this.transport.parked?.(ep.producerWaitWord, ep.producerWaitValue);
    return false;
  }

  /** The same for data: true when data (or the peer's end) arrived meanwhile. */
  private parkConsumer(): boolean {
    const ep = this.endpoint;
    if (ep.parkConsumer()) return true;
    this.transport.parked?.(ep.consumerWaitWord, ep.consumerWaitValue);
    return false;
  }

  /**
   * Blocks (sendDirect) until the consumer frees ring space; calls giveUp(null) at the
   * deadline and giveUp(error) once the peer has closed or failed (nobody will free
   * space). Spins first, for up to SPACE_SPIN_MS: the native consumer frees space at
   * memory speed (a 256 KiB fragment in ~20-40 us), and nothing native can wake a JS
   * Atomics.wait (platform notes), so the sleep below is a timed one whose real length is
   * ~60-100 us: sleeping after a few hundred loads made a 1 MiB sendDirect through 1 MiB
   * rings run at 0.3-1 GB/s. Then sleeps 50 us at a time. The spin restarts with every
   * call: a consumer that frees space more often than every 0.5 ms keeps this thread busy,
   * which is what a blocking send is for.
   */
  private waitForSpace(deadline: number, giveUp: (peerGone: ChannelClosedError | null) => never): void {
    this.endpoint.flush();
    const w = this.endpoint.writer;
    const before = w.freeBytesCached;
    const spinUntil = now() + SPACE_SPIN_MS;
    for (let i = 0; ; i++) {
      w.refresh();
      if (w.freeBytesCached !== before) return;
      if ((i & 31) !== 0) continue;
      const t = now();
      if (t >= deadline) giveUp(null);
      try {
        this.endpoint.checkPeerForSend(); // also throws ProtocolError on an invalid state word
      } catch (e) {
        if (e instanceof ChannelClosedError) giveUp(e);
        throw e;
      }
      if (t >= spinUntil) sleepMs(0.05);
    }
  }

  private schedulePublish(): void {
    if (this.publishScheduled) return;
    this.publishScheduled = true;
    queueMicrotask(this.publishTask);
  }

  private publishNow(): void {
    if (this.closed) return;
    this.guarded(() => this.endpoint.flush()); // rings the peer through `wake` if it is parked
  }

  // ---- internals: receiving and the drain loop -----------------------------------------

  /** Called by the transport's doorbell (see weakCall). */
  private onDoorbell(): void {
    if (this.closed) return;
    this.stat.doorbellsFromPeer++;
    this.drain();
  }

  /**
   * The park timeout (PARK_TIMEOUT_MS) ran out while parked: re-check the ring and the
   * peer as a doorbell would have. A doorbell can be lost only if the peer (or whatever
   * wrote the shared memory) cleared our parked word or rewound an index; this bounds the
   * cost to one timeout.
   */
  private onParkTimeout(): void {
    if (this.closed || this.draining) return;
    const before = this.stat.messagesReceived + this.stat.messagesSent;
    // Our own index words too: one moved back to a value the peer never saw leaves both
    // sides waiting on each other (docs/protocol.md 7.4).
    let restored = false;
    this.guarded(() => {
      restored = this.endpoint.restoreOwnIndices();
    });
    this.transport.rearmDoorbell?.();
    this.drain();
    if (restored || this.stat.messagesReceived + this.stat.messagesSent !== before || this.closed) this.stat.parkTimeoutWakes++;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    scheduleTask(this.drainTask);
  }

  private startPollTimer(): void {
    // Through a WeakRef, like the doorbell: an interval holding `this` would keep a
    // dropped, never-cleaned-up channel (and its native thread and buffer) alive forever.
    const weak = new WeakRef(this);
    const timer = setInterval(() => {
      const ch = weak.deref();
      if (ch === undefined) clearInterval(timer);
      else ch.drain();
    }, this.pollIntervalMs);
    this.pollTimer = timer;
    const t = this.pollTimer as unknown as { unref?: () => void };
    t.unref?.();
  }

  /** Delivers up to `max` messages; handles the peer's end and failures (returns 0). */
  private pollRing(max: number): number {
    let n: number;
    this.polling = true;
    try {
      n = this.endpoint.poll(this.deliver, max);
    } catch (e) {
      this.fail(e); // a peer_failed from the endpoint is described by peerFailed
      return 0;
    } finally {
      this.polling = false;
    }
    if (n === EOF) {
      this.peerClosed(); // everything it sent was delivered
      return 0;
    }
    return n;
  }

  /**
   * One drain pass: writes queued messages, delivers incoming ones, within the drain
   * budget. If work remains it yields (scheduleTask) instead of parking; if everything is
   * done it parks (doorbell mode), so the peer rings when there is more, with the park
   * timeout as the backstop.
   */
  private drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.stat.drainPasses++;
    const t0 = now();
    let more = false;
    try {
      for (;;) {
        if (this.queue.length > 0) this.pumpQueue(this.drainBudgetMs);
        if (this.closed) return;
        let n = 0;
        if (this.receiving) n = this.pollRing(512);
        else this.checkPeer();
        if (this.closed) return;
        if (n === 0) {
          // Nothing delivered: park (doorbell) or stop until the next tick (poll / spin).
          if (this.wakeMode !== 'doorbell') {
            more = this.wakeMode === 'spin' && (this.receiving || this.queue.length > 0);
            // These modes never park: what the park timeout does, once per its period.
            const t = now();
            if (t - this.lastRestore >= PARK_TIMEOUT_MS) {
              this.lastRestore = t;
              if (this.endpoint.restoreOwnIndices()) this.stat.parkTimeoutWakes++;
            }
            break;
          }
          // Parking re-checks the ring: true means work arrived meanwhile, go round again.
          // Not receiving, we still park as consumer for the peer's state (its end rings).
          const waiting = this.queue.length > 0 || this.receiving;
          const woke =
            (this.queue.length > 0 && this.parkProducer()) || (this.receiving ? this.parkConsumer() : this.endpoint.parkForPeerState());
          if (!woke) {
            // The backstop only for work someone waits for: an idle channel that neither
            // receives nor sends costs no timer (its peer's end still rings it).
            if (waiting) this.backstop.arm();
            break;
          }
        }
        if (now() - t0 >= this.drainBudgetMs) {
          more = true;
          break;
        }
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.draining = false;
      const elapsed = now() - t0;
      if (elapsed > this.stat.longestDrainMs) this.stat.longestDrainMs = elapsed;
    }
    if (more) this.scheduleDrain();
  }

  /** Without a receiver nothing polls: learn of the peer's end from its state word. */
  private checkPeer(): void {
    const ps = this.endpoint.peerState(); // an invalid word fails the endpoint (S1): thrown
    if (ps.state === STATE_FAILED) this.peerFailed(ps.reason);
    else if (ps.state === STATE_CLOSED) this.peerClosed();
  }

  /** checkPeer, and (doorbell mode) ask the peer to ring when its state changes later. */
  private checkPeerAndPark(): void {
    if (this.wakeMode === 'doorbell') this.endpoint.parkForPeerState();
    this.checkPeer();
  }
}

/** Errors of the peer's end that peerClosed/peerFailed already described (fail() routes
 *  the endpoint's bare ones through them). */
const described = new WeakSet<ChannelError>();
function describedError<E extends ChannelError>(e: E): E {
  described.add(e);
  return e;
}

/** A callback that calls a private method of the channel through a weak reference. */
function weakCall(weak: WeakRef<SharedMemoryChannel>, method: 'onDoorbell' | 'onParkTimeout'): () => void {
  // Bracket access reaches the private method (TypeScript's sanctioned escape hatch).
  return () => weak.deref()?.[method]();
}

const sleepCell = typeof SharedArrayBuffer !== 'undefined' ? new Int32Array(new SharedArrayBuffer(4)) : null;
/** How long sendDirect spins for ring space before it starts sleeping (see waitForSpace). */
const SPACE_SPIN_MS = 0.5;

/** Sleeps without spinning where the thread may block (Node, workers); else returns. */
function sleepMs(ms: number): void {
  if (sleepCell === null) return;
  try {
    Atomics.wait(sleepCell, 0, 0, ms);
  } catch {
    // a window's main thread may not block: fall back to spinning
  }
}
