// Bad arguments: every send method, the constructor and its options refuse them with
// an error naming the argument, the value and what is allowed (js/src/options.ts,
// send-data.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SharedMemoryChannel } from '../src/index';
import { openChannel as open } from './helpers';

test('bad input: wrong message types', (t) => {
  const ch = open(t, 4096, 4096);
  const cases: Array<[unknown, RegExp]> = [
    [5, /not number 5$/],
    [{}, /not an object \(Object\)$/],
    [[1, 2], /not an object \(Array\)$/],
    [null, /not null$/],
    [undefined, /not undefined$/],
    [Symbol('x'), /not symbol Symbol\(x\)$/],
  ];
  for (const [v, re] of cases) {
    assert.throws(() => ch.send(v as Uint8Array), (e: Error) => e instanceof TypeError && /^message must be a Uint8Array, another ArrayBufferView, an ArrayBuffer or a string/.test(e.message) && re.test(e.message));
    assert.throws(() => ch.sendDirect(v as Uint8Array, 10), TypeError);
  }
  assert.throws(() => ch.startReceiving(42 as unknown as () => void), /startReceiving\(cb\): cb must be a function, not number 42/);
  assert.throws(() => ch.onQueueEmpty(null as unknown as () => void), /onQueueEmpty\(cb\): cb must be a function, not null/);
  return assert.rejects(ch.sendAsync(5 as unknown as Uint8Array), TypeError);
});

test('bad input: constructor sizes name the value and the allowed range', () => {
  const range = 'must be a power of two from 4096 (4 KiB) to 1073741824 (1 GiB) bytes, not ';
  const cases: Array<[unknown, string]> = [
    [-1, '-1'],
    [0, '0'],
    [4096.5, '4096.5'],
    [5000, '5000'],
    [2048, '2048'],
    [2 ** 31, '2147483648'],
    [Infinity, 'Infinity'],
    [NaN, 'NaN'],
    ['4096', 'the string "4096"'],
    [null, 'null'],
  ];
  for (const [v, shown] of cases) {
    assert.throws(() => new SharedMemoryChannel(v as number, 4096), (e: Error) => e instanceof RangeError && e.message === `r2nSize (JS -> native ring bytes) ${range}${shown}`, `r2n ${String(v)}`);
    assert.throws(() => new SharedMemoryChannel(4096, v as number), (e: Error) => e instanceof RangeError && e.message === `n2rSize (native -> JS ring bytes) ${range}${shown}`, `n2r ${String(v)}`);
  }
});

test('bad input: options (JS-checked and addon-checked)', () => {
  const bad = (o: unknown, cls: new (...a: never[]) => Error, re: RegExp): void => {
    assert.throws(() => new SharedMemoryChannel(4096, 4096, o as object), (e: Error) => e instanceof cls && re.test(e.message), JSON.stringify(o));
  };
  bad({ wakeMode: 'fast' }, RangeError, /^wakeMode must be 'doorbell', 'poll' or 'spin', not the string "fast"$/);
  bad({ wakeMode: 1 }, RangeError, /^wakeMode must be .*, not number 1$/);
  bad({ drainBudgetMs: 0 }, RangeError, /^drainBudgetMs must be a number from 0.1 to 1000, not 0$/);
  bad({ drainBudgetMs: NaN }, RangeError, /^drainBudgetMs must be a number from 0.1 to 1000, not NaN$/);
  bad({ drainBudgetMs: 1001 }, RangeError, /not 1001$/);
  bad({ pollIntervalMs: 0.5 }, RangeError, /^pollIntervalMs must be a number from 1 to 60000, not 0.5$/);
  bad({ highWaterMark: -1 }, RangeError, /^highWaterMark must be an integer from 0 to 9007199254740992, not -1$/);
  bad({ highWaterMark: 1.5 }, RangeError, /^highWaterMark must be an integer .* not 1.5$/);
  bad({ highWaterMark: '10' }, RangeError, /not the string "10"$/);
  bad({ maxMessage: 2 ** 32 }, RangeError, /^maxMessage must be an integer from 0 to 4294967295, not 4294967296$/);
  bad({ handler: 'bogus' }, RangeError, /^handler must be 'echo', 'sink', 'source' or 'plugin', not "bogus"$/);
  bad({ handler: 7 }, TypeError, /^options.handler must be a string, not the number 7$/);
  bad({ handler: 'source', sourceCount: -1 }, RangeError, /^options.sourceCount must be an integer in \[0, 4294967295\], not the number -1$/);
  bad({ handler: 'source', sourceCount: 1.5 }, RangeError, /options.sourceCount must be an integer/);
  bad({ handler: 'source', sourceSize: 'big' }, RangeError, /^options.sourceSize must be an integer in \[0, 4294967295\], not the string "big"$/);
  bad(null, TypeError, /^options must be an object, not null$/);
});
