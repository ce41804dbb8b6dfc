// A channel somebody is waiting on must survive garbage collection. The peer's doorbell
// refers to the channel only weakly, and whatever awaits a channel (an onQueueEmpty
// callback, a sendAsync promise, a receive callback) is reachable only from the channel:
// `await new Promise((r) => ch.onQueueEmpty(r))` leaves the channel, its queue and the
// awaiting code reachable from nothing but that weak doorbell. A GC while the channel is
// parked collected them, the peer's wake found no channel, and the await never settled
// (the dashboard's in-page benchmark hung at 1 MiB messages, where the queue copies make
// GCs frequent).
//
// The peer is a worker_thread running side N with the protocol Endpoint; it wakes the
// main thread with Atomics.notify, which the transport awaits with Atomics.waitAsync (as
// the dashboard's Web Worker transport). The peer does nothing until the main thread has
// parked and collected garbage. The same file is the worker script (isMainThread decides).
// Needs --expose-gc (skipped without it).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { SharedMemoryChannel } from '../src/channel';
import { EOF, Endpoint, attachRegion } from '../src/protocol';
import type { PeerTransport, TransportStartOptions } from '../src/transport';
import { sleep } from './helpers';

interface Job {
  buffer: SharedArrayBuffer;
  /** Int32 word 0: 0 = wait, 1 = run. */
  go: SharedArrayBuffer;
  /** 'sink': consume everything; 'reply': send one message, then consume. */
  mode: 'sink' | 'reply';
}

function peerMain(job: Job): void {
  const go = new Int32Array(job.go);
  while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 50);
  const ep = new Endpoint(attachRegion(job.buffer), 'N');
  if (job.mode === 'reply') {
    ep.sendSync(new Uint8Array([1, 2, 3]), 50);
    ep.flush();
  }
  for (;;) {
    const n = ep.poll(() => {}, 1024);
    if (n === EOF) break;
    if (n === 0) ep.waitForData(50);
  }
  ep.close();
}

/** Starts the peer on start() (it attaches when `go` is set); wakes are Atomics.notify,
 *  doorbells Atomics.waitAsync on the word the channel parked on. */
class WorkerPeer implements PeerTransport {
  readonly go = new Int32Array(new SharedArrayBuffer(4));
  worker: Worker | null = null;
  exited: Promise<unknown> = Promise.resolve();
  private ctrl: Int32Array | null = null;
  private closed = false;

  constructor(
    private readonly mode: Job['mode'],
    readonly finalizable: boolean,
  ) {}

  start({ buffer, doorbell }: TransportStartOptions): void {
    this.ctrl = new Int32Array(buffer);
    this.doorbellFn = doorbell;
    const job: Job = { buffer, go: this.go.buffer as SharedArrayBuffer, mode: this.mode };
    const w = new Worker(__filename, { workerData: job });
    this.worker = w;
    this.exited = new Promise((r) => w.once('exit', r));
  }

  private doorbellFn: (() => void) | null = null;

  wake(word: number): void {
    if (this.ctrl) Atomics.notify(this.ctrl, word);
  }

  parked(word: number, value: number): void {
    const r = Atomics.waitAsync(this.ctrl!, word, value);
    const ring = (): void => {
      if (!this.closed) this.doorbellFn?.();
    };
    if (r.async) void r.value.then(ring);
    else queueMicrotask(ring);
  }

  run(): void {
    Atomics.store(this.go, 0, 1);
    Atomics.notify(this.go, 0);
  }

  close(): void {
    this.closed = true;
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Runs `wait` (which must not leak the channel anywhere) with GCs while the peer holds
 *  still, then lets the peer run; true if `wait` settled within 5 s. */
async function settlesAcrossGc(peer: WorkerPeer, wait: () => Promise<void>): Promise<boolean> {
  let settled = false;
  const p = wait().then(() => void (settled = true));
  for (let i = 0; i < 3; i++) {
    await sleep(10);
    gc!();
  }
  peer.run();
  const t0 = Date.now();
  while (!settled && Date.now() - t0 < 5000) {
    await sleep(20);
    gc!();
  }
  void p;
  return settled;
}

async function stopPeer(peer: WorkerPeer): Promise<void> {
  const w = peer.worker!;
  peer.run();
  // The channel may be gone (the failure case): nobody closes it; end the worker ourselves.
  const t = setTimeout(() => void w.terminate(), 2000);
  await peer.exited;
  clearTimeout(t);
}

if (!isMainThread) {
  peerMain(workerData as Job);
} else {
  test('a channel with queued messages is not collected while it waits for ring space (onQueueEmpty settles)', { skip: gc ? false : 'needs --expose-gc' }, async () => {
    // finalizable: only the send queue may keep this channel alive.
    const peer = new WorkerPeer('sink', true);
    let queued = 0;
    const ok = await settlesAcrossGc(peer, async () => {
      const ch = new SharedMemoryChannel(4096, 4096, { transport: peer });
      const msg = new Uint8Array(1000);
      // Fill the ring (the peer is not consuming yet) until a message waits in the queue.
      while (ch.getStats().queueLength === 0) assert.equal(ch.send(msg), true);
      queued = ch.getStats().queueLength;
      const drained = new Promise<void>((r) => ch.onQueueEmpty(r));
      await drained;
      ch.cleanup();
    });
    await stopPeer(peer);
    assert.equal(queued, 1);
    assert.ok(ok, 'onQueueEmpty never fired: the channel was garbage-collected while parked waiting for space');
  });

  test('a channel with a pending sendAsync is not collected while it waits for ring space', { skip: gc ? false : 'needs --expose-gc' }, async () => {
    const peer = new WorkerPeer('sink', true);
    const ok = await settlesAcrossGc(peer, async () => {
      const ch = new SharedMemoryChannel(4096, 4096, { transport: peer });
      await ch.sendAsync(new Uint8Array(10_000)); // > the ring: fragments wait for space
      ch.cleanup();
    });
    await stopPeer(peer);
    assert.ok(ok, 'sendAsync never settled: the channel was garbage-collected while parked waiting for space');
  });

  test('a receiving channel whose transport is not finalizable is not collected before cleanup()', { skip: gc ? false : 'needs --expose-gc' }, async () => {
    const peer = new WorkerPeer('reply', false);
    const ok = await settlesAcrossGc(peer, async () => {
      const ch = new SharedMemoryChannel(4096, 4096, { transport: peer });
      const got = await new Promise<Uint8Array>((r) => ch.startReceiving((m) => r(m.slice())));
      assert.deepEqual([...got], [1, 2, 3]);
      ch.cleanup();
    });
    await stopPeer(peer);
    assert.ok(ok, 'the message never arrived: the channel was garbage-collected while parked waiting for data');
  });

  test("a ref'd (keepAlive) receiving channel is not collected, even over a finalizable transport", { skip: gc ? false : 'needs --expose-gc' }, async () => {
    const peer = new WorkerPeer('reply', true);
    const ok = await settlesAcrossGc(peer, async () => {
      const ch = new SharedMemoryChannel(4096, 4096, { transport: peer, keepAlive: true });
      const got = await new Promise<Uint8Array>((r) => ch.startReceiving((m) => r(m.slice())));
      assert.deepEqual([...got], [1, 2, 3]);
      ch.cleanup();
    });
    await stopPeer(peer);
    assert.ok(ok, "the message never arrived: a ref'd receiving channel was garbage-collected");
  });

  test("after unref() (or stopReceiving) the same channel can be collected again", { skip: gc ? false : 'needs --expose-gc' }, async () => {
    const peerA = new WorkerPeer('sink', true);
    const peerB = new WorkerPeer('sink', true);
    let collected = 0;
    const registry = new FinalizationRegistry(() => void collected++);
    (() => {
      const a = new SharedMemoryChannel(4096, 4096, { transport: peerA, keepAlive: true });
      a.startReceiving(() => {});
      a.unref();
      registry.register(a, 'a');
      const b = new SharedMemoryChannel(4096, 4096, { transport: peerB });
      b.ref();
      b.startReceiving(() => {});
      b.stopReceiving();
      registry.register(b, 'b');
    })();
    for (let i = 0; i < 50 && collected < 2; i++) {
      await sleep(20);
      gc!();
    }
    // The peers never attached (their channels were collected, nobody will close them).
    await Promise.all([peerA.worker!.terminate(), peerB.worker!.terminate()]);
    assert.equal(collected, 2, 'an unref()ed or no longer receiving channel stayed reachable');
  });
}
