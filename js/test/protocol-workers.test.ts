// Two worker_threads share one region: side R in one, side N in the other.
// The same file is the worker script (isMainThread decides).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { EOF, Endpoint, attachRegion, initRegion, regionSize, type Side } from '../src/protocol';

interface Job {
  mode: 'stress' | 'pingpong' | 'blast';
  sab: SharedArrayBuffer;
  side: Side;
  count: number;
  /** park timeout (ms) */
  parkMs: number;
}

interface Result {
  side: Side;
  sent: number;
  received: number;
  waits: number;
  timeouts: number;
  error: string | null;
}

// ---------------------------------------------------------------------------------
// deterministic message generator shared by sender and receiver

function hash32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Length of message `seq` of the sender with `seed`: mostly small, sometimes up to 3x capacity. */
function msgLength(seed: number, seq: number, cap: number): number {
  const h = hash32(seed * 0x9e3779b1 + seq);
  const sel = h % 1000;
  const h2 = hash32(h);
  if (sel < 900) return h2 % 65;
  if (sel < 990) return h2 % (cap / 4 - 7); // up to max_payload
  return h2 % (3 * cap + 1); // up to 3x capacity, fragmented
}

function fillMessage(seed: number, seq: number, buf: Uint8Array): void {
  let x = hash32(seed ^ Math.imul(seq, 0x27d4eb2d)) | 1;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 255;
  }
  if (buf.length >= 4) {
    buf[0] = seq & 255;
    buf[1] = (seq >>> 8) & 255;
    buf[2] = (seq >>> 16) & 255;
    buf[3] = seq >>> 24;
  }
}

const SEED_R = 0x1234;
const SEED_N = 0x5678;

// ---------------------------------------------------------------------------------
// worker side

function workerMain(job: Job): Result {
  const region = attachRegion(job.sab);
  const ctrl = region.ctrl;
  const side = job.side;
  const mySeed = side === 'R' ? SEED_R : SEED_N;
  // In ping-pong R receives its own messages back (echoed by N).
  const peerSeed = job.mode === 'pingpong' && side === 'R' ? mySeed : side === 'R' ? SEED_N : SEED_R;
  // Doorbell: Atomics.notify on the wake sequence the endpoint bumped. When we wake a
  // parked PRODUCER we also bump and notify the sequence that side waits on when it parks
  // as producer AND consumer at once (its incoming consumer_wake_seq = our outgoing one):
  // see parkBoth().
  let ep: Endpoint | null = null;
  const wake = (word: number): void => {
    Atomics.notify(ctrl, word);
    if (ep !== null && word === ep.inWords.producerWakeSeq) {
      Atomics.add(ctrl, ep.outWords.consumerWakeSeq, 1);
      Atomics.notify(ctrl, ep.outWords.consumerWakeSeq);
    }
  };
  ep = new Endpoint(region, side, { wake });
  const e = ep;
  const w = e.writer;
  const outCap = w.capacity;
  const inCap = e.reader.capacity;
  const res: Result = { side, sent: 0, received: 0, waits: 0, timeouts: 0, error: null };
  const expectBuf = new Uint8Array(3 * inCap + 8);

  const verify = (m: Uint8Array): void => {
    const seq = res.received;
    const len = job.mode === 'stress' ? msgLength(peerSeed, seq, inCap) : 1 + (seq % 100);
    if (m.length !== len) throw new Error(`${side}: message ${seq}: length ${m.length}, expected ${len}`);
    const exp = expectBuf.subarray(0, len);
    fillMessage(peerSeed, seq, exp);
    for (let i = 0; i < len; i++) {
      if (m[i] !== exp[i]) {
        const got = m.length >= 4 ? m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24) : -1;
        throw new Error(`${side}: message ${seq} differs at byte ${i} (its sequence field says ${got})`);
      }
    }
    res.received++;
  };

  const countWait = (r: 'ok' | 'not-equal' | 'timed-out'): void => {
    res.waits++;
    if (r === 'timed-out') res.timeouts++;
  };

  // waitData / waitSpace do what Endpoint.waitForData / waitForSpace do, written out
  // because the tests count the sleeps and their timeouts (waitForData cannot tell a
  // sleep from a park that returned at once).
  /** Parks as consumer and as producer at once; sleeps on the consumer wake sequence. */
  const parkBoth = (): void => {
    if (e.parkConsumer()) return;
    if (e.parkProducer()) {
      e.unparkConsumer();
      return;
    }
    try {
      countWait(Atomics.wait(ctrl, e.consumerWaitWord, e.consumerWaitValue, job.parkMs));
    } finally {
      e.unparkConsumer();
      e.unparkProducer();
    }
  };
  const waitData = (): void => {
    if (e.parkConsumer()) return;
    try {
      countWait(Atomics.wait(ctrl, e.consumerWaitWord, e.consumerWaitValue, job.parkMs));
    } finally {
      e.unparkConsumer();
    }
  };
  const waitSpace = (): void => {
    e.flush();
    if (e.parkProducer()) return;
    try {
      countWait(Atomics.wait(ctrl, e.producerWaitWord, e.producerWaitValue, job.parkMs));
    } finally {
      e.unparkProducer();
    }
  };

  try {
    if (job.mode === 'stress') {
      const sendBuf = new Uint8Array(3 * outCap + 8);
      let pending: Uint8Array | null = null;
      let idle = 0;
      while (res.sent < job.count || res.received < job.count) {
        const w0 = w.writeIndex;
        const r0 = e.reader.readIndex;
        for (let i = 0; i < 64 && res.sent < job.count; i++) {
          if (pending === null) {
            pending = sendBuf.subarray(0, msgLength(mySeed, res.sent, outCap));
            fillMessage(mySeed, res.sent, pending);
            if (pending.length > w.maxPayload) e.frameWriter.beginLarge(pending);
          }
          if (!(e.frameWriter.largePending ? e.frameWriter.continueLarge() : e.frameWriter.tryWrite(pending))) break;
          pending = null;
          res.sent++;
        }
        e.flush();
        if (res.received < job.count) {
          const n = e.poll(verify, 256);
          if (n === EOF) throw new Error(`${side}: EOF after ${res.received} messages`);
        }
        if (w.writeIndex !== w0 || e.reader.readIndex !== r0) {
          idle = 0;
          continue;
        }
        if (++idle < 200) continue; // spin a little before parking
        idle = 0;
        const needRecv = res.received < job.count;
        const needSend = res.sent < job.count;
        if (needRecv && needSend) parkBoth();
        else if (needRecv) waitData();
        else waitSpace();
      }
    } else if (job.mode === 'pingpong') {
      // R sends one message and waits for its echo; N echoes. Both park every time.
      const buf = new Uint8Array(128);
      const echo = (m: Uint8Array): void => {
        verify(m);
        if (!e.trySend(m)) throw new Error('echo ring full');
        res.sent++;
      };
      if (side === 'R') {
        while (res.sent < job.count) {
          const m = buf.subarray(0, 1 + (res.sent % 100));
          fillMessage(mySeed, res.sent, m);
          if (!e.trySend(m)) throw new Error('ring full');
          res.sent++;
          e.flush();
          while (res.received < res.sent) {
            if (e.poll(verify) === 0) waitData();
          }
        }
      } else {
        for (;;) {
          const n = e.poll(echo);
          if (n === EOF) break;
          if (n > 0) e.flush();
          else waitData();
        }
      }
    } else {
      // blast: R produces as fast as it can; N consumes in small bites and naps, so the
      // producer keeps filling the ring and parking for space.
      const buf = new Uint8Array(128);
      if (side === 'R') {
        while (res.sent < job.count) {
          const m = buf.subarray(0, 1 + (res.sent % 100));
          fillMessage(mySeed, res.sent, m);
          while (!e.trySend(m)) waitSpace();
          res.sent++;
          if ((res.sent & 15) === 0) e.flush();
        }
        e.flush();
      } else {
        const nap = new Int32Array(new SharedArrayBuffer(4));
        let k = 0;
        while (res.received < job.count) {
          const n = e.poll(verify, 1 + (k % 40));
          if (++k % 7 === 0) Atomics.wait(nap, 0, 0, k % 3); // nap 0-2 ms
          if (n === 0) waitData();
        }
      }
    }
    e.close();
  } catch (err) {
    res.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    e.close();
  }
  return res;
}

if (!isMainThread && parentPort !== null) {
  parentPort.postMessage(workerMain(workerData as Job));
}

// ---------------------------------------------------------------------------------
// main thread: the tests

/** Runs side R and side N in two workers; fails (terminating them) if they take longer than watchdogMs. */
async function runPair(mode: Job['mode'], count: number, parkMs: number, watchdogMs: number, r2nCap = 4096, n2rCap = 8192): Promise<Result[]> {
  const sab = new SharedArrayBuffer(regionSize(r2nCap, n2rCap));
  initRegion(sab, r2nCap, n2rCap);
  const workers = (['R', 'N'] as Side[]).map((side) => new Worker(__filename, { workerData: { mode, sab, side, count, parkMs } satisfies Job }));
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watchdog: ${mode} did not finish within ${watchdogMs} ms (lost wake-up?)`)), watchdogMs);
  });
  const done = workers.map(
    (wk) =>
      new Promise<Result>((resolve, reject) => {
        wk.once('message', resolve);
        wk.once('error', reject);
        wk.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
      }),
  );
  try {
    return await Promise.race([Promise.all(done), watchdog]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}

if (isMainThread) {
  test('workers: both directions at once, 200k messages each way, sizes 0..3x capacity', { timeout: 60_000 }, async () => {
    const COUNT = 200_000;
    const t0 = Date.now();
    const results = await runPair('stress', COUNT, 20, 50_000);
    for (const r of results) {
      assert.equal(r.error, null, `side ${r.side}: ${r.error}`);
      assert.equal(r.sent, COUNT);
      assert.equal(r.received, COUNT);
    }
    const info = results.map((r) => `${r.side}: waits ${r.waits} timeouts ${r.timeouts}`).join(', ');
    console.log(`# stress: ${Date.now() - t0} ms; ${info}`);
  });

  test('workers: ping-pong, every message parks both sides (lost wake-up would hang)', { timeout: 60_000 }, async () => {
    const COUNT = 2000;
    // Park "forever" (60 s): only a doorbell ends a wait; the watchdog fails the test first.
    const results = await runPair('pingpong', COUNT, 60_000, 20_000);
    for (const r of results) {
      assert.equal(r.error, null, `side ${r.side}: ${r.error}`);
      assert.equal(r.received, COUNT);
      assert.equal(r.timeouts, 0);
    }
    assert.ok(results.some((r) => r.waits > COUNT / 4), `sides really parked: ${results.map((r) => r.waits)}`);
  });

  test('workers: producer parks for space while a slow consumer drains (lost wake-up would hang)', { timeout: 60_000 }, async () => {
    const COUNT = 20_000;
    const results = await runPair('blast', COUNT, 60_000, 20_000);
    const [R, N] = results as [Result, Result];
    assert.equal(R.error, null, R.error ?? '');
    assert.equal(N.error, null, N.error ?? '');
    assert.equal(R.sent, COUNT);
    assert.equal(N.received, COUNT);
    assert.equal(R.timeouts + N.timeouts, 0);
    assert.ok(R.waits > 10, `producer parked ${R.waits} times`);
  });
}
