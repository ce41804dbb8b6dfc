// One SPSC ring of records of wire protocol v2 (docs/protocol.md sections 3, 4, 7.2):
// records only (reserve/commit/publish, peek/consume/release, the C and P checks on
// records and indices); messages over records are framer.ts's job. The C++ twin is
// native/include/smc/ring.hpp. Over 400 lines because both ends live here with their
// shared base (as ring.hpp), and each shared-memory check carries its own message.
//
// RingWriter is the producer side of a ring, RingReader the consumer side. Each keeps a
// PRIVATE copy of its own index (never read back from shared memory, rule 4.3) and a
// CACHED copy of the peer's index, reloaded only when the cache says full (writer) or
// empty (reader) (rule 4.4). Every value loaded from shared memory is read exactly once
// into a local, validated, and only the local is used (section 7): a hostile peer can
// rewrite any shared word at any time without making us access memory out of range.
//
// Indices are free-running u32 byte counters held in JS numbers in [0, 2^32); all
// modular arithmetic is done with `>>> 0`. Atomics.load returns the signed int32 bit
// pattern, hence `>>> 0` after every load, and `| 0` before every store.
//
// Record headers and payloads are accessed with plain typed-array loads/stores (rule 4.1,
// 4.2): a Uint32Array over the ring data when the platform is little-endian (checked
// once at module load), else a DataView with explicit little-endian accessors.

import { ProtocolError } from '../errors';
import {
  KIND_CANCEL,
  KIND_NAMES,
  KIND_MESSAGE,
  KIND_PAD,
  MAX_CAPACITY,
  MIN_CAPACITY,
  REASON_INDEX_MISALIGNED,
  REASON_INDEX_OUT_OF_RANGE,
  REASON_INDEX_REGRESSED,
  REASON_PAD_INVALID,
  REASON_RECORD_BEYOND_INDEX,
  REASON_RECORD_CROSSES_END,
  REASON_RECORD_KIND_INVALID,
  REASON_RECORD_LENGTH_INVALID,
  W_N2R_CONSUMER_PARKED,
  W_N2R_CONSUMER_WAKE_SEQ,
  W_N2R_PRODUCER_PARKED,
  W_N2R_PRODUCER_WAKE_SEQ,
  W_N2R_READ_INDEX,
  W_N2R_WRITE_INDEX,
  W_R2N_CONSUMER_PARKED,
  W_R2N_CONSUMER_WAKE_SEQ,
  W_R2N_PRODUCER_PARKED,
  W_R2N_PRODUCER_WAKE_SEQ,
  W_R2N_READ_INDEX,
  W_R2N_WRITE_INDEX,
  failureReasonName,
  isValidCapacity,
  maxPayload,
} from './layout';

/** True when typed arrays use little-endian byte order (every platform V8 ships on today). */
export const PLATFORM_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The control words of one ring, as Int32Array indices into the control area. */
export interface RingWords {
  readonly writeIndex: number;
  readonly readIndex: number;
  readonly consumerParked: number;
  readonly producerParked: number;
  /** What a parked consumer waits on; the producer bumps it to wake it (section 5.2). */
  readonly consumerWakeSeq: number;
  /** What a parked producer waits on; the consumer bumps it to wake it. */
  readonly producerWakeSeq: number;
}

export const R2N_WORDS: RingWords = Object.freeze({
  writeIndex: W_R2N_WRITE_INDEX,
  readIndex: W_R2N_READ_INDEX,
  consumerParked: W_R2N_CONSUMER_PARKED,
  producerParked: W_R2N_PRODUCER_PARKED,
  consumerWakeSeq: W_R2N_CONSUMER_WAKE_SEQ,
  producerWakeSeq: W_R2N_PRODUCER_WAKE_SEQ,
});

export const N2R_WORDS: RingWords = Object.freeze({
  writeIndex: W_N2R_WRITE_INDEX,
  readIndex: W_N2R_READ_INDEX,
  consumerParked: W_N2R_CONSUMER_PARKED,
  producerParked: W_N2R_PRODUCER_PARKED,
  consumerWakeSeq: W_N2R_CONSUMER_WAKE_SEQ,
  producerWakeSeq: W_N2R_PRODUCER_WAKE_SEQ,
});

export interface RingOptions {
  /**
   * Called once, synchronously, when this ring detects a protocol violation, before the
   * ProtocolError is thrown. The Endpoint uses it to enter the failed state (7.3).
   */
  onFailure?: (err: ProtocolError) => void;
  /**
   * Where the ring resumes: its indices as the caller read them once and checked them
   * (the Endpoint's attach checks A1/A2, section 7.1, in endpoint-lifecycle.ts
   * attachIndices). The writer continues from `write` with `read` as its first cached
   * copy; the reader from `read`.
   */
  start: { readonly write: number; readonly read: number };
}

/** Receives one message. The view may point INTO the ring: valid only during the call. */
export type MessageHandler = (message: Uint8Array) => void;
/** A message delivered in place: bytes buffer[offset .. offset + length). `buffer` is the
 *  ring's data for a message of one record, or the reassembly buffer (reused for the next
 *  message): valid only during the call. Nothing is allocated per message. */
export type InPlaceHandler = (buffer: Uint8Array, offset: number, length: number) => void;

function checkRingArgs(ctrl: Int32Array, data: Uint8Array, capacity: number): void {
  if (!isValidCapacity(capacity)) {
    throw new RangeError(`ring capacity ${capacity} must be a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]`);
  }
  if (data.length !== capacity) throw new RangeError(`ring data is ${data.length} bytes, capacity is ${capacity}`);
  if (data.byteOffset % 8 !== 0) throw new RangeError('ring data must be 8-byte aligned');
  if (ctrl.length < 1) throw new RangeError('control words missing');
}

/** Common state and helpers of both ring ends. */
abstract class RingEnd {
  readonly capacity: number;
  /** capacity / 4 - 8 (section 3.1). */
  readonly maxPayload: number;
  /** The ring's data bytes (a view into the shared region). */
  readonly data: Uint8Array;
  protected readonly ctrl: Int32Array;
  protected readonly words: RingWords;
  protected readonly mask: number;
  /** Uint32 view over the ring data, or null on a big-endian platform (then `dv` is used). */
  protected readonly u32: Uint32Array | null;
  protected readonly dv: DataView;
  protected readonly onFailure: ((err: ProtocolError) => void) | null;
  /** null while healthy, else the error (with its section 7.2 reason) this ring failed with. */
  protected failedError: ProtocolError | null = null;

  constructor(ctrl: Int32Array, words: RingWords, data: Uint8Array, capacity: number, options: RingOptions) {
    checkRingArgs(ctrl, data, capacity);
    this.ctrl = ctrl;
    this.words = words;
    this.data = data;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxPayload = maxPayload(capacity);
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.u32 = PLATFORM_LITTLE_ENDIAN ? new Uint32Array(data.buffer, data.byteOffset, capacity >>> 2) : null;
    this.onFailure = options.onFailure ?? null;
  }

  /** The reason number this ring failed with, or 0. */
  get failure(): number {
    return this.failedError === null ? 0 : this.failedError.reasonCode;
  }

  /** The ProtocolError this ring failed with, if any. */
  get error(): ProtocolError | null {
    return this.failedError;
  }

  /** Reads the u32 at data offset `off` (4-aligned, in range: callers guarantee it). */
  protected getU32(off: number): number {
    const u = this.u32;
    return u !== null ? u[off >>> 2]! : this.dv.getUint32(off, true);
  }

  protected setU32(off: number, v: number): void {
    const u = this.u32;
    if (u !== null) u[off >>> 2] = v;
    else this.dv.setUint32(off, v, true);
  }

  /**
   * Enters the failed state: reports to the owner, then throws. Never returns. Public for
   * the framer, whose checks (C8-C10) fail the ring they read.
   */
  fail(reason: number, detail: string): never {
    if (this.failedError === null) {
      this.failedError = new ProtocolError(reason, failureReasonName(reason), detail);
      if (this.onFailure !== null) this.onFailure(this.failedError);
    }
    throw this.failedError;
  }

  /**
   * Marks the ring failed without throwing (used by the Endpoint when the failure was
   * detected elsewhere, e.g. S1 or the other ring): from then on every operation throws.
   */
  poison(err: ProtocolError): void {
    if (this.failedError === null) this.failedError = err;
  }

  protected throwIfFailed(): void {
    if (this.failedError !== null) throw this.failedError;
  }
}

// =====================================================================================
// Producer

/**
 * Producer end of a ring.
 *
 * Writes are not visible to the consumer until publish(): batch many records, then
 * publish once. When a write reports "no space", call publish() first (the consumer can
 * only free what it has seen), then wait for space (Endpoint.parkProducer) and retry.
 *
 * Two ways to write a record of at most maxPayload bytes:
 * - tryWrite(bytes, kind): copy it; all or nothing.
 * - reserveOffset(n, kind), then commit(nActual) or abort(): write the payload in place
 *   into `data` (zero-copy; reserveOffset allocates nothing).
 * Messages of any size, and the CANCEL owed by an abandoned one, are FrameWriter's.
 */
export class RingWriter extends RingEnd {
  /** Private write index (all records written, published or not). */
  private write: number;
  /** Last value stored to the shared write_index. */
  private published: number;
  /** Cached read_index of the consumer (reloaded only when the ring looks full). */
  private cachedRead: number;
  /** Data offset of the open reservation's record header, or -1. */
  private resOff = -1;
  private resLen = 0;
  private resKind = KIND_MESSAGE;

  constructor(ctrl: Int32Array, words: RingWords, data: Uint8Array, capacity: number, options: RingOptions) {
    super(ctrl, words, data, capacity, options);
    // Our own index was read once at attach; from then on the private copy is
    // authoritative (rule 4.3).
    const { write, read } = options.start;
    this.write = this.published = write;
    this.cachedRead = read;
  }

  /** Private write index (for diagnostics and tests). */
  get writeIndex(): number {
    return this.write;
  }

  /**
   * Stores the last published write_index again if the shared word was moved back
   * (something overwrote it: see Endpoint.restoreOwnIndices). True if it did (the caller
   * wakes the consumer if it is parked).
   */
  restorePublished(): boolean {
    if (this.failedError !== null) return false;
    if (!movedBack(Atomics.load(this.ctrl, this.words.writeIndex) >>> 0, this.published, this.capacity)) return false;
    // SYNC: ring-publish (partner: consumer's Atomics.load of write_index in
    // RingReader.loadWrite): the records below `published` were written before.
    Atomics.store(this.ctrl, this.words.writeIndex, this.published | 0);
    return true;
  }

  /** Cached consumer index (the value Endpoint.parkProducer waits on). */
  get cachedReadIndex(): number {
    return this.cachedRead;
  }

  /** True if records were written since the last publish(). */
  get hasUnpublished(): boolean {
    return this.write !== this.published;
  }

  /** Free bytes according to the cache (no shared load). */
  get freeBytesCached(): number {
    return this.capacity - ((this.write - this.cachedRead) >>> 0);
  }

  /**
   * Reloads the consumer's read_index (P1-P3). Returns true if it moved since the last
   * load. Throws ProtocolError on a violation.
   */
  refresh(): boolean {
    this.throwIfFailed();
    const before = this.cachedRead;
    this.reloadRead();
    return this.cachedRead !== before;
  }

  private reloadRead(): void {
    // SYNC: ring-release (partner: consumer's Atomics.store of read_index in
    // RingReader.release). Loaded once; only the local `r` is used.
    const r = Atomics.load(this.ctrl, this.words.readIndex) >>> 0;
    if ((r & 7) !== 0) this.fail(REASON_INDEX_MISALIGNED, `read_index ${r} is not a multiple of 8`);
    // P2 is checked against what we PUBLISHED: the consumer cannot have released bytes
    // it was never shown. (published - r) <= capacity.
    const pending = (this.published - r) >>> 0;
    if (pending > this.capacity) {
      this.fail(REASON_INDEX_OUT_OF_RANGE, `read_index ${r} is not within ${this.capacity} below published write_index ${this.published}`);
    }
    // P3: the consumer's index never moves back.
    if (pending > ((this.published - this.cachedRead) >>> 0)) {
      this.fail(REASON_INDEX_REGRESSED, `read_index moved back from ${this.cachedRead} to ${r}`);
    }
    this.cachedRead = r;
  }

  /**
   * Finds room for a record of `size` bytes (8-aligned, <= capacity/4), writing a PAD
   * record first if it does not fit before the end of the ring. Returns the record's
   * data offset, or -1 when there is not enough free space even after a reload.
   */
  private claim(size: number): number {
    let off = this.write & this.mask;
    const tail = this.capacity - off;
    const need = size <= tail ? size : tail + size;
    if (need > this.capacity - ((this.write - this.cachedRead) >>> 0)) {
      this.reloadRead();
      if (need > this.capacity - ((this.write - this.cachedRead) >>> 0)) return -1;
    }
    if (size > tail) {
      // PAD covers exactly the bytes before the end (>= 8 since everything is 8-aligned).
      this.setU32(off, tail - 8);
      this.setU32(off + 4, KIND_PAD);
      this.write = (this.write + tail) >>> 0;
      off = 0;
    }
    return off;
  }

  /** Throws when the ring failed or a reservation is open. */
  checkIdle(): void {
    if (this.failedError !== null) throw this.failedError;
    if (this.resOff >= 0) throw new Error('RingWriter: a reservation is open (commit or abort it first)');
  }

  /** Throws RangeError unless `n` is a payload size a record can hold. */
  checkReservation(n: number): void {
    if (!(n >= 0 && n <= this.maxPayload && Number.isInteger(n))) {
      throw new RangeError(`reservation of ${n} bytes must be an integer in [0, ${this.maxPayload}]`);
    }
  }

  /**
   * Copies `src` (at most maxPayload bytes; CANCEL: none) into the ring as one record of
   * `kind`. Returns false (nothing written) when there is no space. Not visible until
   * publish().
   */
  tryWrite(src: Uint8Array, kind: number = KIND_MESSAGE): boolean {
    this.checkIdle();
    const n = src.length;
    if (n > this.maxPayload) throw new RangeError(`record of ${n} bytes exceeds maxPayload ${this.maxPayload}`);
    const size = 8 + ((n + 7) & ~7);
    const off = this.claim(size);
    if (off < 0) return false;
    if (n > 0) this.data.set(src, off + 8);
    this.setU32(off, n);
    this.setU32(off + 4, kind);
    this.write = (this.write + size) >>> 0;
    return true;
  }

  /**
   * Copies messages list[from .. to) (each at most maxPayload bytes: the caller checked)
   * into the ring as MESSAGE records back to back, in order, while they fit. Returns how
   * many were written, a prefix: nothing of the first that did not fit. The free space is
   * checked once per run of records that fits before the end of the ring (from the cached
   * read index), not once per record; claim() (reload, PAD) only where a run ends. Not
   * visible until publish().
   */
  tryWriteMany(list: ArrayLike<Uint8Array>, from: number, to: number): number {
    this.checkIdle();
    const data = this.data;
    const u32 = this.u32;
    const cap = this.capacity;
    let i = from;
    while (i < to) {
      let w = this.write;
      let off = w & this.mask;
      // Known free and contiguous: up to the consumer's cached index and the ring's end.
      let room = Math.min(cap - ((w - this.cachedRead) >>> 0), cap - off);
      for (; i < to; i++) {
        const src = list[i]!;
        const n = src.length;
        const size = 8 + ((n + 7) & ~7);
        if (size > room) break;
        if (n > 0) data.set(src, off + 8);
        if (u32 !== null) {
          u32[off >>> 2] = n;
          u32[(off >>> 2) + 1] = KIND_MESSAGE;
        } else {
          this.setU32(off, n);
          this.setU32(off + 4, KIND_MESSAGE);
        }
        off += size;
        room -= size;
        w += size;
      }
      this.write = w >>> 0;
      if (i === to) break;
      // The next record needs more than is known free before the end: tryWrite reloads
      // the consumer's index and pads to the ring's start if the tail is too short.
      if (!this.tryWrite(list[i]!)) break;
      i++;
    }
    return i - from;
  }

  /**
   * Reserves room for a record of `kind` with up to `n` (<= maxPayload) payload bytes and
   * returns the offset in `data` where its payload goes, or -1 when there is no space.
   * Allocation-free. Fill data[offset .. offset + n) then commit(nActual) or abort().
   */
  reserveOffset(n: number, kind: number = KIND_MESSAGE): number {
    this.checkIdle();
    this.checkReservation(n);
    const off = this.claim(8 + ((n + 7) & ~7));
    if (off < 0) return -1;
    this.resOff = off;
    this.resLen = n;
    this.resKind = kind;
    return off + 8;
  }

  /** Like reserveOffset but returns a view of the n payload bytes (allocates the view), or null. */
  reserve(n: number, kind: number = KIND_MESSAGE): Uint8Array | null {
    const p = this.reserveOffset(n, kind);
    return p < 0 ? null : this.data.subarray(p, p + n);
  }

  /** Completes the open reservation with `nActual` (<= reserved) payload bytes. */
  commit(nActual: number = this.resLen): void {
    const off = this.resOff;
    if (off < 0) throw new Error('RingWriter.commit: no open reservation');
    if (!(nActual >= 0 && nActual <= this.resLen && Number.isInteger(nActual))) {
      throw new RangeError(`commit of ${nActual} bytes must be an integer in [0, ${this.resLen}]`);
    }
    this.throwIfFailed();
    this.setU32(off, nActual);
    this.setU32(off + 4, this.resKind);
    this.write = (this.write + 8 + ((nActual + 7) & ~7)) >>> 0;
    this.resOff = -1;
  }

  /** Drops the open reservation (a PAD it may have needed stays: it is a valid record). */
  abort(): void {
    this.resOff = -1;
  }

  /**
   * Publishes every record written so far with ONE store of write_index (batching), then
   * checks whether the consumer is parked. Returns true when the caller must ring the
   * consumer's doorbell.
   */
  publish(): boolean {
    this.throwIfFailed();
    const w = this.write;
    if (w === this.published) return false;
    // SYNC: ring-publish (partner: consumer's Atomics.load of write_index in
    // RingReader.loadWrite). seq_cst store: all plain stores of record headers and
    // payloads above happen-before the consumer's reads below this index.
    Atomics.store(this.ctrl, this.words.writeIndex, w | 0);
    this.published = w;
    // SYNC: park-announce (partner: consumer's Atomics.store(consumer_parked, 1) in
    // Parking.announce (endpoint-lifecycle.ts), the consumer's park). Store-then-load, both
    // seq_cst (Dekker, section 5.2): either we see parked = 1 here, or the parking
    // consumer sees our new write_index.
    return Atomics.load(this.ctrl, this.words.consumerParked) !== 0;
  }
}

// =====================================================================================
// Consumer

/**
 * Consumer end of a ring.
 *
 * peek() returns the kind of the next record (PADs skipped), checked against C1-C7, with
 * its payload at data[payloadOffset .. payloadOffset + payloadLength); consume() steps past
 * it; release() hands everything consumed back to the producer with one store. A payload
 * stays readable until it is released. Messages over records (C8-C10, reassembly) are
 * FrameReader's.
 */
export class RingReader extends RingEnd {
  /** Private read index (everything consumed). */
  private read: number;
  /** Last value stored to the shared read_index. */
  private released: number;
  /** Cached write_index of the producer (reloaded only when the ring looks empty). */
  private cachedWrite: number;
  /** Ring bytes of the record peek() returned (0: none). */
  private current = 0;
  /** The payload of the record peek() returned: its offset in `data` and its length. */
  payloadOffset = 0;
  payloadLength = 0;
  /** Set by release(): true when it found the producer parked (ring its doorbell). */
  peerNeedsWake = false;
  /** Between startBatch() and release(). */
  private inBatch = false;
  /** This batch has loaded write_index once: its records are the batch (rule 4.2). */
  private batchLoaded = false;

  constructor(ctrl: Int32Array, words: RingWords, data: Uint8Array, capacity: number, options: RingOptions) {
    super(ctrl, words, data, capacity, options);
    // Own index read once at attach; private from then on (rule 4.3).
    const r = options.start.read;
    this.read = r;
    this.released = r;
    this.cachedWrite = r;
  }

  /** Private read index (for diagnostics and tests). */
  get readIndex(): number {
    return this.read;
  }

  /** The read_index counterpart of RingWriter.restorePublished. */
  restoreReleased(): boolean {
    if (this.failedError !== null) return false;
    if (!movedBack(Atomics.load(this.ctrl, this.words.readIndex) >>> 0, this.released, this.capacity)) return false;
    // SYNC: ring-release (partner: producer's Atomics.load of read_index in
    // RingWriter.reloadRead): our reads of the bytes below `released` are done.
    Atomics.store(this.ctrl, this.words.readIndex, this.released | 0);
    // SYNC: park-announce (partner: the producer's Atomics.store(producer_parked, 1) before
    // its re-load of read_index). Store-then-load, both seq_cst (section 5.2).
    this.peerNeedsWake = Atomics.load(this.ctrl, this.words.producerParked) !== 0;
    return true;
  }

  /** Cached producer index (the value Endpoint.parkConsumer waits on). */
  get cachedWriteIndex(): number {
    return this.cachedWrite;
  }

  /** True when everything below the cached write_index is consumed (no shared load). */
  get drained(): boolean {
    return this.read === this.cachedWrite;
  }

  /**
   * Reloads write_index even if the cache is not exhausted (after a peer-state load, or
   * when re-checking before parking). Returns the unconsumed bytes. Throws ProtocolError.
   */
  refresh(): number {
    this.throwIfFailed();
    return (this.loadWrite() - this.read) >>> 0;
  }

  private loadWrite(): number {
    const read = this.read;
    // SYNC: ring-publish (partner: producer's Atomics.store of write_index in
    // RingWriter.publish). Loaded once into `w`; only `w` is used afterwards.
    const w = Atomics.load(this.ctrl, this.words.writeIndex) >>> 0;
    if ((w & 7) !== 0) this.fail(REASON_INDEX_MISALIGNED, `write_index ${w} is not a multiple of 8`); // C1
    const avail = (w - read) >>> 0;
    if (avail > this.capacity) {
      this.fail(REASON_INDEX_OUT_OF_RANGE, `write_index ${w} is more than ${this.capacity} ahead of read ${read}`); // C2
    }
    if (avail < ((this.cachedWrite - read) >>> 0)) {
      this.fail(REASON_INDEX_REGRESSED, `write_index moved back from ${this.cachedWrite} to ${w}`); // C3
    }
    this.cachedWrite = w;
    return w;
  }

  /**
   * Starts a batch of reads, until release(): throws if the ring failed; clears
   * peerNeedsWake. Within a batch peek() loads write_index at most once (rule 4.2): what
   * that load showed is the batch, and the next poll loads again. A reload at the end of
   * the batch would mostly find nothing (a spin loop's poll after its one message), and it
   * would sit between the delivery and the release, on the path of a round trip.
   */
  startBatch(): void {
    this.throwIfFailed();
    this.peerNeedsWake = false;
    this.inBatch = true;
    this.batchLoaded = false;
  }

  /** The u32 at data offset `off` (4-aligned, inside the ring), read once (FIRST's prefix). */
  wordAt(off: number): number {
    return this.getU32(off);
  }

  /**
   * The kind of the next record that is not a PAD, checked (C4-C7), or 0 when nothing is
   * published (write_index is reloaded once the cache runs out; in a batch only once, see
   * startBatch). Its payload is at
   * data[payloadOffset .. payloadOffset + payloadLength). Does not advance: consume() does.
   * Throws ProtocolError (after reporting it through onFailure) on a violation.
   */
  peek(): number {
    this.throwIfFailed();
    const cap = this.capacity;
    for (;;) {
      const read = this.read;
      let avail = (this.cachedWrite - read) >>> 0;
      if (avail === 0) {
        if (this.batchLoaded) return 0;
        this.batchLoaded = this.inBatch;
        avail = (this.loadWrite() - read) >>> 0;
        if (avail === 0) return 0;
      }
      // avail >= 8 (both indices are multiples of 8), so the header lies below w;
      // off is 8-aligned and <= capacity - 8, so the header lies inside the ring.
      const off = read & this.mask;
      const len = this.getU32(off); // read once
      const kind = this.getU32(off + 4); // read once; bits 8-31 must be zero
      if (kind < KIND_MESSAGE || kind > KIND_CANCEL) {
        this.fail(REASON_RECORD_KIND_INVALID, `kind word 0x${kind.toString(16)} at offset ${off}`); // C4
      }
      if (kind === KIND_PAD) {
        // C7 first: a PAD's length is fully determined by its position.
        if (len !== cap - off - 8) this.fail(REASON_PAD_INVALID, `PAD length ${len} at offset ${off}, expected ${cap - off - 8}`);
        if (cap - off > avail) this.fail(REASON_RECORD_BEYOND_INDEX, `PAD at offset ${off} extends past write_index`); // C6
        this.read = (read + cap - off) >>> 0;
        continue;
      }
      // C5 (before any arithmetic on len, so len is small afterwards).
      if (kind === KIND_CANCEL ? len !== 0 : len > this.maxPayload) {
        this.fail(REASON_RECORD_LENGTH_INVALID, `${kindName(kind)} length ${len} (max ${kind === KIND_CANCEL ? 0 : this.maxPayload})`);
      }
      const size = 8 + ((len + 7) & ~7);
      if (size > avail) this.fail(REASON_RECORD_BEYOND_INDEX, `record of ${size} bytes at offset ${off}, only ${avail} published`); // C6
      if (off + size > cap) this.fail(REASON_RECORD_CROSSES_END, `record of ${size} bytes at offset ${off} crosses the end`); // C7
      this.current = size;
      this.payloadOffset = off + 8;
      this.payloadLength = len;
      return kind;
    }
  }

  /** Steps past the record the last peek() returned. It stays readable until release(). */
  consume(): void {
    this.read = (this.read + this.current) >>> 0;
    this.current = 0;
  }

  /**
   * Stores read_index if it moved (one store per batch) and checks the producer's parked
   * word: peerNeedsWake says whether to ring it. A failed ring
   * writes nothing more (7.3).
   */
  release(): void {
    this.inBatch = false;
    const r = this.read;
    if (r === this.released || this.failedError !== null) return;
    // SYNC: ring-release (partner: producer's Atomics.load of read_index in
    // RingWriter.reloadRead and the attach load in endpoint-lifecycle.ts attachIndices). Our plain reads of the
    // released bytes happen-before the producer overwrites them.
    Atomics.store(this.ctrl, this.words.readIndex, r | 0);
    this.released = r;
    // SYNC: park-announce (partner: producer's Atomics.store(producer_parked, 1) in
    // Parking.announce (endpoint-lifecycle.ts), the producer's park). Store-then-load, both
    // seq_cst (section 5.2).
    if (Atomics.load(this.ctrl, this.words.producerParked) !== 0) this.peerNeedsWake = true;
  }
}

/**
 * True when an own index word reads `seen` instead of `ours` because it was moved back
 * (aligned, at most a ring behind): the one change the peer's checks cannot catch when
 * the peer never saw `ours`. Anything else (forward, misaligned, far) they name, and
 * putting it back could hide that from them.
 */
function movedBack(seen: number, ours: number, capacity: number): boolean {
  const back = (ours - seen) >>> 0;
  return (seen & 7) === 0 && back !== 0 && back <= capacity;
}

/** Name of a record kind for failure messages. */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`;
}
