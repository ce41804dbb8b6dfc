// Pairs the page's two halves of an attach: the SharedArrayBuffer it posts with
// window.postMessage (the only route that shares a SAB across worlds; contextBridge and
// CustomEvent copy it) and the attach(token, ...) call it makes through the bridge. The
// two travel by different routes, and no spec orders them, so an attach completes when
// the buffer for its token has actually arrived, or fails after a stated timeout.
import { HEADER_SIZE, W_N2R_CAPACITY, W_R2N_CAPACITY } from 'shared-memory-channel/protocol';

/** What the page posts next to its attach call: { smcAttach: token, buffer }. */
export const TOKEN_PATTERN = /^smc-[a-z0-9]+-\d+$/;

export interface Rings {
  r2n: number;
  n2r: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Waiter {
  rings: Rings;
  resolve(buffer: SharedArrayBuffer): void;
  reject(e: Error): void;
  timer: unknown;
}

interface Arrival {
  /** The buffer, or why the message carrying it was refused. */
  buffer: SharedArrayBuffer | null;
  refusal: string | null;
  timer: unknown;
}

const describe = (v: unknown): string => {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return Object.prototype.toString.call(v).slice(8, -1);
};

export class AttachHandshake {
  private readonly waiting = new Map<string, Waiter>();
  private readonly arrived = new Map<string, Arrival>();
  /** Tokens that completed or failed an attach: a token opens one channel, once. */
  private readonly used = new Set<string>();

  constructor(
    private readonly ownOrigin: string,
    readonly timeoutMs: number,
    private readonly timers: Timers = globalThis,
    private readonly warn: (msg: string) => void = (m) => console.warn(m),
  ) {}

  /**
   * A window 'message' event. Messages without an `smcAttach` key are not ours and are
   * ignored; ours are checked (origin, token, buffer type) and either hand their buffer
   * to the attach waiting for that token or are kept until it comes.
   */
  onMessage(data: unknown, origin: string): void {
    if (data === null || typeof data !== 'object' || !('smcAttach' in data)) return;
    const { smcAttach: token, buffer } = data as { smcAttach: unknown; buffer?: unknown };
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      this.warn(`smcNative: ignored an attach message with token ${JSON.stringify(token)}: a token looks like 'smc-<base36>-<digits>'`);
      return;
    }
    if (this.used.has(token)) {
      this.warn(`smcNative: ignored a second buffer for token ${token}: tokens are single-use`);
      return;
    }
    let refusal: string | null = null;
    if (origin !== this.ownOrigin) {
      refusal = `the buffer for token ${token} came from origin '${origin}'; only this page's origin '${this.ownOrigin}' may attach`;
    } else if (!(buffer instanceof SharedArrayBuffer)) {
      refusal = `the buffer for token ${token} is ${describe(buffer)}, not a SharedArrayBuffer (only a SharedArrayBuffer is shared with the page; is the page cross-origin isolated?)`;
    }
    const sab = refusal === null ? (buffer as SharedArrayBuffer) : null;
    const w = this.waiting.get(token);
    if (w) {
      this.waiting.delete(token);
      this.timers.clearTimeout(w.timer);
      this.settle(token, w, sab, refusal);
      return;
    }
    if (this.arrived.has(token)) {
      this.warn(`smcNative: ignored a second buffer for token ${token} before its attach`);
      return;
    }
    // Kept for a later attach, but not forever: a page that never attaches leaks nothing.
    const timer = this.timers.setTimeout(() => this.arrived.delete(token), this.timeoutMs);
    this.arrived.set(token, { buffer: sab, refusal, timer });
  }

  /** Resolves with the buffer posted for `token` once it is here and fits `rings`. */
  expect(token: string, rings: Rings): Promise<SharedArrayBuffer> {
    return new Promise((resolve, reject) => {
      if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
        reject(new TypeError(`smcNative.attach: token must look like 'smc-<base36>-<digits>', not ${JSON.stringify(token)}`));
        return;
      }
      if (this.used.has(token) || this.waiting.has(token)) {
        reject(new Error(`smcNative.attach: token ${token} was already used; tokens are single-use (post a new buffer with a new token)`));
        return;
      }
      const w: Waiter = { rings, resolve, reject, timer: null };
      const early = this.arrived.get(token);
      if (early) {
        this.arrived.delete(token);
        this.timers.clearTimeout(early.timer);
        this.settle(token, w, early.buffer, early.refusal);
        return;
      }
      w.timer = this.timers.setTimeout(() => {
        this.waiting.delete(token);
        this.used.add(token);
        reject(
          new Error(
            `smcNative.attach: no SharedArrayBuffer arrived for token ${token} within ${this.timeoutMs} ms ` +
              `(the page must window.postMessage({ smcAttach: token, buffer }, location.origin) before or right after attach)`,
          ),
        );
      }, this.timeoutMs);
      this.waiting.set(token, w);
    });
  }

  /** Marks `token` used without attaching (its attach request was refused) and drops
   *  its buffer if it already came. */
  consume(token: unknown): void {
    if (typeof token !== 'string') return;
    this.used.add(token);
    const early = this.arrived.get(token);
    if (early) {
      this.arrived.delete(token);
      this.timers.clearTimeout(early.timer);
    }
  }

  /** Pending attaches and unclaimed buffers (for tests and stats). */
  get pending(): { waiting: number; arrived: number } {
    return { waiting: this.waiting.size, arrived: this.arrived.size };
  }

  private settle(token: string, w: Waiter, buffer: SharedArrayBuffer | null, refusal: string | null): void {
    this.used.add(token);
    if (buffer === null) {
      w.reject(new Error(`smcNative.attach: ${refusal ?? 'no buffer'}`));
      return;
    }
    const sizeError = checkRegion(token, buffer, w.rings);
    if (sizeError) w.reject(new RangeError(`smcNative.attach: ${sizeError}`));
    else w.resolve(buffer);
  }
}

/** Why `buffer` cannot hold the region the page announced, or null when it can. */
export function checkRegion(token: string, buffer: SharedArrayBuffer, rings: Rings): string | null {
  const need = HEADER_SIZE + rings.r2n + rings.n2r;
  if (buffer.byteLength < need) {
    return (
      `the buffer for token ${token} has ${buffer.byteLength} bytes, too small for the announced rings ` +
      `(header ${HEADER_SIZE} + r2n ${rings.r2n} + n2r ${rings.n2r} = ${need} bytes)`
    );
  }
  // The peer trusts the header's capacities, so they must be the ones announced.
  const ctrl = new Int32Array(buffer, 0, HEADER_SIZE / 4);
  const r2n = Atomics.load(ctrl, W_R2N_CAPACITY);
  const n2r = Atomics.load(ctrl, W_N2R_CAPACITY);
  if (r2n !== rings.r2n || n2r !== rings.n2r) {
    return `the region header of token ${token} says rings r2n ${r2n} / n2r ${n2r}, but attach announced r2n ${rings.r2n} / n2r ${rings.n2r}`;
  }
  return null;
}
