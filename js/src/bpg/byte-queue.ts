// The stream decoder's pending bytes: owned segments followed by the chunk being pushed,
// borrowed until retain(); packets are copied out of it once, when complete.
interface Segment {
  data: Uint8Array; // backing storage; only [start, end) holds queued bytes
  start: number;
  end: number;
}

const COALESCE_BELOW = 4096;

/** Pending bytes: owned segments followed by the chunk being pushed (borrowed until retain). */
export class ByteQueue {
  private segs: Segment[] = [];
  private first = 0; // segs before this index are consumed (compacted lazily)
  private borrowed: Uint8Array = new Uint8Array(0);
  size = 0;

  borrow(chunk: Uint8Array): void {
    this.borrowed = chunk;
    this.size += chunk.byteLength;
  }

  /** Copies the unconsumed part of the borrowed chunk, since the caller may reuse it. */
  retain(): void {
    const b = this.borrowed;
    if (b.byteLength === 0) return;
    this.borrowed = new Uint8Array(0);
    const last = this.segs.length > this.first ? this.segs[this.segs.length - 1] : undefined;
    if (last && last.data.byteLength - last.end >= b.byteLength) {
      last.data.set(b, last.end);
      last.end += b.byteLength;
      return;
    }
    // Small chunks share a buffer with spare room, so byte-at-a-time input stays O(n).
    const data = new Uint8Array(Math.max(b.byteLength, b.byteLength < COALESCE_BELOW ? COALESCE_BELOW : 0));
    data.set(b);
    this.segs.push({ data, start: 0, end: b.byteLength });
  }

  private forEachRun(fn: (bytes: Uint8Array, start: number, end: number) => boolean): void {
    for (let i = this.first; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      if (!fn(s.data, s.start, s.end)) return;
    }
    if (this.borrowed.byteLength > 0) fn(this.borrowed, 0, this.borrowed.byteLength);
  }

  /** Copies bytes [offset, offset + dst.length) of the queue into dst. */
  copyOut(offset: number, dst: Uint8Array): void {
    let done = 0;
    let skip = offset;
    this.forEachRun((bytes, start, end) => {
      const len = end - start;
      if (skip >= len) {
        skip -= len;
        return true;
      }
      const n = Math.min(len - skip, dst.byteLength - done);
      dst.set(bytes.subarray(start + skip, start + skip + n), done);
      done += n;
      skip = 0;
      return done < dst.byteLength;
    });
  }

  /** Bytes [offset, offset + len): a view when contiguous, else a copy. */
  bytes(offset: number, len: number): Uint8Array {
    let found: Uint8Array | undefined;
    let skip = offset;
    this.forEachRun((bytes, start, end) => {
      const runLen = end - start;
      if (skip >= runLen) {
        skip -= runLen;
        return true;
      }
      if (runLen - skip >= len) found = bytes.subarray(start + skip, start + skip + len);
      return false;
    });
    if (found) return found;
    const out = new Uint8Array(len);
    this.copyOut(offset, out);
    return out;
  }

  /** The first contiguous run. */
  front(): Uint8Array {
    if (this.first < this.segs.length) {
      const s = this.segs[this.first]!;
      return s.data.subarray(s.start, s.end);
    }
    return this.borrowed;
  }

  consume(n: number): void {
    this.size -= n;
    while (n > 0 && this.first < this.segs.length) {
      const s = this.segs[this.first]!;
      const avail = s.end - s.start;
      if (n < avail) {
        s.start += n;
        return;
      }
      n -= avail;
      this.first++;
    }
    if (this.first > 64 && this.first * 2 > this.segs.length) {
      this.segs = this.segs.slice(this.first);
      this.first = 0;
    }
    if (n > 0) this.borrowed = this.borrowed.subarray(n);
  }
}
