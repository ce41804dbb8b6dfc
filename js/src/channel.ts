// SharedMemoryChannel: the JS side (side R) of a full-duplex channel over one
// SharedArrayBuffer. Messages are written into and read from the shared rings by this
// code directly (js/src/protocol); the peer (a native thread, a worker) is only started
// and woken through a PeerTransport. Nothing here knows about Electron.
//
// Cost model (docs/benchmarks.md): a send is a copy into the ring plus, once per event
// loop turn, one index store and one load of the peer's parked word; a receive is a view
// into the ring handed to the callback; the peer is woken only when it sleeps.
import { ChannelClosedError, ChannelError, ProtocolError, TimeoutError } from './errors';
import { TypedEmitter } from './emitter';
import { EOF, Endpoint } from './protocol/endpoint';
import { MAX_CAPACITY, MIN_CAPACITY, STATE_CLOSED, STATE_FAILED, initRegion, regionSize, type Region } from './protocol/layout';
import { now, scheduleTask } from './scheduler';
import type { PeerTransport } from './transport';

export type WakeMode = 'doorbell' | 'poll' | 'spin';
export type SendData = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string;
export type MessageCallback = (message: Uint8Array) => void;

export interface ChannelOptions {
  /** How this side learns that messages arrived: 'doorbell' (default; no CPU when idle),
   *  'poll' (a timer every pollIntervalMs), 'spin' (drain continuously; the native
   *  thread spins too: for latency-critical dedicated threads). */
  wakeMode?: WakeMode;
  /** Timer period of wake mode 'poll', ms (1 .. 60000). Default 4. */
  pollIntervalMs?: number;
  /** Longest time one drain may run before yielding to the event loop, ms (0.1 .. 1000). Default 4. */
  drainBudgetMs?: number;
  /** Bytes the JS send queue may hold; past it send() returns false. Default 16 MiB. */
  highWaterMark?: number;
  /** Largest incoming message accepted, bytes. Default 2^32 - 1. */
  maxMessage?: number;
  /** Native handler (addon transport): 'echo' (default), 'sink', 'source', or 'plugin'
   *  (a native plugin slot, see `plugin`; without `plugin` it starts empty). */
  handler?: 'echo' | 'sink' | 'source' | 'plugin';
  /** Path of a native plugin to run as the peer (docs/plugins.md; pluginPath('echo') gives
   *  the built examples). Implies handler 'plugin'. */
  plugin?: string;
  /** The plugin's configuration, passed to its create() as JSON. Default {}. */
  config?: unknown;
  /** For handler 'source': messages to stream and their size. */
  sourceCount?: number;
  sourceSize?: number;
  /** Keep the process alive while the channel is open (Node). Default false. */
  keepAlive?: boolean;
  /** The peer. Default: the in-process native addon (Node / Electron). */
  transport?: PeerTransport;
}

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
  drainPasses: number;
  longestDrainMs: number;
  protocolErrors: number;
  /** Counters of the peer side, if the transport reports them. */
  peer: Record<string, number | string | boolean>;
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
  error: [Error];
  close: [];
}

interface QueuedMessage {
  bytes: Uint8Array;
  started: boolean;
  resolve: (() => void) | null;
  reject: ((e: Error) => void) | null;
}

/**
 * Channels whose JS send queue is not empty, held strongly until it drains or they close.
 * The peer's doorbell refers to a channel only weakly (weakDoorbell: a channel nobody
 * uses may be finalized), and what waits on a queued message (a sendAsync promise, an
 * onQueueEmpty callback, a 'drain' listener) is reachable only from the channel itself:
 * `await ch.sendAsync(big)` or `await new Promise((r) => ch.onQueueEmpty(r))` leaves the
 * channel, the queue and the awaiting code reachable from nothing but that weak doorbell.
 * A GC while we are parked waiting for space would then collect them all, the peer's wake
 * would find no channel, and the queued messages would never be written nor the waiters
 * settled. Data accepted by send() is a promise to deliver it: the queue pins its channel.
 */
const channelsWithQueue = new Set<object>();
/** Open channels whose transport is not finalizable (PeerTransport.finalizable): held
 *  until cleanup(). A receiving channel is otherwise reachable only from its weak doorbell
 *  too (`await new Promise((r) => ch.startReceiving(r))`), and nothing would stop the peer. */
const channelsPinnedOpen = new Set<object>();
/** Channels that are receiving and keep the process alive (keepAlive / ref()): held until
 *  they stop receiving, unref() or close. Like a ref'd Node handle (a listening server),
 *  such a channel is doing work the process was asked to stay alive for; collecting it
 *  would leave the process running with nothing delivering its messages. */
const channelsListening = new Set<object>();

let defaultTransportFactory: ((o: ChannelOptions) => PeerTransport) | null = null;
/** Set by the package entry point (index.ts) to the native addon transport. */
export function setDefaultTransportFactory(f: (o: ChannelOptions) => PeerTransport): void {
  defaultTransportFactory = f;
}

const encoder = new TextEncoder();

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return v.length <= 40 ? `the string ${JSON.stringify(v)}` : `a string of length ${v.length}`;
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `${typeof v} ${String(v)}`;
}

function checkCapacity(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_CAPACITY || v > MAX_CAPACITY || (v & (v - 1)) !== 0) {
    throw new RangeError(
      `${name} must be a power of two from ${MIN_CAPACITY} (4 KiB) to ${MAX_CAPACITY} (1 GiB) bytes, not ${typeof v === 'number' ? v : describe(v)}`,
    );
  }
  return v;
}

function checkNumber(name: string, v: unknown, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${typeof v === 'number' ? v : describe(v)}`);
  }
  return v;
}

/** Bytes of a send argument, without copying where possible. */
function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return encoder.encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`message must be a Uint8Array, another ArrayBufferView, an ArrayBuffer or a string, not ${describe(data)}`);
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

  private closed = false;
  private receiver: MessageCallback | null = null;
  /** A 'message' listener exists (kept by the emitter hooks: no lookup per message). */
  private emitsMessages = false;
  /** Whether this channel keeps the Node event loop alive (keepAlive option, ref()). Also
   *  set over transports without ref() (a page's worker): it still pins a receiving
   *  channel (channelsListening), which is what a caller asking to be kept alive means. */
  private refed = false;
  private copyMessages = false;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private draining = false;
  private drainScheduled = false;
  private publishScheduled = false;
  private needDrainEvent = false;
  private reservationOpen = false;
  private queue: QueuedMessage[] = [];
  private queueHead = 0;
  private queueBytes = 0;
  private queueEmptyCallbacks: Array<() => void> = [];

  private stat = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    doorbellsToPeer: 0,
    doorbellsFromPeer: 0,
    drainPasses: 0,
    longestDrainMs: 0,
    protocolErrors: 0,
  };

  private readonly deliver: (m: Uint8Array) => void;
  private readonly publishTask = (): void => {
    this.publishScheduled = false;
    if (!this.closed) this.publishNow();
  };
  private readonly drainTask = (): void => {
    this.drainScheduled = false;
    this.drain();
  };

  constructor(r2nSize: number = 1 << 20, n2rSize: number = 1 << 20, options: ChannelOptions = {}) {
    super();
    checkCapacity('r2nSize (JS -> native ring bytes)', r2nSize);
    checkCapacity('n2rSize (native -> JS ring bytes)', n2rSize);
    if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, not ${describe(options)}`);
    const mode = options.wakeMode ?? 'doorbell';
    if (mode !== 'doorbell' && mode !== 'poll' && mode !== 'spin') {
      throw new RangeError(`wakeMode must be 'doorbell', 'poll' or 'spin', not ${describe(mode)}`);
    }
    this.wakeMode = mode;
    this.pollIntervalMs = checkNumber('pollIntervalMs', options.pollIntervalMs ?? 4, 1, 60000, false);
    this.drainBudgetMs = checkNumber('drainBudgetMs', options.drainBudgetMs ?? 4, 0.1, 1000, false);
    this.highWaterMark = checkNumber('highWaterMark', options.highWaterMark ?? 16 * 1024 * 1024, 0, 2 ** 53, true);
    const maxMessage = checkNumber('maxMessage', options.maxMessage ?? 2 ** 32 - 1, 0, 2 ** 32 - 1, true);

    this.buffer = new SharedArrayBuffer(regionSize(r2nSize, n2rSize));
    this.region = initRegion(this.buffer, r2nSize, n2rSize);
    const transport =
      options.transport ??
      (defaultTransportFactory
        ? defaultTransportFactory({ ...options, wakeMode: mode })
        : null);
    if (!transport) throw new Error('no transport: pass options.transport (the native addon is available only in Node/Electron)');
    this.transport = transport;
    this.endpoint = new Endpoint(this.region, 'R', {
      maxMessage,
      wake: (word) => {
        this.stat.doorbellsToPeer++;
        this.transport.wake(word);
      },
      onFailure: (err) => this.failAsync(err),
    });
    this.maxPayload = this.endpoint.writer.maxPayload;

    const deliverView = (m: Uint8Array): void => {
      this.stat.messagesReceived++;
      this.stat.bytesReceived += m.length;
      const msg = this.copyMessages ? m.slice() : m;
      if (this.receiver !== null) this.receiver(msg);
      if (this.emitsMessages) this.emit('message', msg);
    };
    this.deliver = deliverView;

    // The doorbell reaches us through the transport; it must not keep this object alive
    // (the native side holds it until cleanup or finalization). Made outside this
    // constructor: a closure created here would share the constructor's context, which
    // holds `this` (captured by the arrow functions above), and pin the channel forever.
    transport.start({
      buffer: this.buffer,
      doorbell: weakDoorbell(new WeakRef(this)),
    });
    if (transport.finalizable !== true) channelsPinnedOpen.add(this);
    if (options.keepAlive) {
      transport.ref?.();
      this.refed = true;
    }
    if (mode === 'poll') this.startPollTimer();
  }

  // ---- sending ----------------------------------------------------------------------

  /**
   * Sends one message (Uint8Array, any ArrayBufferView, ArrayBuffer or string as UTF-8).
   * Written into the ring at once when there is room; otherwise copied into the JS queue
   * and written as the peer frees space. Returns false, without queuing, when the queue
   * already holds highWaterMark bytes: wait for 'drain' (or onQueueEmpty) and retry.
   */
  send(data: SendData): boolean {
    this.assertOpen('send');
    const bytes = toBytes(data);
    if (bytes.length > 2 ** 32 - 1) throw new RangeError(`message of ${bytes.length} bytes exceeds the limit of 2^32 - 1 bytes`);
    if (this.writeNow(bytes)) return true;
    if (this.queueBytes >= this.highWaterMark) {
      this.needDrainEvent = true;
      return false;
    }
    this.enqueue(bytes.slice(), null, null);
    return true;
  }

  /** Resolves once the message is in the ring; rejects if the channel closes first. */
  sendAsync(data: SendData): Promise<void> {
    try {
      this.assertOpen('sendAsync');
      const bytes = toBytes(data);
      if (this.writeNow(bytes)) return Promise.resolve();
      const copy = bytes.slice();
      return new Promise<void>((resolve, reject) => this.enqueue(copy, resolve, reject));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /**
   * Synchronous send: returns once the whole message is in the ring (published), or
   * throws TimeoutError after `timeoutMs` without having sent any part of it (a message
   * that was fragmented part-way is cancelled: the peer drops what it got). Queued
   * messages go first, to keep the order. Blocks the thread: the peer must be draining
   * (a native echo whose replies nobody reads stops draining when its ring fills).
   */
  sendDirect(data: SendData, timeoutMs: number): void {
    this.assertOpen('sendDirect');
    const bytes = toBytes(data);
    checkNumber('timeoutMs', timeoutMs, 0, 2 ** 31, false);
    const deadline = now() + timeoutMs;
    const w = this.endpoint.writer;
    // Earlier queued messages first (order is part of the contract).
    while (this.queueLength() > 0) {
      this.pumpQueue(Infinity);
      if (this.queueLength() === 0) break;
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
    this.publishNow();
  }

  /**
   * Zero-copy send: a writable view of `n` bytes inside the ring (n <= the largest single
   * record, r2nSize / 4 - 8), sent by commit(). Returns null when there is no room now (or
   * earlier messages are queued). Only one reservation may be open at a time.
   */
  reserve(n: number): Reservation | null {
    this.assertOpen('reserve');
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > this.maxPayload) {
      throw new RangeError(`reserve(n): n must be an integer from 0 to ${this.maxPayload} (the largest single record of this ring), not ${typeof n === 'number' ? n : describe(n)}`);
    }
    if (this.reservationOpen) throw new ChannelError('reservation_open', 'reserve(): a reservation is already open; commit() or abort() it first');
    if (this.queueLength() > 0) return null;
    const w = this.endpoint.writer;
    const view = w.reserve(n);
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
        this.assertOpen('commit');
        done = true;
        this.reservationOpen = false;
        w.commit(used);
        this.countSent(used);
        this.schedulePublish();
      },
      abort: () => {
        if (done) return;
        done = true;
        this.reservationOpen = false;
        w.abort();
      },
    };
  }

  /** Calls `cb` once when the JS send queue is empty (at once if it already is). */
  onQueueEmpty(cb: () => void): void {
    if (typeof cb !== 'function') throw new TypeError(`onQueueEmpty(cb): cb must be a function, not ${describe(cb)}`);
    this.assertOpen('onQueueEmpty');
    if (this.queueLength() === 0) scheduleTask(cb);
    else this.queueEmptyCallbacks.push(cb);
  }

  // ---- receiving --------------------------------------------------------------------

  /**
   * Delivers every incoming message to `cb`. The Uint8Array is a view INTO THE RING,
   * valid only until `cb` returns (the bytes are then handed back to the peer): copy it
   * (`message.slice()`) to keep it, or pass `{ copy: true }`.
   */
  startReceiving(cb: MessageCallback, options: ReceiveOptions = {}): void {
    this.assertOpen('startReceiving');
    if (typeof cb !== 'function') throw new TypeError(`startReceiving(cb): cb must be a function, not ${describe(cb)}`);
    this.receiver = cb;
    this.copyMessages = options.copy === true;
    this.updateListening();
    this.scheduleDrain();
  }

  stopReceiving(): void {
    this.receiver = null;
    this.updateListening();
    // Not parked as consumer any more: the peer stops ringing for data.
    if (!this.closed) this.endpoint.unparkConsumer();
  }

  /** Drains incoming messages now, synchronously, up to `maxMessages` (spin loops, tests). */
  poll(maxMessages = Infinity): number {
    this.assertOpen('poll');
    const n = this.endpoint.poll(this.deliver, maxMessages);
    if (n === EOF) {
      this.cleanup(); // the peer closed and everything it sent was delivered
      return 0;
    }
    return n;
  }

  private get receiving(): boolean {
    return this.receiver !== null || this.emitsMessages;
  }

  private updateListening(): void {
    if (!this.closed && this.refed && this.receiving) channelsListening.add(this);
    else channelsListening.delete(this);
  }

  protected override listenersChanged(event: keyof Events): void {
    if (event !== 'message') return;
    this.emitsMessages = this.listenerCount('message') > 0;
    this.updateListening();
    if (this.emitsMessages && !this.closed) this.scheduleDrain();
  }

  // ---- native plugins ---------------------------------------------------------------

  /**
   * Loads the native plugin at `path` with `config` (passed to its create() as JSON),
   * replacing the plugin the peer runs (which is first stopped, waited for and unloaded).
   * Needs a peer that runs plugins (the addon transport with option `plugin` or handler
   * 'plugin'). Throws an Error naming the path if loading fails; the peer then has no
   * plugin and drops incoming messages (counted in getStats().peer.pluginDropped).
   */
  loadPlugin(path: string, config: unknown = {}): void {
    this.assertOpen('loadPlugin');
    if (typeof path !== 'string' || path === '') throw new TypeError(`loadPlugin(path, config): path must be a non-empty string, not ${describe(path)}`);
    const json = JSON.stringify(config ?? {});
    if (typeof json !== 'string') throw new TypeError(`loadPlugin(path, config): config must be JSON-serializable, not ${describe(config)}`);
    if (!this.transport.loadPlugin) throw new ChannelError('unsupported', 'loadPlugin(): this channel\'s peer does not run native plugins');
    this.publishNow(); // what was sent before the swap reaches the old plugin (or is dropped)
    this.transport.loadPlugin(path, json);
  }

  /** Unloads the peer's plugin (messages are then dropped); true if one was loaded. */
  unloadPlugin(): boolean {
    this.assertOpen('unloadPlugin');
    if (!this.transport.unloadPlugin) throw new ChannelError('unsupported', 'unloadPlugin(): this channel\'s peer does not run native plugins');
    return this.transport.unloadPlugin();
  }

  // ---- monitoring -------------------------------------------------------------------

  getStats(): ChannelStats {
    const ctrl = this.region.ctrl;
    const fill = (wi: number, ri: number, cap: number): number => Math.min((Atomics.load(ctrl, wi) - Atomics.load(ctrl, ri)) >>> 0, cap);
    const out = this.endpoint.outWords;
    const inn = this.endpoint.inWords;
    return {
      ...this.stat,
      queueLength: this.queueLength(),
      queueBytes: this.queueBytes,
      r2nFill: fill(out.writeIndex, out.readIndex, this.region.r2nCapacity),
      n2rFill: fill(inn.writeIndex, inn.readIndex, this.region.n2rCapacity),
      r2nCapacity: this.region.r2nCapacity,
      n2rCapacity: this.region.n2rCapacity,
      peer: this.closed ? {} : (this.transport.stats?.() ?? {}),
    };
  }

  /**
   * Keep the process alive while open (Node), or not (default). A ref'd channel that is
   * receiving also stays reachable without a reference of yours, like a ref'd Node handle.
   */
  ref(): this {
    this.transport.ref?.();
    this.refed = true;
    this.updateListening();
    return this;
  }
  unref(): this {
    this.transport.unref?.();
    this.refed = false;
    this.updateListening();
    return this;
  }

  // ---- lifecycle --------------------------------------------------------------------

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Closes the channel: publishes what was written, tells the peer, stops the native
   * thread, releases the doorbell and the buffer. Pending sendAsync promises reject.
   * Calling it again does nothing; every other method afterwards throws.
   */
  cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    try {
      this.endpoint.close();
    } catch {
      // a failed endpoint stays failed; the peer sees that state
    }
    this.transport.close();
    const err = new ChannelClosedError('closed', 'the channel was closed before the message was written');
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]?.reject?.(err);
    this.queue = [];
    this.queueHead = 0;
    this.queueBytes = 0;
    this.queueEmptyCallbacks = [];
    channelsWithQueue.delete(this);
    channelsPinnedOpen.delete(this);
    channelsListening.delete(this);
    this.emit('close');
  }

  [Symbol.dispose](): void {
    this.cleanup();
  }

  // ---- internals --------------------------------------------------------------------

  private assertOpen(what: string): void {
    if (this.closed) throw new ChannelClosedError('closed', `${what}(): the channel is closed (cleanup() was called or it failed)`);
  }

  private queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  private countSent(n: number): void {
    this.stat.messagesSent++;
    this.stat.bytesSent += n;
  }

  /** The fast path of send/sendAsync: the whole message into the ring now (nothing queued
   *  ahead of it), published at the end of this turn with the others. */
  private writeNow(bytes: Uint8Array): boolean {
    if (this.queueLength() > 0 || !this.tryWriteWhole(bytes)) return false;
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

  private enqueue(bytes: Uint8Array, resolve: (() => void) | null, reject: ((e: Error) => void) | null): void {
    this.queue.push({ bytes, started: false, resolve, reject });
    this.queueBytes += bytes.length;
    channelsWithQueue.add(this); // until pumpQueue empties the queue or cleanup()
    this.pumpQueue(this.drainBudgetMs);
    if (this.queueLength() > 0) this.parkProducerOrRetry();
  }

  /** Writes queued messages while there is room. */
  private pumpQueue(budgetMs: number): void {
    const w = this.endpoint.writer;
    const t0 = budgetMs === Infinity ? 0 : now();
    let wrote = false;
    while (this.queueHead < this.queue.length) {
      const q = this.queue[this.queueHead]!;
      let done: boolean;
      if (!q.started && q.bytes.length <= this.maxPayload) {
        done = this.endpoint.trySend(q.bytes);
      } else {
        if (!q.started) {
          w.beginLarge(q.bytes);
          q.started = true;
        }
        done = w.continueLarge();
      }
      if (!done) {
        if (wrote || q.started) this.publishNow();
        break;
      }
      wrote = true;
      this.queue[this.queueHead] = undefined as unknown as QueuedMessage; // let GC have it
      this.queueHead++;
      this.queueBytes -= q.bytes.length;
      this.countSent(q.bytes.length);
      q.resolve?.();
      if (budgetMs !== Infinity && now() - t0 > budgetMs) break;
    }
    if (wrote) this.publishNow();
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
      channelsWithQueue.delete(this);
      if (wrote) this.queueDrained();
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
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
    if (this.parkProducer()) this.scheduleDrain(); // space appeared meanwhile
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
    this.publishNow();
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
    try {
      this.endpoint.flush(); // rings the peer through `wake` if it is parked
    } catch (e) {
      this.failAsync(e as Error);
    }
  }

  /** Called by the transport's doorbell (see weakDoorbell). */
  private onDoorbell(): void {
    if (this.closed) return;
    this.stat.doorbellsFromPeer++;
    this.drain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    scheduleTask(this.drainTask);
  }

  private startPollTimer(): void {
    this.pollTimer = setInterval(() => this.drain(), this.pollIntervalMs);
    const t = this.pollTimer as unknown as { unref?: () => void };
    t.unref?.();
  }

  /**
   * One drain pass: writes queued messages, delivers incoming ones, within the drain
   * budget. If work remains it yields (scheduleTask) instead of parking; if everything is
   * done it parks (doorbell mode), so the peer rings when there is more.
   */
  private drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.stat.drainPasses++;
    const t0 = now();
    let more = false;
    try {
      for (;;) {
        if (this.queueLength() > 0) this.pumpQueue(this.drainBudgetMs);
        if (this.closed) return;
        let n = 0;
        if (this.receiving) {
          // Small batches: the budget is checked between them, so a drain overruns it by at
          // most one batch (a 4096-message batch measured 10-45 ms under a flood).
          n = this.endpoint.poll(this.deliver, 512);
          if (n === EOF) {
            this.cleanup(); // the peer closed and everything it sent was delivered
            return;
          }
        } else {
          this.checkPeer();
        }
        if (this.closed) return;
        if (n === 0) {
          // Nothing delivered: park (doorbell) or stop until the next tick (poll / spin).
          if (this.wakeMode !== 'doorbell') {
            more = this.wakeMode === 'spin' && (this.receiving || this.queueLength() > 0);
            break;
          }
          // Parking re-checks the ring: true means work arrived meanwhile, go round again.
          const woke = (this.queueLength() > 0 && this.parkProducer()) || (this.receiving && this.parkConsumer());
          if (!woke) break;
        }
        if (now() - t0 >= this.drainBudgetMs) {
          more = true;
          break;
        }
      }
    } catch (e) {
      this.failAsync(e as Error);
    } finally {
      this.draining = false;
      const elapsed = now() - t0;
      if (elapsed > this.stat.longestDrainMs) this.stat.longestDrainMs = elapsed;
    }
    if (more) this.scheduleDrain();
  }

  private checkPeer(): void {
    const ps = this.endpoint.peerState();
    if (ps.state === STATE_CLOSED || ps.state === STATE_FAILED) {
      // Let poll() drain and report: it distinguishes closed from failed.
      this.endpoint.poll(this.deliver, 0);
    }
  }

  /** Reports an error as an 'error' event, then closes the channel. */
  private failAsync(err: Error): void {
    if (this.closed) return;
    if (err instanceof ProtocolError) this.stat.protocolErrors++;
    // Like Node's emitters: an 'error' nobody listens to is thrown (asynchronously, so
    // the channel is already cleaned up and no native call is on the stack).
    scheduleTask(() => {
      if (!this.emit('error', err)) throw err;
    });
    this.cleanup();
  }
}

/** A doorbell callback that refers to the channel only weakly. */
function weakDoorbell(weak: WeakRef<SharedMemoryChannel>): () => void {
  // Bracket access reaches the private method (TypeScript's sanctioned escape hatch).
  return () => weak.deref()?.['onDoorbell']();
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
