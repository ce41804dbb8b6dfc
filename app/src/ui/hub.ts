// The dashboard's state outside React: the current channel, what arrives on it, counters,
// the stats sampler, the log ring, the image sink and the send/flood loops.
//
// Rule for everything here: per-message work is a few field updates and small copies;
// nothing per message touches React. React re-renders from these fields on a timer
// (see `subscribe`), so a million messages cost the UI nothing but the sampling ticks.
import type { SharedMemoryChannel } from 'shared-memory-channel/browser';
import { bpg } from 'shared-memory-channel/browser';
import { createAppChannel, defaultConfig, type AppChannelConfig } from '../peer/create';
import { looksText, parseHex, textPreview } from './hex';

export type Status = 'idle' | 'connecting' | 'connected' | 'error' | 'closed';
export type ImageConfig = NonNullable<AppChannelConfig['image']>;

/** A copy of a configuration's image settings (640x480 at 30 fps when it has none). */
export function imageOf(cfg: AppChannelConfig): ImageConfig {
  return { ...(cfg.image ?? { width: 640, height: 480, fps: 30 }) };
}
export type Tab = 'send' | 'config' | 'perf' | 'image' | 'bench' | 'log';

const TAG_PING = 0x5049; // 'PI'
const TAG_IMAGE = 0x494d; // 'IM'
const PING_SIZE = bpg.BPG_HEADER_SIZE + 8;
const SAMPLE_MS = 250;
const HISTORY = 240; // 60 s at 4 Hz
const FLOOD_SLICE_MS = 4;
const MAX_REPEAT = 1_000_000;

/** Offset of a BPG packet's group id (u32, big-endian; see docs/bpg.md). */
const GROUP_ID_OFFSET = 14;

/** Whether a received message starts with the BPG magic (cheap: no decoding). */
function isBpg(m: Uint8Array): boolean {
  return (
    m.length >= bpg.BPG_HEADER_SIZE &&
    ((m[0]! << 24) | (m[1]! << 16) | (m[2]! << 8) | m[3]!) >>> 0 === bpg.BPG_MAGIC
  );
}

/** Yields to the event loop (a macrotask without setTimeout's nesting clamp). */
const yieldChannel = new MessageChannel();
const yieldQueue: Array<() => void> = [];
yieldChannel.port1.onmessage = () => yieldQueue.shift()?.();
export function yieldTask(): Promise<void> {
  return new Promise((resolve) => {
    yieldQueue.push(resolve);
    yieldChannel.port2.postMessage(0);
  });
}

/**
 * Sends without letting the JS queue grow: 'sent' (in the ring), 'queued' (the ring was
 * full: the message now waits in the JS queue; wait for onQueueEmpty before sending more)
 * or 'refused' (send() returned false: the queue is at its high-water mark). Small
 * messages go through reserve() (which returns null exactly when they would queue);
 * larger ones through send() plus a getStats() check (rare: each fills 1/4 of a ring).
 */
export function sendNoQueue(ch: SharedMemoryChannel, bytes: Uint8Array, r2nSize: number): 'sent' | 'queued' | 'refused' {
  if (bytes.length <= r2nSize / 4 - 8) {
    const r = ch.reserve(bytes.length);
    if (r !== null) {
      r.view.set(bytes);
      r.commit();
      return 'sent';
    }
    return ch.send(bytes) ? 'queued' : 'refused';
  }
  if (!ch.send(bytes)) return 'refused';
  return ch.getStats().queueLength > 0 ? 'queued' : 'sent';
}

/** Resolves when the channel's JS send queue is empty, or when the channel closes. */
export function queueEmpty(ch: SharedMemoryChannel): Promise<void> {
  return new Promise((resolve) => {
    if (ch.isClosed) return resolve();
    const onClose = (): void => resolve();
    ch.once('close', onClose);
    ch.onQueueEmpty(() => {
      ch.off('close', onClose);
      resolve();
    });
  });
}

export interface PacedSend {
  /** The next message, or null when done (checked before each send). */
  next(): Uint8Array | null;
  /** After each message that went out (into the ring or, once, into the JS queue). */
  sent(): void;
  /** After each slice; false stops. `waiting`: it now waits for queue space. */
  slice?(waiting: boolean): boolean;
}

/**
 * Sends `p.next()` messages without letting the JS queue grow (sendNoQueue), in slices of
 * a few ms with a yield between them; whenever send() refuses (high-water mark) or a
 * message had to queue (ring full), it waits for onQueueEmpty instead of yielding. The
 * page stays responsive and the queue never holds more than a message.
 */
export async function sendPaced(ch: SharedMemoryChannel, r2nSize: number, p: PacedSend): Promise<void> {
  let bytes = p.next();
  while (bytes !== null && !ch.isClosed) {
    const t0 = performance.now();
    let blocked = false;
    do {
      for (let k = 0; k < 64 && bytes !== null; k++) {
        const r = sendNoQueue(ch, bytes, r2nSize);
        if (r === 'refused') {
          blocked = true;
          break;
        }
        p.sent();
        bytes = p.next();
        if (r === 'queued') {
          // The ring is full: let the peer catch up instead of growing the JS queue.
          blocked = true;
          break;
        }
      }
    } while (!blocked && bytes !== null && performance.now() - t0 < FLOOD_SLICE_MS);
    if (p.slice?.(blocked && bytes !== null) === false || bytes === null) break;
    await (blocked ? queueEmpty(ch) : yieldTask());
  }
}

// ---- log ------------------------------------------------------------------------------

export interface LogEntry {
  seq: number;
  time: number;
  dir: 'tx' | 'rx' | 'info';
  len: number;
  kind: string;
  head: Uint8Array; // first bytes (copy)
  headLen: number;
  tail: Uint8Array; // last bytes (copy)
  tailLen: number;
  note: string;
}

const LOG_HEAD = 32;
const LOG_TAIL = 16;
/** Head bytes the Log panel shows in hex; the tail is kept only for what lies past them. */
const LOG_HEAD_SHOWN = 16;

/**
 * A fixed ring of entries with preallocated byte slots: logging allocates nothing. Under a
 * flood it samples: past `windowBudget` entries per sampling window (tick()), only every
 * 256th message is logged and the rest are counted in `skipped`, so a million messages
 * cost the log almost nothing (the ring shows only the last 500 anyway).
 */
export class LogRing {
  private readonly slots: LogEntry[];
  total = 0;
  skipped = 0;
  private inWindow = 0;
  private sampleCounter = 0;
  readonly windowBudget = 1000;
  constructor(readonly capacity = 500) {
    this.slots = Array.from({ length: capacity }, () => ({
      seq: -1, time: 0, dir: 'info' as const, len: 0, kind: '', head: new Uint8Array(LOG_HEAD), headLen: 0,
      tail: new Uint8Array(LOG_TAIL), tailLen: 0, note: '',
    }));
  }

  /**
   * Whether the next message is logged: true within the window's budget, then for every
   * 256th; a false is counted in `skipped`. Callers describe a message only when admitted.
   */
  admit(): boolean {
    if (++this.inWindow > this.windowBudget && (++this.sampleCounter & 255) !== 0) {
      this.skipped++;
      return false;
    }
    return true;
  }

  /** Logs a message if admit() allows it. */
  add(dir: 'tx' | 'rx', bytes: Uint8Array, kind: string, note = ''): void {
    if (this.admit()) this.record(dir, bytes, kind, note);
  }

  /** Logs an admitted message: copies its first and last bytes by hand (no views, no allocation). */
  record(dir: 'tx' | 'rx', bytes: Uint8Array, kind: string, note = ''): void {
    const e = this.claim(dir, kind, note);
    const len = bytes.length;
    e.len = len;
    const h = Math.min(len, LOG_HEAD);
    const head = e.head;
    for (let i = 0; i < h; i++) head[i] = bytes[i]!; // copies out of shared memory
    e.headLen = h;
    const t = Math.min(LOG_TAIL, Math.max(0, len - LOG_HEAD_SHOWN));
    const tail = e.tail;
    for (let i = 0, o = len - t; i < t; i++) tail[i] = bytes[o + i]!;
    e.tailLen = t;
  }

  /** Starts a new sampling window (called by the 4 Hz sampler). */
  tick(): void {
    this.inWindow = 0;
  }

  info(note: string): void {
    const e = this.claim('info', 'info', note);
    e.len = 0;
    e.headLen = 0;
    e.tailLen = 0;
  }

  private claim(dir: LogEntry['dir'], kind: string, note: string): LogEntry {
    const e = this.slots[this.total % this.capacity]!;
    e.seq = this.total++;
    e.time = performance.now();
    e.dir = dir;
    e.kind = kind;
    e.note = note;
    return e;
  }

  /** Newest first, at most `limit` entries (the live slot objects: read, don't keep). */
  newest(limit = this.capacity): LogEntry[] {
    const n = Math.min(limit, this.total, this.capacity);
    const out: LogEntry[] = [];
    for (let i = 0; i < n; i++) out.push(this.slots[(this.total - 1 - i) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.total = 0;
    this.skipped = 0;
  }
}

export function entryText(e: LogEntry): string {
  return e.kind === 'text' ? textPreview(e.head.subarray(0, e.headLen)) : '';
}

// ---- RTT ------------------------------------------------------------------------------

export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]!;
}

class RttWindow {
  private t: number[] = [];
  private v: number[] = [];
  /** A round trip of `ms` that ended at `at` (performance.now()). */
  add(ms: number, at: number): void {
    this.t.push(at);
    this.v.push(ms);
  }
  /** p50/p99 over the last `windowMs`. */
  take(windowMs = 2000): { p50: number; p99: number } {
    const cut = performance.now() - windowMs;
    let i = 0;
    while (i < this.t.length && this.t[i]! < cut) i++;
    this.t.splice(0, i);
    this.v.splice(0, i);
    return { p50: percentile(this.v, 0.5), p99: percentile(this.v, 0.99) };
  }
}

// ---- image sink -------------------------------------------------------------------------

export type FilterName = 'grayscale' | 'invert' | 'blur';

export class ImageSink {
  width = 0;
  height = 0;
  buf: Uint8ClampedArray<ArrayBuffer> | null = null;
  dirty = false;
  frames = 0;
  drawn = 0;
  dropped = 0;
  lastFrame = -1;
  badFrames = 0;
  lastError = '';
  lastRttMs = NaN;
  fps = 0;
  /** Sent filter requests: group id -> send time. */
  pending = new Map<number, number>();

  reset(): void {
    this.frames = 0;
    this.drawn = 0;
    this.dropped = 0;
    this.lastFrame = -1;
    this.badFrames = 0;
    this.lastRttMs = NaN;
    this.fps = 0;
    this.pending.clear();
  }

  private bad(error: string): void {
    this.badFrames++;
    this.lastError = error;
  }

  onPacket(m: Uint8Array): void {
    let packet: bpg.BpgPacket;
    try {
      const r = bpg.decodeOne(m, { maxPacketSize: m.length });
      if (r.size !== m.length) return this.bad(`IM packet of ${r.size} bytes in a message of ${m.length}`);
      packet = r.packet;
    } catch (e) {
      return this.bad(`malformed IM packet of ${m.length} bytes: ${(e as Error).message}`);
    }
    let meta: { width?: number; height?: number; frame?: number };
    try {
      meta = JSON.parse(packet.metadata) as typeof meta;
    } catch {
      return this.bad('IM metadata is not JSON');
    }
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    const pixels = packet.binary;
    if (!(w > 0 && h > 0) || pixels.length !== w * h * 4) {
      return this.bad(`IM ${w}x${h} with ${pixels.length} payload bytes (want ${w * h * 4})`);
    }
    if (this.buf === null || this.width !== w || this.height !== h) {
      this.buf = new Uint8ClampedArray(w * h * 4);
      this.width = w;
      this.height = h;
    }
    this.buf.set(pixels); // out of shared memory: putImageData needs a non-shared buffer
    this.dirty = true;
    this.frames++;
    const f = meta.frame;
    if (typeof f === 'number') {
      if (this.lastFrame >= 0 && f > this.lastFrame + 1) this.dropped += f - this.lastFrame - 1;
      this.lastFrame = f;
    }
    const sentAt = this.pending.get(packet.groupId);
    if (sentAt !== undefined) {
      this.pending.delete(packet.groupId);
      this.lastRttMs = performance.now() - sentAt;
    }
  }

  draw(canvas: HTMLCanvasElement): void {
    if (!this.dirty || this.buf === null) return;
    this.dirty = false;
    if (canvas.width !== this.width) canvas.width = this.width;
    if (canvas.height !== this.height) canvas.height = this.height;
    canvas.getContext('2d')?.putImageData(new ImageData(this.buf, this.width, this.height), 0, 0);
    this.drawn++;
  }
}

/** A moving RGBA test pattern for the filter round trip (the page is the source). */
function renderPattern(dst: Uint8Array, width: number, height: number, n: number): void {
  let i = 0;
  for (let y = 0; y < height; y++) {
    const g = (y + n * 3) & 255;
    for (let x = 0; x < width; x++) {
      dst[i] = (x + n * 5) & 255;
      dst[i + 1] = g;
      dst[i + 2] = ((x >> 4) ^ (y >> 4)) & 1 ? 220 : 40;
      dst[i + 3] = 255;
      i += 4;
    }
  }
}

// ---- samples ------------------------------------------------------------------------------

export interface Sample {
  t: number; // seconds (wall clock)
  txMsgs: number; // msgs/s JS -> peer
  rxMsgs: number;
  txMB: number; // MB/s (10^6)
  rxMB: number;
  p50: number; // ms
  p99: number;
  r2nFillPct: number;
  n2rFillPct: number;
  queueLength: number;
  doorbellsToPeer: number; // per second
  doorbellsFromPeer: number;
  drainPasses: number; // per second
  longestDrainMs: number;
  fps: number;
  dropped: number;
}

/** What the charts show while no channel is connected. */
const IDLE_SAMPLE: Sample = {
  t: 0, txMsgs: 0, rxMsgs: 0, txMB: 0, rxMB: 0, p50: NaN, p99: NaN, r2nFillPct: 0, n2rFillPct: 0, queueLength: 0,
  doorbellsToPeer: 0, doorbellsFromPeer: 0, drainPasses: 0, longestDrainMs: 0, fps: 0, dropped: 0,
};

export interface FloodState {
  active: boolean;
  kind: string;
  total: number;
  sent: number;
  backpressureWaits: number;
  startedAt: number;
  finishedAt: number;
  cancelled: boolean;
}

export interface SendSpec {
  mode: 'text' | 'hex' | 'bpg';
  text: string;
  hex: string;
  tag: string;
  targetId: number;
  metadata: string;
  payloadHex: string;
  packets: number;
  repeat: number;
}

export class Hub {
  status: Status = 'idle';
  statusDetail = '';
  peerKind: 'electron' | 'worker' | '' = '';
  config: AppChannelConfig = { ...defaultConfig, image: imageOf(defaultConfig) };
  channel: SharedMemoryChannel | null = null;
  private closeApp: (() => void) | null = null;
  /** Channels replaced by Apply (kept for tests: each must be closed). */
  readonly retired: SharedMemoryChannel[] = [];
  channelsCreated = 0;
  private generation = 0;

  readonly log = new LogRing(500);
  readonly image = new ImageSink();
  private readonly rtt = new RttWindow();
  readonly history: Sample[] = [];
  latest: Sample | null = null;
  chartUpdates = 0;
  samples = 0;
  flood: FloodState | null = null;
  filter: { active: boolean; name: FilterName; inFlight: number } = { active: false, name: 'grayscale', inFlight: 0 };
  benchRunning = false;
  /** Echoed pings received (they are counted in getStats().messagesReceived too). */
  pingsReceived = 0;

  private prev: { t: number; s: ReturnType<SharedMemoryChannel['getStats']> } | null = null;
  private prevFrames = 0;
  private listeners = new Set<() => void>();
  private sampleListeners = new Set<(s: Sample) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingSeq = 0;
  /** A ping's payload: its send time (f64, little-endian); the echo brings it back. */
  private readonly pingStamp = new DataView(new ArrayBuffer(8));
  private readonly pingPacket = new Uint8Array(PING_SIZE);
  private filterGroup = 1;
  private filterFrame = 0;

  start(): void {
    if (this.timer === null) this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    if (this.pingTimer === null) this.pingTimer = setInterval(() => this.ping(), 50);
    void this.apply(this.config);
  }

  /** Re-renders React (4 Hz, from the sampler; plus on status changes). */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  onSample(fn: (s: Sample) => void): () => void {
    this.sampleListeners.add(fn);
    return () => this.sampleListeners.delete(fn);
  }
  notify(): void {
    for (const fn of this.listeners) fn();
  }

  private setStatus(s: Status, detail = ''): void {
    this.status = s;
    this.statusDetail = detail;
    this.notify();
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Closes the current channel (if any) and opens one with `cfg`. */
  async apply(cfg: AppChannelConfig): Promise<void> {
    const gen = ++this.generation;
    this.stopFlood();
    this.filter.active = false;
    this.filter.inFlight = 0;
    const old = this.channel;
    if (old !== null) {
      this.closeApp?.();
      if (!old.isClosed) old.cleanup();
      this.retired.push(old);
      if (this.retired.length > 8) this.retired.shift();
      this.log.info(`closed channel #${this.channelsCreated}`);
    }
    this.channel = null;
    this.closeApp = null;
    this.config = cfg;
    this.image.reset();
    this.setStatus('connecting', `${cfg.handler}, rings ${cfg.r2nSize}/${cfg.n2rSize} B, ${cfg.wakeMode}`);
    try {
      const app = await createAppChannel(cfg);
      if (gen !== this.generation) {
        app.close();
        return;
      }
      const ch = app.channel;
      this.channel = ch;
      this.closeApp = app.close;
      this.peerKind = app.peerKind;
      this.channelsCreated++;
      ch.on('error', (e) => {
        if (this.channel === ch) this.setStatus('error', e.message);
      });
      ch.on('close', () => {
        if (this.channel === ch && this.status === 'connected') this.setStatus('closed', 'the channel closed');
      });
      ch.startReceiving(this.onMessage);
      this.prev = { t: performance.now(), s: ch.getStats() };
      this.log.info(`channel #${this.channelsCreated} connected (${app.peerKind} peer, handler ${cfg.handler})`);
      this.setStatus('connected', `${app.peerKind} peer, handler ${cfg.handler}`);
    } catch (e) {
      if (gen !== this.generation) return;
      this.setStatus('error', (e as Error).message);
      this.log.info(`connect failed: ${(e as Error).message}`);
    }
  }

  // ---- receiving ----------------------------------------------------------------------

  /** Every incoming message: a view into the ring, valid only during this call. */
  // Under a flood most messages are only counted by the log: each is described (tag, text
  // or bytes) only once the log has admitted it.
  private readonly onMessage = (m: Uint8Array): void => {
    if (isBpg(m)) {
      const tag = (m[4]! << 8) | m[5]!;
      if (tag === TAG_PING && m.length === PING_SIZE) {
        const now = performance.now();
        this.pingsReceived++;
        this.rtt.add(now - new DataView(m.buffer, m.byteOffset + bpg.BPG_HEADER_SIZE, 8).getFloat64(0, true), now);
        return;
      }
      if (tag === TAG_IMAGE) {
        this.image.onPacket(m);
        if (this.filter.inFlight > 0) this.filter.inFlight--;
      }
      if (this.log.admit()) this.log.record('rx', m, 'bpg', String.fromCharCode(m[4]!, m[5]!));
      return;
    }
    if (this.log.admit()) this.log.record('rx', m, looksText(m, LOG_HEAD) ? 'text' : 'bytes');
  };

  private ping(): void {
    const ch = this.channel;
    if (ch === null || ch.isClosed || this.config.handler !== 'echo' || this.benchRunning) return;
    this.pingStamp.setFloat64(0, performance.now(), true);
    bpg.encodeInto(this.pingPacket, { tag: 'PI', targetId: 0, groupId: this.pingSeq, binary: new Uint8Array(this.pingStamp.buffer) });
    this.pingSeq = (this.pingSeq + 1) >>> 0;
    ch.send(this.pingPacket);
  }

  // ---- sampling -----------------------------------------------------------------------

  private sample(): void {
    const ch = this.channel;
    const t = performance.now();
    let s: Sample = { ...IDLE_SAMPLE, t: Date.now() / 1000, dropped: this.image.dropped };
    if (ch !== null && !ch.isClosed && this.prev !== null) {
      const st = ch.getStats();
      const p = this.prev.s;
      const dt = Math.max(1e-3, (t - this.prev.t) / 1000);
      const rtt = this.rtt.take();
      const frames = this.image.frames;
      s = {
        t: Date.now() / 1000,
        txMsgs: (st.messagesSent - p.messagesSent) / dt,
        rxMsgs: (st.messagesReceived - p.messagesReceived) / dt,
        txMB: (st.bytesSent - p.bytesSent) / dt / 1e6,
        rxMB: (st.bytesReceived - p.bytesReceived) / dt / 1e6,
        p50: rtt.p50,
        p99: rtt.p99,
        r2nFillPct: (100 * st.r2nFill) / st.r2nCapacity,
        n2rFillPct: (100 * st.n2rFill) / st.n2rCapacity,
        queueLength: st.queueLength,
        doorbellsToPeer: (st.doorbellsToPeer - p.doorbellsToPeer) / dt,
        doorbellsFromPeer: (st.doorbellsFromPeer - p.doorbellsFromPeer) / dt,
        drainPasses: (st.drainPasses - p.drainPasses) / dt,
        longestDrainMs: st.longestDrainMs,
        fps: (frames - this.prevFrames) / dt,
        dropped: this.image.dropped,
      };
      this.prevFrames = frames;
      this.prev = { t, s: st };
      // fps over ~1 s (4 samples) for a steadier reading
      const recent = this.history.slice(-3).map((h) => h.fps);
      this.image.fps = (recent.reduce((a, b) => a + b, 0) + s.fps) / (recent.length + 1);
    }
    this.log.tick();
    this.latest = s;
    this.history.push(s);
    if (this.history.length > HISTORY) this.history.shift();
    this.samples++;
    for (const fn of this.sampleListeners) fn(s);
    this.notify();
  }

  // ---- sending ------------------------------------------------------------------------

  /** Builds the bytes of one repetition and the offsets of group ids to renumber. */
  build(spec: SendSpec): { bytes: Uint8Array; groupIdOffsets: number[]; kind: string } {
    if (spec.mode === 'text') return { bytes: new TextEncoder().encode(spec.text), groupIdOffsets: [], kind: 'text' };
    if (spec.mode === 'hex') {
      return { bytes: parseHex(spec.hex), groupIdOffsets: [], kind: 'bytes' };
    }
    const payload = parseHex(spec.payloadHex);
    const n = Math.max(1, Math.min(64, Math.floor(spec.packets)));
    const per = Math.ceil(payload.length / n);
    const packets: bpg.BpgPacketInit[] = Array.from({ length: n }, (_, i) => ({
      tag: spec.tag,
      endOfGroup: i === n - 1,
      targetId: spec.targetId >>> 0,
      groupId: 1,
      metadata: i === 0 ? spec.metadata : '',
      binary: payload.subarray(i * per, (i + 1) * per),
    }));
    // The group's packets back to back in one message.
    const bytes = new Uint8Array(packets.reduce((a, p) => a + bpg.encodedSize(p), 0));
    const offsets: number[] = [];
    let o = 0;
    for (const p of packets) {
      offsets.push(o + GROUP_ID_OFFSET);
      o += bpg.encodeInto(bytes.subarray(o), p);
    }
    return { bytes, groupIdOffsets: offsets, kind: 'bpg' };
  }

  /**
   * Sends `repeat` copies (BPG groups get consecutive group ids). Works in slices of a few
   * ms and yields between them; whenever send() refuses (high-water mark) or messages start
   * to wait in the JS queue (ring full), it waits for onQueueEmpty: the page stays
   * responsive and the queue never holds more than a few dozen messages.
   */
  async send(spec: SendSpec): Promise<void> {
    const ch = this.channel;
    if (ch === null || ch.isClosed) throw new Error('not connected');
    const { bytes, groupIdOffsets, kind } = this.build(spec);
    const count = Math.max(1, Math.min(MAX_REPEAT, Math.floor(spec.repeat)));
    this.stopFlood();
    const f: FloodState = {
      active: true, kind, total: count, sent: 0, backpressureWaits: 0, startedAt: performance.now(), finishedAt: 0, cancelled: false,
    };
    this.flood = f;
    let i = 0;
    let groupId = (Math.random() * 0x7fffffff) >>> 0;
    const label = kind === 'bpg' ? spec.tag : '';
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await sendPaced(ch, this.config.r2nSize, {
      next: () => {
        if (i >= count || f.cancelled || this.channel !== ch) return null;
        for (const off of groupIdOffsets) dv.setUint32(off, groupId);
        return bytes;
      },
      sent: () => {
        groupId = (groupId + 1) >>> 0;
        this.log.add('tx', bytes, kind, label);
        i++;
      },
      slice: (waiting) => {
        f.sent = i;
        if (waiting) f.backpressureWaits++;
        return true;
      },
    });
    f.sent = i;
    f.active = false;
    f.finishedAt = performance.now();
    this.notify();
  }

  stopFlood(): void {
    if (this.flood?.active) {
      this.flood.cancelled = true;
      this.flood.active = false;
      this.flood.finishedAt = performance.now();
    }
  }

  // ---- image filter round trip ----------------------------------------------------------

  /** Page-generated frames sent to the 'image-filter' peer; replies are drawn. */
  async runFilterLoop(name: FilterName): Promise<void> {
    const ch = this.channel;
    if (ch === null || this.config.handler !== 'image-filter') throw new Error("the peer's handler must be 'image-filter'");
    this.filter = { active: true, name, inFlight: 0 };
    const f = this.filter;
    const { width, height, fps } = imageOf(this.config);
    const pixels = new Uint8Array(width * height * 4);
    let packet = new Uint8Array(0); // reused: send() copies it into the ring (or its queue)
    const period = 1000 / Math.max(1, fps);
    let next = performance.now();
    while (f.active && this.channel === ch && !ch.isClosed) {
      const now = performance.now();
      if (f.inFlight < 2 && now >= next) {
        renderPattern(pixels, width, height, this.filterFrame);
        const groupId = this.filterGroup++ >>> 0;
        const init: bpg.BpgPacketInit = {
          tag: 'IM', targetId: 1, groupId,
          metadata: JSON.stringify({
            width, height, channels: 4, format: 'rgba8', frame: this.filterFrame++, timestamp: Date.now(), filter: f.name,
          }),
          binary: pixels,
        };
        const size = bpg.encodedSize(init);
        if (packet.length < size) packet = new Uint8Array(size + 256);
        bpg.encodeInto(packet, init);
        this.image.pending.set(groupId, now);
        if (this.image.pending.size > 64) this.image.pending.delete(this.image.pending.keys().next().value!);
        if (ch.send(packet.subarray(0, size))) f.inFlight++;
        next = Math.max(next + period, now - period);
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(10, next - performance.now()))));
    }
  }

  stopFilter(): void {
    this.filter.active = false;
  }
}
