// Sending from the page without letting the channel's JS queue grow: in slices of a few
// ms, yielding between them, waiting for queue space when the ring is full. Used by the
// Send panel's flood and the in-page benchmark.
import { protocol, type SharedMemoryChannel } from 'shared-memory-channel/browser';

const FLOOD_SLICE_MS = 4;

/** Yields to the event loop (a macrotask without setTimeout's nesting clamp). */
const yieldChannel = new MessageChannel();
const yieldQueue: Array<() => void> = [];
yieldChannel.port1.onmessage = () => yieldQueue.shift()?.();
export function yieldTask(): Promise<void> {
  return new Promise((resolve) => {
    yieldQueue.push(resolve);
    yieldChannel.port2.postMessage(0);
  });
}

/**
 * Sends without letting the JS queue grow: 'sent' (in the ring), 'queued' (the ring was
 * full: the message now waits in the JS queue; wait for onQueueEmpty before sending more)
 * or 'refused' (send() returned false: the queue is at its high-water mark). Small
 * messages go through reserve() (which returns null exactly when they would queue);
 * larger ones through send() plus a getStats() check (rare: each fills 1/4 of a ring).
 */
export function sendNoQueue(ch: SharedMemoryChannel, bytes: Uint8Array, r2nSize: number): 'sent' | 'queued' | 'refused' {
  if (bytes.length <= protocol.maxPayload(r2nSize)) {
    const r = ch.reserve(bytes.length);
    if (r !== null) {
      r.view.set(bytes);
      r.commit();
      return 'sent';
    }
    return ch.send(bytes) ? 'queued' : 'refused';
  }
  if (!ch.send(bytes)) return 'refused';
  return ch.getStats().queueLength > 0 ? 'queued' : 'sent';
}

/** Resolves when the channel's JS send queue is empty, or when the channel closes. */
export function queueEmpty(ch: SharedMemoryChannel): Promise<void> {
  return new Promise((resolve) => {
    if (ch.isClosed) return resolve();
    const onClose = (): void => resolve();
    ch.once('close', onClose);
    ch.onQueueEmpty(() => {
      ch.off('close', onClose);
      resolve();
    });
  });
}

export interface PacedSend {
  /** The next message, or null when done (checked before each send). */
  next(): Uint8Array | null;
  /** After each message that went out (into the ring or, once, into the JS queue). */
  sent(): void;
  /** After each slice; false stops. `waiting`: it now waits for queue space. */
  slice?(waiting: boolean): boolean;
}

/**
 * Sends `p.next()` messages without letting the JS queue grow (sendNoQueue), in slices of
 * a few ms with a yield between them; whenever send() refuses (high-water mark) or a
 * message had to queue (ring full), it waits for onQueueEmpty instead of yielding. The
 * page stays responsive and the queue never holds more than a message.
 */
export async function sendPaced(ch: SharedMemoryChannel, r2nSize: number, p: PacedSend): Promise<void> {
  let bytes = p.next();
  while (bytes !== null && !ch.isClosed) {
    const t0 = performance.now();
    let blocked = false;
    do {
      for (let k = 0; k < 64 && bytes !== null; k++) {
        const r = sendNoQueue(ch, bytes, r2nSize);
        if (r === 'refused') {
          blocked = true;
          break;
        }
        p.sent();
        bytes = p.next();
        if (r === 'queued') {
          // The ring is full: let the peer catch up instead of growing the JS queue.
          blocked = true;
          break;
        }
      }
    } while (!blocked && bytes !== null && performance.now() - t0 < FLOOD_SLICE_MS);
    if (p.slice?.(blocked && bytes !== null) === false || bytes === null) break;
    await (blocked ? queueEmpty(ch) : yieldTask());
  }
}
