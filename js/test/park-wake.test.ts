// Lost wake-up detectors for state changes (docs/protocol.md 5.2): a close or a failure of
// side R racing side N's decision to park. N parks with a 10 s timeout, so a lost wake-up
// costs 10 s; each race must end within LOST_WAKE_MS, and a watchdog bounds the whole
// test. N is a TypeScript endpoint in a worker thread (Atomics.wait) or the native side
// run by the addon (a futex), woken through the addon's wake().
//
// Races end the channel (timing by race number): at once; as soon as N's parked word reads
// 1 (N then re-checks and waits); a short spin after that; or, with the worker, staged
// exactly in the window a wake-up used to be lost in: N has re-checked and found nothing,
// R ends the channel, and only then does N wait. N waits for data on odd races and for
// space on even ones.
//
// The same file is the worker script (isMainThread decides).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ChannelClosedError } from '../src/errors';
import { loadAddon } from '../src/native';
import { EOF, Endpoint, REASON_LOCAL_ERROR, attachRegion, initRegion, regionSize } from '../src/protocol';

const CAP = 4096;
const PARK_MS = 10_000;
const LOST_WAKE_MS = 5_000;
const RACES = 160;
/** A max_payload record: four fill a 4 KiB ring. */
const BIG = 1016;

// Words of the small control buffer shared with the worker, each holding a race number.
const W_RACE = 0; // posted by the main thread: the worker attaches to its region
const W_ATTACHED = 1; // the worker attached
const W_RECHECKED = 2; // staged races: the worker re-checked, found nothing, waits for W_ENDED
const W_ENDED = 3; // staged races: the main thread ended the channel
const W_DONE = 4; // the worker saw the end
const W_RESULT = 5; // 1 peer_closed, 2 peer_failed, 3 anything else

type Ender = 'close' | 'fail';
type Timing = 'at once' | 'parked' | 'parked + spin' | 'staged';

function timingOf(race: number, staged: boolean): Timing {
  const timings: Timing[] = staged ? ['at once', 'parked', 'parked + spin', 'staged'] : ['at once', 'parked', 'parked + spin'];
  return timings[Math.floor(race / 2) % timings.length]!;
}

interface WorkerJob {
  control: SharedArrayBuffer;
  regions: SharedArrayBuffer[];
}

// ---- the worker: side N, one fresh region per race ----------------------------------------

function workerMain(job: WorkerJob): void {
  const ctl = new Int32Array(job.control);
  for (let race = 1; race <= job.regions.length; race++) {
    while (Atomics.load(ctl, W_RACE) < race) Atomics.wait(ctl, W_RACE, race - 1, 1000);
    const region = attachRegion(job.regions[race - 1]!);
    const ep = new Endpoint(region, 'N');
    const sending = race % 2 === 0;
    const staged = timingOf(race, true) === 'staged';
    if (sending) for (let i = 0; i < 4; i++) ep.trySend(new Uint8Array(BIG));
    ep.flush();
    Atomics.store(ctl, W_ATTACHED, race);
    // As Endpoint.waitForData / waitForSpace, with the staged pause between the park's
    // re-check and the wait.
    const sleep = (word: number, value: number): void => {
      if (staged) {
        Atomics.store(ctl, W_RECHECKED, race);
        while (Atomics.load(ctl, W_ENDED) !== race) Atomics.wait(ctl, W_ENDED, race - 1, 1000);
      }
      Atomics.wait(region.ctrl, word, value, PARK_MS);
    };
    let result = 3;
    try {
      if (sending) {
        // The peer's end throws ChannelClosedError from trySend.
        while (!ep.trySend(new Uint8Array(BIG))) {
          if (ep.parkProducer()) continue;
          sleep(ep.producerWaitWord, ep.producerWaitValue);
          ep.unparkProducer();
        }
      } else {
        while (ep.poll(() => {}) !== EOF) {
          if (ep.parkConsumer()) continue;
          sleep(ep.consumerWaitWord, ep.consumerWaitValue);
          ep.unparkConsumer();
        }
        result = 1;
      }
    } catch (e) {
      if (e instanceof ChannelClosedError) result = e.code === 'peer_closed' ? 1 : e.code === 'peer_failed' ? 2 : 3;
    }
    Atomics.store(ctl, W_RESULT, result);
    Atomics.store(ctl, W_DONE, race);
    Atomics.notify(ctl, W_DONE);
  }
}

if (!isMainThread) {
  workerMain(workerData as WorkerJob);
  parentPort?.postMessage('done');
}

// ---- the main thread ----------------------------------------------------------------------

/** Spins (on the main thread, which may block) until `pred` holds or `ms` passed. */
function spinUntil(pred: () => boolean, ms: number): boolean {
  const t0 = performance.now();
  while (!pred()) if (performance.now() - t0 > ms) return false;
  return true;
}

/** Ends side R the way the race asks. */
function end(R: Endpoint, how: Ender): void {
  if (how === 'close') R.close();
  else R.fail(REASON_LOCAL_ERROR, 'the race ends the channel');
}

/** Waits before ending race `race` as its timing says (not for 'staged': see raceWorker). */
function delay(race: number, timing: Timing, ctrl: Int32Array, parkedWord: number): void {
  if (timing === 'at once' || timing === 'staged') return;
  assert.ok(
    spinUntil(() => Atomics.load(ctrl, parkedWord) === 1, 20_000),
    `race ${race}: N never parked`,
  );
  if (timing === 'parked + spin') for (let k = 0; k < (race % 64) * 4; k++) Atomics.load(ctrl, parkedWord);
}

async function raceWorker(how: Ender): Promise<number> {
  const control = new SharedArrayBuffer(64);
  const ctl = new Int32Array(control);
  const regions = Array.from({ length: RACES }, () => {
    const sab = new SharedArrayBuffer(regionSize(CAP, CAP));
    initRegion(sab, CAP, CAP);
    return sab;
  });
  const worker = new Worker(__filename, { workerData: { control, regions } satisfies WorkerJob });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  let worst = 0;
  try {
    for (let race = 1; race <= RACES; race++) {
      const R = new Endpoint(attachRegion(regions[race - 1]!), 'R');
      const sending = race % 2 === 0;
      const timing = timingOf(race, true);
      Atomics.store(ctl, W_RACE, race);
      Atomics.notify(ctl, W_RACE);
      assert.ok(spinUntil(() => Atomics.load(ctl, W_ATTACHED) === race, 20_000), `race ${race}: the worker did not attach`);
      delay(race, timing, R.region.ctrl, sending ? R.inWords.producerParked : R.outWords.consumerParked);
      if (timing === 'staged') {
        assert.ok(spinUntil(() => Atomics.load(ctl, W_RECHECKED) === race, 20_000), `race ${race}: the worker did not park`);
      }
      const t0 = performance.now();
      end(R, how);
      if (timing === 'staged') {
        Atomics.store(ctl, W_ENDED, race);
        Atomics.notify(ctl, W_ENDED);
      }
      // The main thread of Node may block: wait for the worker's report of this race.
      while (Atomics.load(ctl, W_DONE) !== race) {
        if (Atomics.wait(ctl, W_DONE, race - 1, 3 * PARK_MS) === 'timed-out') assert.fail(`race ${race}: the worker never finished`);
      }
      const ms = performance.now() - t0;
      worst = Math.max(worst, ms);
      assert.ok(ms < LOST_WAKE_MS, `race ${race} (${timing}, ${sending ? 'sending' : 'receiving'}) waited ${ms.toFixed(0)} ms: a lost wake-up`);
      assert.equal(Atomics.load(ctl, W_RESULT), how === 'close' ? 1 : 2, `race ${race}: how N saw the end`);
    }
  } finally {
    await worker.terminate();
    await exited;
  }
  return worst;
}

/** The addon's native side parks at once with a 10 s timeout; R is this thread. */
function raceNative(how: Ender, races: number): number {
  const addon = loadAddon();
  let worst = 0;
  for (let i = 0; i < races; i++) {
    const sab = new SharedArrayBuffer(regionSize(CAP, CAP));
    const region = initRegion(sab, CAP, CAP);
    let handle: { wake(word: number): void } | null = null;
    const R = new Endpoint(region, 'R', { wake: (word) => handle?.wake(word) });
    const native = new addon.NativeChannel(
      new Uint8Array(sab),
      { handler: 'sink', spinIterations: 0, yieldIterations: 0, parkTimeoutMs: PARK_MS },
      () => {},
    );
    handle = native;
    try {
      delay(i, timingOf(i * 2, false), region.ctrl, R.outWords.consumerParked);
      const t0 = performance.now();
      end(R, how);
      assert.ok(
        spinUntil(() => native.stats().running === false, 3 * PARK_MS),
        `race ${i}: the native thread never saw the end`,
      );
      worst = Math.max(worst, performance.now() - t0);
      assert.equal(native.stats().exitStatus, how === 'close' ? 'peer_closed' : 'peer_failed', `race ${i}`);
    } finally {
      native.close();
    }
  }
  return worst;
}

if (isMainThread) {
  for (const how of ['close', 'fail'] as const) {
    test(`a ${how} racing a parking worker is never lost (Atomics.wait on the wake sequence)`, { timeout: 120_000 }, async () => {
      const worst = await raceWorker(how);
      assert.ok(worst < LOST_WAKE_MS, `a race waited ${worst.toFixed(0)} ms: a lost wake-up`);
    });

    test(`a ${how} racing a parking native thread is never lost (futex through the addon's wake)`, { timeout: 120_000 }, () => {
      const worst = raceNative(how, RACES);
      assert.ok(worst < LOST_WAKE_MS, `a race waited ${worst.toFixed(0)} ms: a lost wake-up`);
    });
  }
}
