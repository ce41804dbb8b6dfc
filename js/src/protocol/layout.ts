// Region layout of wire protocol version 2 (docs/protocol.md sections 2, 3.1, 7).
//
// All word positions are exported as Int32Array indices into the control area (the first
// HEADER_SIZE bytes of the region), because every shared word is accessed through
// `Atomics` on an Int32Array. Values loaded through Atomics come back signed; convert
// with `>>> 0` before comparing as unsigned.

import { RegionError } from '../errors';

// ---------------------------------------------------------------------------------
// Constants (section 2.1)

export const MAGIC = 0x31434d53; // bytes 'S' 'M' 'C' '1' little-endian
/** 2: each parked word gained a wake sequence (section 5.2); version 1 regions are refused. */
export const VERSION = 2;
export const HEADER_SIZE = 2048;
export const MIN_CAPACITY = 4096;
export const MAX_CAPACITY = 2 ** 30;
/** Size of one control slot: two 64-byte cache lines. */
export const LINE_SIZE = 128;
/** Default and largest accepted message size (section 3.2). */
export const MAX_MESSAGE_LIMIT = 0xffffffff;

// Where every shared word of the control area lives. One table, derived the way
// native/include/smc/layout.hpp derives it (line 0 fields in order; a side's state and
// generation share its slot 1 + side; a ring's four slots start at 3 + 4 * direction, and
// a parked word's wake sequence is the word after it), so the two languages cannot drift apart one literal at a time. The names are
// the ones docs/protocol.md and test-vectors/ring.json use; both test suites check their
// table against the layout described in that file.

/** Byte offset of a control slot (slot 0 is the immutable header). */
function slotOffset(slot: number): number {
  return LINE_SIZE * slot;
}
/** Slot of a side's state word (side 0 = R, 1 = N); its generation is the next word. */
function stateSlot(side: number): number {
  return 1 + side;
}
/** First of the four slots of a ring (direction 0 = R2N, 1 = N2R). */
function ringSlot(direction: number): number {
  return 3 + 4 * direction;
}

const HEADER_FIELD_NAMES = [
  'magic',
  'version',
  'header_size',
  'flags',
  'r2n_offset',
  'r2n_capacity',
  'n2r_offset',
  'n2r_capacity',
  'total_size',
] as const;
/** A ring's words: [name, slot from the ring's first, byte offset in the slot]. */
const RING_WORDS = [
  ['write_index', 0, 0],
  ['read_index', 1, 0],
  ['consumer_parked', 2, 0],
  ['consumer_wake_seq', 2, 4],
  ['producer_parked', 3, 0],
  ['producer_wake_seq', 3, 4],
] as const;

/** One shared u32 word of the control area. */
export interface SharedWordLayout {
  readonly name: string;
  /** Byte offset from the start of the region. */
  readonly offset: number;
  readonly size: 4;
}

/** Every shared word of the control area, in offset order. */
export const SHARED_WORD_LAYOUT: readonly SharedWordLayout[] = Object.freeze([
  ...HEADER_FIELD_NAMES.map((name, i) => ({ name, offset: slotOffset(0) + 4 * i, size: 4 as const })),
  ...(['r', 'n'] as const).flatMap((side, s) => [
    { name: `${side}_state`, offset: slotOffset(stateSlot(s)), size: 4 as const },
    { name: `${side}_generation`, offset: slotOffset(stateSlot(s)) + 4, size: 4 as const },
  ]),
  ...(['r2n', 'n2r'] as const).flatMap((ring, d) =>
    RING_WORDS.map(([word, k, at]) => ({ name: `${ring}_${word}`, offset: slotOffset(ringSlot(d) + k) + at, size: 4 as const })),
  ),
]);

function offsetOf(name: string): number {
  const entry = SHARED_WORD_LAYOUT.find((w) => w.name === name);
  if (entry === undefined) throw new Error(`layout table has no word ${name}`);
  return entry.offset;
}

// Line 0: immutable header, byte offsets.
export const OFF_MAGIC = offsetOf('magic'); // 0
export const OFF_VERSION = offsetOf('version'); // 4
export const OFF_HEADER_SIZE = offsetOf('header_size'); // 8
export const OFF_FLAGS = offsetOf('flags'); // 12
export const OFF_R2N_OFFSET = offsetOf('r2n_offset'); // 16
export const OFF_R2N_CAPACITY = offsetOf('r2n_capacity'); // 20
export const OFF_N2R_OFFSET = offsetOf('n2r_offset'); // 24
export const OFF_N2R_CAPACITY = offsetOf('n2r_capacity'); // 28
export const OFF_TOTAL_SIZE = offsetOf('total_size'); // 32

// Line 0 as Int32Array indices.
export const W_MAGIC = OFF_MAGIC >> 2; // 0
export const W_VERSION = OFF_VERSION >> 2; // 1
export const W_HEADER_SIZE = OFF_HEADER_SIZE >> 2; // 2
export const W_FLAGS = OFF_FLAGS >> 2; // 3
export const W_R2N_OFFSET = OFF_R2N_OFFSET >> 2; // 4
export const W_R2N_CAPACITY = OFF_R2N_CAPACITY >> 2; // 5
export const W_N2R_OFFSET = OFF_N2R_OFFSET >> 2; // 6
export const W_N2R_CAPACITY = OFF_N2R_CAPACITY >> 2; // 7
export const W_TOTAL_SIZE = OFF_TOTAL_SIZE >> 2; // 8

// Lines 1-10, byte offsets (section 2).
export const OFF_R_STATE = offsetOf('r_state'); // 128
export const OFF_R_GENERATION = offsetOf('r_generation'); // 132
export const OFF_N_STATE = offsetOf('n_state'); // 256
export const OFF_N_GENERATION = offsetOf('n_generation'); // 260
export const OFF_R2N_WRITE_INDEX = offsetOf('r2n_write_index'); // 384
export const OFF_R2N_READ_INDEX = offsetOf('r2n_read_index'); // 512
export const OFF_R2N_CONSUMER_PARKED = offsetOf('r2n_consumer_parked'); // 640
export const OFF_R2N_CONSUMER_WAKE_SEQ = offsetOf('r2n_consumer_wake_seq'); // 644
export const OFF_R2N_PRODUCER_PARKED = offsetOf('r2n_producer_parked'); // 768
export const OFF_R2N_PRODUCER_WAKE_SEQ = offsetOf('r2n_producer_wake_seq'); // 772
export const OFF_N2R_WRITE_INDEX = offsetOf('n2r_write_index'); // 896
export const OFF_N2R_READ_INDEX = offsetOf('n2r_read_index'); // 1024
export const OFF_N2R_CONSUMER_PARKED = offsetOf('n2r_consumer_parked'); // 1152
export const OFF_N2R_CONSUMER_WAKE_SEQ = offsetOf('n2r_consumer_wake_seq'); // 1156
export const OFF_N2R_PRODUCER_PARKED = offsetOf('n2r_producer_parked'); // 1280
export const OFF_N2R_PRODUCER_WAKE_SEQ = offsetOf('n2r_producer_wake_seq'); // 1284
export const OFF_RESERVED = OFF_N2R_PRODUCER_PARKED + LINE_SIZE; // 1408: lines 11-15, 640 bytes, zero

// Lines 1-10 as Int32Array indices.
export const W_R_STATE = OFF_R_STATE >> 2; // 32
export const W_R_GENERATION = OFF_R_GENERATION >> 2; // 33
export const W_N_STATE = OFF_N_STATE >> 2; // 64
export const W_N_GENERATION = OFF_N_GENERATION >> 2; // 65
export const W_R2N_WRITE_INDEX = OFF_R2N_WRITE_INDEX >> 2; // 96
export const W_R2N_READ_INDEX = OFF_R2N_READ_INDEX >> 2; // 128
export const W_R2N_CONSUMER_PARKED = OFF_R2N_CONSUMER_PARKED >> 2; // 160
export const W_R2N_CONSUMER_WAKE_SEQ = OFF_R2N_CONSUMER_WAKE_SEQ >> 2; // 161
export const W_R2N_PRODUCER_PARKED = OFF_R2N_PRODUCER_PARKED >> 2; // 192
export const W_R2N_PRODUCER_WAKE_SEQ = OFF_R2N_PRODUCER_WAKE_SEQ >> 2; // 193
export const W_N2R_WRITE_INDEX = OFF_N2R_WRITE_INDEX >> 2; // 224
export const W_N2R_READ_INDEX = OFF_N2R_READ_INDEX >> 2; // 256
export const W_N2R_CONSUMER_PARKED = OFF_N2R_CONSUMER_PARKED >> 2; // 288
export const W_N2R_CONSUMER_WAKE_SEQ = OFF_N2R_CONSUMER_WAKE_SEQ >> 2; // 289
export const W_N2R_PRODUCER_PARKED = OFF_N2R_PRODUCER_PARKED >> 2; // 320
export const W_N2R_PRODUCER_WAKE_SEQ = OFF_N2R_PRODUCER_WAKE_SEQ >> 2; // 321

// ---------------------------------------------------------------------------------
// Sides and side states (sections 1, 2.2)

export type Side = 'R' | 'N';
export const SIDE_R = 0;
export const SIDE_N = 1;

export const STATE_DETACHED = 0;
export const STATE_ATTACHED = 1;
export const STATE_CLOSED = 2;
export const STATE_FAILED = 3;
export const STATE_NAMES: readonly string[] = ['detached', 'attached', 'closed', 'failed'];

// ---------------------------------------------------------------------------------
// Records (section 3.1)

export const RECORD_HEADER_SIZE = 8;
export const KIND_MESSAGE = 1;
export const KIND_FIRST = 2;
export const KIND_MIDDLE = 3;
export const KIND_LAST = 4;
export const KIND_PAD = 5;
export const KIND_CANCEL = 6;
export const KIND_NAMES: readonly string[] = ['', 'MESSAGE', 'FIRST', 'MIDDLE', 'LAST', 'PAD', 'CANCEL'];

/** Largest payload of one record: capacity / 4 - 8 (section 3.1). */
export function maxPayload(capacity: number): number {
  return capacity / 4 - RECORD_HEADER_SIZE;
}

// ---------------------------------------------------------------------------------
// Failure reasons (section 7.2), numbers exactly as in the spec.

export const REASON_INDEX_MISALIGNED = 1;
export const REASON_INDEX_OUT_OF_RANGE = 2;
export const REASON_INDEX_REGRESSED = 3;
export const REASON_RECORD_KIND_INVALID = 4;
export const REASON_RECORD_LENGTH_INVALID = 5;
export const REASON_RECORD_BEYOND_INDEX = 6;
export const REASON_RECORD_CROSSES_END = 7;
export const REASON_PAD_INVALID = 8;
export const REASON_FRAGMENT_SEQUENCE = 9;
export const REASON_FRAGMENT_LENGTH = 10;
export const REASON_MESSAGE_TOO_LARGE = 11;
export const REASON_PEER_STATE_INVALID = 12;
export const REASON_LOCAL_ERROR = 13;

/** Reason names indexed by number; index 0 is unused (no failure). */
export const FAILURE_REASON_NAMES: readonly string[] = [
  '',
  'index_misaligned',
  'index_out_of_range',
  'index_regressed',
  'record_kind_invalid',
  'record_length_invalid',
  'record_beyond_index',
  'record_crosses_end',
  'pad_invalid',
  'fragment_sequence',
  'fragment_length',
  'message_too_large',
  'peer_state_invalid',
  'local_error',
];

export function failureReasonName(reason: number): string {
  return FAILURE_REASON_NAMES[reason] ?? `unknown_reason_${reason}`;
}

// ---------------------------------------------------------------------------------
// Region creation and attachment

/** A validated region: typed-array views over the control area and both rings. */
export interface Region {
  readonly sab: SharedArrayBuffer;
  /** Byte offset of the region inside `sab` (a multiple of 8). */
  readonly byteOffset: number;
  /** total_size: HEADER_SIZE + r2nCapacity + n2rCapacity. */
  readonly byteLength: number;
  /** The HEADER_SIZE-byte control area as Int32 words (index with the W_* constants). */
  readonly ctrl: Int32Array;
  readonly r2nCapacity: number;
  readonly n2rCapacity: number;
  /** Ring R2N data, r2nCapacity bytes. */
  readonly r2nData: Uint8Array;
  /** Ring N2R data, n2rCapacity bytes. */
  readonly n2rData: Uint8Array;
}

/** True for a ring capacity the protocol allows: a power of two in [MIN_CAPACITY, MAX_CAPACITY]. */
export function isValidCapacity(c: number): boolean {
  // Number.isInteger rejects NaN, +-Infinity and fractions; the bit test needs c < 2^31.
  return Number.isInteger(c) && c >= MIN_CAPACITY && c <= MAX_CAPACITY && (c & (c - 1)) === 0;
}

function checkCapacityArg(name: string, c: number): void {
  if (typeof c !== 'number' || !isValidCapacity(c)) {
    throw new RangeError(
      `${name} ${String(c)} is invalid: it must be a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}] (2^12 .. 2^30)`,
    );
  }
}

function checkOffsetArg(byteOffset: number): void {
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
    throw new RangeError(`byteOffset ${String(byteOffset)} is invalid: it must be a non-negative multiple of 8`);
  }
}

/** Bytes needed for a region with the given ring capacities (validated). */
export function regionSize(r2nCapacity: number, n2rCapacity: number): number {
  checkCapacityArg('r2nCapacity', r2nCapacity);
  checkCapacityArg('n2rCapacity', n2rCapacity);
  return HEADER_SIZE + r2nCapacity + n2rCapacity;
}

/**
 * Initializes a region inside `sab` at `byteOffset` (section 2.1): zeroes the control
 * area, writes lines 1-15 (all zero: both sides detached, generation 0, indices 0), then
 * line 0 with `magic` stored last. Ring data is left as is (it is never read before the
 * producer writes it). Must run before either side attaches, while nobody else uses the
 * region. Returns the region, as attachRegion would.
 */
export function initRegion(
  sab: SharedArrayBuffer,
  r2nCapacity: number,
  n2rCapacity: number,
  byteOffset = 0,
): Region {
  const total = regionSize(r2nCapacity, n2rCapacity);
  checkOffsetArg(byteOffset);
  if (byteOffset + total > sab.byteLength) {
    throw new RangeError(
      `buffer too small: region needs ${total} bytes at offset ${byteOffset}, buffer has ${sab.byteLength}`,
    );
  }
  const ctrl = new Int32Array(sab, byteOffset, HEADER_SIZE >> 2);
  // Unpublish first, in case the buffer held an older region that someone still reads.
  Atomics.store(ctrl, W_MAGIC, 0);
  ctrl.fill(0, 1); // lines 0 (except magic) .. 15: states detached, indices 0, parked 0
  ctrl[W_VERSION] = VERSION;
  ctrl[W_HEADER_SIZE] = HEADER_SIZE;
  ctrl[W_FLAGS] = 0;
  ctrl[W_R2N_OFFSET] = HEADER_SIZE;
  ctrl[W_R2N_CAPACITY] = r2nCapacity;
  ctrl[W_N2R_OFFSET] = HEADER_SIZE + r2nCapacity;
  ctrl[W_N2R_CAPACITY] = n2rCapacity;
  ctrl[W_TOTAL_SIZE] = total | 0; // total <= 2048 + 2^31 fits in u32; stored as its int32 bit pattern
  // SYNC: header-publish (partner: attachRegion's Atomics.load of magic). Atomics.store is
  // seq_cst, which includes release: every plain store above happens-before an attacher's
  // reads after it loads MAGIC.
  Atomics.store(ctrl, W_MAGIC, MAGIC);
  return attachRegion(sab, byteOffset);
}

function badRegion(field: string, value: number, expected: string): never {
  throw new RegionError(`cannot attach: header field ${field} is ${value}, expected ${expected}`);
}

/**
 * Validates the header of a region initialized by initRegion (or by the native side) and
 * returns views over it (section 7.1). Nothing is written. `byteLength` is the length of
 * the region available in `sab` (default: everything after byteOffset); it must be at
 * least total_size. Throws RegionError (code `bad_region`) naming the bad field.
 */
export function attachRegion(sab: SharedArrayBuffer, byteOffset = 0, byteLength?: number): Region {
  checkOffsetArg(byteOffset);
  const available = byteLength ?? sab.byteLength - byteOffset;
  if (!Number.isInteger(available) || available < 0 || byteOffset + available > sab.byteLength) {
    throw new RangeError(`byteLength ${String(byteLength)} does not fit in the buffer`);
  }
  if (available < HEADER_SIZE) badRegion('region length', available, `>= ${HEADER_SIZE}`);
  const ctrl = new Int32Array(sab, byteOffset, HEADER_SIZE >> 2);
  // SYNC: header-publish (partner: initRegion's Atomics.store of magic). Acquire via
  // seq_cst load; the remaining header words are then read with plain loads, each once.
  const magic = Atomics.load(ctrl, W_MAGIC) >>> 0;
  if (magic !== MAGIC) badRegion('magic', magic, `0x${MAGIC.toString(16)}`);
  const version = ctrl[W_VERSION]! >>> 0;
  if (version !== VERSION) {
    // Another release of the other implementation: name both versions.
    throw new RegionError(
      `cannot attach: the region's protocol version is ${version}, this implementation speaks version ${VERSION} (both sides must come from the same release)`,
    );
  }
  const headerSize = ctrl[W_HEADER_SIZE]! >>> 0;
  if (headerSize !== HEADER_SIZE) badRegion('header_size', headerSize, String(HEADER_SIZE));
  const flags = ctrl[W_FLAGS]! >>> 0;
  if (flags !== 0) badRegion('flags', flags, '0');
  const r2nOffset = ctrl[W_R2N_OFFSET]! >>> 0;
  const r2nCap = ctrl[W_R2N_CAPACITY]! >>> 0;
  const n2rOffset = ctrl[W_N2R_OFFSET]! >>> 0;
  const n2rCap = ctrl[W_N2R_CAPACITY]! >>> 0;
  const total = ctrl[W_TOTAL_SIZE]! >>> 0;
  const range = `a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]`;
  if (!isValidCapacity(r2nCap)) badRegion('r2n_capacity', r2nCap, range);
  if (!isValidCapacity(n2rCap)) badRegion('n2r_capacity', n2rCap, range);
  if (r2nOffset !== HEADER_SIZE) badRegion('r2n_offset', r2nOffset, String(HEADER_SIZE));
  if (n2rOffset !== HEADER_SIZE + r2nCap) badRegion('n2r_offset', n2rOffset, String(HEADER_SIZE + r2nCap));
  const expectedTotal = HEADER_SIZE + r2nCap + n2rCap;
  if (total !== expectedTotal) badRegion('total_size', total, String(expectedTotal));
  if (available < total) badRegion('region length', available, `>= total_size ${total}`);
  return {
    sab,
    byteOffset,
    byteLength: total,
    ctrl,
    r2nCapacity: r2nCap,
    n2rCapacity: n2rCap,
    r2nData: new Uint8Array(sab, byteOffset + HEADER_SIZE, r2nCap),
    n2rData: new Uint8Array(sab, byteOffset + HEADER_SIZE + r2nCap, n2rCap),
  };
}
