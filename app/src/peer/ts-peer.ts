// The TypeScript implementation of the native side (side N) of a channel: the stand-in
// for the C++ addon wherever there is none (the browser dashboard's Web Worker, and the
// isolated-world e2e's content script, which hosts it in a Worker too). It blocks in
// Atomics.wait, so it runs on a worker thread, never on a window's.
//
// Handlers: 'echo' returns every message; 'sink' counts; 'image-source' streams BPG `IM`
// frames at the configured rate; 'image-filter' answers `IM` packets with a filtered
// frame (image-source does too, so the page can round-trip its frames).
import { EOF, type Endpoint } from 'shared-memory-channel/protocol';
import { decodeOne, encodeInto, encodedSize } from 'shared-memory-channel/bpg';
import type { ControlServer } from './peer-control';
import { peerConfigFor, type PeerConfig } from './peer-protocol';
import { applyFilter, renderFrame, type FilterName } from './image';

export interface PeerCounters {
  messages: number;
  bytes: number;
  framesSent: number;
  filtered: number;
  errors: number;
  /** The handler running ('' once unloaded: messages are then dropped). */
  handler: string;
  loads: number;
  unloads: number;
  dropped: number;
}

export const newCounters = (): PeerCounters => ({ messages: 0, bytes: 0, framesSent: 0, filtered: 0, errors: 0, handler: '', loads: 0, unloads: 0, dropped: 0 });

/**
 * Serves the channel until the page closes it (returns) or it fails (throws; a page that
 * closes while we wait for room throws ChannelClosedError). `report` is called about every
 * 250 ms: a blocked worker cannot answer requests, so it reports on its own. With
 * `control`, the host can swap the handler between batches (load a plugin by name, or
 * unload: messages are then dropped and counted), as the addon's plugin slot does.
 */
export function runPeer(ep: Endpoint, initial: PeerConfig, stats: PeerCounters, report: () => void, control?: ControlServer): void {
  let cfg: PeerConfig | null = null;
  let img = { width: 640, height: 480, fps: 30 };
  let source = false;
  let pixels: Uint8Array | null = null;
  let frameBuf = new Uint8Array(0);
  let filterOut = new Uint8Array(0);
  let frame = 0;
  let period = 1000 / 30;
  let nextFrame = performance.now();
  let lastStats = 0;

  const configure = (next: PeerConfig | null): void => {
    cfg = next;
    stats.handler = next?.handler ?? '';
    img = next?.image ?? { width: 640, height: 480, fps: 30 };
    source = next?.handler === 'image-source';
    pixels = source ? new Uint8Array(img.width * img.height * 4) : null;
    frame = 0;
    period = 1000 / Math.max(1, img.fps);
    nextFrame = performance.now();
  };
  configure(initial);
  stats.loads = 1;

  const reply = (bytes: Uint8Array): void => {
    // Blocks (Atomics.wait) while the page has not drained N2R; a closed page throws.
    ep.sendSync(bytes, 50);
  };

  const filterPacket = (msg: Uint8Array): Uint8Array | null => {
    if (msg.length < 26 || msg[0] !== 0x42 || msg[1] !== 0x50 || msg[2] !== 0x47 || msg[3] !== 0x01) return null;
    let p;
    try {
      p = decodeOne(msg).packet;
    } catch {
      return null;
    }
    if (p.tag !== 'IM') return null;
    let meta: { width?: number; height?: number; filter?: string; frame?: number };
    try {
      meta = JSON.parse(p.metadata) as typeof meta;
    } catch {
      return null;
    }
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    const filter = (meta.filter ?? 'grayscale') as FilterName;
    if (w * h * 4 !== p.binary.length || !['grayscale', 'invert', 'blur'].includes(filter)) return null;
    if (filterOut.length !== p.binary.length) filterOut = new Uint8Array(p.binary.length);
    applyFilter(filter, p.binary, filterOut, w, h);
    stats.filtered++;
    const out = { tag: 'IM', targetId: p.targetId, groupId: p.groupId, endOfGroup: p.endOfGroup, metadata: p.metadata, binary: filterOut };
    const buf = new Uint8Array(encodedSize(out));
    encodeInto(buf, out);
    return buf;
  };

  const onMessage = (msg: Uint8Array): void => {
    stats.messages++;
    stats.bytes += msg.length;
    if (cfg === null) {
      stats.dropped++;
      return;
    }
    if (cfg.handler === 'sink') return;
    if (cfg.handler === 'image-filter' || cfg.handler === 'image-source') {
      const filtered = filterPacket(msg);
      if (filtered) {
        reply(filtered);
        return;
      }
    }
    reply(msg); // echo (the view is copied straight from one ring into the other)
  };

  const apply = control
    ? () =>
        control.poll((req) => {
          if (req.op === 'unload') {
            if (cfg !== null) stats.unloads++;
            configure(null);
            return;
          }
          configure(peerConfigFor({ plugin: req.name, config: req.config }));
          stats.loads++;
        })
    : () => {};

  for (;;) {
    const n = ep.poll(onMessage, 1024);
    if (n === EOF) return;
    ep.flush();
    apply();
    const t = performance.now();
    if (source && pixels && t >= nextFrame) {
      renderFrame(pixels, img.width, img.height, frame);
      const packet = {
        tag: 'IM',
        targetId: 0,
        groupId: frame >>> 0,
        metadata: JSON.stringify({ width: img.width, height: img.height, channels: 4, format: 'rgba8', frame, timestamp: Date.now() }),
        binary: pixels,
      };
      const size = encodedSize(packet);
      if (frameBuf.length !== size) frameBuf = new Uint8Array(size);
      encodeInto(frameBuf, packet);
      reply(frameBuf);
      ep.flush();
      frame++;
      stats.framesSent++;
      nextFrame += period;
      if (t - nextFrame > 10 * period) nextFrame = t + period; // fell far behind: skip, don't burst
    }
    if (t - lastStats > 250) {
      lastStats = t;
      report();
    }
    if (n === 0) {
      const wait = source ? Math.max(0, Math.min(100, nextFrame - performance.now())) : 100;
      if (wait > 0) ep.waitForData(wait);
    }
  }
}
