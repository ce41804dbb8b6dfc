// The native side's settings belong to AddonTransport (docs/api.md, "The native side"):
// every documented form works against the real addon, the new one
// (`transport: new AddonTransport({ handler })`), the deprecated channel options of
// earlier versions (`{ handler }`, handed to the AddonTransport the channel creates), and
// the seed's default (no options: an echo).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AddonTransport, ChannelClosedError, SharedMemoryChannel, pluginPath, type NativeHandler } from '../src/index';
import type { TransportStartOptions } from '../src/transport';
import { openChannel, waitFor } from './helpers';

type ChannelOptions = ConstructorParameters<typeof SharedMemoryChannel>[2];

/** The first `n` messages the channel receives, copied. */
function receive(ch: SharedMemoryChannel, n: number): Promise<Uint8Array[]> {
  return new Promise((resolve) => {
    const got: Uint8Array[] = [];
    ch.startReceiving((m) => {
      got.push(m.slice());
      if (got.length === n) resolve(got);
    });
  });
}

async function sinkCount(options: ChannelOptions, t: { after(fn: () => void): void }): Promise<number> {
  const ch = openChannel(t, 4096, 4096, options);
  for (let i = 0; i < 5; i++) ch.send(new Uint8Array([i]));
  await waitFor(() => ch.getStats().peer.sinkMessages === 5, 10_000, 'the sink to count 5 messages');
  return ch.getStats().peer.sinkMessages!;
}

async function sourceMessages(options: ChannelOptions, t: { after(fn: () => void): void }): Promise<number[]> {
  const ch = openChannel(t, 4096, 4096, options);
  const got = await receive(ch, 3);
  return got.map((m) => (m.length === 16 ? new DataView(m.buffer).getUint32(0, true) : -1));
}

async function echoedByPlugin(options: ChannelOptions, t: { after(fn: () => void): void }): Promise<{ echoed: number[]; name: string | undefined }> {
  const ch = openChannel(t, 1 << 16, 1 << 16, options);
  const replies = receive(ch, 1);
  ch.send(new Uint8Array([7, 8, 9]));
  const [reply] = await replies;
  return { echoed: [...reply!], name: ch.getStats().peer.pluginName };
}

test('no options: the native side echoes (the seed default)', async (t) => {
  const ch = openChannel(t, 4096, 4096);
  const replies = receive(ch, 1);
  ch.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...(await replies)[0]!], [1, 2, 3]);
});

test("AddonTransport({ handler: 'sink' }) sinks what the channel sends", async (t) => {
  assert.equal(await sinkCount({ transport: new AddonTransport({ handler: 'sink' }) }, t), 5);
});

test("the deprecated channel option { handler: 'sink' } still sinks", async (t) => {
  assert.equal(await sinkCount({ handler: 'sink' }, t), 5);
});

test("AddonTransport({ handler: 'source', sourceCount, sourceSize }) streams numbered messages", async (t) => {
  assert.deepEqual(await sourceMessages({ transport: new AddonTransport({ handler: 'source', sourceCount: 3, sourceSize: 16 }) }, t), [0, 1, 2]);
});

test('the deprecated channel options sourceCount / sourceSize still stream', async (t) => {
  assert.deepEqual(await sourceMessages({ handler: 'source', sourceCount: 3, sourceSize: 16 }, t), [0, 1, 2]);
});

test('AddonTransport({ plugin, config }) runs the plugin', async (t) => {
  assert.deepEqual(await echoedByPlugin({ transport: new AddonTransport({ plugin: pluginPath('echo'), config: {} }) }, t), { echoed: [7, 8, 9], name: 'echo' });
});

test('the deprecated channel options { plugin, config } still run the plugin', async (t) => {
  assert.deepEqual(await echoedByPlugin({ plugin: pluginPath('echo'), config: {} }, t), { echoed: [7, 8, 9], name: 'echo' });
});

test("the channel's maxMessage reaches the native side of an AddonTransport", async (t) => {
  // 2000 bytes are fragmented in a 4 KiB ring (one record: 1016), and the native side
  // checks the total a first fragment announces against its limit (C10).
  const ch = openChannel(t, 4096, 4096, { transport: new AddonTransport({ handler: 'sink' }), maxMessage: 1500 });
  const failed = new Promise<unknown>((resolve) => ch.once('error', resolve));
  ch.startReceiving(() => {});
  ch.send(new Uint8Array(2000));
  const e = await failed;
  assert.ok(e instanceof ChannelClosedError && e.code === 'peer_failed' && /message_too_large/.test(e.message), String(e));
});

test("the channel hands its wakeMode and maxMessage to the transport's start", (t) => {
  let seen: TransportStartOptions | null = null;
  class Recording extends AddonTransport {
    override start(o: TransportStartOptions): void {
      seen = o;
      super.start(o);
    }
  }
  openChannel(t, 4096, 4096, { transport: new Recording({ handler: 'echo' }), wakeMode: 'spin', maxMessage: 1000 });
  const s = seen as TransportStartOptions | null;
  assert.deepEqual({ wakeMode: s?.wakeMode, maxMessage: s?.maxMessage }, { wakeMode: 'spin', maxMessage: 1000 });
});

test('an unknown handler is refused by the core, naming it and the built-in ones', () => {
  assert.throws(
    () => new SharedMemoryChannel(4096, 4096, { transport: new AddonTransport({ handler: 'bogus' as NativeHandler }) }),
    (e: Error) => e instanceof RangeError && e.message === `handler must be 'echo', 'sink', 'source' or 'plugin', not "bogus"`,
  );
});

test('AddonTransport refuses isolate without a plugin', () => {
  assert.throws(() => new AddonTransport({ isolate: true }), (e: Error) => e instanceof TypeError && /^options\.isolate needs a plugin/.test(e.message));
});

test('AddonTransport refuses plugin and pluginPath together', () => {
  assert.throws(() => new AddonTransport({ plugin: 'a.so', pluginPath: 'b.so' }), (e: Error) => e instanceof TypeError && /^options\.plugin and options\.pluginPath name the same thing/.test(e.message));
});
