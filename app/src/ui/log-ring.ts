// The Log panel's store: a fixed ring of entries with preallocated byte slots.
import { textPreview } from './hex';

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

export const LOG_HEAD = 32;
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
