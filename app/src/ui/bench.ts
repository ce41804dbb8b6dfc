// In-page channel benchmarks, on channels of their own (the dashboard's channel stays up):
//   JS -> peer : handler 'sink'; time until every message was sent and the peer released
//                the ring (r2n fill back to 0).
//   JS -> peer -> JS : handler 'echo'; time until every echo was received; the received
//                rate is the peer -> JS throughput under a concurrent JS -> peer stream.
//   RTT        : handler 'echo', one 64-byte message in flight; p50/p99.
//   postMessage: what a page would use instead, on the same sizes: a worker receives each
//                message by structured clone (a copy) or by transferring a fresh
//                ArrayBuffer per message (the sender fills it first, as an app would);
//                time until the worker has counted all. The channel's JS -> peer rows
//                carry their ratio to the copy.
// All loops send in slices of a few ms and yield, so the page stays responsive.
import type { SharedMemoryChannel } from 'shared-memory-channel/browser';
import { createAppChannel, defaultConfig, type AppChannelConfig } from '../peer/create';
import { percentile } from './latency';
import { queueEmpty, sendPaced } from './pacing';

export interface BenchRow {
  test: string;
  size: number;
  messages: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  p50Us?: number;
  p99Us?: number;
}

export const POSTMESSAGE_COPY = 'postMessage (copy) → worker';
export const POSTMESSAGE_TRANSFER = 'postMessage (transfer) → worker';

/** A channel JS -> peer row's msgs/s over the postMessage (copy) row of its size, if both ran. */
export function ratioToPostMessage(rows: readonly BenchRow[], r: BenchRow): number | undefined {
  if (r.test !== 'JS → peer') return undefined;
  const pm = rows.find((x) => x.test === POSTMESSAGE_COPY && x.size === r.size);
  return pm ? r.msgsPerSec / pm.msgsPerSec : undefined;
}

export interface BenchOptions {
  sizes?: number[];
  /** Sending time per size and test, ms. */
  durationMs?: number;
  rttSamples?: number;
  wakeMode?: AppChannelConfig['wakeMode'];
  onRow?: (row: BenchRow) => void;
  onProgress?: (text: string) => void;
}

const RING = 16 << 20;

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`benchmark: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Sends `payload` repeatedly for `durationMs` (or `maxMessages`); returns the count. */
async function stream(ch: SharedMemoryChannel, payload: Uint8Array, durationMs: number, maxMessages: number): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  await sendPaced(ch, RING, {
    next: () => (n < maxMessages ? payload : null),
    sent: () => void n++,
    slice: () => performance.now() - t0 < durationMs,
  });
  return n;
}

function row(test: string, size: number, messages: number, ms: number, extra: Partial<BenchRow> = {}): BenchRow {
  const seconds = ms / 1000;
  return { test, size, messages, seconds, msgsPerSec: messages / seconds, mbPerSec: (messages * size) / seconds / 1e6, ...extra };
}

/** Posts `payload` to a fresh worker (copied, or in a transferred ArrayBuffer each) for `durationMs`. */
async function postMessageFlood(payload: Uint8Array, transfer: boolean, durationMs: number, maxMessages: number): Promise<{ n: number; ms: number }> {
  const worker = new Worker(new URL('./postmessage-worker.ts', import.meta.url), { type: 'module', name: 'smc-bench-postmessage' });
  const answer = (): Promise<{ got: number; bytes: number }> =>
    new Promise((resolve) => {
      worker.onmessage = (ev: MessageEvent<{ got: number; bytes: number }>) => resolve(ev.data);
    });
  try {
    // One message first, so the worker's start-up is not timed.
    const ready = answer();
    worker.postMessage({ cmd: 'reset' });
    worker.postMessage(new Uint8Array(1));
    worker.postMessage({ cmd: 'expect', n: 1 });
    await ready;
    worker.postMessage({ cmd: 'reset' });
    let n = 0;
    const t0 = performance.now();
    while (n < maxMessages && performance.now() - t0 < durationMs) {
      const sliceEnd = performance.now() + 4;
      while (n < maxMessages && performance.now() < sliceEnd) {
        if (transfer) {
          const buf = new ArrayBuffer(payload.length);
          new Uint8Array(buf).set(payload);
          worker.postMessage(buf, [buf]);
        } else {
          worker.postMessage(payload);
        }
        n++;
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    const done = answer();
    worker.postMessage({ cmd: 'expect', n });
    const r = await done;
    if (r.got !== n || r.bytes !== n * payload.length) throw new Error(`postMessage worker got ${r.got} messages / ${r.bytes} bytes, expected ${n} / ${n * payload.length}`);
    return { n, ms: performance.now() - t0 };
  } finally {
    worker.terminate();
  }
}

export async function runBenchmarks(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const sizes = opts.sizes ?? [64, 4096, 1 << 20];
  const durationMs = opts.durationMs ?? 700;
  const rows: BenchRow[] = [];
  const emit = (r: BenchRow): void => {
    rows.push(r);
    opts.onRow?.(r);
  };
  const base: AppChannelConfig = { ...defaultConfig, r2nSize: RING, n2rSize: RING, wakeMode: opts.wakeMode ?? 'doorbell' };

  // JS -> peer (sink)
  const sink = await createAppChannel({ ...base, handler: 'sink' });
  try {
    for (const size of sizes) {
      opts.onProgress?.(`JS → peer, ${size} B`);
      const payload = new Uint8Array(size).fill(0x5a);
      const ch = sink.channel;
      const t0 = performance.now();
      const n = await stream(ch, payload, durationMs, size >= 1 << 20 ? 2000 : 5_000_000);
      await queueEmpty(ch);
      await waitFor(() => ch.getStats().r2nFill === 0, 10_000, 'the sink to consume');
      emit(row('JS → peer', size, n, performance.now() - t0));
    }
  } finally {
    sink.close();
  }

  // The browser's alternative on the same sizes, and the channel's ratio to it.
  for (const size of sizes) {
    const payload = new Uint8Array(size).fill(0x3c);
    const max = size >= 1 << 20 ? 2000 : 5_000_000;
    opts.onProgress?.(`postMessage (copy) → worker, ${size} B`);
    const copy = await postMessageFlood(payload, false, durationMs, max);
    emit(row(POSTMESSAGE_COPY, size, copy.n, copy.ms));
    opts.onProgress?.(`postMessage (transfer) → worker, ${size} B`);
    const moved = await postMessageFlood(payload, true, durationMs, max);
    emit(row(POSTMESSAGE_TRANSFER, size, moved.n, moved.ms));
  }

  // JS -> peer -> JS (echo)
  const echo = await createAppChannel({ ...base, handler: 'echo' });
  try {
    const ch = echo.channel;
    let received = 0;
    let waiter: (() => void) | null = null;
    ch.startReceiving(() => {
      received++;
      if (waiter !== null) {
        const w = waiter;
        waiter = null;
        w();
      }
    });
    for (const size of sizes) {
      opts.onProgress?.(`JS → peer → JS, ${size} B`);
      const payload = new Uint8Array(size).fill(0xa5);
      received = 0;
      const t0 = performance.now();
      const n = await stream(ch, payload, durationMs, size >= 1 << 20 ? 2000 : 5_000_000);
      await waitFor(() => received >= n, 20_000, 'the echoes');
      emit(row('JS → peer → JS (echo)', size, n, performance.now() - t0));
    }

    opts.onProgress?.('round trip, 64 B');
    const samples: number[] = [];
    const ping = new Uint8Array(64);
    const count = opts.rttSamples ?? 2000;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const got = new Promise<void>((r) => (waiter = r));
      const s = performance.now();
      ch.send(ping);
      await got;
      samples.push(performance.now() - s);
      if (performance.now() - t0 > 3000) break;
    }
    emit(
      row('round trip (echo)', 64, samples.length, performance.now() - t0, {
        p50Us: percentile(samples, 0.5) * 1000,
        p99Us: percentile(samples, 0.99) * 1000,
      }),
    );
  } finally {
    echo.close();
  }
  opts.onProgress?.('done');
  return rows;
}
