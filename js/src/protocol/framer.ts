// Messages over records (docs/protocol.md 3.2 and the fragment checks C8-C10): FrameWriter
// cuts a message larger than one record into FIRST / MIDDLE / LAST records and owes a
// CANCEL for one abandoned part-way; FrameReader checks the records a RingReader returns
// against C8-C10 and reassembles fragmented messages, or hands their fragments to a
// FragmentSink as they arrive. Neither blocks: waiting for room or data is the caller's.
// The C++ twin is native/include/smc/framer.hpp. Just over 400 lines: both directions of
// framing, each C8-C10 check with its own message, and the streaming path.

import {
  KIND_CANCEL,
  KIND_FIRST,
  KIND_LAST,
  KIND_MESSAGE,
  KIND_MIDDLE,
  MAX_MESSAGE_LIMIT,
  REASON_FRAGMENT_LENGTH,
  REASON_FRAGMENT_SEQUENCE,
  REASON_LOCAL_ERROR,
  REASON_MESSAGE_TOO_LARGE,
} from './layout';
import type { InPlaceHandler, MessageHandler, RingReader, RingWriter } from './ring';

// =====================================================================================
// Sending

/**
 * The message-level writer of a ring: whole messages (tryWrite, reserveOffset/commit) and
 * messages of any size written incrementally (beginLarge, then continueLarge until it
 * returns true: FIRST/MIDDLE/LAST as space appears; the fragment cursor lives here).
 * cancelLarge() abandons one: if its FIRST record went out a CANCEL is owed, and it goes
 * before any other record. Nothing is visible before the ring's publish().
 */
export class FrameWriter {
  readonly ring: RingWriter;
  /** Largest message that goes as one record (capacity / 4 - 8). */
  readonly maxPayload: number;
  private readonly dv: DataView;
  /** Fragment cursor: the message being written incrementally, or null. */
  private large: Uint8Array | null = null;
  /** Bytes of `large` written so far; > 0 exactly when its FIRST record was written. */
  private largeSent = 0;
  /** A CANCEL record must be written before anything else. */
  private owesCancel = false;

  constructor(ring: RingWriter) {
    this.ring = ring;
    this.maxPayload = ring.maxPayload;
    const d = ring.data;
    this.dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  }

  /** The ring's data bytes (reserveOffset returns offsets into it). */
  get data(): Uint8Array {
    return this.ring.data;
  }

  /** True while a fragmented message from beginLarge() is not completely written. */
  get largePending(): boolean {
    return this.large !== null;
  }

  /** True while a CANCEL record is owed (no space for it yet). */
  get cancelPending(): boolean {
    return this.owesCancel;
  }

  /** Bytes of the message in progress already written (for progress reporting). */
  get largeProgress(): number {
    return this.largeSent;
  }

  private checkIdle(): void {
    if (this.large !== null) throw new Error('FrameWriter: a fragmented message is in progress (continueLarge or cancelLarge first)');
  }

  /** Writes the CANCEL owed, if any. False when the ring has no room for it yet. */
  payCancel(): boolean {
    if (!this.owesCancel) return true;
    if (!this.ring.tryWrite(EMPTY, KIND_CANCEL)) return false;
    this.owesCancel = false;
    return true;
  }

  /**
   * Copies one message of at most maxPayload bytes into the ring as a MESSAGE record.
   * Returns false (nothing written) when there is no space.
   */
  tryWrite(src: Uint8Array): boolean {
    this.checkIdle();
    if (src.length > this.maxPayload) throw new RangeError(`message of ${src.length} bytes exceeds maxPayload ${this.maxPayload}; use beginLarge()`);
    if (!this.payCancel()) return false;
    return this.ring.tryWrite(src, KIND_MESSAGE);
  }

  /**
   * RingWriter.tryWriteMany (messages list[from .. to), each at most maxPayload bytes,
   * back to back) after any CANCEL owed. Returns how many were written.
   */
  tryWriteMany(list: ArrayLike<Uint8Array>, from: number, to: number): number {
    this.checkIdle();
    if (!this.payCancel()) return 0;
    return this.ring.tryWriteMany(list, from, to);
  }

  /** RingWriter.reserveOffset for a MESSAGE, after any CANCEL owed; -1 when there is no space. */
  reserveOffset(n: number): number {
    this.checkIdle();
    this.ring.checkReservation(n);
    if (!this.payCancel()) return -1;
    return this.ring.reserveOffset(n);
  }

  /** Like reserveOffset but returns a view of the n payload bytes (allocates the view), or null. */
  reserve(n: number): Uint8Array | null {
    const p = this.reserveOffset(n);
    return p < 0 ? null : this.ring.data.subarray(p, p + n);
  }

  /** Completes the open reservation (RingWriter.commit). */
  commit(nActual?: number): void {
    this.ring.commit(nActual);
  }

  /** Drops the open reservation (RingWriter.abort). */
  abort(): void {
    this.ring.abort();
  }

  /** Starts writing a message of any size (0 .. 2^32 - 1) incrementally; see continueLarge(). */
  beginLarge(src: Uint8Array): void {
    this.checkIdle();
    this.ring.checkIdle();
    if (src.length > MAX_MESSAGE_LIMIT) throw new RangeError(`message of ${src.length} bytes exceeds 2^32 - 1`);
    this.large = src;
    this.largeSent = 0;
  }

  /**
   * Writes as many records of the message started by beginLarge() as fit. Returns true
   * when the whole message is written (then publish), false when out of space (publish,
   * wait for space, call again). A message of at most maxPayload bytes goes as one MESSAGE.
   */
  continueLarge(): boolean {
    const src = this.large;
    if (src === null) return true;
    if (!this.payCancel()) return false;
    const ring = this.ring;
    const total = src.length;
    const mp = this.maxPayload;
    if (this.largeSent === 0) {
      if (total <= mp) {
        if (!ring.tryWrite(src, KIND_MESSAGE)) return false;
        this.large = null;
        return true;
      }
      // FIRST: total_length, a zero word, then mp - 8 bytes (fewer than the total).
      const at = ring.reserveOffset(mp, KIND_FIRST);
      if (at < 0) return false;
      const chunk = mp - 8;
      this.dv.setUint32(at, total, true);
      this.dv.setUint32(at + 4, 0, true);
      ring.data.set(src.subarray(0, chunk), at + 8);
      ring.commit(mp);
      this.largeSent = chunk; // mp - 8 >= 1008: from now on largeSent > 0 means FIRST is written
    }
    for (;;) {
      const sent = this.largeSent;
      const rem = total - sent; // >= 1: FIRST never carries everything
      const chunk = rem < mp ? rem : mp;
      if (!ring.tryWrite(src.subarray(sent, sent + chunk), chunk === rem ? KIND_LAST : KIND_MIDDLE)) return false;
      this.largeSent = sent + chunk;
      if (chunk === rem) {
        this.large = null;
        return true;
      }
    }
  }

  /**
   * Abandons the message started by beginLarge(). If its FIRST record was already written,
   * a CANCEL record is owed: written now if there is space, else before the next record.
   */
  cancelLarge(): void {
    if (this.large === null) return;
    if (this.largeSent > 0) this.owesCancel = true;
    this.large = null;
    this.largeSent = 0;
    if (this.owesCancel && this.ring.failure === 0) this.payCancel();
  }
}

// =====================================================================================
// Receiving

/** Why a streamed message ended without its last fragment (FragmentSink.abort). */
export type StreamEnd = 'cancelled' | 'closed' | 'peer_closed' | 'peer_failed' | 'failed';

/**
 * Takes the fragments of messages larger than one record as they arrive, instead of a
 * reassembled message (the opt-in streaming receive). Whole messages still go to the
 * poll handler. `bytes` is a view INTO THE RING, valid only during the call.
 */
export interface FragmentSink {
  /**
   * The message's bytes at [offset, offset + bytes.length) of `total`: in order, none
   * empty, the first at offset 0, the last ending at total. `total` was checked against
   * maxMessage (C10) but is otherwise the sender's claim: the fragments that follow are
   * checked to add up to it exactly (C9), and the channel fails if they do not.
   */
  fragment(bytes: Uint8Array, offset: number, total: number): void;
  /**
   * The message being streamed ends without its last fragment: 'cancelled' by the sender
   * (a CANCEL record; the channel goes on), or the channel ended (closed, peer_closed,
   * peer_failed, failed).
   */
  abort(why: StreamEnd): void;
}

export interface FrameReaderOptions {
  /** Largest message accepted, one record or reassembled (C10); default and maximum 2^32 - 1. */
  maxMessage?: number;
  /** The reassembly buffer's keep limit (DEFAULT_KEEP_ASSEMBLY says what it means); default 64 MiB. */
  keepAssembly?: number;
  /** @deprecated the former name of keepAssembly. */
  keep?: number;
}

/**
 * The keep limit of the reassembly buffer, 64 MiB by default, one name and one meaning in
 * both languages (C++: FrameReader::kDefaultKeepAssembly, EndpointOptions::keep_assembly):
 * a message up to it gets its whole size at once and its buffer is kept for the next
 * message; a larger one starts at the limit, doubles as its fragments arrive (a hostile
 * FIRST costs memory in proportion to the bytes sent) and its buffer is dropped once it is
 * delivered.
 */
export const DEFAULT_KEEP_ASSEMBLY = 64 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * The message-level reader of a ring: poll() takes records from the RingReader (which
 * checks C1-C7), applies C8-C10 and delivers whole messages. A MESSAGE is delivered as a
 * view INTO THE RING, a fragmented message as a view of the reassembly buffer, which is
 * reused for the next message: both are valid only during the handler call; copy
 * (`slice()`) to keep. Views are over shared memory: in Chromium, TextDecoder rejects
 * them; decode a copy.
 */
export class FrameReader {
  readonly ring: RingReader;
  readonly maxMessage: number;
  /** The keep limit of the reassembly buffer (DEFAULT_KEEP_ASSEMBLY). */
  readonly keepAssembly: number;
  /** Fragments of large messages go here instead of being reassembled (null: reassemble). */
  sink: FragmentSink | null = null;
  /** Reassembly buffer, kept between messages up to `keepAssembly` bytes. */
  private buffer: Uint8Array = EMPTY;
  private inMsg = false;
  /** The sink the open message goes to (`sink` at its FIRST), or null: reassembled. */
  private stream: FragmentSink | null = null;
  private have = 0;
  private total = 0;
  private polling = false;
  /** The channel ended (end() other than for a CANCEL): poll delivers nothing more. */
  private ended = false;
  /** The ring's data as a buffer and offset, read once: a view per message is made with
   *  the constructor (subarray() costs about twice as much), and reading `.buffer` and
   *  `.byteOffset` of the ring's view on every poll cost as much as the rest of an empty
   *  poll (docs/benchmarks.md, "The JS side's per-message cost"). */
  private readonly ringBuffer: ArrayBufferLike;
  private readonly ringBase: number;

  constructor(ring: RingReader, options: FrameReaderOptions = {}) {
    this.ring = ring;
    this.ringBuffer = ring.data.buffer;
    this.ringBase = ring.data.byteOffset;
    const mm = options.maxMessage ?? MAX_MESSAGE_LIMIT;
    if (!Number.isInteger(mm) || mm < 0 || mm > MAX_MESSAGE_LIMIT) {
      throw new RangeError(`maxMessage ${mm} must be an integer in [0, 2^32 - 1]`);
    }
    this.maxMessage = mm;
    const keep = options.keepAssembly ?? options.keep ?? DEFAULT_KEEP_ASSEMBLY;
    if (!Number.isInteger(keep) || keep < 0 || keep > MAX_MESSAGE_LIMIT) {
      throw new RangeError(`keepAssembly ${keep} must be an integer in [0, 2^32 - 1]`);
    }
    this.keepAssembly = keep;
  }

  /** @deprecated the former name of keepAssembly. */
  get keep(): number {
    return this.keepAssembly;
  }

  /** True while a fragmented message is being received. */
  get inMessage(): boolean {
    return this.inMsg;
  }

  /** Bytes held for reassembly (monitoring and tests). */
  get bufferCapacity(): number {
    return this.buffer.length;
  }

  /** The channel ended or failed: a streamed message still open is aborted (its sink told). */
  end(why: StreamEnd): void {
    if (why !== 'cancelled') this.ended = true; // a callback that closed the channel stops its poll
    const stream = this.inMsg ? this.stream : null;
    this.inMsg = false;
    this.stream = null;
    if (stream !== null) stream.abort(why);
  }

  private reject(reason: number, detail: string): never {
    this.end('failed');
    return this.ring.fail(reason, detail);
  }

  /**
   * The reassembly buffer with room for `need` (<= total) bytes. A kept buffer large enough
   * is reused. Messages up to `keepAssembly` get their whole size at once; larger ones grow by
   * doubling as fragments arrive, so a hostile FIRST announcing 4 GiB costs memory only in
   * proportion to the bytes really sent (as the C++ FrameReader::reserve).
   */
  private reserve(need: number): Uint8Array {
    const old = this.buffer;
    if (need <= old.length) return old;
    const total = this.total;
    const keep = this.keepAssembly;
    const size = total <= keep ? total : Math.min(total, Math.max(need, 2 * old.length, keep));
    let buf: Uint8Array;
    try {
      buf = new Uint8Array(size);
    } catch {
      return this.reject(REASON_LOCAL_ERROR, `cannot allocate ${size} bytes for reassembly`);
    }
    if (this.have > 0) buf.set(old.subarray(0, this.have), 0);
    this.buffer = buf;
    return buf;
  }

  /**
   * Consumes records and delivers whole messages to `handler`, until the ring is empty
   * or `maxMessages` messages were delivered or `maxBytes` ring bytes consumed. Then
   * releases everything consumed with ONE store of read_index (the ring's peerNeedsWake
   * says whether to ring the producer). Returns the number of messages delivered (a
   * streamed message counts when its last fragment arrives).
   * If the handler throws, the messages delivered so far (including that one) count as
   * consumed, are released, and the exception propagates.
   * Throws ProtocolError (after reporting it through the ring's onFailure) on a violation.
   */
  poll(handler: MessageHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.pollRecords(handler, null, maxMessages, maxBytes);
  }

  /** poll() handing each message to `handler` in place (InPlaceHandler): no view per message. */
  pollInPlace(handler: InPlaceHandler, maxMessages = Infinity, maxBytes = Infinity): number {
    return this.pollRecords(null, handler, maxMessages, maxBytes);
  }

  /** The loop of poll() and pollInPlace(): exactly one of `viewHandler`, `inPlace` is set. */
  private pollRecords(viewHandler: MessageHandler | null, inPlace: InPlaceHandler | null, maxMessages: number, maxBytes: number): number {
    const ring = this.ring;
    ring.startBatch();
    if (this.polling) throw new Error('FrameReader.poll is not reentrant');
    this.polling = true;
    let delivered = 0;
    try {
      const data = ring.data;
      const buffer = this.ringBuffer;
      const base = this.ringBase;
      const start = ring.readIndex;
      while (!this.ended && delivered < maxMessages && ((ring.readIndex - start) >>> 0) < maxBytes) {
        const kind = ring.peek();
        if (kind === 0) break;
        const p = ring.payloadOffset;
        const len = ring.payloadLength;
        if (kind === KIND_MESSAGE) {
          if (this.inMsg) this.reject(REASON_FRAGMENT_SEQUENCE, 'MESSAGE inside a fragmented message'); // C8
          if (len > this.maxMessage) this.reject(REASON_MESSAGE_TOO_LARGE, `MESSAGE of ${len} bytes > maxMessage ${this.maxMessage}`); // C10
          ring.consume(); // counted as consumed even if the handler throws
          delivered++;
          if (inPlace !== null) inPlace(data, p, len);
          else viewHandler!(new Uint8Array(buffer, base + p, len));
        } else if (kind === KIND_FIRST) {
          this.first(data, p, len);
        } else if (kind === KIND_MIDDLE || kind === KIND_LAST) {
          if (this.next(kind === KIND_LAST, data, p, len, viewHandler, inPlace)) delivered++;
        } else {
          // KIND_CANCEL (the ring checked its length is 0)
          if (!this.inMsg) this.reject(REASON_FRAGMENT_SEQUENCE, 'CANCEL outside a fragmented message'); // C8
          this.end('cancelled');
          ring.consume();
        }
      }
    } finally {
      this.polling = false;
      ring.release();
    }
    return delivered;
  }

  private first(data: Uint8Array, p: number, len: number): void {
    if (this.inMsg) this.reject(REASON_FRAGMENT_SEQUENCE, 'FIRST inside a fragmented message'); // C8
    // 8 prefix bytes and a chunk of at least one byte (docs/protocol.md 3.2, C9).
    if (len <= 8) this.reject(REASON_FRAGMENT_LENGTH, `FIRST length ${len} leaves no chunk after the 8-byte prefix`); // C9
    const total = this.ring.wordAt(p); // read once
    const zero = this.ring.wordAt(p + 4);
    if (zero !== 0) this.reject(REASON_FRAGMENT_LENGTH, `FIRST zero word is ${zero}`); // C9
    const chunk = len - 8;
    if (chunk > total) this.reject(REASON_FRAGMENT_LENGTH, `FIRST chunk ${chunk} > total_length ${total}`); // C9
    // C10 after every C9 check: the first failing check in table order names the reason (7.2).
    if (total > this.maxMessage) this.reject(REASON_MESSAGE_TOO_LARGE, `total_length ${total} > maxMessage ${this.maxMessage}`); // C10
    this.ring.consume(); // the view stays valid until the release at the end of poll
    this.total = total;
    this.have = 0;
    this.inMsg = true;
    const sink = this.sink;
    this.stream = sink;
    if (sink !== null) {
      this.have = chunk;
      sink.fragment(data.subarray(p + 8, p + len), 0, total);
      return;
    }
    this.reserve(chunk).set(data.subarray(p + 8, p + len), 0);
    this.have = chunk;
  }

  /** A MIDDLE or LAST record; true when a whole message was delivered (and consumed). */
  private next(last: boolean, data: Uint8Array, p: number, len: number, viewHandler: MessageHandler | null, inPlace: InPlaceHandler | null): boolean {
    const name = last ? 'LAST' : 'MIDDLE';
    if (!this.inMsg) this.reject(REASON_FRAGMENT_SEQUENCE, `${name} outside a fragmented message`); // C8
    if (len === 0) this.reject(REASON_FRAGMENT_LENGTH, `empty ${name}`); // C9
    const at = this.have;
    const room = this.total - at;
    // A MIDDLE leaves at least one byte for the LAST; the LAST completes exactly.
    if (last ? len !== room : len >= room) {
      this.reject(REASON_FRAGMENT_LENGTH, `${name} of ${len} bytes with ${room} of ${this.total} missing`); // C9
    }
    this.ring.consume(); // the view stays valid until the release at the end of poll
    const stream = this.stream;
    if (stream !== null) {
      this.have = at + len;
      if (last) {
        this.inMsg = false;
        this.stream = null;
      }
      stream.fragment(data.subarray(p, p + len), at, this.total);
      return last;
    }
    const buf = this.reserve(at + len);
    buf.set(data.subarray(p, p + len), at);
    this.have = at + len;
    if (!last) return false;
    this.inMsg = false;
    this.have = 0;
    const total = this.total;
    const message = buf.length === total ? buf : buf.subarray(0, total);
    if (buf.length > this.keepAssembly) this.buffer = EMPTY; // one huge message does not pin its memory
    if (inPlace !== null) inPlace(buf, 0, total);
    else viewHandler!(message);
    return true;
  }
}
