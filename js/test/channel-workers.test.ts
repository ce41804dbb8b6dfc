// Channels inside worker_threads: several workers at once, each with its own native
// thread; workers exit cleanly, also when terminated with a channel open. The same file
// is the worker script (isMainThread decides).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedMemoryChannel } from '../src/index';
import { fillPattern, waitFor } from './helpers';

interface Job {
  mode: 'echo' | 'hold' | 'drop';
  id: number;
  count: number;
}

async function workerMain(job: Job): Promise<void> {
  const port = parentPort!;
  if (job.mode === 'echo') {
    const ch = new SharedMemoryChannel(4096, 8192, { keepAlive: true });
    let n = 0;
    let bad: string | null = null;
    const expect = new Uint8Array(5000);
    await new Promise<void>((resolve, reject) => {
      ch.on('error', reject);
      const sendNext = (): void => {
        const len = (n * 37 + job.id) % 5000; // some fragmented (> 1016 bytes)
        const m = new Uint8Array(len);
        fillPattern(m, job.id * 1_000_000 + n);
        ch.send(m);
      };
      ch.startReceiving((m) => {
        const len = (n * 37 + job.id) % 5000;
        const e = expect.subarray(0, len);
        fillPattern(e, job.id * 1_000_000 + n);
        if (m.length !== len || !Buffer.from(m.buffer, m.byteOffset, m.length).equals(e)) bad ??= `round trip ${n}`;
        if (++n === job.count) resolve();
        else sendNext();
      });
      sendNext();
    });
    const peer = ch.getStats().peer;
    ch.cleanup();
    port.postMessage({ id: job.id, n, bad, peerReceived: peer.messagesReceived });
    return; // nothing else alive: the worker exits
  }
  // 'hold': an open, busy channel until the main thread terminates us.
  // 'drop': open channels and exit without cleanup().
  const chans = [
    new SharedMemoryChannel(1 << 16, 1 << 16, { handler: 'source', sourceCount: 2 ** 32 - 1, sourceSize: 64 }),
    new SharedMemoryChannel(4096, 4096),
  ];
  let got = 0;
  for (const ch of chans) ch.startReceiving(() => got++);
  chans[1]!.send(new Uint8Array(10));
  const keeper = setInterval(() => {
    if (got > 1000) port.postMessage({ id: job.id, ready: true });
    if (job.mode === 'drop' && got > 1000) process.exit(0);
  }, 10);
  void keeper;
}

const threads = (): number => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);

function start(job: Job): { worker: Worker; messages: unknown[]; exit: Promise<number> } {
  const worker = new Worker(__filename, { workerData: job });
  const messages: unknown[] = [];
  worker.on('message', (m) => messages.push(m));
  const exit = new Promise<number>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
  return { worker, messages, exit };
}

if (!isMainThread) {
  workerMain(workerData as Job).catch((e) => {
    throw e;
  });
} else {
  test('channels in 4 workers at once: echo round trips, clean exit', { timeout: 60_000 }, async () => {
    const base = threads();
    const ws = [0, 1, 2, 3].map((id) => start({ mode: 'echo', id, count: 2000 }));
    const codes = await Promise.all(ws.map((w) => w.exit));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    for (const [i, w] of ws.entries()) {
      assert.deepEqual(w.messages, [{ id: i, n: 2000, bad: null, peerReceived: 2000 }]);
    }
    await waitFor(() => threads() <= base + 2, 3000, `threads back to ${base} (now ${threads()})`);
  });

  test('a worker terminated while its channels are open and busy exits; so does one that exits without cleanup', { timeout: 60_000 }, async () => {
    const base = threads();
    const hold = [start({ mode: 'hold', id: 1, count: 0 }), start({ mode: 'hold', id: 2, count: 0 })];
    const drop = start({ mode: 'drop', id: 3, count: 0 });
    await waitFor(() => hold.every((w) => w.messages.length > 0), 10_000, 'the workers to stream');
    const t0 = Date.now();
    const codes = await Promise.all(hold.map((w) => w.worker.terminate()));
    assert.deepEqual(codes, [1, 1], 'terminate() exit codes');
    assert.ok(Date.now() - t0 < 3000, `terminated promptly (${Date.now() - t0} ms)`);
    assert.equal(await drop.exit, 0);
    await waitFor(() => threads() <= base + 2, 3000, `threads back to ${base} (now ${threads()})`);
    // The main thread is still healthy.
    const ch = new SharedMemoryChannel(4096, 4096, { keepAlive: true });
    const got: number[] = [];
    ch.startReceiving((m) => got.push(m[0]!));
    ch.send(new Uint8Array([9]));
    await waitFor(() => got.length === 1, 2000, 'an echo in the main thread');
    ch.cleanup(); // synchronous: the native thread is joined when it returns
  });
}
