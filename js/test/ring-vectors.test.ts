// Replays test-vectors/ring.json with the TypeScript implementation: the layout against
// js/src/protocol/layout.ts, every operation sequence byte for byte, every hostile state to
// its named reason. native/tests/ring_vectors_test.cpp replays the same file with the C++
// implementation, so the two agree on every byte the file records. docs/protocol.md
// section 8 quotes the file; the last test checks the quoted bytes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChannelClosedError, ProtocolError, RegionError } from '../src/errors';
import * as P from '../src/protocol';

// ---- the file's format (described in its own "format" entry) ------------------------------

interface MessageSpec {
  length: number;
  seed: number;
}
interface RegionSnapshot {
  words: Record<string, number>;
  r2n: [number, string][];
  n2r: [number, string][];
}
interface Step {
  do: 'init' | 'poke' | 'attach' | 'send' | 'reserve' | 'flush' | 'receive' | 'close' | 'reader_poll' | 'reader_refill';
  side?: 'R' | 'N';
  r2n_capacity?: number;
  n2r_capacity?: number;
  word?: string;
  value?: number;
  ring?: 'r2n' | 'n2r';
  at?: number;
  hex?: string;
  max_message?: number;
  max?: number;
  message?: MessageSpec;
  publish?: boolean;
  commit?: number;
  close_before_commit?: boolean;
  messages?: MessageSpec[];
  result?: string;
  fails?: string;
  end?: string;
  refused?: string;
  region?: RegionSnapshot;
}
interface Vector {
  name: string;
  about: string;
  check?: string;
  reason?: string;
  steps: Step[];
}
interface Layout {
  magic: number;
  version: number;
  header_size: number;
  slot_size: number;
  min_capacity: number;
  max_capacity: number;
  record_header_size: number;
  first_prefix_size: number;
  shared_words: { name: string; offset: number; size: number }[];
  kinds: Record<string, number>;
  states: Record<string, number>;
  reasons: Record<string, number>;
}
interface VectorFile {
  layout: Layout;
  sequences: Vector[];
  hostile: Vector[];
}

const root = join(__dirname, '..', '..', '..'); // build/js-test/test -> repository root
const file: VectorFile = JSON.parse(readFileSync(join(root, 'test-vectors', 'ring.json'), 'utf8'));

function messageBytes({ length, seed }: MessageSpec): Uint8Array {
  const b = new Uint8Array(length);
  if (seed !== 0) for (let i = 0; i < length; i++) b[i] = 1 + ((seed * 7 + i) % 255);
  return b;
}

function hexBytes(hex: string): Uint8Array {
  const digits = hex.replaceAll(' ', '');
  assert.match(digits, /^([0-9a-f]{2})*$/, `bad hex ${hex.slice(0, 40)}`);
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

function wordOffset(name: string): number {
  const w = P.SHARED_WORD_LAYOUT.find((x) => x.name === name);
  if (w === undefined) throw new Error(`no shared word named ${name}`);
  return w.offset;
}

test('ring.json is what scripts/gen-ring-vectors.mjs writes (no hand edits)', () => {
  // The generator replays its hand-written cases with js/dist and fails on any outcome the
  // case does not declare; --check compares its output with the committed file.
  execFileSync(process.execPath, [join(root, 'scripts', 'gen-ring-vectors.mjs'), '--check'], { stdio: 'pipe' });
});

// ---- the layout -------------------------------------------------------------------------

test('layout.ts describes the layout of test-vectors/ring.json', () => {
  const L = file.layout;
  assert.deepEqual(
    P.SHARED_WORD_LAYOUT.map((w) => ({ ...w })),
    L.shared_words,
    'shared words: names, offsets, sizes',
  );
  // The exported constants other modules import are the table's values.
  const exported = P as unknown as Record<string, unknown>;
  for (const w of L.shared_words) {
    const constant = `OFF_${w.name.toUpperCase()}`;
    assert.equal(exported[constant], w.offset, constant);
    assert.equal(exported[`W_${w.name.toUpperCase()}`], w.offset >> 2, `W_${w.name.toUpperCase()}`);
  }
  assert.equal(P.MAGIC, L.magic);
  assert.equal(P.VERSION, L.version);
  assert.equal(P.HEADER_SIZE, L.header_size);
  assert.equal(P.LINE_SIZE, L.slot_size);
  assert.equal(P.MIN_CAPACITY, L.min_capacity);
  assert.equal(P.MAX_CAPACITY, L.max_capacity);
  assert.equal(P.RECORD_HEADER_SIZE, L.record_header_size);
  assert.equal(L.first_prefix_size, 8);
  const named = (names: readonly string[]) => Object.fromEntries(names.map((n, i) => [n, i]).filter(([n]) => n !== ''));
  assert.deepEqual(named(P.KIND_NAMES), L.kinds);
  assert.deepEqual(
    [P.KIND_MESSAGE, P.KIND_FIRST, P.KIND_MIDDLE, P.KIND_LAST, P.KIND_PAD, P.KIND_CANCEL],
    ['MESSAGE', 'FIRST', 'MIDDLE', 'LAST', 'PAD', 'CANCEL'].map((k) => L.kinds[k]),
  );
  assert.deepEqual(named(P.STATE_NAMES), L.states);
  assert.deepEqual(
    [P.STATE_DETACHED, P.STATE_ATTACHED, P.STATE_CLOSED, P.STATE_FAILED],
    ['detached', 'attached', 'closed', 'failed'].map((s) => L.states[s]),
  );
  assert.deepEqual(named(P.FAILURE_REASON_NAMES), L.reasons);
  for (const [name, number] of Object.entries(L.reasons)) {
    assert.equal(exported[`REASON_${name.toUpperCase()}`], number, name);
  }
});

// ---- replay ------------------------------------------------------------------------------

/** The region a snapshot describes, byte for byte: every unnamed byte is zero. */
function expectedImage(s: RegionSnapshot, size: number, r2nCapacity: number): Uint8Array {
  const image = new Uint8Array(size);
  const view = new DataView(image.buffer);
  for (const [name, value] of Object.entries(s.words)) view.setUint32(wordOffset(name), value, true);
  for (const [ring, base] of [
    [s.r2n, P.HEADER_SIZE],
    [s.n2r, P.HEADER_SIZE + r2nCapacity],
  ] as const) {
    for (const [at, hex] of ring) image.set(hexBytes(hex), base + at);
  }
  return image;
}

/** Where `actual` differs from `expected`, named: empty when they are equal. */
function regionDifference(actual: Uint8Array, expected: Uint8Array, r2nCapacity: number): string {
  if (actual.length !== expected.length) return `region is ${actual.length} bytes, expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] === expected[i]) continue;
    const at = i & ~3;
    let where: string;
    if (i < P.HEADER_SIZE) {
      const w = P.SHARED_WORD_LAYOUT.find((x) => x.offset === at);
      where = w ? `control word ${w.name}` : `control byte ${i}`;
    } else if (i < P.HEADER_SIZE + r2nCapacity) {
      where = `r2n data offset ${i - P.HEADER_SIZE}`;
    } else {
      where = `n2r data offset ${i - P.HEADER_SIZE - r2nCapacity}`;
    }
    const word = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
    return `${where}: byte ${i} is ${actual[i]}, expected ${expected[i]} (u32 at ${at}: ${word(actual)} vs ${word(expected)})`;
  }
  return '';
}

interface Outcome {
  result: string;
  fails?: string;
  end?: string;
  refused?: string;
  messages?: string[];
}

/** Runs a vector's steps with the TS endpoints; calls `check` after each with its outcome and the region. */
function replay(v: Vector, check: (step: Step, index: number, outcome: Outcome, region: Uint8Array, r2nCapacity: number) => void): void {
  let sab: SharedArrayBuffer | null = null;
  let region: P.Region | null = null;
  const sides = new Map<string, P.Endpoint>();
  const readers = new Map<string, P.RingReader>();
  for (const [index, step] of v.steps.entries()) {
    const where = `${v.name} step ${index} (${step.do})`;
    const outcome: Outcome = { result: 'ok' };
    const ep = (): P.Endpoint => {
      const e = sides.get(step.side ?? '');
      assert.ok(e, `${where}: side ${step.side} is not attached`);
      return e;
    };
    const settle = (action: () => void): void => {
      try {
        action();
      } catch (e) {
        if (e instanceof ProtocolError) outcome.fails = e.reason;
        else if (e instanceof ChannelClosedError && ['closed', 'peer_closed', 'peer_failed'].includes(e.code)) outcome.result = e.code;
        else throw e;
      }
    };
    switch (step.do) {
      case 'init':
        sab = new SharedArrayBuffer(P.regionSize(step.r2n_capacity!, step.n2r_capacity!));
        region = P.initRegion(sab, step.r2n_capacity!, step.n2r_capacity!);
        break;
      case 'poke':
        assert.ok(sab && region, `${where}: no region`);
        if (step.word !== undefined) new DataView(sab).setUint32(wordOffset(step.word), step.value!, true);
        else (step.ring === 'r2n' ? region.r2nData : region.n2rData).set(hexBytes(step.hex!), step.at!);
        break;
      case 'attach':
        assert.ok(region, `${where}: no region`);
        try {
          sides.set(step.side!, new P.Endpoint(region, step.side!, step.max_message === undefined ? {} : { maxMessage: step.max_message }));
        } catch (e) {
          // A1/A2 (section 7.1): refused with the reason named, nothing written
          if (!(e instanceof RegionError) || e.reason === null) throw e;
          outcome.refused = e.reason;
        }
        break;
      case 'send':
        settle(() => {
          // An already passed deadline: one wait of 0 ms, so a full ring times out at once.
          if (!ep().sendSync(messageBytes(step.message!), 0, 1)) outcome.result = 'timeout';
          else if (step.publish !== false) ep().flush();
        });
        break;
      case 'reserve':
        settle(() => {
          const writer = ep().frameWriter;
          const bytes = messageBytes(step.message!);
          const at = ep().reserveOffset(bytes.length);
          if (at < 0) {
            outcome.result = 'timeout';
            return;
          }
          writer.data.set(bytes, at);
          if (step.commit === undefined) {
            writer.abort();
          } else {
            if (step.close_before_commit === true) ep().close();
            ep().commit(step.commit);
            if (step.publish !== false) ep().flush();
          }
        });
        break;
      case 'flush':
        settle(() => void ep().flush());
        break;
      case 'receive': {
        const delivered: string[] = [];
        outcome.messages = delivered;
        settle(() => {
          const n = ep().poll((m) => void delivered.push(Buffer.from(m).toString('hex')));
          if (n === P.EOF) outcome.end = 'peer_closed';
        });
        if (outcome.result !== 'ok') {
          outcome.end = outcome.result;
          outcome.result = 'ok';
        }
        break;
      }
      case 'close':
        ep().close();
        break;
      case 'reader_poll':
      case 'reader_refill': {
        assert.ok(region, `${where}: no region`);
        let reader = readers.get(step.ring!);
        if (reader === undefined) {
          // From the shared read_index as it is now, unchecked, as the C++ suite's bare reader.
          const words = step.ring === 'r2n' ? P.R2N_WORDS : P.N2R_WORDS;
          const read = Atomics.load(region.ctrl, words.readIndex) >>> 0;
          const start = { start: { write: read, read } };
          reader =
            step.ring === 'r2n'
              ? new P.RingReader(region.ctrl, words, region.r2nData, region.r2nCapacity, start)
              : new P.RingReader(region.ctrl, words, region.n2rData, region.n2rCapacity, start);
          readers.set(step.ring!, reader);
        }
        const bare = reader;
        if (step.do === 'reader_poll') {
          const delivered: string[] = [];
          outcome.messages = delivered;
          // Records only, as the C++ suite's bare reader: MESSAGE payloads, one release.
          settle(() => {
            try {
              for (let n = 0; n < (step.max ?? Infinity); n++) {
                const kind = bare.peek();
                if (kind === 0) break;
                assert.equal(kind, P.KIND_MESSAGE, `${where}: reader_poll reads MESSAGE records only`);
                delivered.push(Buffer.from(bare.data.subarray(bare.payloadOffset, bare.payloadOffset + bare.payloadLength)).toString('hex'));
                bare.consume();
              }
            } finally {
              bare.release();
            }
          });
        } else {
          settle(() => void bare.refresh());
        }
        break;
      }
      default:
        assert.fail(`${where}: unknown step`);
    }
    assert.ok(sab && region, `${where}: no region`);
    check(step, index, outcome, new Uint8Array(sab), region.r2nCapacity);
  }
}

function checkStep(v: Vector, step: Step, index: number, outcome: Outcome, actual: Uint8Array, r2nCapacity: number): void {
  const where = `${v.name} step ${index} (${step.do})`;
  assert.equal(outcome.result, step.result ?? 'ok', `${where}: result`);
  assert.equal(outcome.fails, step.fails, `${where}: failure reason`);
  assert.equal(outcome.end, step.end, `${where}: end of stream`);
  assert.equal(outcome.refused, step.refused, `${where}: attach refusal`);
  if (step.do === 'receive' || step.do === 'reader_poll') {
    assert.deepEqual(
      outcome.messages,
      step.messages!.map((m) => Buffer.from(messageBytes(m)).toString('hex')),
      `${where}: messages delivered`,
    );
  }
  if (step.region !== undefined) {
    const diff = regionDifference(actual, expectedImage(step.region, actual.length, r2nCapacity), r2nCapacity);
    assert.equal(diff, '', `${where}: ${diff}`);
  }
}

for (const v of file.sequences) {
  test(`ring vector ${v.name}: ${v.about}`, () => {
    replay(v, (step, index, outcome, region, r2nCapacity) => checkStep(v, step, index, outcome, region, r2nCapacity));
  });
}

for (const v of file.hostile) {
  test(`hostile ring vector ${v.name} (${v.check} ${v.reason}): ${v.about}`, () => {
    const last = v.steps[v.steps.length - 1]!;
    assert.equal(last.fails, v.reason, 'the last step fails with the named reason');
    assert.ok(v.reason! in file.layout.reasons, `${v.reason} is a reason of section 7.2`);
    replay(v, (step, index, outcome, region, r2nCapacity) => checkStep(v, step, index, outcome, region, r2nCapacity));
    // An endpoint publishes its failure: failed | reason << 8 in its state word (a bare
    // ring reader has no state word; its snapshot shows that it wrote nothing).
    if (last.do === 'reader_refill') return;
    const snapshot = last.region!;
    const stateWord = last.side === 'R' ? 'r_state' : 'n_state';
    assert.equal(snapshot.words[stateWord], P.STATE_FAILED | (file.layout.reasons[v.reason!]! << 8));
  });
}

test('the byte comparison catches one changed byte in any snapshot', () => {
  // Every snapshot, with one expected byte changed (a control word, then a ring byte), must
  // no longer match what the implementation wrote: a comparison that passes anyway would
  // make every vector above worthless.
  let snapshots = 0;
  for (const v of [...file.sequences, ...file.hostile]) {
    replay(v, (step, _index, _outcome, actual, r2nCapacity) => {
      if (step.region === undefined) return;
      snapshots++;
      const expected = expectedImage(step.region, actual.length, r2nCapacity);
      assert.equal(regionDifference(actual, expected, r2nCapacity), '');
      const mutations = [wordOffset('magic'), wordOffset('r2n_write_index'), P.HEADER_SIZE + 4095, actual.length - 1];
      const firstRun = step.region.r2n[0] ?? step.region.n2r[0];
      if (firstRun !== undefined) mutations.push((step.region.r2n[0] ? P.HEADER_SIZE : P.HEADER_SIZE + r2nCapacity) + firstRun[0] + 4);
      for (const at of mutations) {
        const changed = expected.slice();
        changed[at]! ^= 0x40;
        assert.notEqual(regionDifference(actual, changed, r2nCapacity), '', `${v.name}: a change at byte ${at} goes unnoticed`);
      }
    });
  }
  assert.ok(snapshots >= 40, `only ${snapshots} snapshots`);
});

// ---- docs/protocol.md section 8 quotes the file --------------------------------------------

test('docs/protocol.md section 8 shows the bytes of test-vectors/ring.json', () => {
  const spec = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
  const section = spec.slice(spec.indexOf('## 8. Worked examples'));
  // Quoted blocks: "vector <name>, step <n>:" then lines "<word> = <value>" or
  // "<ring> @<offset>: <hex>" (a quoted hex is a prefix of the bytes at that offset).
  const blocks = [...section.matchAll(/^vector (\w+), step (\d+):\n((?:(?!vector |```)\S.*\n)+)/gm)];
  assert.ok(blocks.length >= 4, 'section 8 quotes the vectors');
  for (const [, name, stepText, body] of blocks) {
    const v = file.sequences.find((x) => x.name === name);
    assert.ok(v, `section 8 quotes vector ${name}, which the file does not have`);
    const step = v.steps[Number(stepText)];
    assert.ok(step?.region, `section 8 quotes ${name} step ${stepText}, which has no snapshot`);
    const region = step.region;
    const capacity = v.steps[0]!.r2n_capacity!;
    const image = expectedImage(region, P.HEADER_SIZE + capacity + v.steps[0]!.n2r_capacity!, capacity);
    let lines = 0;
    for (const line of body!.split('\n').filter((l) => l.trim() !== '')) {
      const word = /^(\w+) = (\d+)\s*$/.exec(line);
      const bytes = /^(r2n|n2r) @(\d+): ([0-9a-f ]+?)\s*(?:\(.*\))?$/.exec(line);
      if (word) {
        assert.equal(region.words[word[1]!] ?? 0, Number(word[2]), `${name}: ${line}`);
      } else if (bytes) {
        const base = P.HEADER_SIZE + (bytes[1] === 'r2n' ? 0 : capacity) + Number(bytes[2]);
        const quoted = hexBytes(bytes[3]!.trim());
        assert.deepEqual(image.subarray(base, base + quoted.length), quoted, `${name}: ${line}`);
      } else {
        assert.fail(`section 8: cannot read the quoted line "${line}"`);
      }
      lines++;
    }
    assert.ok(lines > 0);
  }
});
