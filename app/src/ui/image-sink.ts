// The Image panel's receiver: BPG 'IM' frames decoded with the library's codec and copied
// out of shared memory for the canvas; and the test pattern the page sends to the filter.
import { bpg } from 'shared-memory-channel/browser';

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
export function renderPattern(dst: Uint8Array, width: number, height: number, n: number): void {
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
