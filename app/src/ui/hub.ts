// The dashboard's store outside React: the current channel, what arrives on it and where it
// goes (log ring, image sink, ping round trips), the 4 Hz sampler, and the send and filter
// loops. The pieces live in their own modules (pacing, log-ring, latency, image-sink,
// sample); this file wires them to one channel.
//
// Rule for everything here: per-message work is a few field updates and small copies;
// nothing per message touches React. React re-renders from these fields on a timer
// (see `subscribe`), so a million messages cost the UI nothing but the sampling ticks.
import type { SharedMemoryChannel } from 'shared-memory-channel/browser';
import { bpg } from 'shared-memory-channel/browser';
import { createAppChannel, defaultConfig, type AppChannelConfig } from '../peer/create';
import { looksText, parseHex } from './hex';
import { ImageSink, renderPattern, type FilterName } from './image-sink';
import { RttWindow } from './latency';
import { LOG_HEAD, LogRing } from './log-ring';
import { sendPaced } from './pacing';
import { IDLE_SAMPLE, type Sample } from './sample';

export type Status = 'idle' | 'connecting' | 'connected' | 'error' | 'closed';
export type ImageConfig = NonNullable<AppChannelConfig['image']>;

/** A copy of a configuration's image settings (640x480 at 30 fps when it has none). */
export function imageOf(cfg: AppChannelConfig): ImageConfig {
  return { ...(cfg.image ?? { width: 640, height: 480, fps: 30 }) };
}
export type Tab = 'send' | 'config' | 'perf' | 'image' | 'bench' | 'log';

const TAG_PING = bpg.tagNumber('PI');
const TAG_IMAGE = bpg.tagNumber('IM');
const PING_SIZE = bpg.BPG_HEADER_SIZE + 8;
const SAMPLE_MS = 250;
const HISTORY = 240; // 60 s at 4 Hz
const MAX_REPEAT = 1_000_000;

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
    const tag = bpg.peekTag(m);
    if (tag >= 0) {
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
      if (this.log.admit()) this.log.record('rx', m, 'bpg', String.fromCharCode(tag >> 8, tag & 0xff));
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
      offsets.push(o + bpg.BPG_OFFSETS.groupId);
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
