// Zero-copy sends: a writable view of n bytes inside the ring, sent by commit(). One
// reservation at a time, and it holds the next place in the ring, so every other send
// is refused while it is open (messages keep their order).
import type { ChannelCore } from './channel-core';
import { ChannelError } from './errors';
import { describe } from './options';

export interface Reservation {
  /** Writable view of the reserved bytes inside the ring. */
  readonly view: Uint8Array;
  /** Sends the first `used` bytes (default: all). */
  commit(used?: number): void;
  abort(): void;
}

export class ReservationSlot {
  private open = false;

  constructor(private readonly core: ChannelCore) {}

  /** Throws reservation_open for `what` while a reservation is open. */
  assertNone(what: string): void {
    if (this.open) {
      throw new ChannelError('reservation_open', `${what}(): a reservation is open; commit() or abort() it first (messages keep their order, and the reservation holds the next place in the ring)`);
    }
  }

  /** reserve(n): see SharedMemoryChannel.reserve. */
  reserve(n: unknown): Reservation | null {
    const core = this.core;
    if (core.closed) return core.refuseAfterEnd('reserve', null);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > core.maxPayload) {
      throw new RangeError(`reserve(n): n must be an integer from 0 to ${core.maxPayload} (the largest single record of this ring), not ${typeof n === 'number' ? n : describe(n)}`);
    }
    this.assertNone('reserve');
    if (core.sender.queue.length > 0) return null;
    const w = core.endpoint.frameWriter;
    let view: Uint8Array | null;
    try {
      view = core.endpoint.reserve(n);
    } catch (e) {
      core.failFromSend(e);
      return null;
    }
    if (view === null) return null;
    this.open = true;
    let done = false;
    return {
      view,
      commit: (used: number = n) => {
        if (done) throw new ChannelError('reservation_done', 'commit(): this reservation was already committed or aborted');
        if (typeof used !== 'number' || !Number.isInteger(used) || used < 0 || used > n) {
          throw new RangeError(`commit(used): used must be an integer from 0 to ${n} (the reserved size), not ${String(used)}`);
        }
        done = true;
        this.open = false;
        // Ended meanwhile: the bytes go nowhere, like a send() that returned false.
        if (core.closed) return void core.refuseAfterEnd('commit', undefined);
        w.commit(used);
        core.counters.countSent(used);
        core.sender.schedulePublish();
      },
      abort: () => {
        if (done) return;
        done = true;
        this.open = false;
        if (!core.closed) w.abort();
      },
    };
  }
}
