// Error classes of the SharedMemoryChannel JS library.
//
// Every error the library throws on purpose is a ChannelError with a stable `code`.
// Plain RangeError/TypeError are used only for invalid arguments from the caller.

/** Base class: every deliberate channel failure carries a machine-readable `code`. */
export class ChannelError extends Error {
  readonly code: string;
  /** `cause`: the error behind this one (e.g. what a receive callback threw). */
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Codes of the plain ChannelErrors (subclasses have their own): `reservation_open`,
 * `reservation_done`, `poll_reentered`, `unsupported`, `plugin_load_failed`,
 * `callback_failed` (a receive callback or 'message' listener threw; `cause` is what it
 * threw), `internal_error`.
 */
export type ChannelErrorCode = 'reservation_open' | 'reservation_done' | 'poll_reentered' | 'unsupported' | 'plugin_load_failed' | 'callback_failed' | 'internal_error';

/** Anything thrown, as a ChannelError (an unexpected throw becomes `internal_error`). */
export function asChannelError(e: unknown): ChannelError {
  if (e instanceof ChannelError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new ChannelError('internal_error', `internal error: ${text}`, { cause: e });
}

/**
 * The peer violated the wire protocol (docs/protocol.md section 7.2) or the endpoint hit
 * an internal failure (`local_error`). The endpoint is `failed` from then on.
 * `reason` is the name from section 7.2 (e.g. `index_misaligned`), `reasonCode` its number.
 */
export class ProtocolError extends ChannelError {
  readonly reason: string;
  readonly reasonCode: number;
  constructor(reasonCode: number, reason: string, detail?: string) {
    super('protocol_error', `protocol failure ${reasonCode} ${reason}${detail ? `: ${detail}` : ''}`);
    this.reason = reason;
    this.reasonCode = reasonCode;
  }
}

/**
 * A region this side cannot attach to (docs/protocol.md 7.1), code `bad_region`; nothing
 * was written to it. `reason` names the attach check that failed on the ring indices: A1
 * `index_misaligned`, A2 `index_out_of_range`; null for a header field (the message names it).
 */
export class RegionError extends ChannelError {
  readonly reason: string | null;
  constructor(message: string, reason: string | null = null) {
    super('bad_region', message);
    this.reason = reason;
  }
}

/**
 * The channel cannot be used any more because this side or the peer closed it
 * (code `closed` / `peer_closed`) or the peer failed (code `peer_failed`, with the peer's
 * reason number in `peerReason` when it gave one).
 */
export class ChannelClosedError extends ChannelError {
  readonly peerReason: number;
  constructor(code: 'closed' | 'peer_closed' | 'peer_failed', message: string, peerReason = 0, options?: { cause?: unknown }) {
    super(code, message, options);
    this.peerReason = peerReason;
  }
}

/** A blocking or awaiting operation did not complete within its timeout. */
export class TimeoutError extends ChannelError {
  constructor(message: string) {
    super('timeout', message);
  }
}
