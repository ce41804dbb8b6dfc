// The channel's streaming receive (startReceiving's `stream` option) with the real addon:
// the native 'source' handler's large messages arrive as fragments, in order.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { StreamEnd } from '../src/index';
import { openChannel as open, waitFor } from './helpers';

/** Checks one fragment against the source's pattern (u64 LE sequence number, then i & 255). */
function checkSourceBytes(b: Uint8Array, offset: number, i: number): void {
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(i), true);
  for (let k = 0; k < b.length; k++) {
    const at = offset + k;
    const want = at < 8 ? head[at]! : i & 0xff;
    if (b[k] !== want) assert.fail(`message ${i}: byte ${at} is ${b[k]}, expected ${want}`);
  }
}

test('stream: a large message arrives as in-order fragments that add up to it; whole messages still go to the callback', async (t) => {
  const COUNT = 3;
  const SIZE = 100_000; // 25 records of a 16 KiB ring's 4088-byte payload
  const ch = open(t, 4096, 16384, { handler: 'source', sourceCount: COUNT, sourceSize: SIZE });
  let message = 0;
  let expected = 0;
  let fragments = 0;
  const aborts: StreamEnd[] = [];
  let err: unknown = null;
  ch.on('error', (e) => (err = e));
  ch.startReceiving(() => assert.fail('every source message is larger than a record'), {
    stream: {
      fragment(bytes, offset, total) {
        try {
          assert.equal(total, SIZE);
          assert.equal(offset, expected, `message ${message}: fragment at ${offset}, expected ${expected}`);
          assert.ok(bytes.length > 0);
          checkSourceBytes(bytes, offset, message);
        } catch (e) {
          err ??= e;
        }
        fragments++;
        expected = offset + bytes.length;
        if (expected === total) {
          message++;
          expected = 0;
        }
      },
      abort: (why) => void aborts.push(why),
    },
  });
  await waitFor(() => message === COUNT || err !== null, 20_000, `${COUNT} streamed messages`);
  if (err) throw err;
  assert.ok(fragments >= COUNT * 25, `${fragments} fragments`);
  assert.deepEqual(aborts, []);
  const st = ch.getStats();
  assert.equal(st.messagesReceived, COUNT);
  assert.equal(st.bytesReceived, COUNT * SIZE);
});

test('stream: closing the channel mid-message aborts the stream with closed, and nothing follows', async (t) => {
  const ch = open(t, 4096, 16384, { handler: 'source', sourceCount: 1, sourceSize: 1_000_000 });
  const aborts: StreamEnd[] = [];
  let fragments = 0;
  let errors = 0;
  ch.on('error', () => void errors++);
  ch.startReceiving(() => {}, {
    stream: {
      fragment: () => {
        fragments++;
        ch.close(); // from inside the first fragment's callback
      },
      abort: (why) => void aborts.push(why),
    },
  });
  await waitFor(() => aborts.length > 0, 20_000, 'the abort');
  assert.deepEqual(aborts, ['closed']);
  assert.equal(fragments, 1, 'no fragment after the close');
  assert.equal(errors, 0, 'a close, not a failure');
});

test('stream: a fragment callback that throws ends the channel with callback_failed', async (t) => {
  const ch = open(t, 4096, 16384, { handler: 'source', sourceCount: 1, sourceSize: 100_000 });
  const errors: Error[] = [];
  const aborts: StreamEnd[] = [];
  ch.on('error', (e) => void errors.push(e));
  ch.startReceiving(() => {}, {
    stream: {
      fragment: () => {
        throw new Error('boom');
      },
      abort: (why) => void aborts.push(why),
    },
  });
  await waitFor(() => errors.length > 0, 20_000, 'the error');
  assert.equal((errors[0] as { code?: string }).code, 'callback_failed');
  assert.ok(ch.isClosed);
  assert.equal(aborts.length, 1, 'the open message was aborted once');
});

test('stream: an invalid stream option is a TypeError', (t) => {
  const ch = open(t, 4096, 4096);
  assert.throws(() => ch.startReceiving(() => {}, { stream: {} as never }), TypeError);
  assert.throws(() => ch.startReceiving(() => {}, { stream: { fragment: () => {}, abort: 5 } as never }), TypeError);
});
