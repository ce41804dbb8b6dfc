// Shared helpers of the channel tests (not a test file itself).
import { spawn } from 'node:child_process';
import { SharedMemoryChannel } from '../src/index';

/** fnv1a-32 of bytes [start, end): the checksum native/src/handlers.cpp uses. */
export function fnv1a(u8: Uint8Array, start = 0, end = u8.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= u8[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `pred` every few ms until it is true; rejects after `timeoutMs` naming `what`. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs `node [args]`, killing it after `timeoutMs`. */
export function runNode(args: string[], timeoutMs: number, cwd?: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}

/** xorshift32 bytes from a seed: deterministic message content. */
export function fillPattern(buf: Uint8Array, seed: number, start = 0): void {
  let x = (seed ^ 0x9e3779b9) | 1;
  for (let i = start; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 255;
  }
}

/** Opens a channel (the package's default transport) that the test cleans up at its end. */
export function openChannel(
  t: { after(fn: () => void): void },
  r2n: number,
  n2r: number,
  options: ConstructorParameters<typeof SharedMemoryChannel>[2] = {},
): SharedMemoryChannel {
  const ch = new SharedMemoryChannel(r2n, n2r, options);
  t.after(() => ch.cleanup());
  return ch;
}

/** A `len`-byte message of fillPattern(seq) whose first 4 bytes (if any) are seq, LE. */
export function tagged(seq: number, len: number): Uint8Array {
  const m = new Uint8Array(len);
  fillPattern(m, seq);
  if (len >= 4) new DataView(m.buffer).setUint32(0, seq, true);
  return m;
}

/** Lets the event loop run one turn (timers, I/O, the channel's drain): a yield, not a wait. */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Echo with a JS side that does not receive: the echo fills N2R with replies, then blocks
 * on the reply to the last message and stops draining R2N. Sends `count` messages of 1000
 * bytes (tags 0..count-1), each only after the echo consumed the one before (its
 * messagesReceived counts a message once it released it), so N2R holds whole replies
 * (four fit a 4 KiB ring) and the echo holds the last message unreleased. Returns the tags.
 */
export async function stallEcho(ch: SharedMemoryChannel, count = 5): Promise<number[]> {
  const tags: number[] = [];
  for (let i = 0; i < count; i++) {
    if (!ch.send(tagged(i, 1000))) throw new Error(`stallEcho: send ${i} refused`);
    tags.push(i);
    if (i < count - 1) await waitFor(() => ch.getStats().peer.messagesReceived === i + 1, 2000, `the echo to consume message ${i}`);
  }
  const cap = ch.getStats().n2rCapacity;
  await waitFor(() => {
    const s = ch.getStats();
    return s.peer.messagesSent === count - 1 && s.n2rFill > cap - 1008;
  }, 2000, 'N2R to fill with the echoes of all but the last message');
  return tags;
}

const BARRIER = tagged(0x5eed_ba55, 13);

function isBarrier(m: Uint8Array | undefined): boolean {
  return m !== undefined && m.length === BARRIER.length && m.every((b, i) => b === BARRIER[i]);
}

/**
 * Sends a marker through an echo channel whose receive callback pushes copies into `got`,
 * waits until it came back, and removes it: the echo keeps order, so everything sent
 * before the marker has arrived by then, and nothing else did after it.
 */
export async function echoBarrier(ch: SharedMemoryChannel, got: Uint8Array[]): Promise<void> {
  if (!ch.send(BARRIER)) throw new Error('echoBarrier: the marker was refused');
  await waitFor(() => got.some(isBarrier), 3000, 'the barrier marker to come back');
  if (!isBarrier(got[got.length - 1])) throw new Error('echoBarrier: messages arrived after the marker');
  got.pop();
}

/** Length of stress message `seq`: mostly small; some up to one record; a few up to 3x `bigRing`. */
export function stressLength(seq: number, maxPayload: number, bigRing: number): number {
  let h = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  const sel = h % 1000;
  const r = (h >>> 10) ^ Math.imul(seq, 0x27d4eb2d);
  const u = (r >>> 0) % 0x7fffffff;
  if (sel < 950) return u % 65;
  if (sel < 996) return u % (maxPayload + 1);
  return u % (3 * bigRing + 1);
}

/** Stress message `seq` of `len` bytes in `scratch`: sequence number and fnv1a checksum up front (len >= 8). */
export function makeStressMessage(seq: number, len: number, scratch: Uint8Array): Uint8Array {
  const m = scratch.subarray(0, len);
  if (len >= 8) {
    fillPattern(m, seq, 8);
    const dv = new DataView(m.buffer, m.byteOffset, len);
    dv.setUint32(0, seq, true);
    dv.setUint32(4, fnv1a(m, 8, len), true);
  } else {
    fillPattern(m, seq);
  }
  return m;
}
