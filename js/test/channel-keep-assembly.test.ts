// The keepAssembly option: how much reassembly buffer a side keeps between messages larger
// than one record, seen through getStats().assemblyBytes, with the real addon echoing.
// 4 KiB rings: one record holds 1016 bytes, so every message below is fragmented both ways.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AddonTransport, type SharedMemoryChannel } from '../src/index';
import type { TransportStartOptions } from '../src/transport';
import { fnv1a, openChannel, tagged } from './helpers';

/** Sends each length in turn and waits for its echo; returns assemblyBytes after each. */
async function echoEach(ch: SharedMemoryChannel, lengths: number[]): Promise<number[]> {
  const held: number[] = [];
  let expect: Uint8Array | null = null;
  let arrived: (() => void) | null = null;
  let bad: string | null = null;
  ch.startReceiving((m) => {
    if (expect === null || m.length !== expect.length || fnv1a(m) !== fnv1a(expect)) {
      bad ??= `echo of ${m.length} bytes does not match the ${expect?.length ?? 'no'}-byte message sent`;
    }
    arrived?.();
  });
  for (const [seq, len] of lengths.entries()) {
    expect = tagged(seq, len);
    const echoed = new Promise<void>((resolve) => (arrived = resolve));
    await ch.sendAsync(expect);
    await echoed;
    held.push(ch.getStats().assemblyBytes);
  }
  assert.equal(bad, null);
  return held;
}

test('by default a reassembled message leaves its buffer kept for the next one', async (t) => {
  const ch = openChannel(t, 4096, 4096);
  assert.equal(ch.getStats().assemblyBytes, 0, 'nothing held before the first fragmented message');
  assert.deepEqual(await echoEach(ch, [3000, 2000, 3000]), [3000, 3000, 3000]);
});

test('keepAssembly: 0 frees the buffer after every message', async (t) => {
  const ch = openChannel(t, 4096, 4096, { keepAssembly: 0 });
  assert.deepEqual(await echoEach(ch, [3000, 2000]), [0, 0]);
});

test('a message above keepAssembly is delivered whole and its buffer is not kept; one within it is', async (t) => {
  const ch = openChannel(t, 4096, 4096, { keepAssembly: 4000 });
  assert.deepEqual(await echoEach(ch, [3000, 9000, 2500]), [3000, 0, 2500]);
});

test("the channel hands keepAssembly to the transport's start, and the addon reads it", (t) => {
  let seen: number | undefined;
  class Recording extends AddonTransport {
    override start(o: TransportStartOptions): void {
      seen = o.keepAssembly;
      super.start(o);
    }
  }
  openChannel(t, 4096, 4096, { transport: new Recording({ handler: 'echo' }), keepAssembly: 12345 });
  assert.equal(seen, 12345);
  assert.throws(
    () => openChannel(t, 4096, 4096, { transport: new AddonTransport({ handler: 'echo', keepAssembly: -1 }) }),
    (e: Error) => e instanceof RangeError && /^options\.keepAssembly must be an integer in \[0, 4294967295\], not the number -1$/.test(e.message),
  );
});

test('keepAssembly out of range or not an integer is refused, naming it', () => {
  for (const [v, shown] of [[-1, '-1'], [2 ** 32, '4294967296'], [1.5, '1.5'], ['64', 'the string "64"']] as const) {
    assert.throws(
      () => openChannel({ after() {} }, 4096, 4096, { keepAssembly: v as number }),
      (e: Error) => e instanceof RangeError && e.message === `keepAssembly must be an integer from 0 to 4294967295, not ${shown}`,
      String(v),
    );
  }
});
