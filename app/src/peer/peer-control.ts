// Synchronous requests from a window thread to a worker peer that blocks in Atomics.wait
// (and so cannot take postMessage until its loop ends): the request goes through a small
// SharedArrayBuffer, the worker answers from its loop, and the caller, which may not
// block either, spins on the reply word. Replies come within one loop turn of the worker
// (it is woken by the caller), so the spin is short; it gives up after a stated time.
//
// Layout (Int32 words): [0] request sequence, [1] reply sequence, [2] reply status
// (0 ok, 1 error), [3] payload length; bytes from 16: the UTF-8 JSON request or the
// error message.
const REQ = 0;
const REP = 1;
const STATUS = 2;
const LEN = 3;
const DATA = 16;
export const CONTROL_BYTES = 4096;

export type ControlRequest = { op: 'load'; name: string; config: Record<string, unknown> } | { op: 'unload' };

function write(bytes: Uint8Array, text: string): number {
  const encoded = new TextEncoder().encode(text);
  if (encoded.length > bytes.length - DATA) throw new RangeError(`peer control: a message of ${encoded.length} bytes does not fit in ${bytes.length - DATA}`);
  bytes.set(encoded, DATA);
  return encoded.length;
}

// TextDecoder refuses views of shared memory: copy out first.
const read = (bytes: Uint8Array, len: number): string => new TextDecoder().decode(bytes.slice(DATA, DATA + len));

export class ControlClient {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(
    sab: SharedArrayBuffer,
    private readonly wakeWorker: () => void,
    private readonly timeoutMs = 2000,
  ) {
    this.words = new Int32Array(sab, 0, 4);
    this.bytes = new Uint8Array(sab);
  }

  /** Sends `req` and returns once the worker applied it; throws its error or on timeout. */
  request(req: ControlRequest): void {
    Atomics.store(this.words, LEN, write(this.bytes, JSON.stringify(req)));
    const seq = Atomics.add(this.words, REQ, 1) + 1;
    this.wakeWorker();
    const deadline = performance.now() + this.timeoutMs;
    while (Atomics.load(this.words, REP) !== seq) {
      if (performance.now() > deadline) throw new Error(`peer control: the worker did not answer '${req.op}' within ${this.timeoutMs} ms`);
    }
    if (Atomics.load(this.words, STATUS) !== 0) throw new Error(read(this.bytes, Atomics.load(this.words, LEN)));
  }
}

export class ControlServer {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private seen = 0;

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab, 0, 4);
    this.bytes = new Uint8Array(sab);
  }

  /** Answers a pending request, if any: `apply` throws to refuse it. */
  poll(apply: (req: ControlRequest) => void): void {
    const seq = Atomics.load(this.words, REQ);
    if (seq === this.seen) return;
    this.seen = seq;
    let status = 0;
    try {
      apply(JSON.parse(read(this.bytes, Atomics.load(this.words, LEN))) as ControlRequest);
    } catch (e) {
      status = 1;
      Atomics.store(this.words, LEN, write(this.bytes, (e as Error).message.slice(0, 1000)));
    }
    Atomics.store(this.words, STATUS, status);
    Atomics.store(this.words, REP, seq);
  }
}
