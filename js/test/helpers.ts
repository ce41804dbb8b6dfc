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
