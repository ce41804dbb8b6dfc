// The streaming receive (startReceiving's `stream` option): messages larger than one
// record reach the application fragment by fragment as they arrive, without reassembly
// (protocol/framer.ts, FragmentSink). This adapts the application's FragmentStream to the
// framer: the channel's counters, `copy`, and a throwing callback ending the channel as a
// throwing receive callback does.
import type { ChannelCore } from './channel-core';
import { ChannelError } from './errors';
import type { FragmentSink, StreamEnd } from './protocol/framer';

export type { StreamEnd } from './protocol/framer';

/** Takes the fragments of large messages (see docs/api.md, "Streaming receive"). */
export interface FragmentStream {
  /**
   * The message's bytes at [offset, offset + bytes.length) of `total`: in order, none
   * empty, the first at offset 0, the last ending at `total` (the message is then
   * complete). `bytes` is a view into the ring, valid only during the call.
   */
  fragment(bytes: Uint8Array, offset: number, total: number): void;
  /**
   * The message being streamed ends without its last fragment: 'cancelled' by the sender
   * (the channel goes on), or the channel ended ('closed', 'peer_closed', 'peer_failed',
   * 'failed'). Drop what you kept of it.
   */
  abort?(why: StreamEnd): void;
}

/** TypeError unless `s` is a FragmentStream. */
export function checkFragmentStream(s: unknown): asserts s is FragmentStream {
  const o = s as { fragment?: unknown; abort?: unknown } | null;
  if (typeof o !== 'object' || o === null || typeof o.fragment !== 'function' || (o.abort !== undefined && typeof o.abort !== 'function')) {
    throw new TypeError('startReceiving(cb, { stream }): stream must be an object with a fragment(bytes, offset, total) method and optionally abort(why)');
  }
}

function callbackFailed(e: unknown): ChannelError {
  return new ChannelError('callback_failed', `a stream callback threw, so the channel was closed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** The framer's sink for `stream` on `core`'s channel. */
export function streamSink(core: ChannelCore, stream: FragmentStream): FragmentSink {
  const counters = core.counters;
  return {
    fragment(bytes: Uint8Array, offset: number, total: number): void {
      if (offset + bytes.length === total) {
        counters.messagesReceived++;
        counters.bytesReceived += total;
      }
      try {
        stream.fragment(core.copyMessages ? bytes.slice() : bytes, offset, total);
      } catch (e) {
        throw callbackFailed(e);
      }
    },
    abort(why: StreamEnd): void {
      try {
        stream.abort?.(why);
      } catch (e) {
        // A cancelled message is reported inside a poll: the channel ends as for a throwing
        // fragment(). Otherwise the channel is already ending; nothing more to end.
        if (why === 'cancelled') throw callbackFailed(e);
      }
    },
  };
}
